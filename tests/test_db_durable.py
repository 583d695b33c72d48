"""A relaxed (not fsynced) write is only that one transaction: the connection goes back to
durable commits, whichever connection the pool hands out next."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from app.store import Store, get_setting, set_setting


def _synchronous(store: Store) -> set[int]:
    seen = set()
    for _ in range(3):  # the pool may hand out another connection each time
        with store.db.write() as s:
            seen.add(int(s.execute(text("PRAGMA synchronous")).scalar_one()))
    return seen


def test_a_relaxed_write_commits_and_leaves_commits_durable(tmp_path: Path) -> None:
    store = Store(tmp_path)
    try:
        with store.db.write(durable=False) as s:
            assert s.execute(text("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
            set_setting(s, "probe", "kept")
        assert _synchronous(store) == {2}  # FULL
        with store.db.read() as s:
            assert get_setting(s, "probe") == "kept"
    finally:
        store.close()
