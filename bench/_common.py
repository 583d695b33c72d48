"""Helpers shared by the benchmarks and tests/test_crash.py: synthetic photos with EXIF, a store
with incidents to import into, timing, and the kill-the-importer harness.

Benchmarks run as scripts (`python bench/x.py`), so the repository root is put on sys.path here.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import re
import selectors
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"  # caches and scratch stores (git-ignored)
ALMATY = timezone(timedelta(hours=5))

# --------------------------------------------------------------------------------------------
# synthetic photos


def make_photo(path: Path, seed: int, width: int, height: int, quality: int = 90) -> None:
    """A JPEG that compresses like a photo (gradients, blotchy texture, shapes, sensor noise),
    with EXIF: camera, orientation, DateTimeOriginal with its offset, and GPS. Written atomically.
    """
    from PIL import ExifTags, Image, ImageChops, ImageDraw

    rnd = random.Random(seed)
    channels = []
    for _ in range(3):
        gradient = Image.linear_gradient("L").rotate(rnd.uniform(0, 360))
        gradient = gradient.resize((width, height), Image.Resampling.BILINEAR)
        coarse = Image.effect_noise((max(1, width // 8), max(1, height // 8)), rnd.uniform(50, 70))
        texture = coarse.resize((width, height), Image.Resampling.BICUBIC)
        channels.append(Image.blend(gradient, texture, rnd.uniform(0.4, 0.6)))
    img = Image.merge("RGB", channels)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rnd.randrange(width), rnd.randrange(height)
        x1 = min(width, x0 + rnd.randrange(width // 10 + 1, width // 3 + 2))
        y1 = min(height, y0 + rnd.randrange(height // 10 + 1, height // 3 + 2))
        colour = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
        shape = draw.ellipse if rnd.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=colour)
    fine = Image.effect_noise((width, height), rnd.uniform(4, 8)).convert("RGB")
    img = ImageChops.add(img, fine, scale=1.0, offset=-128)

    taken = datetime(2024, 3, 17, 8, 0, tzinfo=ALMATY) + timedelta(seconds=rnd.randrange(43200))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Kua"
    exif[ExifTags.Base.Model] = "Synthetic Camera"
    exif[ExifTags.Base.Orientation] = 1
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[ExifTags.Base.DateTimeOriginal] = taken.strftime("%Y:%m:%d %H:%M:%S")
    sub[ExifTags.Base.OffsetTimeOriginal] = "+05:00"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    lat, lon = 43.2 + rnd.uniform(-0.1, 0.1), 76.85 + rnd.uniform(-0.1, 0.1)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = _dms(lat)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = _dms(lon)
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
    gps[ExifTags.GPS.GPSAltitude] = round(rnd.uniform(700, 900), 1)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    img.save(tmp, "JPEG", quality=quality, exif=exif)
    os.replace(tmp, path)


def _dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 2)
    return float(degrees), float(minutes), seconds


def _make_photo_args(args: tuple[Path, int, int, int]) -> None:
    make_photo(*args)


def photo_set(
    folder: Path, count: int, width: int, height: int, *, prefix: str = "IMG_", seed: int = 0
) -> list[Path]:
    """`count` distinct photos in folder, made once (missing ones only) on all cores."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{prefix}{i:04d}.jpg" for i in range(count)]
    todo = [(p, seed * 1_000_003 + i, width, height) for i, p in enumerate(paths) if not p.exists()]
    if todo:
        print(f"making {len(todo)} photos of {width}x{height} in {folder} ...", flush=True)
        if len(todo) * width * height < 50_000_000:
            for args in todo:
                _make_photo_args(args)
        else:  # spawn: never fork a process that may run threads (pytest, Qt)
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(os.cpu_count() or 1, mp_context=ctx) as pool:
                list(pool.map(_make_photo_args, todo, chunksize=4))
    return paths


def warm_page_cache(paths: Sequence[Path]) -> int:
    """Read the files once so every contender finds them in the page cache."""
    total = 0
    for p in paths:
        total += len(p.read_bytes())
    return total


# --------------------------------------------------------------------------------------------
# a store to import into

STATIONS_CSV_HEADER = "code,name,region,district,address,commission,registered_voters,lat,lon\n"


def make_store_with_incidents(data_dir: Path, incidents: int = 1) -> list[str]:
    """A fresh store with an election, one station and `incidents` incidents; their ids."""
    from app.elections import create_election
    from app.store import Store
    from storage.models import Station

    with Store(data_dir) as store:
        election = create_election(store, "Президентские выборы", "2024-03-17")
        with store.db.write() as s:
            s.add(Station(election_id=election.id, code="75-001", name="УИК № 1", region="Алматы"))
    return add_incidents(data_dir, incidents)


def add_incidents(data_dir: Path, count: int) -> list[str]:
    """`count` more incidents at the station made by make_store_with_incidents; their ids."""
    from app.incidents import IncidentDraft, add_incident
    from app.store import Store

    ids = []
    with Store(data_dir) as store:
        for n in range(count):
            view = add_incident(
                store,
                IncidentDraft(
                    station_code="75-001",
                    category="ballot_stuffing",
                    observed_at=datetime(2024, 3, 17, 8, n % 60, tzinfo=ALMATY),
                    description=f"Вброс бюллетеней, эпизод {n + 1}",
                ),
            )
            ids.append(view.id)
    return ids


# --------------------------------------------------------------------------------------------
# timing and reporting


def best_of(runs: int, fn: Callable[[], object]) -> float:
    """The fastest of `runs` timings (seconds): on a noisy machine the minimum is the signal."""
    best = float("inf")
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


# --------------------------------------------------------------------------------------------
# kill -9 harness for `evidence add`

REPORTED = re.compile(r"^\[(\d+)/(\d+)\] (.+): ([0-9a-f]{64})( \(already stored\))?$")


@dataclass
class ImportRun:
    """One `evidence add` run: what it reported on stdout and how it ended."""

    incident_id: str
    lines: list[str] = field(default_factory=list)  # complete stdout lines
    killed: bool = False
    returncode: int | None = None
    stderr: str = ""
    seconds: float = 0.0
    orphans: int = 0  # pool workers still alive after the CLI process died

    @property
    def reported(self) -> dict[str, tuple[str, bool]]:
        """name -> (sha256, reported as already stored), for every success line."""
        out = {}
        for line in self.lines:
            m = REPORTED.match(line)
            if m:
                out[m.group(3)] = (m.group(4), m.group(5) is not None)
        return out


def cli(data_dir: Path, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), "--data-dir", str(data_dir), *args]


def _group_alive(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group (Linux /proc)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            alive.append(int(entry.name))
    return alive


def _kill(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGKILL the CLI process, as a crash would; then its orphaned pool workers. Returns how
    many workers were still alive once the CLI process was gone."""
    pgid = proc.pid  # started with start_new_session: its own process group
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout)
    orphans = _group_alive(pgid)
    if orphans:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while _group_alive(pgid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"processes of group {pgid} survive SIGKILL")
            time.sleep(0.01)
    return len(orphans)


def run_import(
    data_dir: Path,
    incident_id: str,
    files: Sequence[Path],
    *,
    kill_after_line: int | None = None,
    kill_after_seconds: float | None = None,
    timeout: float = 300.0,
) -> ImportRun:
    """Run `evidence add` in a child process, reading its stdout as it comes; SIGKILL it after
    its `kill_after_line`-th line or `kill_after_seconds`, whichever comes first (if given)."""
    run = ImportRun(incident_id)
    cmd = cli(data_dir, "evidence", "add", incident_id, *map(str, files))
    t0 = time.monotonic()
    deadline = t0 + timeout
    kill_at = None if kill_after_seconds is None else t0 + kill_after_seconds
    buf = b""
    with (
        tempfile.TemporaryFile() as err,
        subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=err,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
        ) as proc,
    ):
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        try:
            with selectors.DefaultSelector() as sel:
                sel.register(fd, selectors.EVENT_READ)
                eof = False
                while not eof:
                    now = time.monotonic()
                    if not run.killed and (
                        (kill_at is not None and now >= kill_at)
                        or (kill_after_line is not None and len(run.lines) >= kill_after_line)
                    ):
                        run.orphans = _kill(proc, timeout=30)
                        run.killed = True
                        continue  # read what it printed before it died, up to EOF
                    if now >= deadline:
                        raise TimeoutError(f"evidence add still running after {timeout}s")
                    wait = deadline - now
                    if kill_at is not None and not run.killed:
                        wait = min(wait, kill_at - now)
                    for _ in sel.select(max(0.0, wait)):
                        chunk = os.read(fd, 65536)
                        if not chunk:
                            eof = True
                            break
                        buf += chunk
                        *complete, buf = buf.split(b"\n")
                        run.lines += [c.decode("utf-8", "replace") for c in complete]
        finally:
            if proc.poll() is None:  # an error above: never leave the child running
                _kill(proc, timeout=30)
        run.returncode = proc.wait(timeout=30)
        run.seconds = time.monotonic() - t0
        # A process that died mid-line may leave a partial line: never counted as reported.
        err.seek(0)
        run.stderr = err.read().decode("utf-8", "replace")
    return run


@dataclass
class StoreCheck:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)  # incident -> sha -> rows
    unreferenced: int = 0


def check_store(data_dir: Path, runs: Sequence[ImportRun]) -> StoreCheck:
    """What must hold after any crash: a sound database, every evidence row backed by an intact
    blob, an intact audit chain, and every file a run reported as imported present in its
    incident with the reported SHA-256 (never twice)."""
    from sqlalchemy import select

    from app.audit import verify_audit
    from app.evidence import verify_evidence
    from app.store import Store
    from storage.models import Evidence

    check = StoreCheck()
    db = sqlite3.connect(data_dir / "kua.db")
    try:
        (integrity,) = db.execute("PRAGMA integrity_check").fetchone()
        if integrity != "ok":
            check.problems.append(f"integrity_check: {integrity}")
        fk = db.execute("PRAGMA foreign_key_check").fetchall()
        if fk:
            check.problems.append(f"foreign_key_check: {fk[:3]}")
    finally:
        db.close()

    with Store(data_dir) as store:
        report = verify_evidence(store)
        for p in report.problems:
            check.problems.append(f"verify: {p.sha256[:12]} {p.problem} ({', '.join(p.files)})")
        check.unreferenced = len(report.unreferenced)
        audit = verify_audit(store)
        check.problems += [f"audit: {p}" for p in audit.problems]
        with store.db.read() as s:
            q = select(Evidence.incident_id, Evidence.sha256, Evidence.original_name).where(
                Evidence.deleted.is_(False)
            )
            names: dict[tuple[str, str], set[str]] = {}
            for incident, sha, name in s.execute(q):
                per = check.rows.setdefault(incident or "", {})
                per[sha] = per.get(sha, 0) + 1
                names.setdefault((incident or "", sha), set()).add(name)
    for incident, per in check.rows.items():
        twice = [sha for sha, n in per.items() if n > 1]
        if twice:
            check.problems.append(f"incident {incident}: {len(twice)} files stored twice")
    for run in runs:
        have = check.rows.get(run.incident_id, {})
        for name, (sha, _) in run.reported.items():
            if sha not in have:
                check.problems.append(f"{name} reported as imported ({sha[:12]}) but has no row")
            elif name not in names[(run.incident_id, sha)]:
                check.problems.append(f"{name}: its row carries another name")
    # A killed write leaves its temp file; the store removes such files once they are an hour
    # old (a younger one may be another process's write in progress). They are never blobs.
    stray = [p for p in (data_dir / "blobs").glob("*/.incoming-*")]
    if stray:
        check.notes.append(f"{len(stray)} temporary blob files from killed writes")
    thumbs_tmp = list((data_dir / "cache" / "thumbs").glob("*/.tmp-*"))
    if thumbs_tmp:
        check.notes.append(f"{len(thumbs_tmp)} temporary thumbnail files left in the cache")
    return check


def check_completion(
    data_dir: Path, final: ImportRun, before: dict[str, int], files: Sequence[Path]
) -> list[str]:
    """After an import run to completion: it succeeded for every file, the files that were
    already in the incident were reported as such, and every file is there exactly once."""
    problems = []
    if final.returncode != 0:
        problems.append(f"final import exited {final.returncode}: {final.stderr.strip()[-300:]}")
    reported = final.reported
    missing = [f.name for f in files if f.name not in reported]
    if missing:
        problems.append(f"final import did not report {len(missing)} files, e.g. {missing[:3]}")
    not_marked = [name for name, (sha, dup) in reported.items() if sha in before and not dup]
    if not_marked:
        problems.append(
            f"{len(not_marked)} files already in the incident not reported as already stored"
        )
    after = check_store(data_dir, [final])
    problems += after.problems
    have = after.rows.get(final.incident_id, {})
    shas = {sha for sha, _ in reported.values()}
    if len(shas) != len(files) or any(have.get(sha) != 1 for sha in shas):
        problems.append("after the final import not every file is in the incident exactly once")
    extra = set(have) - shas
    if extra:
        problems.append(f"{len(extra)} unexpected files in the incident")
    return problems
