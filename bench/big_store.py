"""A store with many incidents for the app benchmarks, made fast with Core bulk inserts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app import profile, taxonomy
from app.elections import create_election
from app.store import Store
from storage.ids import uuid7
from storage.models import Incident, Station

WORDS = [
    "вброс",
    "бюллетеней",
    "карусель",
    "автобус",
    "наблюдатель",
    "протокол",
    "урна",
    "комиссия",
    "подсчет",
    "байқаушы",
    "хаттама",
    "жәшік",
    "учаске",
    "сайлаушы",
    "дауыс",
    "бюллетень",
]


def make_store(data_dir: Path, incidents: int, stations: int = 200) -> Path:
    """A store (reused when it already has the incidents) with stations, a profile, a language
    and `incidents` incidents spread over election day."""
    marker = data_dir / f".bench-{incidents}"
    if marker.exists():
        return data_dir
    rng = random.Random(7)
    with Store(data_dir) as store:
        election = create_election(store, "Bench election", "2024-03-17")
        profile.set_language(store, "ru")
        profile.set_applicant(store, profile.Applicant("Bench Applicant"))
        station_ids = [uuid7() for _ in range(stations)]
        categories = [t.key for t in taxonomy.categories()]
        now = datetime.now(UTC)
        with store.db.engine.begin() as conn:
            conn.execute(
                Station.__table__.insert(),
                [
                    {
                        "id": sid,
                        "election_id": election.id,
                        "code": f"B-{n:04d}",
                        "name": f"Участок № {n}",
                        "region": "",
                        "district": "",
                        "address": "",
                        "created_at": now,
                        "updated_at": now,
                        "deleted": False,
                    }
                    for n, sid in enumerate(station_ids)
                ],
            )
            start = datetime(2024, 3, 17, 2, 0, tzinfo=UTC)
            for chunk in range(0, incidents, 10_000):
                conn.execute(
                    Incident.__table__.insert(),
                    [
                        {
                            "id": uuid7(),
                            "station_id": rng.choice(station_ids),
                            "observed_at": start + timedelta(seconds=rng.randint(0, 16 * 3600)),
                            "observed_tz": 300,
                            "category": rng.choice(categories),
                            "severity": "minor",
                            "status": "new",
                            "description": " ".join(rng.choices(WORDS, k=12)),
                            "witnesses": [],
                            "reporter": "Bench",
                            "created_at": now,
                            "updated_at": now,
                            "deleted": False,
                        }
                        for _ in range(chunk, min(chunk + 10_000, incidents))
                    ],
                )
    marker.touch()
    return data_dir


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")
