"""kill -9 the importer at random moments; nothing reported as imported may be lost, nothing may
be left half-done.

Each run is `main.py evidence add INCIDENT <200 photos>` (3 incidents in turn, so the same blobs
are also linked from several incidents; an incident that has every file is replaced by a new
one) and SIGKILLs the CLI process after a random delay between its start and a bit beyond a full
import's duration (its orphaned pool workers, if any, are killed right after and counted). Runs
go on until --kills of them were killed before they finished. After every run:

- the database passes PRAGMA integrity_check and foreign_key_check, the audit chain is intact;
- verify_evidence finds no evidence row without its blob and no corrupt blob;
- every file whose `[i/n] name: sha` line was printed before the kill has its row, with that
  SHA-256, in that incident, exactly once.

At the end the import into each incident still in the rotation is run to completion: every file
must then be in it exactly once, the ones already there reported "(already stored)", and no blob
may be left unreferenced.

    python bench/crash_import.py [--quick] [--kills N] [--seed S]

Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (  # noqa: E402
    OUT,
    ImportRun,
    add_incidents,
    check_completion,
    check_store,
    make_store_with_incidents,
    photo_set,
    run_import,
)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="60 photos, 8 kills")
    ap.add_argument("--kills", type=int, help="number of kills (default 24; --quick 8)")
    ap.add_argument("--photos", type=int, help="photos per import (default 200; --quick 60)")
    ap.add_argument("--incidents", type=int, default=3)
    ap.add_argument("--seed", type=int, help="RNG seed (default: random, printed)")
    a = ap.parse_args()
    kills = a.kills or (8 if a.quick else 24)
    count = a.photos or (60 if a.quick else 200)
    seed = a.seed if a.seed is not None else random.SystemRandom().randrange(1 << 32)
    rng = random.Random(seed)
    print(f"seed {seed}  (re-run with --seed {seed})")

    files = photo_set(OUT / "photos-1600x1200", 200, 1600, 1200, prefix="P_")[:count]
    work = OUT / "crash-store"
    shutil.rmtree(work, ignore_errors=True)

    # A full import's duration, measured here, bounds the kill delays.
    calibrate = OUT / "crash-calibrate"
    shutil.rmtree(calibrate, ignore_errors=True)
    (cal_incident,) = make_store_with_incidents(calibrate, 1)
    full = run_import(calibrate, cal_incident, files)
    shutil.rmtree(calibrate, ignore_errors=True)
    if full.returncode != 0 or len(full.reported) != count:
        print(f"FAIL: calibration import exited {full.returncode}: {full.stderr[-500:]}")
        return 1
    print(f"a full import of {count} photos (1600x1200) takes {full.seconds:.2f} s")
    horizon = full.seconds * 1.15

    # Incidents are imported into in turn; one that has every file is replaced by a new one,
    # so that kills keep landing in imports that still have work to do.
    rotation = make_store_with_incidents(work, a.incidents)
    incidents = list(rotation)
    runs: dict[str, list[ImportRun]] = {i: [] for i in incidents}
    failures: list[str] = []
    orphans = notes = killed = attempts = 0
    t_start = time.monotonic()
    print(
        f"{'#':>3} {'delay s':>8} {'incident':>8} {'printed':>8} {'rows':>5} {'orphans':>7}  result"
    )
    while killed < kills and attempts < 3 * kills:
        attempts += 1
        slot = attempts % len(rotation)
        incident = rotation[slot]
        delay = rng.uniform(0, horizon)
        run = run_import(work, incident, files, kill_after_seconds=delay)
        runs[incident].append(run)
        check = check_store(work, [r for rs in runs.values() for r in rs])
        orphans += run.orphans
        notes += len(check.notes)
        rows = len(check.rows.get(incident, {}))
        if run.returncode == -9:
            killed += 1
            state = f"kill {killed}"
        else:
            state = f"finished first (exit {run.returncode})"
        result = "ok" if not check.problems else "FAIL: " + "; ".join(check.problems[:3])
        print(
            f"{attempts:>3} {delay:>8.2f} {incident[-8:]:>8} {len(run.reported):>8} {rows:>5} "
            f"{run.orphans:>7}  {state}, {result}",
            flush=True,
        )
        if run.returncode not in (0, -9):
            failures.append(f"run {attempts}: exit {run.returncode}: {run.stderr.strip()[-300:]}")
        failures += [f"run {attempts}: {p}" for p in check.problems]
        if rows == count:
            (rotation[slot],) = add_incidents(work, 1)
            incidents.append(rotation[slot])
            runs[rotation[slot]] = []
    if killed < kills:
        failures.append(f"only {killed} of {attempts} runs were killed before they finished")

    # Retired incidents were complete when retired (and never-twice is checked after every run);
    # the ones still in the rotation are now imported to completion.
    print(
        f"\nimports run to completion ({len(incidents) - len(rotation)} incidents were completed "
        "by runs above):"
    )
    for incident in rotation:
        before = check_store(work, []).rows.get(incident, {})
        final = run_import(work, incident, files)
        problems = check_completion(work, final, before, files)
        dups = sum(1 for _, dup in final.reported.values() if dup)
        print(
            f"  incident {incident[-8:]}: {len(before)} files there before, {dups} reported "
            f"as already stored, {final.seconds:.2f} s: " + ("ok" if not problems else "FAIL")
        )
        failures += [f"completion of {incident[-8:]}: {p}" for p in problems]
    end = check_store(work, [])
    if end.unreferenced:
        failures.append(f"{end.unreferenced} blobs unreferenced after every import completed")

    print(
        f"\n{killed} kills in {attempts} runs, {time.monotonic() - t_start:.1f} s (seed {seed}); "
        f"pool workers left running by the killed CLI: {orphans} (killed by the harness)"
    )
    if notes:
        print(f"note: temporary thumbnail files were left in the cache after {notes} kills")
    if failures:
        print(f"FAILED ({len(failures)}):")
        for f in failures[:40]:
            print(f"  {f}")
        return 1
    print("all checks passed")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
