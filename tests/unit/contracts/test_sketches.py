"""The sketches' parameters in the code are the ones migration 0003 gave the columns."""

import re
from pathlib import Path

import migrations
from contracts.sketches import HLL_LOG2M, HLL_REGWIDTH

ROLLUPS_MIGRATION = Path(migrations.__file__).parent / "0003_rollups.sql"


def test_the_rollup_columns_have_the_parameters_the_code_adds_with() -> None:
    sql = ROLLUPS_MIGRATION.read_text()
    columns = re.findall(r"public\.hll\((\d+),\s*(\d+)\)", sql)
    assert len(columns) == 4  # users and sessions of rollups and of breakdown_rollups
    assert set(columns) == {(str(HLL_LOG2M), str(HLL_REGWIDTH))}
