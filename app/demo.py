"""A realistic demo election, to try the app without real data: Kazakh regions and stations,
incidents in Russian and Kazakh across the day, and generated photos with EXIF time and GPS."""

from __future__ import annotations

import io
import random
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from PIL import Image, ImageDraw

from app import taxonomy
from app.elections import CURRENT_ELECTION
from app.evidence import import_files
from app.store import Store, set_setting
from storage.models import Election, Incident, Station

DEMO_NAME = "Президентские выборы (демо) / Президент сайлауы (демо)"
DEMO_DATE = "2022-11-20"
ALMATY = timezone(timedelta(hours=6))

# (region, districts, centre lat, lon)
REGIONS = [
    ("г. Алматы", ["Әуезов ауданы", "Алмалинский район", "Бостандық ауданы"], 43.24, 76.89),
    ("г. Астана", ["Есіл ауданы", "Сарыаркинский район"], 51.13, 71.43),
    ("г. Шымкент", ["Абай ауданы", "Енбекшинский район"], 42.32, 69.59),
    ("Қарағанды облысы", ["Теміртау қ.", "г. Караганда"], 49.80, 73.10),
    ("Маңғыстау облысы", ["Ақтау қ.", "Жаңаөзен қ."], 43.65, 51.16),
]

STREETS = [
    "Абай даңғылы",
    "ул. Жандосова",
    "Сәтбаев к-сі",
    "пр. Республики",
    "Төле би к-сі",
    "ул. Байтурсынова",
    "Қабанбай батыр к-сі",
    "мкр. Самал-2",
]

REPORTS_RU = {
    "ballot_stuffing": "Член УИК опустил в урну пачку бюллетеней, примерно {n} штук.",
    "carousel": "Группа из {n} человек голосует повторно, приезжают на одном автобусе.",
    "voting_without_id": "Выдали бюллетень без удостоверения личности, со слов члена комиссии.",
    "vote_buying": "У входа раздают продуктовые наборы за фото бюллетеня.",
    "coercion": "Сотрудников акимата обязали прислать фото с участка до 12:00.",
    "organized_transport": "Автобусы с работниками предприятия, около {n} человек.",
    "campaigning": "В помещении участка висит агитационный плакат кандидата.",
    "secrecy_breach": "Семейное голосование: муж заполняет бюллетень за жену.",
    "mobile_box": "Переносной ящик увезли без наблюдателей, заявлений {n}.",
    "voter_list": "В списке избирателей {n} человек с одинаковым адресом.",
    "box_sealing": "Урна не опломбирована, пломба лежит на столе.",
    "unauthorized_persons": "В помещении для голосования посторонние, не представились.",
    "observer_obstruction": "Наблюдателю запретили фотосъемку и попросили выйти.",
    "counting_procedure": "При подсчете бюллетени не показывают наблюдателям.",
    "invalid_ballots": "Бюллетени с явной отметкой признаны недействительными ({n} шт.).",
    "protocol_not_posted": "Увеличенная форма протокола не вывешена после подсчета.",
    "protocol_copy_refused": "Копию протокола выдать отказались, председатель ушел.",
    "protocol_falsified": "В копии протокола исправлены цифры явки без отметки.",
    "control_relations_fail": "Контрольные соотношения не сходятся, пересчет не проводили.",
    "turnout_inflation": "По нашему подсчету пришло {n} человек, в протоколе больше.",
    "other": "Прочее: жалоба избирателя на очередь и отсутствие пандуса.",
}
REPORTS_KK = {
    "ballot_stuffing": "Комиссия мүшесі жәшікке бір бума бюллетень салды, шамамен {n} дана.",
    "carousel": "{n} адамнан тұратын топ қайта дауыс беріп жүр, бір автобуспен келеді.",
    "vote_buying": "Кіреберісте бюллетеньнің суретіне азық-түлік жиынтығын таратып жатыр.",
    "coercion": "Әкімдік қызметкерлеріне сағат 12:00-ге дейін учаскеден сурет жіберуді міндеттеді.",
    "observer_obstruction": "Байқаушыға суретке түсіруге тыйым салып, шығып кетуді сұрады.",
    "protocol_copy_refused": "Хаттаманың көшірмесін беруден бас тартты.",
    "secrecy_breach": "Отбасылық дауыс беру: күйеуі әйелінің бюллетенін толтырып жатыр.",
    "counting_procedure": "Санау кезінде бюллетеньдер байқаушыларға көрсетілмейді.",
}
REPORTERS = [
    "Айгерім Сейітқызы",
    "Иван Петров",
    "Нұрлан Әбенов",
    "Мария Ким",
    "Ерлан Құдайбергенов",
    "Динара Өмірзақова",
    "Сергей Ли",
    "Әсел Жақсылықова",
]


def make_demo(
    store: Store, stations: int = 40, incidents: int = 200, photos: int = 12, seed: int = 2022
) -> str:
    """Fill the store with a demo election (made current). Re-running adds nothing twice:
    stations are matched by code; incidents and photos are only added to a new demo."""
    rng = random.Random(seed)
    keys = [t.key for t in taxonomy.categories()]
    severities = [t.key for t in taxonomy.severities()]
    day = datetime.fromisoformat(DEMO_DATE).replace(tzinfo=ALMATY)
    with store.db.write() as s:
        election = s.query(Election).filter_by(name=DEMO_NAME, date=DEMO_DATE).first()
        fresh = election is None
        if election is None:
            election = Election(
                name=DEMO_NAME,
                date=DEMO_DATE,
                kind="presidential",
                country_profile="kz-presidential",
            )
            s.add(election)
            s.flush()
        set_setting(s, CURRENT_ELECTION, election.id)
        if not fresh:
            return f"the demo election is already here: {DEMO_NAME}"
        made: list[Station] = []
        for n in range(stations):
            region, districts, lat, lon = REGIONS[n % len(REGIONS)]
            district = rng.choice(districts)
            number = 100 + n
            name = f"№ {number} сайлау учаскесі" if n % 2 else f"Избирательный участок № {number}"
            st = Station(
                election_id=election.id,
                code=f"{(n % len(REGIONS)) + 1:02d}-{number:03d}",
                name=name,
                region=region,
                district=district,
                address=f"{rng.choice(STREETS)}, {rng.randint(1, 180)}",
                commission=f"ТИК {district}",
                registered_voters=rng.randint(600, 2800),
                lat=round(lat + rng.uniform(-0.05, 0.05), 5),
                lon=round(lon + rng.uniform(-0.05, 0.05), 5),
            )
            s.add(st)
            made.append(st)
        s.flush()
        logged: list[Incident] = []
        for _ in range(incidents):
            key = rng.choice(keys)
            kazakh = key in REPORTS_KK and rng.random() < 0.4
            text = (REPORTS_KK if kazakh else REPORTS_RU)[key].format(n=rng.randint(3, 40))
            when = day + timedelta(hours=7, minutes=rng.randint(0, 15 * 60))
            inc = Incident(
                station_id=rng.choice(made).id,
                observed_at=when,
                observed_tz=360,
                category=key,
                severity=rng.choice(severities),
                status=rng.choice(["new", "new", "verified", "complaint_filed", "closed"]),
                description=text,
                witnesses=rng.sample(REPORTERS, rng.randint(0, 2)),
                reporter=rng.choice(REPORTERS),
            )
            s.add(inc)
            logged.append(inc)
        s.flush()
        targets = [(i.id, i.station.lat, i.station.lon, i.observed_at) for i in logged[:photos]]
    with tempfile.TemporaryDirectory() as tmp:
        for k, (incident_id, st_lat, st_lon, when) in enumerate(targets):
            path = Path(tmp) / f"IMG_{k + 1:04d}.jpg"
            path.write_bytes(_demo_photo(rng, k, when, st_lat or 43.2, st_lon or 76.9))
            import_files(store, incident_id, [path])
    return (
        f"demo election {DEMO_NAME} ({DEMO_DATE}): {stations} stations, "
        f"{incidents} incidents, {len(targets)} photos"
    )


def _demo_photo(rng: random.Random, k: int, when: datetime, lat: float, lon: float) -> bytes:
    """A small JPEG that looks like a phone photo of a document, with EXIF time and GPS."""
    im = Image.new("RGB", (1200, 900), (rng.randint(120, 200), rng.randint(120, 200), 140))
    draw = ImageDraw.Draw(im)
    draw.rectangle((150, 80, 1050, 820), fill=(245, 244, 238), outline=(60, 60, 60), width=4)
    for row in range(12):
        y = 140 + row * 52
        draw.line((200, y, 1000 - rng.randint(0, 300), y), fill=(70, 70, 90), width=6)
    draw.text((200, 100), f"DEMO {k + 1}", fill=(150, 20, 20))
    exif = Image.Exif()
    exif[0x010F] = "Demo"
    exif[0x0110] = "Kua demo camera"
    local = when.astimezone(ALMATY)
    ifd = exif.get_ifd(0x8769)
    ifd[0x9003] = local.strftime("%Y:%m:%d %H:%M:%S")
    ifd[0x9011] = "+06:00"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[3] = ("N" if lat >= 0 else "S"), ("E" if lon >= 0 else "W")
    gps[2] = _dms(abs(lat))
    gps[4] = _dms(abs(lon))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80, exif=exif)
    return out.getvalue()


def _dms(value: float) -> tuple[float, float, float]:
    deg = int(value)
    minutes = int((value - deg) * 60)
    seconds = round(((value - deg) * 60 - minutes) * 60, 2)
    return (float(deg), float(minutes), seconds)
