"""Bundles made for one device: they leave out what that device has through the team server
(its pull cursor, learnt from its own bundles), and stay readable by the importer as it was."""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from app.cli import main
from app.server.admin import add_device, create_team
from app.store import Store, get_setting
from app.sync.bundle import CURSOR_PREFIX, BundleError, export_bundle, import_bundle
from app.sync.client import CURSOR_KEY, enrol, sync_once
from storage.models import Revision
from storage.revisions import device_id
from tests.sync_helpers import incident, laptop, running_server, snapshot


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    root = tmp_path_factory.mktemp("server")
    db = f"sqlite:///{root / 'server.db'}"
    with running_server(root, db) as (url, _proc):
        yield url, db


def enrolled(server: tuple[str, str], root: Path, team: str, *names: str) -> list[Store]:
    url, db = server
    create_team(db, team)
    stores = []
    for name in names:
        store = laptop(root, name)
        enrol(store, url, add_device(db, team, name).code)
        stores.append(store)
    return stores


def me(store: Store) -> str:
    with store.db.write() as s:
        return device_id(s)


def setting(store: Store, key: str) -> Any:
    with store.db.read() as s:
        return get_setting(s, key)


def rev_ids(store: Store) -> set[str]:
    with store.db.read() as s:
        return set(s.scalars(select(Revision.rev_id)))


def bundle_ids(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return {r["rev_id"] for r in json.loads(zf.read("revisions.json"))["revisions"]}


def manifest(path: Path) -> dict[str, Any]:
    with zipfile.ZipFile(path) as zf:
        return dict(json.loads(zf.read("manifest.json")))


def rewrite_manifest(path: Path, out: Path, **changes: Any) -> Path:
    """The same bundle with manifest keys changed (None removes one)."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "manifest.json":
                m = json.loads(body) | changes
                body = json.dumps({k: v for k, v in m.items() if v is not None}).encode()
            dst.writestr(item, body)
    return out


def test_a_bundle_for_a_device_holds_only_what_it_lacks(
    server: tuple[str, str], tmp_path: Path
) -> None:
    team = f"bundle-{tmp_path.name}"
    a, b, c = enrolled(server, tmp_path, team, "a", "b", "c")
    incident(a, "A до")
    incident(b, "B до")
    for s in (a, b, c, a, b):
        sync_once(s)
    old_b = export_bundle(b, tmp_path / "b-old.kua")
    incident(c, "C раз")
    sync_once(c)
    sync_once(b)
    new_b = export_bundle(b, tmp_path / "b-new.kua")
    cursor_b = setting(b, CURSOR_KEY)
    assert manifest(Path(old_b.path))["sync_cursor"] < cursor_b
    assert manifest(Path(new_b.path))["sync_cursor"] == cursor_b

    # A learns B's cursor; the older bundle, imported after, does not lower it.
    key = CURSOR_PREFIX + me(b)
    import_bundle(a, Path(new_b.path))
    assert setting(a, key) == {"team": team, "seq": cursor_b}
    import_bundle(a, Path(old_b.path))
    assert setting(a, key) == {"team": team, "seq": cursor_b}

    # A writes and pulls more; B stays where it was.
    incident(a, "A после, отправлено")
    incident(c, "C после")
    sync_once(c)
    sync_once(a)
    incident(a, "A после, не отправлено")
    lacking = rev_ids(a) - rev_ids(b)
    assert len(lacking) >= 3
    for_b = Path(export_bundle(a, tmp_path / "for-b.kua", for_device=me(b)).path)
    assert bundle_ids(for_b) == lacking
    m = manifest(for_b)
    assert (m["for_device"], m["after_seq"], m["team"]) == (me(b), cursor_b, team)
    assert m["sync_cursor"] == setting(a, CURSOR_KEY) and m["covers"]["revisions"] == len(lacking)
    result = import_bundle(b, for_b)
    assert (result.new, result.known) == (len(lacking), 0)
    assert snapshot(b) == snapshot(a) and rev_ids(b) == rev_ids(a)

    # A device A never heard from gets everything.
    stranger = str(uuid.uuid4())
    path = Path(export_bundle(a, tmp_path / "stranger.kua", for_device=stranger).path)
    assert bundle_ids(path) == rev_ids(a) and manifest(path)["after_seq"] is None
    for s in (a, b, c):
        s.close()


def not_written_by(store: Store, device: str) -> set[str]:
    with store.db.read() as s:
        return set(s.scalars(select(Revision.rev_id).where(Revision.device_id != device)))


def test_a_cursor_is_used_only_within_its_team(server: tuple[str, str], tmp_path: Path) -> None:
    b, c = enrolled(server, tmp_path, f"one-{tmp_path.name}", "b", "c")
    (a,) = enrolled(server, tmp_path, f"two-{tmp_path.name}", "a")
    loner = laptop(tmp_path, "loner", election=False)  # never synced: no team, no cursor
    incident(c, "из команды")
    for s in (c, b, a):
        sync_once(s)
    from_b = Path(export_bundle(b, tmp_path / "b.kua").path)
    import_bundle(loner, from_b)  # remembered under B's team...
    assert setting(loner, CURSOR_PREFIX + me(b))["seq"] == setting(b, CURSOR_KEY)
    from_loner = Path(export_bundle(loner, tmp_path / "l.kua", for_device=me(b)).path)
    m = manifest(from_loner)
    assert m["sync_cursor"] is None and m["after_seq"] is None  # ...but the loner has no team
    assert bundle_ids(from_loner) == not_written_by(loner, me(b)) != set()  # C's revisions
    with pytest.raises(BundleError, match="from team"):
        import_bundle(a, from_b)
    assert setting(a, CURSOR_PREFIX + me(b)) is None
    for s in (a, b, c, loner):
        s.close()


def test_a_bundle_without_a_cursor_still_imports(tmp_path: Path) -> None:
    """Bundles made before the cursor existed (format version 1 without it) import as before,
    and a bundle made now is version 1 for the importers already out there."""
    a, b = laptop(tmp_path, "a"), laptop(tmp_path, "b")
    incident(a, "старый формат")
    path = Path(export_bundle(a, tmp_path / "a.kua").path)
    assert manifest(path)["version"] == 1
    older = rewrite_manifest(path, tmp_path / "older.kua", sync_cursor=None, after_seq=None)
    assert "sync_cursor" not in manifest(older)
    assert import_bundle(b, older).new == len(rev_ids(a))
    assert setting(b, CURSOR_PREFIX + me(a)) is None
    a.close()
    b.close()


@pytest.mark.parametrize("cursor", [-1, "12", True, 1.5])
def test_a_malformed_cursor_is_refused_whole(tmp_path: Path, cursor: Any) -> None:
    a, b = laptop(tmp_path, "a"), laptop(tmp_path, "b", election=False)
    incident(a, "текст")
    path = Path(export_bundle(a, tmp_path / "a.kua").path)
    bad = rewrite_manifest(path, tmp_path / "bad.kua", team="t", sync_cursor=cursor)
    before = snapshot(b)
    with pytest.raises(BundleError, match=r"^bad\.kua: its manifest is malformed .*nothing"):
        import_bundle(b, bad)
    assert snapshot(b) == before and setting(b, CURSOR_PREFIX + me(a)) is None
    a.close()
    b.close()


def test_cli_refuses_a_device_id_that_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    laptop(tmp_path, "a").close()
    out = tmp_path / "x.kua"
    args = ["--data-dir", str(tmp_path / "a"), "bundle", "export", "--out", str(out)]
    assert main([*args, "--for-device", "01a21f3c"]) == 1
    err = capsys.readouterr().err
    assert "01a21f3c" in err and "device id" in err and err.count("\n") == 1
    assert not out.exists()
