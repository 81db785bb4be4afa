"""The suite does not depend on the caller's environment: RA_* variables are cleared."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_a_callers_service_variables_do_not_reach_the_tests(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As after `set -a; . .local/demo.env`: the CLI would reach this App API instead of
    # the one its stored credentials name.
    monkeypatch.setenv("RA_APP_URL", "http://127.0.0.1:8081")
    monkeypatch.setenv("RA_PK", "pk_live_demo")
    monkeypatch.setenv("RA_CACHE_DIR", "/tmp/jar-cache")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pytester.makepyfile(
        """
        import os

        def test_environment():
            assert "RA_APP_URL" not in os.environ
            assert "RA_PK" not in os.environ
            assert os.environ["RA_CACHE_DIR"] == "/tmp/jar-cache"
        """
    )
    result = pytester.runpytest_subprocess("-p", "tests.conftest", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
