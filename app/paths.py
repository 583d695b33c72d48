"""Where a user's data lives: --data-dir, else $KUA_DATA_DIR, else the platform's data folder."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "kua"
DB_NAME = "kua.db"


def default_data_dir() -> Path:
    env = os.environ.get("KUA_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def resolve_data_dir(given: str | os.PathLike[str] | None) -> Path:
    return Path(given).expanduser() if given else default_data_dir()


FONTS_DIR = Path(__file__).parent / "data" / "fonts"
