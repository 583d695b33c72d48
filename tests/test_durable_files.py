"""Shared atomic writes, adopting a finished file into the blob store, and the sync helpers
that were folded together (pending evidence, the report's status, current_revision)."""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from app.sync import blobs as sync_blobs
from app.sync.bundle import BundleError, export_bundle, import_bundle
from app.sync.client import SyncReport, SyncStatus, _save_secret, sync_status
from storage.blobs import BlobMismatch, BlobStore
from storage.db import current_revision
from storage.files import atomic_file, write_atomic
from storage.models import SyncedBlob
from tests.sync_helpers import attach_bytes, incident, laptop, snapshot

POSIX = os.name != "nt"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- BlobStore.adopt --------------------------------------------------------------------


def test_adopt_moves_the_file_in_read_only(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    part = tmp_path / "blobs" / ".partial" / "x"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"photo bytes")
    blobs.adopt(part, sha(b"photo bytes"))
    assert blobs.read(sha(b"photo bytes")) == b"photo bytes"
    assert not part.exists()
    assert blobs.verify(sha(b"photo bytes")) is None
    assert list(blobs.all_hashes()) == [sha(b"photo bytes")]  # .partial is not a blob
    if POSIX:
        assert stat.S_IMODE(blobs.path(sha(b"photo bytes")).stat().st_mode) == 0o444


def test_adopt_twice_keeps_one_blob_and_drops_the_second_file(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put_bytes(b"same")
    again = tmp_path / "again"
    again.write_bytes(b"same")
    blobs.adopt(again, digest)
    assert not again.exists() and blobs.read(digest) == b"same"


def test_adopt_refuses_bytes_that_do_not_match(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    part = tmp_path / "part"
    part.write_bytes(b"tampered")
    with pytest.raises(BlobMismatch):
        blobs.adopt(part, sha(b"original"))
    assert not part.exists()  # the upload or download starts over
    assert not blobs.has(sha(b"original")) and not blobs.has(sha(b"tampered"))


def test_adopt_an_empty_file(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    part = tmp_path / "empty"
    part.touch()
    blobs.adopt(part, sha(b""))
    assert blobs.read(sha(b"")) == b""


def test_a_temp_file_is_no_blob_and_is_a_leftover(tmp_path: Path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    tmp = blobs.temp_file(sha(b"x"))
    assert tmp.parent == blobs.path(sha(b"x")).parent and list(blobs.all_hashes()) == []
    os.utime(tmp, (0, 0))
    assert blobs.remove_leftovers() == 1 and not tmp.exists()


# --- atomic writes ------------------------------------------------------------------------


def test_write_atomic_replaces_whole_with_the_mode(tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")
    write_atomic(dest, b"new", 0o640)
    assert dest.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.bin"]
    if POSIX:
        assert stat.S_IMODE(dest.stat().st_mode) == 0o640


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    dest = tmp_path / "out.bin"
    dest.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_file(dest) as f:
        f.write(b"half")
        raise RuntimeError("cut")
    assert dest.read_bytes() == b"old" and os.listdir(tmp_path) == ["out.bin"]


def test_an_unwritable_folder_fails_before_the_block(tmp_path: Path) -> None:
    with pytest.raises(OSError), atomic_file(tmp_path / "missing" / "out.bin"):
        pytest.fail("the block must not run")


def test_a_secret_is_owner_only_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "sync-token"
    _save_secret(path, "first")
    _save_secret(path, "second")
    assert path.read_text(encoding="ascii") == "second\n"
    assert os.listdir(tmp_path) == ["sync-token"]
    if POSIX:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


# --- sync helpers -------------------------------------------------------------------------


def test_pending_gives_both_lists_as_the_two_functions_do(tmp_path: Path) -> None:
    store = laptop(tmp_path, "a")
    i = incident(store, "photo")
    here, synced, away = (attach_bytes(store, i, d) for d in (b"here", b"synced", b"away"))
    store.blobs.path(away).chmod(0o644)
    store.blobs.path(away).unlink()  # its bytes have not reached this laptop
    with store.db.write() as s:
        s.add(SyncedBlob(sha256=synced))
    with store.db.read() as s:
        both = sync_blobs.pending(store, s)
        assert both.evidence == sync_blobs.pending_evidence(store, s) == [away]
        assert both.uploads == sync_blobs.pending_uploads(store, s) == [here]
    st = sync_status(store)
    assert (st.evidence_pending, st.pending_uploads) == (1, 1)
    store.close()


def test_the_report_json_leaves_out_the_status() -> None:
    status = SyncStatus("https://x", "t", True, None, 0, 0, 2, 1)
    report = SyncReport(server="https://x", evidence_pending=2, conflicts=1, status=status)
    assert list(report.to_json()) == [
        "server",
        "pushed",
        "pulled",
        "snapshot",
        "pages",
        "uploaded",
        "downloaded",
        "evidence_pending",
        "conflicts",
    ]
    assert report.status is status


def test_current_revision_reads_the_given_version_table(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE other_version (version_num VARCHAR(32) PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO other_version VALUES ('abc123')")
    assert current_revision(engine) is None
    assert current_revision(engine, "other_version") == "abc123"
    engine.dispose()


# --- bundles: new evidence files are written out while checked, stored only after -------


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_bundle_brings_its_files_and_leaves_no_temp_file(tmp_path: Path) -> None:
    a, b = laptop(tmp_path, "a"), laptop(tmp_path, "b", election=False)
    i = incident(a, "photos")
    digests = [attach_bytes(a, i, d) for d in (b"one" * 1000, b"two" * 1000)]
    path = Path(export_bundle(a, tmp_path / "a.kua").path)
    assert [p.name for p in tmp_path.glob(".a.kua.*")] == []  # the atomic write's temp file
    assert import_bundle(b, path).blobs == 2
    assert [b.blobs.read(h) for h in digests] == [a.blobs.read(h) for h in digests]
    assert files_under(b.blobs.root) == sorted(b.blobs.path(h) for h in digests)
    assert import_bundle(b, path).blobs == 0  # idempotent
    a.close()
    b.close()


def test_a_bundle_with_one_changed_file_stores_none(tmp_path: Path) -> None:
    a, b = laptop(tmp_path, "a"), laptop(tmp_path, "b", election=False)
    i = incident(a, "photos")
    digests = sorted(attach_bytes(a, i, d) for d in (b"one", b"two"))
    path = Path(export_bundle(a, tmp_path / "a.kua").path)
    bad = tmp_path / "bad.kua"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():  # the last file changed: the first was written out already
            body = src.read(item.filename)
            dst.writestr(item, b"forged" if item.filename == f"blobs/{digests[-1]}" else body)
    before = snapshot(b)
    with pytest.raises(BundleError, match="was changed after the bundle was made"):
        import_bundle(b, bad)
    assert snapshot(b) == before and files_under(b.blobs.root) == []
    a.close()
    b.close()
