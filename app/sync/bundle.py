"""Bundles: the sync for days without network. A bundle is a zip file a team lead carries on a
USB stick: a manifest (format, schema, team, source device and its server pull cursor, what it
covers, the SHA-256 of every member), the revisions in the push format, and the evidence files.
Importing runs the same merge as a pull, so importing a bundle twice, or an older one after a
newer, changes nothing.

A bundle made for one device leaves out what that device already has: the revisions it wrote,
and those the team server numbered at or below the pull cursor its last bundle here carried
(everything up to its cursor was applied there). A bundle that lacks something is harmless:
the merge is idempotent and order-free, and the rest comes with the next sync or bundle.

A bundle is checked whole before anything is applied: a truncated or edited file is refused with
nothing changed. A laptop that has its team's bundle key (from the team server) signs the
manifest with it (HMAC-SHA256), so whoever carries the stick cannot rewrite a member and the
manifest's hash of it together: a laptop of the same team refuses such a bundle, and one
whose signature was removed. A laptop without the key cannot check, and says so."""

from __future__ import annotations

import hashlib
import hmac
import json
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.errors import KuaError
from app.store import Store, get_setting, set_setting
from app.sync import CURSOR_KEY, TEAM_KEY, wire
from app.sync.merge import apply_revisions
from app.sync.wire import WireRevision
from storage import audit
from storage.files import atomic_file
from storage.models import Evidence, Revision, SyncConflict
from storage.revisions import device_id
from storage.timeutil import to_utc_text, utcnow

FORMAT = "kua-bundle"
VERSION = 1  # sync_cursor and after_seq are optional additions: older importers ignore them
MANIFEST = "manifest.json"
REVISIONS = "revisions.json"
BLOB_DIR = "blobs/"
MAC_ALG = "hmac-sha256"  # manifest["mac"] = {"alg": MAC_ALG, "value": hex}, over the rest of it
CURSOR_PREFIX = "bundle_cursor:"
"""Setting CURSOR_PREFIX + device id: {"team", "seq"}, the highest pull cursor its bundles had."""
_READ = 1 << 20


class BundleError(KuaError):
    pass


@dataclass(frozen=True)
class BundleExport:
    path: str
    revisions: int
    blobs: int
    size: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class BundleImport:
    new: int
    known: int
    blobs: int
    conflicts: int
    source_device: str
    verified: bool  # its team signature was checked; False: this laptop or its maker has no key

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class _Damaged(Exception):
    """Reading a member failed: the bundle is damaged or cut short. Not an OSError: failing to
    write a member out (this laptop's disk) must not pass for a damaged bundle."""


def _chunks(zf: zipfile.ZipFile, name: str) -> Iterator[bytes]:
    """The member's bytes, inflated piece by piece."""
    try:
        with zf.open(name) as f:
            while chunk := f.read(_READ):
                yield chunk
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
        raise _Damaged from exc


def _hash_member(zf: zipfile.ZipFile, name: str, out: IO[bytes] | None = None) -> str:
    """The member's SHA-256; with out, its bytes are written there as well (inflated once)."""
    h = hashlib.sha256()
    for chunk in _chunks(zf, name):
        h.update(chunk)
        if out is not None:
            out.write(chunk)
    return h.hexdigest()


def manifest_mac(key: bytes, manifest: dict[str, Any]) -> str:
    """HMAC-SHA256 of the manifest without its "mac", as canonical JSON (sorted keys, no
    spaces): the same bytes however the file was laid out, on any laptop."""
    rest = {k: v for k, v in manifest.items() if k != "mac"}
    body = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def _verified(path: Path, manifest: dict[str, Any], key: bytes | None) -> bool:
    """Whether the bundle's signature proves a laptop of this team made it as it is. One that
    names a team (this laptop's: others are refused before) must be signed, since a missing
    signature may have been removed; one from a laptop that never enrolled (no team, so no key)
    cannot be checked, nor can anything on a laptop without the key."""
    mac = manifest.get("mac")
    if key is None or (mac is None and manifest.get("team") is None):
        return False
    value = mac.get("value") if isinstance(mac, dict) and mac.get("alg") == MAC_ALG else None
    expected = manifest_mac(key, manifest).encode()
    if not isinstance(value, str) or not hmac.compare_digest(value.encode(), expected):
        why = "it is not signed" if mac is None else "its signature does not match"
        raise _refuse(
            path,
            f"it was changed after it was made, or was not made by a laptop of your team ({why})",
        )
    return True


def known_cursor(session: Session, device: str, team: str | None) -> int | None:
    """The server pull cursor device's bundles showed, if it syncs with this laptop's team."""
    known = get_setting(session, CURSOR_PREFIX + device)
    if team and isinstance(known, dict) and known.get("team") == team:
        return int(known["seq"])
    return None


def export_bundle(store: Store, out: Path, for_device: str | None = None) -> BundleExport:
    """Everything this laptop has (all revisions, all evidence files), except, with for_device,
    the revisions that device has already: those it wrote, and those at or below its last known
    server pull cursor."""
    from app.sync.client import load_bundle_key

    if for_device is not None and not wire.UUID_RE.match(for_device):
        raise BundleError(f"--for-device {for_device!r}: not a device id (a UUID)")
    key = load_bundle_key(store)
    # One read transaction: the cursor in the manifest matches the revisions in the bundle.
    with store.db.read() as s:
        me = device_id(s)
        team = get_setting(s, TEAM_KEY)
        cursor = int(get_setting(s, CURSOR_KEY, 0)) if team else None
        after_seq = known_cursor(s, for_device, team) if for_device else None
        query = select(Revision).order_by(Revision.hlc, Revision.rev_id)
        if for_device:
            query = query.where(Revision.device_id != for_device)
        if after_seq is not None:
            query = query.where(or_(Revision.server_seq.is_(None), Revision.server_seq > after_seq))
        revs = [WireRevision.of(r).to_json() for r in s.scalars(query)]
        hashes = sorted(h for h in set(s.scalars(select(Evidence.sha256))) if store.blobs.has(h))
        if for_device:  # files it attached itself are on it (blobs are never deleted)
            theirs = set(
                s.scalars(
                    select(Evidence.sha256).join(
                        Revision,
                        (Revision.entity == "evidence")
                        & (Revision.record_id == Evidence.id)
                        & (Revision.op == "create")
                        & (Revision.device_id == for_device),
                    )
                )
            )
            hashes = [h for h in hashes if h not in theirs]
    devices: dict[str, dict[str, Any]] = {}
    for r in revs:
        d = devices.setdefault(r["device_id"], {"revisions": 0, "last_hlc": ""})
        d["revisions"] += 1
        d["last_hlc"] = max(d["last_hlc"], r["hlc"])
    body = json.dumps({"revisions": revs}, ensure_ascii=False).encode("utf-8")
    members = {REVISIONS: hashlib.sha256(body).hexdigest()} | {BLOB_DIR + h: h for h in hashes}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "protocol": wire.PROTOCOL,
        "schema": wire.SCHEMA,
        "team": team,
        "source_device": me,
        "sync_cursor": cursor,  # the team server's sequence up to which this laptop has all
        "for_device": for_device,
        "after_seq": after_seq,  # for_device's revisions numbered up to here are left out
        "created_at": to_utc_text(utcnow()),
        "covers": {"revisions": len(revs), "blobs": len(hashes), "devices": devices},
        "members": members,
    }
    if key is not None:
        manifest["mac"] = {"alg": MAC_ALG, "value": manifest_mac(key, manifest)}
    out.parent.mkdir(parents=True, exist_ok=True)
    # Whole or not at all: a stick pulled out mid-write leaves no bundle that looks complete.
    with atomic_file(out) as f, zipfile.ZipFile(f, "w") as zf:
        zf.writestr(
            MANIFEST,
            json.dumps(manifest, ensure_ascii=False, indent=1),
            compress_type=zipfile.ZIP_DEFLATED,
        )
        zf.writestr(REVISIONS, body, compress_type=zipfile.ZIP_DEFLATED)
        for h in hashes:  # photos are compressed already
            zf.write(store.blobs.path(h), BLOB_DIR + h, compress_type=zipfile.ZIP_STORED)
    with store.db.write() as s:
        audit.append(
            s,
            me,
            "export",
            "bundle",
            None,
            {
                "file": out.name,
                "revisions": len(revs),
                "blobs": len(hashes),
                "for_device": for_device,
                "after_seq": after_seq,
            },
        )
    return BundleExport(str(out), len(revs), len(hashes), out.stat().st_size)


def _refuse(path: Path, why: str) -> BundleError:
    return BundleError(f"{path.name}: {why}; nothing was imported")


def _check_members(
    zf: zipfile.ZipFile,
    path: Path,
    members: dict[str, Any],
    store: Store,
    staged: dict[str, Path],
) -> list[WireRevision]:
    """Check every member against its hash in the manifest, and return the revisions. The
    evidence files this laptop lacks are written out meanwhile, into staged (blob -> temp file
    beside the store): each is inflated once."""
    try:
        for name, digest in members.items():
            blob = name[len(BLOB_DIR) :] if name.startswith(BLOB_DIR) else None
            if blob is not None and blob != digest:
                raise _refuse(path, f"{name} is listed under another hash")
            # (only a well-formed hash names a place in the store)
            if blob and wire.SHA256_RE.match(blob) and not store.blobs.has(blob):
                staged[blob] = store.blobs.temp_file(blob)
                with open(staged[blob], "wb") as out:
                    got = _hash_member(zf, name, out)
            else:
                got = _hash_member(zf, name)
            if got != digest:
                raise _refuse(path, f"{name} was changed after the bundle was made")
        body = json.loads(b"".join(_chunks(zf, REVISIONS)))
        return [WireRevision.from_json(r) for r in body["revisions"]]
    except _Damaged:
        raise _refuse(path, "the file is damaged or cut short") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise _refuse(path, f"its revisions are malformed ({exc})") from None


def import_bundle(store: Store, path: Path) -> BundleImport:
    """Check the whole bundle, then merge it like a pull. Idempotent."""
    from app.sync.client import load_bundle_key

    key = load_bundle_key(store)
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise BundleError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise _refuse(path, f"not a Kuä bundle, or cut short while copying ({exc})") from None
    with zf:
        try:
            manifest = json.loads(zf.read(MANIFEST))
        except KeyError:
            raise _refuse(path, "not a Kuä bundle (it has no manifest)") from None
        except (ValueError, zipfile.BadZipFile, zlib.error, OSError):
            raise _refuse(path, "its manifest is damaged") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise _refuse(path, "not a Kuä bundle")
        if manifest.get("version") != VERSION or not isinstance(manifest.get("schema"), int):
            raise _refuse(path, "a bundle format this version of Kuä does not know: update Kuä")
        if manifest["schema"] > wire.SCHEMA:
            raise _refuse(path, "made by a newer Kuä: update Kuä on this laptop first")
        with store.db.read() as s:
            team = get_setting(s, TEAM_KEY)
        if team and manifest.get("team") and manifest["team"] != team:
            raise _refuse(path, f"it is from team {manifest['team']!r}, this laptop is {team!r}")
        verified = _verified(path, manifest, key)  # before the members: it vouches for their hashes
        members = manifest.get("members")
        if not isinstance(members, dict) or REVISIONS not in members:
            raise _refuse(path, "its manifest lists no revisions")
        names = set(zf.namelist()) - {MANIFEST}
        if names != set(members):
            extra, lost = sorted(names - set(members)), sorted(set(members) - names)
            what = (
                f"files missing: {', '.join(lost[:3])}"
                if lost
                else f"unlisted files: {', '.join(extra[:3])}"
            )
            raise _refuse(path, f"the bundle was changed or cut short ({what})")
        # New evidence files, written out as they are checked; none joins the store before the
        # whole bundle has been checked.
        staged: dict[str, Path] = {}
        try:
            revs = _check_members(zf, path, members, store, staged)
            # The source's pull cursor (absent from older bundles and unsynced laptops).
            source, source_team = manifest.get("source_device"), manifest.get("team")
            cursor: int | None = manifest.get("sync_cursor")
            if cursor is not None and not (
                type(cursor) is int
                and cursor >= 0
                and isinstance(source, str)
                and wire.UUID_RE.match(source)
                and isinstance(source_team, str)
            ):
                raise _refuse(path, "its manifest is malformed (sync_cursor, team, source_device)")
            # Checked whole: now the files (content-addressed, harmless if the merge fails) ...
            new_blobs = len(staged)
            while staged:
                blob, tmp = staged.popitem()
                store.blobs.adopt(tmp, blob)
        finally:  # refused or failed: no written-out file stays behind
            for tmp in staged.values():
                tmp.unlink(missing_ok=True)
    # ... then the revisions, in one transaction.
    with store.db.write() as s:
        applied = apply_revisions(s, revs)
        if cursor is not None:
            _remember_cursor(s, str(source), str(source_team), cursor)
        audit.append(
            s,
            device_id(s),
            "import",
            "bundle",
            None,
            {
                "file": path.name,
                "source": manifest.get("source_device"),
                "new": applied.new,
                "blobs": new_blobs,
                "verified": verified,
            },
        )
        conflicts = len(s.scalars(select(SyncConflict.id)).all())
    return BundleImport(applied.new, applied.known, new_blobs, conflicts, str(source), verified)


def _remember_cursor(session: Session, device: str, team: str, seq: int) -> None:
    """Keep the highest cursor device's bundles showed: an older bundle never lowers it."""
    old = known_cursor(session, device, team)
    if old is None or seq > old:
        set_setting(session, CURSOR_PREFIX + device, {"team": team, "seq": seq})
