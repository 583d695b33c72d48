"""Complaint PDF layout (reportlab) and the evidence attachments (pyHanko's incremental writer).

Input is plain data (dataclasses below) and font paths: this layer never reads the store.

* Every piece of text is set in the bundled Noto Sans (TrueType, embedded as subsets with a
  ToUnicode map, so pdftotext gives back the exact Kazakh and Russian text). No Base-14 font
  is ever selected: the paragraph styles, the footer and the table styles all name Noto.
* ``rl_config.useA85 = 0``: ASCII85 makes streams 25% larger and costs CPU for nothing.
* Print images are JPEG bytes made by the caller; reportlab copies JPEG data into the PDF as
  is (DCTDecode) instead of decoding and re-encoding it.
* Page 1 opens with a fixed box at the top left (beside the addressee block), where the signer
  puts the visible signature stamp: ``Rendered.signature_box`` says where it landed.
* The originals are added in an incremental update (``attachment_writer``) that the signature
  then covers; their SHA-256 list is also stored, machine-readable, in the document's Info
  dictionary under ``/KuaEvidence`` (JSON), where ``export.verify`` compares it with the bytes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec, embed_file
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from export.texts import text

rl_config.useA85 = 0

MANIFEST_KEY = "/KuaEvidence"
FONT = "KuaNotoSans"
FONT_BOLD = "KuaNotoSans-Bold"
PAGE_W, PAGE_H = A4
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 25 * mm, 15 * mm, 15 * mm, 20 * mm
SIG_BOX_W, SIG_BOX_H = 72 * mm, 30 * mm
IMAGE_MAX_W, IMAGE_MAX_H = PAGE_W - MARGIN_L - MARGIN_R, 76 * mm


@dataclass(frozen=True)
class Fonts:
    regular: Path
    bold: Path


@dataclass(frozen=True)
class EvidenceItem:
    number: int  # "File 1", "File 2", ... across the whole complaint
    incident_number: int
    original_name: str
    attachment_name: str  # unique within the PDF (duplicates get " (2)" etc.)
    sha256: str
    size: int
    mime: str
    taken_at: str | None
    gps: str | None
    camera: str | None
    print_jpeg: bytes | None  # oriented and downscaled; None if it could not be rendered
    print_size: tuple[int, int] | None = None  # pixel size of print_jpeg


@dataclass(frozen=True)
class ProtocolRow:
    """One line of a protocol (or one candidate's votes) with its figure from each source."""

    label: str
    values: tuple[int | None, ...]  # one per ProtocolTable.sources; None: blank (unknown)
    highlight: tuple[bool, ...]  # the figure differs from the reference source's
    is_candidate: bool = False


@dataclass(frozen=True)
class FailedCheck:
    """A control relation that does not hold in one source's protocol."""

    source: str  # observer, posted or official
    kind: str  # hard or soft
    label: str  # the relation, in the complaint's language
    formula: str  # each term's value, e.g. "1660 = 1329 + 2 + 330"
    left: int
    right: int


@dataclass(frozen=True)
class ProtocolTable:
    """A station's protocol figures side by side, for an incident about the protocol."""

    sources: tuple[str, ...]  # observer, posted, official: the columns, in this order
    reference: str  # the source the others are compared with (highlighted where they differ)
    rows: tuple[ProtocolRow, ...]
    failed: tuple[FailedCheck, ...]
    unchecked: int = 0  # relations left unchecked because a line they use is blank


@dataclass(frozen=True)
class IncidentFacts:
    number: int
    station_code: str
    station_name: str
    station_address: str
    observed_at: str  # formatted, with its UTC offset
    category: str  # label in the complaint's language
    description: str
    witnesses: tuple[str, ...]
    evidence: tuple[EvidenceItem, ...] = ()
    protocol: ProtocolTable | None = None  # for an incident about the station's protocol


@dataclass(frozen=True)
class ComplaintDoc:
    doc_id: str
    lang: str
    addressee: str
    applicant_lines: tuple[str, ...]  # name first, then status, organisation, phone
    applicant_name: str
    incidents: tuple[IncidentFacts, ...]
    legal_basis: str  # "" prints the blank line to fill in by hand
    request: str
    date: str
    app_version: str
    originals_embedded: bool
    originals_size: int = 0
    signed: bool = False

    @property
    def evidence(self) -> list[EvidenceItem]:
        return [e for i in self.incidents for e in i.evidence]


@dataclass
class Rendered:
    pdf: bytes
    pages: int
    signature_page: int = 0  # 0-based
    signature_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Attachment:
    name: str
    data: bytes
    sha256: str
    mime: str
    description: str


def human_size(size: int, lang: str) -> str:
    if size < 1024 * 1024:
        return f"{size:,} {text(lang, 'bytes')}".replace(",", "\u00a0")
    return f"{size / (1024 * 1024):.1f} {text(lang, 'mb')}"


# --------------------------------------------------------------------------------------------
# fonts and styles


def register_fonts(fonts: Fonts) -> None:
    """Register Noto under our own names once per process (reportlab's registry is global)."""
    registered = pdfmetrics.getRegisteredFontNames()
    if FONT not in registered:
        pdfmetrics.registerFont(TTFont(FONT, str(fonts.regular)))
    if FONT_BOLD not in registered:
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(fonts.bold)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
    )


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    title: ParagraphStyle
    heading: ParagraphStyle
    mono: ParagraphStyle
    cell: ParagraphStyle
    cell_label: ParagraphStyle


def _styles() -> _Styles:
    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=14, spaceAfter=4)
    return _Styles(
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=8.5, leading=11),
        title=ParagraphStyle(
            "title",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=15,
            leading=20,
            alignment=TA_CENTER,
            spaceBefore=6,
            spaceAfter=10,
        ),
        heading=ParagraphStyle(
            "heading",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=11.5,
            leading=15,
            spaceBefore=8,
            spaceAfter=4,
        ),
        mono=ParagraphStyle("mono", parent=body, fontSize=8, leading=10),
        cell=ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5, spaceAfter=0),
        cell_label=ParagraphStyle(
            "cell_label",
            parent=body,
            fontSize=8.5,
            leading=10.5,
            spaceAfter=0,
            textColor=colors.HexColor("#444444"),
        ),
    )


def _p(value: str, style: ParagraphStyle) -> Paragraph:
    """User text as a paragraph: markup characters escaped, line breaks kept."""
    return Paragraph(escape(value).replace("\n", "<br/>"), style)


# --------------------------------------------------------------------------------------------
# flowables and canvas


class _SignatureSpot(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """An empty box that remembers where it was drawn: the signature stamp goes there."""

    def __init__(self, width: float, height: float, out: Rendered) -> None:
        super().__init__()
        self.width, self.height, self._out = width, height, out

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        x, y = self.canv.absolutePosition(0, 0)
        self._out.signature_page = self.canv.getPageNumber() - 1
        self._out.signature_box = (x, y, x + self.width, y + self.height)


class _JpegImage(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """A JPEG placed as is (DCTDecode), never decoded.

    reportlab passes JPEG data through only for *file names* ending in .jpg; an ImageReader on
    bytes is decoded to raw RGB (to name it, then again to deflate it): ~50 ms and 3x the
    size per print picture. This registers the image XObject the way canvas.drawImage does
    for a .jpg file, from the bytes we already hold."""

    def __init__(self, jpeg: bytes, width: float, height: float) -> None:
        super().__init__()
        self.jpeg, self.width, self.height = jpeg, width, height
        self.hAlign = "LEFT"

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        name = "kua" + hashlib.sha1(self.jpeg, usedforsecurity=False).hexdigest()
        reg = c._doc.getXObjectName(name)
        if c._doc.idToObject.get(reg) is None:
            obj = pdfdoc.PDFImageXObject(name)
            if not obj.loadImageFromJPEG(io.BytesIO(self.jpeg)):
                raise ValueError("print image is not a JPEG")
            obj.name = name
            c._setXObjects(obj)
            c._doc.Reference(obj, reg)
            c._doc.addForm(name, obj)
        c.saveState()
        c.scale(self.width, self.height)
        c._code.append(f"/{reg} Do")
        c.restoreState()
        c._formsinuse.append(name)


def _numbered_canvas(doc: ComplaintDoc) -> type[Canvas]:
    """A canvas that writes "Page X of Y", the document id and the app version on every page.
    Pages are kept until save() so Y is known: one layout pass instead of multiBuild's two."""
    footer_left = f"{text(doc.lang, 'doc_id')} {doc.doc_id} · Kuä {doc.app_version}"

    class NumberedCanvas(Canvas):  # type: ignore[misc]  # reportlab is untyped
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            # Without this every page's resources name Helvetica (reportlab's initial font),
            # a non-embedded Base-14 font, even though no text is ever set in it.
            kwargs["initialFontName"] = FONT  # the template passes None explicitly
            super().__init__(*args, **kwargs)
            self._saved: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._saved.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._saved)
            for state in self._saved:
                self.__dict__.update(state)
                self.setFont(FONT, 7.5)
                self.setFillColor(colors.HexColor("#555555"))
                self.drawString(MARGIN_L, 10 * mm, footer_left)
                page = text(doc.lang, "page").format(x=self._pageNumber, y=total)
                self.drawRightString(PAGE_W - MARGIN_R, 10 * mm, page)
                super().showPage()
            super().save()

    return NumberedCanvas


# --------------------------------------------------------------------------------------------
# the document


def _header(doc: ComplaintDoc, st: _Styles, out: Rendered) -> Table:
    t = functools.partial(text, doc.lang)
    right = [
        Paragraph(f"<b>{escape(t('to'))}:</b> {escape(doc.addressee)}", st.body),
        Spacer(1, 4),
        Paragraph(
            f"<b>{escape(t('from'))}:</b> " + "<br/>".join(escape(x) for x in doc.applicant_lines),
            st.body,
        ),
    ]
    avail = PAGE_W - MARGIN_L - MARGIN_R
    table = Table(
        [[_SignatureSpot(SIG_BOX_W, SIG_BOX_H, out), right]],
        colWidths=[SIG_BOX_W + 6 * mm, avail - SIG_BOX_W - 6 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (0, 0), 0),
                ("TOPPADDING", (0, 0), (-1, -1), 0),
                ("FONTNAME", (0, 0), (-1, -1), FONT),
            ]
        )
    )
    return table


def _facts(doc: ComplaintDoc, st: _Styles) -> list[Flowable]:
    t = functools.partial(text, doc.lang)
    out: list[Flowable] = [_p(t("intro"), st.body)]
    for inc in doc.incidents:
        station = f"{inc.station_code}, {inc.station_name}"
        lines = [
            f"<b>{inc.number}. {escape(t('station'))}:</b> {escape(station)}",
            f"<b>{escape(t('address'))}:</b> {escape(inc.station_address or t('unknown'))}",
            f"<b>{escape(t('when'))}:</b> {escape(inc.observed_at)}",
            f"<b>{escape(t('category'))}:</b> {escape(inc.category)}",
            f"<b>{escape(t('what'))}:</b> " + escape(inc.description).replace("\n", "<br/>"),
            f"<b>{escape(t('witnesses'))}:</b> "
            + escape("; ".join(inc.witnesses) if inc.witnesses else t("no_witnesses")),
        ]
        if inc.evidence:
            nums = ", ".join(str(e.number) for e in inc.evidence)
            lines.append(
                f"<b>{escape(t('evidence_ref'))}:</b> {escape(t('files_word'))} {nums} "
                f"({escape(t('see_appendix'))})"
            )
        out.append(Paragraph("<br/>".join(lines), st.body))
        if inc.protocol is not None:
            out += _protocol(doc, inc.protocol, st)
        out.append(Spacer(1, 3))
    return out


PROTOCOL_VALUE_W = 30 * mm
HIGHLIGHT = colors.HexColor("#ffd8a8")
HEADER_BG = colors.HexColor("#eeeeee")


def _protocol(doc: ComplaintDoc, table: ProtocolTable, st: _Styles) -> list[Flowable]:
    """The protocol's figures, one column per source, differing figures highlighted; then
    the control relations that fail, with both sides."""
    t = functools.partial(text, doc.lang)
    num = ParagraphStyle("num", parent=st.cell, alignment=TA_RIGHT)
    num_bold = ParagraphStyle("num_bold", parent=num, fontName=FONT_BOLD)
    head = ParagraphStyle("head", parent=st.cell, fontName=FONT_BOLD)
    head_num = ParagraphStyle("head_num", parent=head, alignment=TA_RIGHT)
    n = len(table.sources)
    avail = PAGE_W - MARGIN_L - MARGIN_R
    data: list[list[Any]] = [
        [_p(t("protocol_line"), head)] + [_p(t(f"source_{s}"), head_num) for s in table.sources]
    ]
    style: list[tuple[Any, ...]] = [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.HexColor("#888888")),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#cccccc")),
        ("LINEBEFORE", (1, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
    ]
    candidates_started = False
    for row in table.rows:
        if row.is_candidate and not candidates_started:
            candidates_started = True
            style.append(("SPAN", (0, len(data)), (-1, len(data))))
            data.append([_p(t("protocol_candidates"), head)] + [""] * n)
        r = len(data)
        differs = any(row.highlight)
        label = Paragraph(("<b>%s</b>" if differs else "%s") % escape(row.label), st.cell)
        cells: list[Any] = [label]
        for c, (value, hl) in enumerate(zip(row.values, row.highlight, strict=True), 1):
            shown = "\u2014" if value is None else str(value)
            cells.append(Paragraph(escape(shown), num_bold if hl else num))
            if hl:
                style.append(("BACKGROUND", (c, r), (c, r), HIGHLIGHT))
        data.append(cells)
    grid = Table(
        data,
        colWidths=[avail - n * PROTOCOL_VALUE_W] + [PROTOCOL_VALUE_W] * n,
        hAlign="LEFT",
        repeatRows=1,
    )
    grid.setStyle(TableStyle(style))
    heading = _p(t("protocol_heading"), st.heading)
    legend = _p(t("protocol_legend").format(source=t(f"source_{table.reference}")), st.small)
    out: list[Flowable] = [KeepTogether([heading, legend, Spacer(1, 2), grid])]
    items: list[Flowable] = []
    for f in table.failed:
        sides = t("failed_sides").format(left=f.left, right=f.right, diff=f.left - f.right)
        source = f"{t(f'source_{f.source}')}, {t(f'kind_{f.kind}')}"
        items.append(
            Paragraph(
                f"\u2022 <b>{escape(source)}:</b> {escape(f.label)}. "
                f"{escape(f.formula)}: <b>{escape(sides)}</b>",
                st.body,
            )
        )
    if not items:
        items.append(_p(t("failed_none"), st.body))
    # Each item whole on one page, and the heading never alone at the bottom of one.
    out.append(KeepTogether([_p(t("failed_heading"), st.heading), items[0]]))
    out += [KeepTogether([item]) for item in items[1:]]
    if table.unchecked:
        out.append(_p(t("failed_unchecked").format(n=table.unchecked), st.small))
    return out


def _closing(doc: ComplaintDoc, st: _Styles) -> list[Flowable]:
    t = functools.partial(text, doc.lang)
    legal = escape(doc.legal_basis.strip()) if doc.legal_basis.strip() else "_" * 60
    out: list[Flowable] = [Paragraph(f"<b>{escape(t('legal'))}:</b> {legal}", st.body)]
    out.append(Paragraph(f"<b>{escape(t('request'))}:</b>", st.body))
    for line in doc.request.strip().splitlines():
        if line.strip():
            out.append(_p(line.strip(), st.body))
    out.append(Paragraph(f"<b>{escape(t('attachments'))}:</b>", st.body))
    ev = doc.evidence
    items = []
    if ev:
        items.append(t("attach_photos").format(n=len(ev)))
        if doc.originals_embedded:
            items.append(
                t("attach_originals").format(size=human_size(doc.originals_size, doc.lang))
            )
    else:
        items.append(t("attach_none"))
    for n, item in enumerate(items, 1):
        out.append(_p(f"{n}. {item}", st.body))
    out.append(Spacer(1, 8))
    sign = Table(
        [
            [
                Paragraph(f"<b>{escape(t('date'))}:</b> {escape(doc.date)}", st.body),
                Paragraph(
                    f"<b>{escape(t('signature'))}:</b> ____________________ "
                    f"/ {escape(doc.applicant_name)} /",
                    st.body,
                ),
            ]
        ],
        colWidths=[55 * mm, None],
    )
    sign.setStyle(
        TableStyle([("LEFTPADDING", (0, 0), (0, 0), 0), ("FONTNAME", (0, 0), (-1, -1), FONT)])
    )
    out.append(sign)
    if doc.signed:
        out.append(_p(t("esign_note"), st.small))
    return out


def _appendix(doc: ComplaintDoc, st: _Styles) -> list[Flowable]:
    t = functools.partial(text, doc.lang)
    out: list[Flowable] = [PageBreak(), Paragraph(escape(t("appendix")), st.heading)]
    ev = doc.evidence
    if not ev:
        out.append(_p(t("no_files"), st.body))
        return out
    note = t("appendix_note") if doc.originals_embedded else t("appendix_note_no_originals")
    out.append(_p(note, st.small))
    for item in ev:
        out.append(KeepTogether(_evidence_block(doc, item, st)))
    return out


def _evidence_block(doc: ComplaintDoc, item: EvidenceItem, st: _Styles) -> list[Flowable]:
    t = functools.partial(text, doc.lang)
    title = (
        f"{t('file')} {item.number}. {item.original_name} ({t('incident')} {item.incident_number})"
    )
    block: list[Flowable] = [Spacer(1, 6), _p(title, st.heading)]
    if item.print_jpeg is not None and item.print_size is not None:
        w, h = item.print_size
        scale = min(IMAGE_MAX_W / w, IMAGE_MAX_H / h)
        block.append(_JpegImage(item.print_jpeg, w * scale, h * scale))
    else:
        block.append(_p(t("no_preview"), st.small))
    unknown = t("unknown")
    rows = [
        (t("sha256"), item.sha256),
        (t("original"), item.original_name),
        (t("attachment"), item.attachment_name if doc.originals_embedded else t("not_embedded")),
        (t("size"), f"{item.size:,} {t('bytes')}".replace(",", "\u00a0") + f" · {item.mime}"),
        (t("taken"), item.taken_at or unknown),
        (t("gps"), item.gps or unknown),
        (t("camera"), item.camera or unknown),
    ]
    table = Table(
        [[_p(k, st.cell_label), _p(v, st.cell)] for k, v in rows],
        colWidths=[38 * mm, None],
        hAlign="LEFT",
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                ("LEFTPADDING", (0, 0), (0, -1), 0),
                ("LINEBELOW", (0, -1), (-1, -1), 0.5, colors.HexColor("#999999")),
            ]
        )
    )
    block.append(Spacer(1, 3))
    block.append(table)
    return block


def render(doc: ComplaintDoc, fonts: Fonts) -> Rendered:
    """Lay the complaint out; returns the PDF bytes and where the signature stamp belongs."""
    register_fonts(fonts)
    st = _styles()
    out = Rendered(b"", 0)
    buf = io.BytesIO()
    template = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_L,
        rightMargin=MARGIN_R,
        topMargin=MARGIN_T,
        bottomMargin=MARGIN_B,
        title=f"{text(doc.lang, 'title')} {doc.doc_id}",
        author=doc.applicant_name,
        subject=doc.addressee,
        creator=f"Kuä {doc.app_version}",
        lang=doc.lang,
    )
    story: list[Flowable] = [
        _header(doc, st, out),
        Paragraph(escape(text(doc.lang, "title")), st.title),
    ]
    story += _facts(doc, st)
    story += _closing(doc, st)
    story += _appendix(doc, st)
    canvas_cls = _numbered_canvas(doc)
    pages: list[int] = []

    def count(canvas: Canvas, _doc: Any) -> None:
        pages.append(canvas.getPageNumber())

    template.build(story, onFirstPage=count, onLaterPages=count, canvasmaker=canvas_cls)
    out.pdf = buf.getvalue()
    out.pages = len(pages)
    return out


# --------------------------------------------------------------------------------------------
# attachments and the machine-readable manifest


def unique_names(names: Sequence[str]) -> list[str]:
    """Attachment names as given, with " (2)", " (3)" before the extension for repeats."""
    seen: set[str] = set()
    out = []
    for name in names:
        base = name or "file"
        stem, dot, ext = base.rpartition(".")
        if not dot or not stem:
            stem, ext = base, ""
        candidate, n = base, 1
        while candidate.casefold() in seen:
            n += 1
            candidate = f"{stem} ({n}).{ext}" if ext else f"{stem} ({n})"
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


@dataclass(frozen=True)
class ManifestEntry:
    name: str
    sha256: str
    size: int
    embedded: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "size": self.size,
            "embedded": self.embedded,
        }


@dataclass(frozen=True)
class Manifest:
    doc_id: str
    files: tuple[ManifestEntry, ...] = field(default=())

    def dumps(self) -> str:
        return json.dumps(
            {"kua": 1, "document": self.doc_id, "files": [f.to_json() for f in self.files]},
            ensure_ascii=False,
            separators=(",", ":"),
        )


def attachment_writer(
    base_pdf: bytes, attachments: Sequence[Attachment], manifest: Manifest
) -> IncrementalPdfFileWriter:
    """An incremental update of the rendered PDF that embeds the originals byte for byte and
    stores the manifest. Nothing is written yet: the signer (or write_unsigned) writes it, so a
    signature covers the attachments in the same revision."""
    w = IncrementalPdfFileWriter(io.BytesIO(base_pdf), strict=False)
    # Name tree keys (the ASCII /F names, kept unique) must be sorted; pyHanko appends them.
    keyed = sorted(
        zip(unique_names([_ascii_name(a.name) for a in attachments]), attachments, strict=True),
        key=lambda pair: pair[0],
    )
    for key, a in keyed:
        stream = EmbeddedFileObject.from_file_data(
            w,
            a.data,
            # JPEG/HEIC do not compress; deflating 80 MB of photos would only cost time.
            compress=False,
            # /Size only: the spec's /CheckSum is MD5, which proves nothing today and costs a
            # pass over every byte; the SHA-256 is in /Desc and in the /KuaEvidence list.
            params=EmbeddedFileParams(embed_size=True, embed_checksum=False),
            mime_type=a.mime,
        )
        spec = FileSpec(
            file_spec_string=key,
            file_name=a.name,
            embedded_data=stream,
            description=a.description,
            af_relationship=None,
        )
        embed_file(w, spec)
    info_ref = w.prev.trailer_view.get("/Info")  # .get does not dereference; get_object does
    info = info_ref.get_object() if info_ref is not None else None
    if isinstance(info, generic.DictionaryObject):
        info[generic.NameObject(MANIFEST_KEY)] = generic.TextStringObject(manifest.dumps())
        w.update_container(info)
    else:  # reportlab always writes /Info; keep a fallback anyway
        w.set_info(
            generic.DictionaryObject(
                {generic.NameObject(MANIFEST_KEY): generic.TextStringObject(manifest.dumps())}
            )
        )
    if attachments:
        # Open the attachments panel in viewers that have one (Acrobat, Evince, Okular).
        w.root[generic.NameObject("/PageMode")] = generic.NameObject("/UseAttachments")
        w.update_root()
    return w


def _ascii_name(name: str) -> str:
    """/F must be PDFDocEncoding-safe for old readers; /UF carries the real Unicode name."""
    cleaned = "".join(c if 32 <= ord(c) < 127 and c not in '\\/:*?"<>|' else "_" for c in name)
    return cleaned or "file"


def write_pdf(w: IncrementalPdfFileWriter) -> bytes:
    buf = io.BytesIO()
    w.write(buf)
    return buf.getvalue()
