"""Bundles made for one device: they leave out what that device has through the team server
(its pull cursor, learnt from its own bundles), and stay readable by the importer as it was.
Bundles between laptops of a team are signed with the team's bundle key from the server."""

from __future__ import annotations

import hashlib
import json
import stat
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.cli import main
from app.server.admin import add_device, create_team
from app.server.api import hash_secret
from app.server.db import MIGRATIONS, VERSION_TABLE, head, make_engine
from app.server.models import ServerBase, Team
from app.store import Store, get_setting, set_setting
from app.sync.bundle import CURSOR_PREFIX, BundleError, export_bundle, import_bundle
from app.sync.client import (
    CURSOR_KEY,
    SERVER_KEY,
    TEAM_KEY,
    bundle_key_path,
    enrol,
    save_token,
    sync_once,
)
from storage.db import alembic_upgrade
from storage.models import Revision
from storage.revisions import device_id
from storage.timeutil import to_utc_text, utcnow
from tests.sync_helpers import (
    attach_bytes,
    incident,
    laptop,
    running_server,
    server_db,
    snapshot,
)

Server = tuple[str, str, Path]  # the team server's URL, database and folder


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("server")
    db = server_db(root)
    with running_server(root, db) as (url, _proc):
        yield url, db, root


def enrolled(server: Server, root: Path, team: str, *names: str) -> list[Store]:
    url, db, _ = server
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


def bundle_blobs(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return {n.removeprefix("blobs/") for n in zf.namelist() if n.startswith("blobs/")}


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
    server: Server, tmp_path: Path
) -> None:
    team = f"bundle-{tmp_path.name}"
    a, b, c = enrolled(server, tmp_path, team, "a", "b", "c")
    incident(a, "A до")
    photo_of_b = attach_bytes(b, incident(b, "B до"), b"B's photo" * 1000)
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
    photo_of_a = attach_bytes(a, incident(a, "A после, не отправлено"), b"A's photo" * 1000)
    lacking = rev_ids(a) - rev_ids(b)
    assert len(lacking) >= 3
    for_b = Path(export_bundle(a, tmp_path / "for-b.kua", for_device=me(b)).path)
    assert bundle_ids(for_b) == lacking
    m = manifest(for_b)
    assert (m["for_device"], m["after_seq"], m["team"]) == (me(b), cursor_b, team)
    assert m["sync_cursor"] == setting(a, CURSOR_KEY) and m["covers"]["revisions"] == len(lacking)
    # B's own photo stays out (B stored it); A's goes with the bundle.
    assert a.blobs.has(photo_of_b) and bundle_blobs(for_b) == {photo_of_a}
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


def test_a_cursor_is_used_only_within_its_team(server: Server, tmp_path: Path) -> None:
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


# --- signed bundles ----------------------------------------------------------------------------

REFUSED = r"was changed after it was made, or was not made by a laptop of your team"


def server_log(server: Server) -> bytes:
    return (server[2] / "server.log").read_bytes()


def key_of(store: Store) -> str:
    path = bundle_key_path(store)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # like sync-token: its owner's only
    return path.read_text(encoding="ascii").strip()


def forge(path: Path, out: Path, old: str, new: str) -> Path:
    """The bundle with old replaced by new in its revisions, and the manifest's hash of them
    rewritten to match: what whoever holds the USB stick could do."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        m = json.loads(src.read("manifest.json"))
        body = src.read("revisions.json").replace(old.encode(), new.encode())
        assert body != src.read("revisions.json")
        m["members"]["revisions.json"] = hashlib.sha256(body).hexdigest()
        for item in src.infolist():
            forged = {"manifest.json": json.dumps(m).encode(), "revisions.json": body}
            dst.writestr(item, forged.get(item.filename) or src.read(item.filename))
    return out


def cli_import(store: Store, path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["--data-dir", str(store.data_dir), "bundle", "import", str(path), "--json"])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_bundles_within_a_team_are_signed_and_checked(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = enrolled(server, tmp_path, f"signed-{tmp_path.name}", "a", "b")
    (other,) = enrolled(server, tmp_path, f"other-{tmp_path.name}", "o")
    key = key_of(a)
    assert len(bytes.fromhex(key)) == 32 and key_of(b) == key != key_of(other)
    assert key.encode() not in server_log(server)  # handed out, never logged
    incident(a, "подписано")
    path = Path(export_bundle(a, tmp_path / "a.kua").path)
    assert manifest(path)["mac"]["alg"] == "hmac-sha256"
    code, out = cli_import(b, path, capsys)
    assert code == 0 and json.loads(out)["verified"] is True
    assert snapshot(b)["incident"] == snapshot(a)["incident"]
    # Another team's key does not make a bundle of this team, whatever its manifest says.
    incident(other, "чужое")
    theirs = Path(export_bundle(other, tmp_path / "o.kua").path)
    posing = rewrite_manifest(theirs, tmp_path / "posing.kua", team=manifest(path)["team"])
    with pytest.raises(BundleError, match=REFUSED):
        import_bundle(b, posing)
    for s in (a, b, other):
        s.close()


def test_a_rewritten_or_unsigned_bundle_is_refused_whole(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = enrolled(server, tmp_path, f"forged-{tmp_path.name}", "a", "b")
    loner = laptop(tmp_path, "loner", election=False)  # never enrolled: has no key
    incident(a, "Карусель у школы 12")
    path = Path(export_bundle(a, tmp_path / "a.kua").path)
    forged = forge(path, tmp_path / "forged.kua", "школы 12", "школы 99")
    stripped = rewrite_manifest(path, tmp_path / "stripped.kua", mac=None)
    assert "mac" not in manifest(stripped)
    before = snapshot(b)
    for bad, why in ((forged, "signature does not match"), (stripped, "not signed")):
        code, err = cli_import(b, bad, capsys)
        assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
        assert err.startswith(f"error: {bad.name}: ") and REFUSED in err and why in err, err
        assert "nothing was imported" in err
    assert snapshot(b) == before and setting(b, CURSOR_PREFIX + me(a)) is None
    # The forgery is consistent: without the key, only the hashes are checked, and they pass.
    result = import_bundle(loner, forged)
    assert result.new > 0 and not result.verified
    assert "школы 99" in json.dumps(snapshot(loner), ensure_ascii=False)
    for s in (a, b, loner):
        s.close()


def test_without_a_key_a_bundle_imports_marked_unverified(
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (a,) = enrolled(server, tmp_path, f"unverified-{tmp_path.name}", "a")
    loner = laptop(tmp_path, "loner")
    incident(a, "из команды")
    incident(loner, "от одиночки")
    team_bundle = Path(export_bundle(a, tmp_path / "a.kua").path)
    loner_bundle = Path(export_bundle(loner, tmp_path / "l.kua").path)
    assert "mac" not in manifest(loner_bundle) and manifest(loner_bundle)["team"] is None
    a.close()
    loner.close()
    # A laptop that never enrolled cannot check a team's bundle, and says so.
    code, out = cli_import(loner, team_bundle, capsys)
    assert code == 0 and json.loads(out)["verified"] is False
    assert main(["--data-dir", str(loner.data_dir), "bundle", "import", str(team_bundle)]) == 0
    assert "NOT verified" in capsys.readouterr().out
    # A laptop of the team takes one from a laptop that never enrolled (no team, so no key).
    code, out = cli_import(a, loner_bundle, capsys)
    assert code == 0 and json.loads(out) | {"verified": False} == json.loads(out)
    assert json.loads(out)["new"] > 0


def test_a_team_made_before_bundle_keys_gets_one_and_its_laptops_fetch_it(
    tmp_path: Path,
) -> None:
    """A server database at the previous head, with teams and an enrolled device: upgraded, each
    team has a key of its own, and the laptop enrolled back then gets it at its next sync."""
    db = f"sqlite:///{tmp_path / 'old.db'}"
    token, now = "ab" * 32, to_utc_text(utcnow())
    engine = make_engine(db)
    with engine.connect() as conn:
        alembic_upgrade(conn, MIGRATIONS, "0001")
        conn.execute(
            text(
                "INSERT INTO team (name, last_seq, created_at) VALUES ('old', 0, :t), ('2', 0, :t)"
            ),
            {"t": now},
        )
        conn.execute(
            text(
                "INSERT INTO device (team_id, name, token_hash, created_at, enrolled_at) "
                "SELECT id, 'lap', :h, :t, :t FROM team WHERE name = 'old'"
            ),
            {"h": hash_secret(token), "t": now},
        )
        conn.commit()
    engine.dispose()
    store = laptop(tmp_path, "lap")  # enrolled back then: token and settings, no key
    save_token(store, token)
    with running_server(tmp_path / "srv", db) as (url, _proc):  # it upgrades the database
        with store.db.write() as s:
            set_setting(s, SERVER_KEY, url)
            set_setting(s, TEAM_KEY, "old")
        assert not bundle_key_path(store).exists()
        incident(store, "до ключей")
        assert sync_once(store).pushed > 0
    engine = make_engine(db)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert ctx.get_current_revision() == head()
        assert compare_metadata(ctx, ServerBase.metadata) == []
    with Session(engine) as s:
        keys = {name: key for name, key in s.execute(select(Team.name, Team.bundle_key))}
    engine.dispose()
    assert len(set(keys.values())) == 2 and all(len(bytes.fromhex(k)) == 32 for k in keys.values())
    assert key_of(store) == keys["old"]
    assert keys["old"].encode() not in (tmp_path / "srv" / "server.log").read_bytes()
    # From now on its bundles are signed.
    assert "mac" in manifest(Path(export_bundle(store, tmp_path / "lap.kua").path))
    store.close()
