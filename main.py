"""Kuä: without a command, the desktop app; with one, the command line (see --help)."""

from __future__ import annotations

import sys
from pathlib import Path


def open_app(data_dir: Path) -> int:
    try:
        from ui.application import run
    except ImportError as exc:  # the desktop app needs Qt's system libraries
        print(f"error: the desktop app cannot start: {exc}", file=sys.stderr)
        return 1
    return run(data_dir)


if __name__ == "__main__":
    from app.cli import main

    sys.exit(main(sys.argv[1:], open_app))
