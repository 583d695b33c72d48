"""Incident search: the app's operations vs the raw FTS5 query, and 100k incidents vs 10k.

Two stores (10k and 100k incidents of realistic Russian text, about 12% Kazakh; 300 stations)
are made once into bench/out/ (the 10k store holds the first 10k incidents of the same stream)
and reused while the schema is the same. For each typical query (one word, a prefix, two words,
a Kazakh word, mixed case, a surname):

- raw:  SELECT rowid FROM incident_fts WHERE incident_fts MATCH ?   (sqlite3, every match,
        with the MATCH expression app.incidents.fts_query builds, so only the overhead differs)
- list: app.incidents.list_incidents(store, IncidentFilter(search=q), limit=100)  (first page)
- nums: app.incidents.incident_nums(store, IncidentFilter(search=q))  (every match, sorted)

Each time is the best of several repetitions (a noisy machine only ever adds time).
Targets: list/raw and nums/raw <= 5x at 100k; list at 100k / list at 10k <= 1.5x.

    python bench/search.py [--quick] [--rebuild]
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ALMATY, OUT, best_of  # noqa: E402

RATIO_RAW = 5.0
RATIO_SCALE = 1.5
STATIONS = 300
GENERATOR = "v1"  # bump when the generated text changes

# (label, what the user types, typical): the targets are judged on the typical queries; the
# others are printed too (a word nobody wrote is the worst case of a date-ordered scan).
QUERIES = [
    ("one word", "вброс", True),
    ("prefix", "бюлл", True),
    ("two words", "подвоз автобус", True),
    ("Kazakh word", "бақылаушы", True),
    ("mixed case", "Копии ПРОТОКОЛА", True),
    ("surname", "Ахметов", False),
    ("no match", "фальсификация", False),
]

# --- realistic incident text ------------------------------------------------------------------

WHO_RU = [
    "Член УИК с правом решающего голоса",
    "Председатель участковой комиссии",
    "Секретарь комиссии",
    "Неизвестный мужчина в спортивной куртке",
    "Группа молодых людей",
    "Сотрудник полиции",
    "Представитель акимата",
    "Женщина, не член комиссии",
    "Член комиссии Петрова",
    "Заместитель председателя",
]
WHAT_RU = [
    ("ballot_stuffing", "вбросил пачку бюллетеней в стационарный ящик для голосования"),
    ("ballot_stuffing", "опустил в урну несколько сложенных бюллетеней, вброс снят на видео"),
    ("voting_without_id", "выдавал бюллетени без предъявления удостоверения личности"),
    ("voting_without_id", "расписывался в списке избирателей за отсутствующих граждан"),
    ("observer_obstruction", "не допустил наблюдателя к столу, где шёл подсчёт голосов"),
    ("observer_obstruction", "потребовал удалить фотографии и запретил видеосъёмку"),
    ("organized_transport", "организовал подвоз избирателей на автобусах с предприятия"),
    ("organized_transport", "встречал у входа избирателей, привезённых микроавтобусом"),
    ("campaigning", "агитировал за кандидата прямо у входа на избирательный участок"),
    ("mobile_box", "уехал с переносным ящиком, который не был опечатан"),
    ("protocol_not_posted", "отказался вывесить увеличенную форму протокола"),
    ("protocol_copy_refused", "отказал наблюдателю в выдаче заверенной копии протокола"),
    ("protocol_falsified", "внёс исправления в протокол после его подписания"),
    ("voter_list", "дописывал в дополнительный список избирателей без документов"),
    ("carousel", "привёл группу, которая голосовала повторно: та же «карусель», что утром"),
    ("vote_buying", "раздавал продуктовые наборы и деньги за голос"),
    ("counting_procedure", "не показывал бюллетени наблюдателям при подсчёте, отметки не видны"),
    ("invalid_ballots", "отнёс действительные бюллетени к недействительным"),
    ("secrecy_breach", "заходил в кабину вместе с избирателями, нарушая тайну голосования"),
    ("coercion", "угрожал сотрудникам бюджетных организаций увольнением, если не проголосуют"),
    ("unauthorized_persons", "находился в помещении для голосования без удостоверения"),
    ("turnout_inflation", "объявил явку, которая не совпадает с подсчётом наблюдателей"),
]
WHEN_RU = [
    "около {h}:{m:02d}",
    "в {h}:{m:02d}",
    "во время подсчёта голосов",
    "сразу после открытия",
    "перед закрытием участка",
    "в обеденное время",
]
TAIL_RU = [
    "Составлен акт, копия у наблюдателя.",
    "Жалоба подана председателю УИК, ответа нет.",
    "Видео записано на телефон.",
    "Председатель отказался принять жалобу.",
    "Сообщено в территориальную комиссию.",
    "Есть фотографии протокола.",
    "Наблюдатель был удалён с участка.",
    "Повторилось дважды.",
    "",
]
KK = [
    ("ballot_stuffing", "Сайлау учаскесінде жәшікке бюллетеньдер буымен тасталды."),
    ("observer_obstruction", "Бақылаушыны дауыс санауға жібермеді, суретке түсіруге тыйым салды."),
    ("organized_transport", "Сайлаушылар кәсіпорыннан автобустармен әкелінді."),
    ("protocol_not_posted", "Хаттама ілінбеді, көшірмесін беруден бас тартты."),
    ("secrecy_breach", "Жасырын дауыс беру бұзылды, кабинаға бірге кірді."),
    ("mobile_box", "Көшпелі жәшік мөрленбеген күйде алып кетілді."),
    ("vote_buying", "Дауыс үшін азық-түлік жиынтықтары таратылды."),
    ("counting_procedure", "Санау кезінде бюллетеньдер бақылаушыларға көрсетілмеді."),
]
KK_TAIL = [
    "Комиссия төрағасы шағымды қабылдамады.",
    "Бейнежазба телефонда бар.",
    "Акт жасалды, көшірмесі бақылаушыда.",
    "",
]
SURNAMES = [
    "Иванова",
    "Петров",
    "Смирнова",
    "Ким",
    "Ахметов",
    "Нурланова",
    "Жумабаев",
    "Сейткали",
    "Омарова",
    "Кузнецов",
    "Абдрахманов",
    "Тлеубаева",
    "Садыков",
    "Ермекова",
    "Попов",
    "Бекова",
    "Исаев",
    "Касымова",
    "Мухамеджанов",
    "Литвиненко",
    "Оспанов",
    "Ли",
    "Каримова",
]
INITIALS = "АБВГДЕЖЗИКЛМНОПРСТ"


def _person(rnd: random.Random) -> str:
    return f"{rnd.choice(SURNAMES)} {rnd.choice(INITIALS)}.{rnd.choice(INITIALS)}."


def incident_text(rnd: random.Random) -> tuple[str, str]:
    """(category, description) of one incident."""
    station = rnd.randint(1, 900)
    if rnd.random() < 0.12:
        category, text = rnd.choice(KK)
        return category, f"№ {station} учаске. {text} {rnd.choice(KK_TAIL)}".strip()
    category, what = rnd.choice(WHAT_RU)
    when = rnd.choice(WHEN_RU).format(h=rnd.randint(7, 21), m=rnd.randrange(60))
    count = f" Примерно {rnd.randint(2, 60)} человек." if rnd.random() < 0.3 else ""
    text = (
        f"{when.capitalize()} на участке № {station} {rnd.choice(WHO_RU).lower()} {what}."
        f"{count} {rnd.choice(TAIL_RU)}"
    )
    return category, text.strip()


# --- building the stores ------------------------------------------------------------------------


def build_store(data_dir: Path, count: int, seed: int = 1) -> None:
    """Store(dir), an election and stations through the ORM, then `count` incident rows in bulk
    (SQLAlchemy Core insert; the FTS triggers index them)."""
    from sqlalchemy import insert

    from app.elections import create_election
    from app.store import Store
    from storage.ids import uuid7
    from storage.models import Incident, Station
    from storage.timeutil import utcnow

    shutil.rmtree(data_dir, ignore_errors=True)
    rnd = random.Random(seed)
    with Store(data_dir) as store:
        election = create_election(store, "Выборы Президента Республики Казахстан", "2024-03-17")
        with store.db.write() as s:
            stations = [
                Station(
                    election_id=election.id,
                    code=f"75-{n:03d}",
                    name=f"УИК № {n}",
                    region="г. Алматы",
                    district=rnd.choice(["Алмалинский", "Бостандыкский"]),
                )
                for n in range(1, STATIONS + 1)
            ]
            s.add_all(stations)
            s.flush()
            station_ids = [st.id for st in stations]
        start = datetime(2024, 3, 17, 7, 0, tzinfo=ALMATY)
        now = utcnow()
        rows = []
        for _ in range(count):
            category, text = incident_text(rnd)
            observed = start + timedelta(seconds=rnd.randrange(16 * 3600))
            rows.append(
                {
                    "id": uuid7(),
                    "station_id": rnd.choice(station_ids),
                    "observed_at": observed,
                    "observed_tz": 300,
                    "reporter": _person(rnd) if rnd.random() < 0.7 else None,
                    "category": category,
                    "severity": rnd.choice(["info", "minor", "minor", "serious", "critical"]),
                    "status": rnd.choice(["new", "new", "verified", "complaint_filed", "closed"]),
                    "description": text,
                    "witnesses": [_person(rnd) for _ in range(rnd.randint(0, 2))],
                    "legal_refs": None,
                    "created_at": now,
                    "updated_at": now,
                    "deleted": False,
                }
            )
        with store.db.write() as s:
            for i in range(0, len(rows), 10_000):
                s.execute(insert(Incident.__table__), rows[i : i + 10_000])


def cached_store(count: int, rebuild: bool) -> Path:
    from storage.db import head_revision

    data_dir = OUT / f"search-{count}-{GENERATOR}-schema{head_revision()}"
    marker = data_dir / "complete"
    if rebuild or not marker.exists():
        t0 = time.perf_counter()
        build_store(data_dir, count)
        marker.write_text("ok\n")
        print(f"built the {count:,}-incident store in {time.perf_counter() - t0:.1f} s", flush=True)
    return data_dir


# --- measuring ----------------------------------------------------------------------------------


def measure(data_dir: Path, reps: int) -> dict[str, dict[str, float]]:
    """query label -> {raw, list, nums (seconds), hits}."""
    from app.incidents import IncidentFilter, fts_query, incident_nums, list_incidents
    from app.store import Store

    out: dict[str, dict[str, float]] = {}
    sql = "SELECT rowid FROM incident_fts WHERE incident_fts MATCH ?"
    raw = sqlite3.connect(data_dir / "kua.db")
    try:
        with Store(data_dir) as store:
            for label, q, _ in QUERIES:
                match = fts_query(q)
                flt = IncidentFilter(search=q)
                hits = len(raw.execute(sql, (match,)).fetchall())
                listed = list_incidents(store, flt, limit=100)  # warm-up, and a sanity check
                nums = incident_nums(store, flt)
                if len(nums) != hits or len(listed) != min(100, hits):
                    raise SystemExit(f"{label}: app found {len(nums)}, FTS {hits}")
                out[label] = {
                    "hits": hits,
                    "raw": best_of(reps, lambda m=match: raw.execute(sql, (m,)).fetchall()),
                    "list": best_of(reps, lambda f=flt: list_incidents(store, f, limit=100)),
                    "nums": best_of(reps, lambda f=flt: incident_nums(store, f)),
                }
    finally:
        raw.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached stores")
    a = ap.parse_args()
    reps = 5 if a.quick else 15

    small = cached_store(10_000, a.rebuild)
    large = cached_store(100_000, a.rebuild)
    # Interleave sizes, keep the best of both passes per figure.
    results: dict[int, dict[str, dict[str, float]]] = {}
    for _ in range(1 if a.quick else 2):
        for size, d in ((10_000, small), (100_000, large)):
            got = measure(d, reps)
            prev = results.setdefault(size, got)
            for label, figs in got.items():
                for k in ("raw", "list", "nums"):
                    prev[label][k] = min(prev[label][k], figs[k])

    ms = 1000.0
    print(f"\nbest of {reps} x {1 if a.quick else 2} passes; times in ms")
    header = (
        f"{'query':<12} {'text':<22} {'hits 10k':>8} {'hits 100k':>9} | {'raw':>6} {'list':>6} "
        f"{'nums':>6} | {'list/raw':>8} {'nums/raw':>8} | {'list 100k/10k':>13} "
        f"{'nums 100k/10k':>13} {'raw 100k/10k':>12}"
    )
    print(header)
    print("-" * len(header))
    worst = {"list/raw": 0.0, "nums/raw": 0.0, "list scale": 0.0}
    for label, q, typical in QUERIES:
        s, g = results[10_000][label], results[100_000][label]
        r_list, r_nums = g["list"] / g["raw"], g["nums"] / g["raw"]
        sc_list, sc_nums, sc_raw = g["list"] / s["list"], g["nums"] / s["nums"], g["raw"] / s["raw"]
        if typical:
            worst["list/raw"] = max(worst["list/raw"], r_list)
            worst["nums/raw"] = max(worst["nums/raw"], r_nums)
            worst["list scale"] = max(worst["list scale"], sc_list)
        name = label if typical else label + " *"
        print(
            f"{name:<12} {q:<22} {s['hits']:>8.0f} {g['hits']:>9.0f} | "
            f"{g['raw'] * ms:>6.2f} "
            f"{g['list'] * ms:>6.2f} {g['nums'] * ms:>6.2f} | {r_list:>7.1f}x {r_nums:>7.1f}x | "
            f"{sc_list:>12.1f}x {sc_nums:>12.1f}x {sc_raw:>11.1f}x"
        )
    print("* not a typical query: printed, not judged")
    print()
    for name, value, target in (
        ("app list / raw FTS at 100k (worst typical)", worst["list/raw"], RATIO_RAW),
        ("app nums / raw FTS at 100k (worst typical)", worst["nums/raw"], RATIO_RAW),
        ("app list 100k / 10k (worst typical)", worst["list scale"], RATIO_SCALE),
    ):
        met = value <= target
        print(f"{name:<44} {value:6.2f}x  (target <= {target}x: {'met' if met else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
