"""``python -m control_plane.cli``: the ``realanalytics`` command without the console script."""

from control_plane.cli import main

main()
