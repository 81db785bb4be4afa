"""System tools some tests need (Chromium, docker-compose, node): found, or a clear skip.

`make system` (scripts/system_packages.sh) installs every one of them whenever it can, so
on CI and on a developer's machine run as root they are always there; a skip happens only
where they truly cannot be installed (no root), and says so.
"""

import shutil
from pathlib import Path

import pytest


def require_tool(command: str, package: str) -> str:
    """The tool's path, or skip the test with the reason and the package that provides it."""
    path = command if Path(command).is_absolute() else shutil.which(command)
    if path is None or not Path(path).exists():
        pytest.skip(
            f"{command} is not installed and `make system` could not install it here "
            f"(it needs root): apt-get install {package}"
        )
    return path
