"""Complaints: the operation that turns incidents into a signed PDF for an election commission.

It loads the incidents, their stations and the applicant profile, checks every evidence file
against its SHA-256, renders print-size pictures, and hands plain data to export/ (layout,
attachments, signature). Every export is recorded as a Complaint row (with the PDF's SHA-256 and
the signer's certificate fingerprint) and an audit event, in one transaction.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app import photos, taxonomy
from app.country_profiles import get_profile
from app.errors import InvalidInput, KuaError, NotFound
from app.incidents import EvidenceView, IncidentView, get_incident
from app.paths import FONTS_DIR
from app.profile import Applicant, get_applicant
from app.protocols import ProtocolView, protocol_views
from app.store import (
    Store,
    describe_environment_error,
    get_setting,
    is_environment_error,
    set_setting,
)
from export import pdf as layout
from export import sign as signing
from export.errors import ExportError
from export.texts import text
from storage import audit
from storage.ids import uuid7
from storage.models import Complaint, Station
from storage.revisions import device_id

TIMESTAMP_URL = "timestamp_url"  # local setting: the last timestamp server used
PRINT_MAX_SIDE = 1600  # px: about 270 dpi across a page's width, plenty for print
PRINT_QUALITY = 85

Progress = Callable[[str, int, int], None]  # (stage, done, total)

# Default requests: what observers' complaints usually ask for, per kind of violation. Only
# procedural asks (no article of law): the legal basis is the applicant's to fill in.
_INVESTIGATE = {
    "ru": "Провести проверку изложенных фактов и принять меры к устранению нарушения.",
    "kk": "Баяндалған фактілерді тексеріп, бұзушылықты жою шараларын қабылдауды.",
    "en": "Investigate the facts set out above and take measures to remedy the violation.",
}
_RECOUNT = {
    "ru": "Провести повторный подсчёт голосов избирателей на избирательном участке.",
    "kk": "Сайлау учаскесінде сайлаушылардың дауыстарын қайта санауды.",
    "en": "Hold a recount of the votes at the polling station.",
}
_PROTOCOL_COPY = {
    "ru": "Выдать мне заверенную копию протокола об итогах голосования и вывесить протокол "
    "для всеобщего ознакомления.",
    "kk": "Маған дауыс беру қорытындылары туралы хаттаманың куәландырылған көшірмесін беруді "
    "және хаттаманы жалпы жұрттың танысуы үшін ілуді.",
    "en": "Give me a certified copy of the protocol of the voting results and post the "
    "protocol for public viewing.",
}
_OBSERVER_RIGHTS = {
    "ru": "Обеспечить беспрепятственное осуществление наблюдателем своих полномочий, "
    "включая фото- и видеосъёмку.",
    "kk": "Байқаушының өз өкілеттіктерін, оның ішінде фото- және бейнетүсірілімді, "
    "кедергісіз жүзеге асыруын қамтамасыз етуді.",
    "en": "Ensure that the observer can exercise their rights without obstruction, including "
    "taking photos and video.",
}
_RECORD = {
    "ru": "Зафиксировать нарушение и приобщить настоящую жалобу к документации комиссии.",
    "kk": "Бұзушылықты тіркеп, осы шағымды комиссия құжаттамасына қосуды.",
    "en": "Record the violation and add this complaint to the commission's records.",
}
_ANSWER = {
    "ru": "Дать письменный ответ на настоящую жалобу в установленный законом срок.",
    "kk": "Осы шағымға заңда белгіленген мерзімде жазбаша жауап беруді.",
    "en": "Give a written answer to this complaint within the time limit set by law.",
}
RECOUNT_CATEGORIES = frozenset(
    {
        "ballot_stuffing",
        "carousel",
        "counting_procedure",
        "invalid_ballots",
        "protocol_falsified",
        "control_relations_fail",
        "turnout_inflation",
        "mobile_box",
        "box_sealing",
    }
)
PROTOCOL_CATEGORIES = frozenset({"protocol_not_posted", "protocol_copy_refused"})
# Incidents about a protocol's figures (what `discrepancy incident` makes is protocol_falsified):
# their complaint shows the station's protocols side by side and the relations that fail.
PROTOCOL_FINDING_CATEGORIES = frozenset({"protocol_falsified", "control_relations_fail"})
OBSERVER_CATEGORIES = frozenset({"observer_obstruction"})

_STATUS_LABELS = {
    "observer": {"ru": "наблюдатель", "kk": "байқаушы", "en": "observer"},
    "proxy": {
        "ru": "доверенное лицо кандидата",
        "kk": "кандидаттың сенім білдірілген өкілі",
        "en": "candidate's proxy",
    },
    "candidate": {"ru": "кандидат", "kk": "кандидат", "en": "candidate"},
    "commission_member": {
        "ru": "член избирательной комиссии",
        "kk": "сайлау комиссиясының мүшесі",
        "en": "member of an election commission",
    },
    "voter": {"ru": "избиратель", "kk": "сайлаушы", "en": "voter"},
}


@dataclass(frozen=True)
class ComplaintDraft:
    """What the user chose; None fields take their defaults (default_addressee, ...)."""

    incident_ids: tuple[str, ...]
    lang: str = "ru"
    addressee: str | None = None
    request: str | None = None
    legal_basis: str = ""  # empty: a blank line to fill in by hand (nothing is invented)
    embed_originals: bool = True
    complaint_date: date | None = None
    # The evidence to include, by id; None: all of the incidents' evidence.
    evidence_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ComplaintResult:
    complaint_id: str
    path: Path
    sha256: str
    size: int
    pages: int
    level: str  # "unsigned", "B-B" or "B-T"
    notice: str | None  # e.g. the timestamp server did not answer
    signer: str | None
    signer_fingerprint: str | None
    files: int
    originals_embedded: bool
    originals_size: int

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["path"] = str(self.path)
        return out


def app_version() -> str:
    try:
        return importlib.metadata.version("kua")
    except importlib.metadata.PackageNotFoundError:
        return "dev"


def fonts() -> layout.Fonts:
    return layout.Fonts(FONTS_DIR / "NotoSans-Regular.ttf", FONTS_DIR / "NotoSans-Bold.ttf")


def default_request(categories: Sequence[str], lang: str) -> str:
    """Numbered requests suited to the incidents' categories, in the complaint's language."""
    _check_lang(lang)
    cats = set(categories)
    asks = [_INVESTIGATE[lang]]
    if cats & RECOUNT_CATEGORIES:
        asks.append(_RECOUNT[lang])
    if cats & PROTOCOL_CATEGORIES:
        asks.append(_PROTOCOL_COPY[lang])
    if cats & OBSERVER_CATEGORIES:
        asks.append(_OBSERVER_RIGHTS[lang])
    asks += [_RECORD[lang], _ANSWER[lang]]
    return "\n".join(f"{n}. {a}" for n, a in enumerate(asks, 1))


def default_addressee(store: Store, incident_ids: Sequence[str]) -> str:
    """The superior commission(s) of the incidents' stations, as the station list names them."""
    incidents = _load_incidents(store, incident_ids)
    stations = _stations(store, incidents)
    names: list[str] = []
    for inc in incidents:
        st = stations.get(inc.station_id)
        name = (st.commission or "").strip() if st is not None else ""
        if name and name not in names:
            names.append(name)
    return "; ".join(names)


def load_pkcs12(path: Path, password: bytes) -> signing.LoadedSigner:
    """Open a PKCS#12 key (wrong password, expired or non-signing certificate: KuaError)."""
    try:
        return signing.load_pkcs12(path, password)
    except ExportError as exc:
        raise KuaError(str(exc)) from exc


def preview(store: Store, draft: ComplaintDraft, progress: Progress | None = None) -> bytes:
    """The complaint as it will look, unsigned and without the originals embedded (fast)."""
    prepared = _prepare(store, draft, uuid7(), signed=False, progress=progress, keep_data=False)
    return prepared.rendered.pdf


def build_complaint(
    store: Store,
    draft: ComplaintDraft,
    out_path: Path,
    signer: signing.LoadedSigner | None = None,
    timestamp_url: str | None = None,
    progress: Progress | None = None,
) -> ComplaintResult:
    """Write the complaint PDF to out_path (signed when a signer is given) and record it.

    Nothing is written under out_path unless the whole PDF was made: bad input (unknown
    incident, missing or corrupt evidence file, unwritable folder) raises KuaError first."""
    out_path = Path(out_path)
    try:
        signing.check_writable(out_path)
    except ExportError as exc:
        raise KuaError(str(exc)) from exc
    complaint_id = uuid7()
    prep = _prepare(store, draft, complaint_id, signed=signer is not None, progress=progress)

    def make_writer() -> Any:
        return layout.attachment_writer(prep.rendered.pdf, prep.attachments, prep.manifest)

    _report(progress, "sign" if signer else "write", 0, 1)
    try:
        if signer is None:
            outcome = signing.write_unsigned(make_writer(), out_path)
        else:
            stamp = signing.StampSpec(
                page=prep.rendered.signature_page,
                box=prep.rendered.signature_box,
                text=text(draft.lang, "stamp"),
                font=fonts().regular,
                reason=f"{text(draft.lang, 'title')} {complaint_id}",
            )
            outcome = signing.sign_to_file(make_writer, out_path, signer, stamp, timestamp_url)
    except ExportError as exc:
        raise KuaError(str(exc)) from exc
    except OSError as exc:
        raise KuaError(describe_environment_error(exc, out_path.parent)) from exc
    _report(progress, "sign" if signer else "write", 1, 1)
    result = ComplaintResult(
        complaint_id=complaint_id,
        path=out_path,
        sha256=outcome.sha256,
        size=outcome.size,
        pages=prep.rendered.pages,
        level=outcome.level,
        notice=outcome.notice,
        signer=None if signer is None else signer.name,
        signer_fingerprint=None if signer is None else signer.fingerprint,
        files=len(prep.manifest.files),
        originals_embedded=draft.embed_originals,
        originals_size=prep.originals_size,
    )
    try:
        _record(store, draft, prep, result)
    except Exception as exc:
        # A PDF the store does not know about would be an export without a trace: remove it.
        out_path.unlink(missing_ok=True)
        if is_environment_error(exc):
            raise KuaError(describe_environment_error(exc)) from exc
        raise
    return result


# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Prepared:
    doc: layout.ComplaintDoc
    rendered: layout.Rendered
    attachments: tuple[layout.Attachment, ...]
    manifest: layout.Manifest
    originals_size: int
    addressee: str
    request: str
    applicant: Applicant


def _report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None:
        progress(stage, done, total)


def _check_lang(lang: str) -> None:
    if lang not in taxonomy.LANGS:
        raise InvalidInput(f"language: {lang!r} is not one of {', '.join(taxonomy.LANGS)}")


def _load_incidents(store: Store, incident_ids: Sequence[str]) -> list[IncidentView]:
    ids = list(dict.fromkeys(i.strip() for i in incident_ids if i.strip()))
    if not ids:
        raise InvalidInput("a complaint needs at least one incident")
    return [get_incident(store, i) for i in ids]


def _stations(store: Store, incidents: Sequence[IncidentView]) -> dict[str, Station]:
    ids = {i.station_id for i in incidents}
    with store.db.read() as s:
        rows = s.scalars(select(Station).where(Station.id.in_(ids))).all()
        for r in rows:
            s.expunge(r)
        return {r.id: r for r in rows}


def _format_time(dt: datetime, lang: str) -> str:
    offset = dt.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    day = dt.strftime("%Y-%m-%d") if lang == "en" else dt.strftime("%d.%m.%Y")
    return f"{day} {dt:%H:%M} (UTC{offset})"


def _format_taken(value: str | None, lang: str) -> str | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return value
    if dt.tzinfo is None:
        day = dt.strftime("%Y-%m-%d") if lang == "en" else dt.strftime("%d.%m.%Y")
        return f"{day} {dt:%H:%M:%S}"
    return _format_time(dt, lang)


def _format_gps(ev: EvidenceView) -> str | None:
    if ev.gps is None:
        return None
    lat, lon = ev.gps.lat, ev.gps.lon
    out = f"{abs(lat):.6f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.6f}° {'E' if lon >= 0 else 'W'}"
    if ev.gps.alt is not None:
        out += f", {ev.gps.alt:.0f} m"
    return out


def _applicant_lines(a: Applicant, lang: str) -> tuple[str, ...]:
    if not a.complete:
        return ("_" * 40,)  # no profile yet: a line to fill in by hand
    lines = [a.full_name]
    status = _STATUS_LABELS.get(a.status, {}).get(lang)
    if status:
        lines.append(status)
    if a.organization:
        lines.append(a.organization)
    if a.phone:
        lines.append(f"{text(lang, 'phone')} {a.phone}")
    return tuple(lines)


def from_protocol_finding(inc: IncidentView, protocols: Sequence[ProtocolView]) -> bool:
    """Whether an incident is about its station's protocol figures: its category says so, or
    its evidence is a photo of one of the station's protocols (as `discrepancy incident`
    attaches them). No stored link is needed: the station and its protocols are the finding."""
    if not protocols:
        return False
    if inc.category in PROTOCOL_FINDING_CATEGORIES:
        return True
    photos_of_protocols = {ph.sha256 for p in protocols for ph in p.photos}
    return any(ev.sha256 in photos_of_protocols for ev in inc.evidence)


def protocol_tables(
    store: Store,
    incidents: Sequence[IncidentView],
    lang: str,
    stations: dict[str, Station] | None = None,
) -> dict[str, layout.ProtocolTable]:
    """The protocol table for each incident (by id) that comes from a protocol finding.
    stations: the incidents' stations by id, where the caller has loaded them already."""
    if stations is None:
        stations = _stations(store, incidents)
    out: dict[str, layout.ProtocolTable] = {}
    views_of: dict[str, list[ProtocolView]] = {}  # by station: several incidents share one
    with store.db.read() as s:
        for inc in incidents:
            st = stations.get(inc.station_id)
            if st is None:
                continue
            if st.id not in views_of:
                views_of[st.id] = protocol_views(s, st, lang)
            views = views_of[st.id]
            if from_protocol_finding(inc, views):
                out[inc.id] = protocol_table(views, lang)
    return out


def protocol_table(views: Sequence[ProtocolView], lang: str) -> layout.ProtocolTable:
    """One station's protocols (one per source) as plain data for the PDF: every line of the
    profile and every candidate, a column per source, the figures that differ from the
    reference source (official if present) marked, and the failed relations."""
    sources = tuple(v.source for v in views)
    reference = "official" if "official" in sources else sources[0]
    ref = sources.index(reference)
    profile = get_profile(views[ref].profile)
    line_ids = list(profile.line_ids)
    line_ids += sorted({k for v in views for k in v.lines} - set(line_ids))
    names = list(profile.candidates)
    names += sorted({k for v in views for k in v.candidates} - set(names))

    def row(label: str, values: list[int | None], is_candidate: bool) -> layout.ProtocolRow:
        base = values[ref]
        if base is None:  # the reference is blank here: compare with the first known figure
            base = next((v for v in values if v is not None), None)
        marks = tuple(v is not None and base is not None and v != base for v in values)
        return layout.ProtocolRow(label, tuple(values), marks, is_candidate)

    def label(line_id: str) -> str:
        try:
            return profile.line(line_id).label(lang)
        except InvalidInput:  # a line this profile does not have (another profile's)
            return line_id

    rows = [row(label(k), [v.lines.get(k) for v in views], False) for k in line_ids]
    rows += [row(n, [v.candidates.get(n) for v in views], True) for n in names]
    failed = tuple(
        layout.FailedCheck(v.source, c.kind, c.label, c.formula(), c.left, c.right)
        for v in views
        for c in v.failed
        if c.left is not None and c.right is not None
    )
    unchecked = sum(1 for v in views for c in v.checks if c.status == "unknown")
    return layout.ProtocolTable(sources, reference, tuple(rows), failed, unchecked)


def _read_evidence(store: Store, ev: EvidenceView) -> bytes:
    """The original bytes, checked against the SHA-256 they were imported under."""
    try:
        data = store.blobs.read(ev.sha256)
    except FileNotFoundError:
        raise KuaError(
            f"evidence {ev.original_name} ({ev.sha256[:12]}…) is missing from the data folder; "
            "run `evidence verify`"
        ) from None
    except OSError as exc:
        raise KuaError(describe_environment_error(exc, store.blobs.path(ev.sha256))) from exc
    if hashlib.sha256(data).hexdigest() != ev.sha256:
        raise KuaError(
            f"evidence {ev.original_name} ({ev.sha256[:12]}…) is corrupt: its bytes no longer "
            "match its SHA-256; run `evidence verify`"
        )
    return data


def _print_jpeg(data: bytes) -> tuple[bytes, tuple[int, int]] | None:
    try:
        im = photos.render_oriented(data, PRINT_MAX_SIDE)
    except photos.PhotoError:
        return None  # still listed and embedded, with a note instead of the picture
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=PRINT_QUALITY)
    return buf.getvalue(), im.size


def _prepare(
    store: Store,
    draft: ComplaintDraft,
    complaint_id: str,
    *,
    signed: bool,
    progress: Progress | None,
    keep_data: bool = True,
) -> _Prepared:
    lang = draft.lang
    _check_lang(lang)
    incidents = _load_incidents(store, draft.incident_ids)
    if draft.evidence_ids is not None:
        chosen = set(draft.evidence_ids)
        incidents = [
            replace(inc, evidence=tuple(ev for ev in inc.evidence if ev.id in chosen))
            for inc in incidents
        ]
    stations = _stations(store, incidents)
    tables = protocol_tables(store, incidents, lang, stations)
    applicant = get_applicant(store)
    addressee = draft.addressee if draft.addressee is not None else ""
    if draft.addressee is None:
        addressee = default_addressee(store, draft.incident_ids)
    addressee = addressee.strip() or "_" * 40
    request = draft.request
    if request is None or not request.strip():
        request = default_request([i.category for i in incidents], lang)

    all_ev = [ev for inc in incidents for ev in inc.evidence]
    names = layout.unique_names([ev.original_name for ev in all_ev])
    attachments: list[layout.Attachment] = []
    manifest: list[layout.ManifestEntry] = []
    # Reading and hashing the originals (I/O and hashlib, both without the GIL) runs ahead
    # on a thread while this thread decodes pictures: ~10% of an export of 12 MP photos.
    reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="complaint-read")
    ahead = [reader.submit(_read_evidence, store, ev) for ev in all_ev]
    try:
        facts, originals_size = _facts(
            draft,
            incidents,
            stations,
            tables,
            names,
            ahead,
            attachments,
            manifest,
            progress,
            keep_data,
        )
    finally:
        for fut in ahead:
            fut.cancel()
        reader.shutdown(wait=True)
    legal = draft.legal_basis.strip()
    day = draft.complaint_date or date.today()
    doc = layout.ComplaintDoc(
        doc_id=complaint_id,
        lang=lang,
        addressee=addressee,
        applicant_lines=_applicant_lines(applicant, lang),
        applicant_name=applicant.full_name if applicant.complete else "_" * 20,
        incidents=tuple(facts),
        legal_basis=legal,
        request=request,
        date=day.isoformat() if lang == "en" else day.strftime("%d.%m.%Y"),
        app_version=app_version(),
        originals_embedded=draft.embed_originals,
        originals_size=originals_size,
        signed=signed,
    )
    _report(progress, "layout", 0, 1)
    rendered = layout.render(doc, fonts())
    _report(progress, "layout", 1, 1)
    return _Prepared(
        doc,
        rendered,
        tuple(attachments),
        layout.Manifest(complaint_id, tuple(manifest)),
        originals_size,
        addressee,
        request,
        applicant,
    )


def _facts(
    draft: ComplaintDraft,
    incidents: Sequence[IncidentView],
    stations: dict[str, Station],
    tables: dict[str, layout.ProtocolTable],
    names: Sequence[str],
    ahead: Sequence[Future[bytes]],
    attachments: list[layout.Attachment],
    manifest: list[layout.ManifestEntry],
    progress: Progress | None,
    keep_data: bool,
) -> tuple[list[layout.IncidentFacts], int]:
    lang = draft.lang
    facts: list[layout.IncidentFacts] = []
    number = 0
    originals_size = 0
    for n, inc in enumerate(incidents, 1):
        items = []
        for ev in inc.evidence:
            data = ahead[number].result()
            printable = _print_jpeg(data)
            name = names[number]
            number += 1
            originals_size += len(data)
            items.append(
                layout.EvidenceItem(
                    number=number,
                    incident_number=n,
                    original_name=ev.original_name,
                    attachment_name=name,
                    sha256=ev.sha256,
                    size=ev.size,
                    mime=ev.mime,
                    taken_at=_format_taken(ev.taken_at, lang),
                    gps=_format_gps(ev),
                    camera=ev.camera,
                    print_jpeg=None if printable is None else printable[0],
                    print_size=None if printable is None else printable[1],
                )
            )
            manifest.append(layout.ManifestEntry(name, ev.sha256, len(data), draft.embed_originals))
            if draft.embed_originals and keep_data:
                attachments.append(
                    layout.Attachment(
                        name=name,
                        data=data,
                        sha256=ev.sha256,
                        mime=ev.mime,
                        description=f"SHA-256 {ev.sha256} · {ev.original_name}",
                    )
                )
            _report(progress, "photos", number, len(ahead))
        st = stations.get(inc.station_id)
        facts.append(
            layout.IncidentFacts(
                number=n,
                station_code=inc.station_code,
                station_name=inc.station_name,
                station_address=st.address if st is not None else "",
                observed_at=_format_time(inc.observed_at, lang),
                category=taxonomy.label("category", inc.category, lang),
                description=inc.description,
                witnesses=inc.witnesses,
                evidence=tuple(items),
                protocol=tables.get(inc.id),
            )
        )
    return facts, originals_size


def _record(store: Store, draft: ComplaintDraft, prep: _Prepared, r: ComplaintResult) -> None:
    with store.db.write() as s:
        row = Complaint(
            id=r.complaint_id,
            incident_ids=[i.strip() for i in dict.fromkeys(draft.incident_ids) if i.strip()],
            addressee=prep.addressee,
            applicant=asdict(prep.applicant),
            language=draft.lang,
            request=prep.request,
            pdf_sha256=r.sha256,
            signer_fingerprint=r.signer_fingerprint,
        )
        s.add(row)
        s.flush()
        audit.append(
            s,
            device_id(s),
            "export",
            "complaint",
            r.complaint_id,
            {
                "file": r.path.name,
                "sha256": r.sha256,
                "size": r.size,
                "level": r.level,
                "signer_fingerprint": r.signer_fingerprint,
                "evidence": [f.sha256 for f in prep.manifest.files],
                "originals_embedded": r.originals_embedded,
            },
        )


def get_complaint(store: Store, complaint_id: str) -> Complaint:
    """The stored row (detached), for tests and the UI's history view."""
    with store.db.read() as s:
        row = s.get(Complaint, complaint_id)
        if row is None:
            raise NotFound(f"complaint {complaint_id}: no such complaint")
        s.expunge(row)
        return row


def get_timestamp_url(store: Store) -> str:
    """The timestamp server last used on this computer ("" if none)."""
    with store.db.read() as s:
        value = get_setting(s, TIMESTAMP_URL)
        return value if isinstance(value, str) else ""


def set_timestamp_url(store: Store, url: str) -> None:
    with store.db.write() as s:
        set_setting(s, TIMESTAMP_URL, url.strip())
