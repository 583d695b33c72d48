"""kill -9 during `evidence add`: what was reported as imported survives, nothing is half-done.

The CLI runs as a real child process (sys.executable main.py --data-dir ...) and is SIGKILLed
after its k-th progress line (k seeded-random), and once after a seeded-random delay. Whatever
the timing, the same invariants must hold, so the outcome does not depend on the machine's speed.
bench/crash_import.py is the long version (200 photos, 20+ kills at random moments).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

from bench._common import (
    ImportRun,
    check_completion,
    check_store,
    make_store_with_incidents,
    photo_set,
    run_import,
)

pytestmark = pytest.mark.skipif(
    sys.platform != "linux", reason="uses process groups and /proc to kill the pool workers too"
)

SEED = 20240317
PHOTOS = 30
TIMEOUT = 60.0  # per CLI run; a run normally takes 1-2 s


def test_kill_during_import_loses_nothing_reported(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    files = photo_set(tmp_path / "photos", PHOTOS, 640, 480, seed=SEED)
    data = tmp_path / "store"
    incidents = make_store_with_incidents(data, 2)
    runs: list[ImportRun] = []

    # (after this progress line, after this many seconds): four by line, one by time.
    plan: list[tuple[int | None, float | None]] = [
        (k, None) for k in sorted(rng.sample(range(1, PHOTOS), 4))
    ]
    plan.insert(rng.randrange(len(plan) + 1), (None, rng.uniform(0.2, 2.5)))
    for n, (line, delay) in enumerate(plan):
        incident = incidents[n % 2]
        run = run_import(
            data, incident, files, kill_after_line=line, kill_after_seconds=delay, timeout=TIMEOUT
        )
        runs.append(run)
        assert run.returncode in (0, -9), run.stderr
        if line is not None:
            assert run.killed and len(run.reported) >= line
        check = check_store(data, runs)
        assert check.problems == [], f"after kill {n + 1} {plan[n]}: {check.problems}"

    for incident in incidents:
        before = check_store(data, []).rows.get(incident, {})
        final = run_import(data, incident, files, timeout=TIMEOUT)
        assert check_completion(data, final, before, files) == []
        assert sum(dup for _, dup in final.reported.values()) >= len(before)
    assert check_store(data, []).unreferenced == 0
