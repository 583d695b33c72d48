"""Discrepancies: the app's comparison of sources vs one SQL join doing the same comparison.

A store with 10,000 stations, each with three protocols (observer's copy, posted copy,
official result; Belarus 2020 profile: 13 lines and 5 candidates, a few blanks), where about 5%
of the copies differ from the official figures on one to three lines. Made once into bench/out/.

- sql: one statement over SQLite's JSON functions: every copy joined with its station's
       official protocol, json_each over its lines and candidates, the lines known in both and
       different (sqlite3, no ORM).
- app: app.discrepancies.find_discrepancies(store) (findings grouped per station and sorted
       by the size of the difference, which the SQL does not even do).

Both must find the same differences. Each time is the best of several runs. Target: app <= 2x sql.

    python bench/discrepancies.py [--rebuild]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.elections import get_current_election  # noqa: E402
from bench._common import OUT, best_of, verdict  # noqa: E402

STATIONS = 10_000
TARGET = 2.0
GENERATOR = "v1"

CANDIDATES = (
    "Дмитриев Андрей Владимирович",
    "Канопацкая Анна Анатольевна",
    "Лукашенко Александр Григорьевич",
    "Тихановская Светлана Георгиевна",
    "Черечень Сергей Владимирович",
)

SQL = """
WITH pairs AS (
  SELECT s.code AS code, c.source AS source, c.lines AS cl, c.candidate_votes AS cc,
         f.lines AS fl, f.candidate_votes AS fc
  FROM protocol c
  JOIN protocol f ON f.station_id = c.station_id AND f.source = 'official' AND f.deleted = 0
  JOIN station s ON s.id = c.station_id
  WHERE c.source IN ('observer', 'posted') AND c.deleted = 0 AND s.election_id = :election
)
SELECT code, source, j.key, j.value, json_extract(fl, '$."' || j.key || '"') AS official
FROM pairs, json_each(pairs.cl) AS j
WHERE official IS NOT NULL AND j.value IS NOT NULL AND j.value != official
UNION ALL
SELECT code, source, j.key, j.value, json_extract(fc, '$."' || j.key || '"') AS official
FROM pairs, json_each(pairs.cc) AS j
WHERE official IS NOT NULL AND j.value IS NOT NULL AND j.value != official
"""


def figures(rng: random.Random) -> tuple[dict[str, int], dict[str, int]]:
    voters = rng.randint(800, 2800)
    issued = int(voters * rng.uniform(0.6, 0.95))
    found = issued - rng.randint(0, 3)
    invalid = rng.randint(0, 30)
    against = rng.randint(0, 120)
    rest = found - invalid - against
    shares = [rng.random() for _ in CANDIDATES]
    votes = [int(rest * s / sum(shares)) for s in shares]
    votes[2] += rest - sum(votes)
    early = int(found * rng.uniform(0.2, 0.45))
    home = rng.randint(0, 80)
    spoiled, unused = rng.randint(0, 3), rng.randint(50, 400)
    lines = {
        "1": voters, "2": issued, "3": found, "3.1": early, "3.2": home,
        "3.3": found - early - home, "6": against, "8": invalid,
        "9": issued + spoiled + unused, "10": spoiled, "11": unused,
    }
    if rng.random() < 0.2:  # an incomplete copy: lines 9-11 left blank
        for k in ("9", "10", "11"):
            del lines[k]
    return lines, dict(zip(CANDIDATES, votes, strict=True))


def make_store(folder: Path) -> Path:
    from app.elections import create_election
    from app.store import Store
    from storage.ids import uuid7
    from storage.models import Protocol, Station

    marker = folder / ".ready"
    if marker.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = random.Random(2020)
    now = datetime.now(UTC)
    with Store(folder) as store:
        election = create_election(store, "Bench 2020", "2020-08-09",
                                   profile="by-2020-presidential")
        stations, protocols = [], []
        for n in range(STATIONS):
            sid = uuid7()
            stations.append({
                "id": sid, "election_id": election.id, "code": f"{n // 1000:02d}-{n:06d}",
                "name": f"УИК {n}", "region": "", "district": "", "address": "",
                "created_at": now, "updated_at": now, "deleted": False,
            })
            lines, cands = figures(rng)
            for source in ("official", "observer", "posted"):
                ln, cd = dict(lines), dict(cands)
                if source != "official" and rng.random() < 0.05:
                    for key in rng.sample(sorted(ln), rng.randint(1, 3)):
                        ln[key] += rng.choice((-1, 1)) * rng.randint(1, 300)
                    if rng.random() < 0.5:
                        cd[CANDIDATES[2]] -= rng.randint(1, 300)
                protocols.append({
                    "id": uuid7(), "station_id": sid, "source": source,
                    "profile": "by-2020-presidential", "lines": ln, "candidate_votes": cd,
                    "entered_by": "bench", "created_at": now, "updated_at": now,
                    "deleted": False,
                })
        with store.db.engine.begin() as conn:
            conn.execute(Station.__table__.insert(), stations)
            conn.execute(Protocol.__table__.insert(), protocols)
    marker.touch()
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rebuild", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()

    from app.discrepancies import find_discrepancies
    from app.paths import DB_NAME
    from app.store import Store

    folder = OUT / f"discrepancies-{STATIONS}-{GENERATOR}"
    if args.rebuild:
        shutil.rmtree(folder, ignore_errors=True)
    make_store(folder)

    with Store(folder) as store:
        election = get_current_election(store)
        assert election is not None
        election_id = election.id
        conn = sqlite3.connect(folder / DB_NAME)

        def sql() -> list[tuple[object, ...]]:
            return conn.execute(SQL, {"election": election_id}).fetchall()

        found = find_discrepancies(store)
        rows = sql()
        app_set = {(d.station_code, d.source, x.line, x.copy, x.official)
                   for d in found for x in d.differences}
        sql_set = {(r[0], r[1], r[2], int(str(r[3])), int(str(r[4]))) for r in rows}
        if app_set != sql_set:
            print(f"MISMATCH: app {len(app_set)} differences, sql {len(sql_set)}")
            return 1
        t_sql = best_of(args.runs, sql)
        t_app = best_of(args.runs, lambda: find_discrepancies(store))
        conn.close()

    ratio = t_app / t_sql
    print(f"{STATIONS:,} stations x 3 sources: {len(found)} stations with differences, "
          f"{len(app_set)} differing lines")
    print(f"  sql join:  {t_sql * 1000:7.1f} ms")
    print(f"  app:       {t_app * 1000:7.1f} ms")
    print(f"  ratio app/sql = {ratio:.2f}x (target <= {TARGET:.0f}x): {verdict(ratio <= TARGET)}")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
