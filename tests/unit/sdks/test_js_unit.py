"""The browser SDK's node unit tests (sdks/js/test/), run from pytest so CI runs them."""

import subprocess
from pathlib import Path

from tests.support.tools import require_tool

JS_SDK = Path(__file__).resolve().parents[3] / "sdks" / "js"


def test_node_unit_tests_pass() -> None:
    node = require_tool("node", "nodejs")
    # Files named explicitly: a directory argument to --test needs Node 21+.
    files = sorted(str(path) for path in (JS_SDK / "test").glob("*.test.js"))
    assert files, "no node tests found"
    result = subprocess.run(
        [node, "--test", *files], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"node --test failed:\n{result.stdout}\n{result.stderr}"
    assert "# fail 0" in result.stdout
