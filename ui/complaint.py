"""The complaint composer: incidents -> a formal complaint to an election commission, previewed
in the app and exported as a signed PDF.

Everything slow runs on the storage worker: loading the incidents, the preview (an unsigned
PDF from app.complaints.preview) and the export (app.complaints.build_complaint, with progress
and a cooperative cancel until the signing starts). The PKCS#12 password is read from its field
when the export starts and is never stored; the timestamp server is remembered locally.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QEvent, QIODevice, QLocale, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import taxonomy
from app.errors import KuaError
from app.incidents import EvidenceView, IncidentView, get_incident, incidents_by_num
from app.profile import Applicant, get_applicant
from app.taxonomy import LANGS
from ui import dialogs, errors
from ui.applicant_form import status_label
from ui.i18n import NATIVE_NAMES
from ui.worker import Job, JobContext, Worker

EVIDENCE_ROLE = Qt.ItemDataRole.UserRole + 1


class Cancelled(Exception):
    """Raised inside a job's progress callback when the user cancelled it."""


@dataclass(frozen=True)
class ComposerData:
    """What the composer shows, loaded in one job."""

    incidents: list[IncidentView]
    addressee: str
    applicant: Applicant
    timestamp_url: str
    default_requests: dict[str, str]  # per language, for these incidents' categories


@dataclass(frozen=True)
class ComposerInput:
    """The user's choices, read from the widgets before a job starts (plain data)."""

    incident_ids: tuple[str, ...]
    lang: str
    addressee: str
    request: str
    legal_basis: str
    evidence_ids: tuple[str, ...]
    embed_originals: bool

    def draft(self) -> Any:
        from app.complaints import ComplaintDraft

        return ComplaintDraft(
            incident_ids=self.incident_ids,
            lang=self.lang,
            addressee=self.addressee,
            request=self.request,
            legal_basis=self.legal_basis,
            embed_originals=self.embed_originals,
            complaint_date=date.today(),
            evidence_ids=self.evidence_ids,
        )


# --- jobs (worker thread: no widgets) ------------------------------------------------------


def _load(ctx: JobContext, nums: list[int]) -> ComposerData:
    from app.complaints import default_addressee, default_request, get_timestamp_url

    found = incidents_by_num(ctx.store, nums)
    incidents = [get_incident(ctx.store, i.id) for i in found]
    ids = [i.id for i in incidents]
    categories = [i.category for i in incidents]
    return ComposerData(
        incidents=incidents,
        addressee=default_addressee(ctx.store, ids) if ids else "",
        applicant=get_applicant(ctx.store),
        timestamp_url=get_timestamp_url(ctx.store),
        default_requests={lang: default_request(categories, lang) for lang in LANGS},
    )


def _progress_callback(ctx: JobContext) -> Any:
    def progress(stage: str, done: int, total: int) -> None:
        final = stage in ("sign", "write") and done >= total
        if ctx.cancelled() and not final:  # once written, the result must be recorded
            raise Cancelled
        ctx.progress((stage, done, total), force=done == 0)

    return progress


def _preview(ctx: JobContext, given: ComposerInput) -> bytes:
    from app.complaints import preview

    if ctx.cancelled():
        raise Cancelled
    return preview(ctx.store, given.draft(), progress=_progress_callback(ctx))


def _export(ctx: JobContext, given: ComposerInput, out: Path, key_file: Path | None,
            password: bytes, timestamp_url: str) -> Any:
    from app.complaints import build_complaint, load_pkcs12, set_timestamp_url

    set_timestamp_url(ctx.store, timestamp_url)
    signer = load_pkcs12(key_file, password) if key_file is not None else None
    return build_complaint(ctx.store, given.draft(), out, signer=signer,
                           timestamp_url=timestamp_url or None,
                           progress=_progress_callback(ctx))


# --- the dialog -------------------------------------------------------------------------------


def size_text(size: int) -> str:
    return QLocale().formattedDataSize(size, 1,
                                       QLocale.DataSizeFormat.DataSizeTraditionalFormat)


class ComplaintComposer(QDialog):
    loaded = Signal()
    preview_ready = Signal()  # the preview document holds the latest preview
    export_finished = Signal(object)  # ComplaintResult
    export_failed = Signal(str)  # the message shown

    def __init__(self, storage: Worker, data_dir: Path, nums: list[int], lang: str,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.storage = storage
        self.data_dir = data_dir
        self.data: ComposerData | None = None
        self.result: Any = None
        self._preview_job: Job | None = None
        self._export_job: Job | None = None
        self._buffer: QBuffer | None = None
        self._shown_default = ""
        self._closing = False

        self.incident_list = QListWidget()
        self.incident_list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.addressee = QLineEdit()
        self.applicant_text = QLabel()
        self.applicant_text.setWordWrap(True)
        self.applicant_link = QLabel()
        self.applicant_link.setTextFormat(Qt.TextFormat.RichText)
        self.applicant_link.linkActivated.connect(lambda _link: self.edit_applicant())
        self.language = QComboBox()
        for code in LANGS:
            self.language.addItem(NATIVE_NAMES[code], code)
        self.language.setCurrentIndex(max(0, self.language.findData(lang)))
        self.language.currentIndexChanged.connect(self._language_changed)
        self.request = QPlainTextEdit()
        self.request.setTabChangesFocus(True)
        self.request.setFixedHeight(self.fontMetrics().lineSpacing() * 6 + 12)
        self.legal_basis = QPlainTextEdit()
        self.legal_basis.setTabChangesFocus(True)
        self.legal_basis.setFixedHeight(self.fontMetrics().lineSpacing() * 2 + 14)
        self.evidence = QListWidget()
        self.evidence.setFixedHeight(self.fontMetrics().lineSpacing() * 5 + 14)
        self.evidence.itemChanged.connect(lambda _item: self._update_sizes())
        self.embed = QCheckBox()
        self.embed.setChecked(True)

        self.key_file = QLineEdit()
        self.browse_key = QPushButton()
        self.browse_key.clicked.connect(self.choose_key_file)
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.timestamp_url = QLineEdit()

        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.progress = QProgressBar()
        self.progress.hide()
        self.cancel_button = QPushButton()
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_job)
        self.preview_button = QPushButton()
        self.preview_button.clicked.connect(self.update_preview)
        self.export_button = QPushButton()
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.export)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.reject)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._labels: dict[str, QLabel] = {}

        def row(key: str, field: QWidget | Any, buddy: QWidget | None = None) -> None:
            label = QLabel()
            if buddy is not None:
                label.setBuddy(buddy)
            self._labels[key] = label
            form.addRow(label, field)

        self.incident_list.setFixedHeight(self.fontMetrics().lineSpacing() * 3 + 14)
        row("incidents", self.incident_list)
        row("addressee", self.addressee, self.addressee)
        applicant_row = QHBoxLayout()
        applicant_row.addWidget(self.applicant_text, 1)
        applicant_row.addWidget(self.applicant_link)
        row("applicant", applicant_row)
        row("language", self.language, self.language)
        row("request", self.request, self.request)
        row("legal_basis", self.legal_basis, self.legal_basis)
        row("evidence", self.evidence, self.evidence)
        form.addRow("", self.embed)

        self.signing = QGroupBox()
        sign_form = QFormLayout(self.signing)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_file, 1)
        key_row.addWidget(self.browse_key)
        self._sign_labels = [QLabel() for _ in range(3)]
        for label, field, buddy in zip(self._sign_labels,
                                       (key_row, self.password, self.timestamp_url),
                                       (self.key_file, self.password, self.timestamp_url),
                                       strict=True):
            label.setBuddy(buddy)
            sign_form.addRow(label, field)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(form)
        left_layout.addWidget(self.signing)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(520)

        self.pdf = QPdfDocument(self)
        self.pdf_view = QPdfView()
        self.pdf_view.setDocument(self.pdf)
        self.pdf_view.setPageMode(QPdfView.PageMode.MultiPage)
        self.pdf_view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.preview_title = QLabel()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        preview_bar = QHBoxLayout()
        preview_bar.addWidget(self.preview_title, 1)
        preview_bar.addWidget(self.preview_button)
        right_layout.addLayout(preview_bar)
        right_layout.addWidget(self.pdf_view, 1)

        self.splitter = QSplitter()
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)

        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.progress)
        bottom.addWidget(self.cancel_button)
        bottom.addWidget(self.export_button)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(bottom)

        QShortcut(QKeySequence("F5"), self, self.update_preview)

        self.retranslate()
        self.resize(1300, 720)
        self.splitter.setSizes([600, 700])
        self._set_busy(True)
        self.storage.submit(lambda ctx: _load(ctx, nums), self._loaded, self._failed)

    # --- texts ---------------------------------------------------------------------------------

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Complaint to the election commission"))
        labels = {
            "incidents": self.tr("Incidents"),
            "addressee": self.tr("&Addressee"),
            "applicant": self.tr("From"),
            "language": self.tr("&Language"),
            "request": self.tr("&Request"),
            "legal_basis": self.tr("Legal &basis"),
            "evidence": self.tr("&Evidence"),
        }
        for key, text in labels.items():
            self._labels[key].setText(text)
        self.addressee.setPlaceholderText(self.tr("The superior election commission"))
        self.legal_basis.setPlaceholderText(self.tr(
            "Articles of the election law, if you know them; left blank, the complaint has a "
            "line to fill in by hand"))
        self.applicant_link.setText("<a href='#profile'>" + self.tr("Change…") + "</a>")
        self.signing.setTitle(self.tr("Signature"))
        for label, text in zip(self._sign_labels, (
            self.tr("Signing &key (.p12)"), self.tr("Pass&word"), self.tr("Time&stamp server"),
        ), strict=True):
            label.setText(text)
        self.key_file.setPlaceholderText(self.tr("Leave empty to export without a signature"))
        self.password.setPlaceholderText(self.tr("Not stored"))
        self.timestamp_url.setPlaceholderText(self.tr("Optional: the address of an RFC 3161 "
                                                      "timestamp server"))
        self.browse_key.setText(self.tr("Browse…"))
        self.preview_title.setText(self.tr("Preview (unsigned)"))
        self.preview_button.setText(self.tr("&Update preview"))
        self.export_button.setText(self.tr("E&xport…"))
        self.close_button.setText(self.tr("Close"))
        self.cancel_button.setText(self.tr("Cancel"))
        self._show_applicant()
        self._update_sizes()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _show_applicant(self) -> None:
        if self.data is None:
            self.applicant_text.setText("")
            return
        a = self.data.applicant
        if not a.complete:
            self.applicant_text.setText(self.tr("Not filled in: the complaint gets a line to "
                                                "sign by hand"))
            return
        parts = [a.full_name, status_label(a.status), a.organization]
        self.applicant_text.setText(", ".join(p for p in parts if p))

    def _update_sizes(self) -> None:
        total = sum(ev.size for ev in self.chosen_evidence())
        self.embed.setText(self.tr("Embed the &original files ({size})").format(
            size=size_text(total)))

    # --- data ----------------------------------------------------------------------------------

    def _loaded(self, data: ComposerData) -> None:
        self.data = data
        self._set_busy(False)
        self.incident_list.clear()
        lang = self.language.currentData()
        for inc in data.incidents:
            self.incident_list.addItem(self.tr("No. {num} · {station} · {category} · {time}")
                                       .format(num=inc.num, station=inc.station_code,
                                               category=taxonomy.label("category", inc.category,
                                                                       lang),
                                               time=inc.observed_at.strftime("%d.%m %H:%M")))
        self.addressee.setText(data.addressee)
        self.timestamp_url.setText(data.timestamp_url)
        self._set_default_request()
        self.evidence.blockSignals(True)
        self.evidence.clear()
        number = 0
        for n, inc in enumerate(data.incidents, 1):
            for ev in inc.evidence:
                number += 1
                item = QListWidgetItem(f"{number}. {ev.original_name} — {size_text(ev.size)}")
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked)
                item.setData(EVIDENCE_ROLE, ev)
                item.setToolTip(self.tr("Incident No. {num}").format(num=inc.num) +
                                f" ({n})\nSHA-256 {ev.sha256}")
                self.evidence.addItem(item)
        self.evidence.blockSignals(False)
        self._show_applicant()
        self._update_sizes()
        if not data.incidents:
            self.status.setText(self.tr("These incidents no longer exist."))
            self.export_button.setEnabled(False)
        self.loaded.emit()
        self.addressee.setFocus()
        self.update_preview()

    def _set_default_request(self) -> None:
        """Show the default request for the chosen language, unless the user has written
        their own (the text differs from the default last shown)."""
        if self.data is None:
            return
        current = self.request.toPlainText()
        if current.strip() and current != self._shown_default:
            return
        self._shown_default = self.data.default_requests[self.language.currentData()]
        self.request.setPlainText(self._shown_default)

    def _language_changed(self) -> None:
        self._set_default_request()
        if self.data is not None:
            self.update_preview()

    def chosen_evidence(self) -> list[EvidenceView]:
        out = []
        for row in range(self.evidence.count()):
            item = self.evidence.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(item.data(EVIDENCE_ROLE))
        return out

    def composer_input(self) -> ComposerInput:
        assert self.data is not None
        return ComposerInput(
            incident_ids=tuple(i.id for i in self.data.incidents),
            lang=self.language.currentData(),
            addressee=self.addressee.text(),
            request=self.request.toPlainText(),
            legal_basis=self.legal_basis.toPlainText(),
            evidence_ids=tuple(ev.id for ev in self.chosen_evidence()),
            embed_originals=self.embed.isChecked(),
        )

    def edit_applicant(self) -> None:
        from ui.profile_dialog import ProfileDialog

        if self.data is None:
            return
        dialog = ProfileDialog(self.storage, self.data.applicant, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._applicant_saved)
        dialog.open()
        self.profile_dialog = dialog

    def _applicant_saved(self, applicant: Applicant) -> None:
        if self.data is not None:
            self.data = ComposerData(self.data.incidents, self.data.addressee, applicant,
                                     self.data.timestamp_url, self.data.default_requests)
        self._show_applicant()
        self.update_preview()

    # --- preview -------------------------------------------------------------------------------

    def update_preview(self) -> None:
        if self.data is None or not self.data.incidents:
            return
        if self._preview_job is not None:
            self._preview_job.cancel()
        given = self.composer_input()
        self.preview_title.setText(self.tr("Preview: preparing…"))
        job: Job | None = None

        def done(data: bytes) -> None:
            if job is self._preview_job:
                self._preview_job = None
                self._show_pdf(data)

        def failed(exc: BaseException) -> None:
            if job is not self._preview_job:
                return
            self._preview_job = None
            if isinstance(exc, Cancelled):
                return
            self.preview_title.setText(self.tr("Preview (unsigned)"))
            self._show_error(exc)

        job = self.storage.submit(lambda ctx: _preview(ctx, given), done, failed)
        self._preview_job = job

    def _show_pdf(self, data: bytes) -> None:
        self.pdf.close()
        if self._buffer is not None:
            self._buffer.close()
            self._buffer.deleteLater()
        buffer = QBuffer(self)
        buffer.setData(QByteArray(data))
        buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._buffer = buffer
        self.pdf.load(buffer)
        pages = self.pdf.pageCount()
        self.preview_title.setText(self.tr("Preview (unsigned): {pages} pages").format(
            pages=pages))
        self.preview_ready.emit()

    # --- export --------------------------------------------------------------------------------

    def choose_key_file(self) -> None:
        path = dialogs.choose_file(self, self.tr("Signing key"),
                                   self.tr("Signing keys") + " (*.p12 *.pfx);;"
                                   + self.tr("All files") + " (*)")
        if path is not None:
            self.key_file.setText(str(path))
            self.password.setFocus()

    def export(self) -> None:
        if self.data is None or not self.data.incidents or self._export_job is not None:
            return
        key_text = self.key_file.text().strip()
        key_file = Path(key_text) if key_text else None
        password = self.password.text().encode("utf-8")
        if key_file is not None and not password:
            self._show_message(self.tr("Enter the password of the signing key."))
            self.password.setFocus()
            return
        suggested = str(Path.home() / f"complaint-{date.today():%Y-%m-%d}.pdf")
        out = dialogs.choose_save_file(self, self.tr("Save the complaint"),
                                       self.tr("PDF documents") + " (*.pdf)", suggested)
        if out is None:
            return
        if not out.suffix:
            out = out.with_suffix(".pdf")
        given = self.composer_input()
        timestamp_url = self.timestamp_url.text().strip()
        if self._preview_job is not None:
            self._preview_job.cancel()
        self._set_busy(True)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.show()
        self.cancel_button.setEnabled(True)
        self.status.setText(self.tr("Preparing the complaint…"))
        self._export_job = self.storage.submit(
            lambda ctx: _export(ctx, given, out, key_file, password, timestamp_url),
            self._exported, self._export_error, self._export_progress)

    def _export_progress(self, payload: tuple[str, int, int]) -> None:
        stage, done, total = payload
        if stage == "photos":
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(done)
            self.status.setText(self.tr("Preparing photos: {done} of {total}").format(
                done=done, total=total))
        elif stage == "layout":
            self.status.setText(self.tr("Laying out the pages…"))
        elif stage == "sign":
            self.progress.setRange(0, 0)
            self.cancel_button.setEnabled(False)  # signing and writing cannot be interrupted
            self.status.setText(self.tr("Signing…"))
        else:
            self.progress.setRange(0, 0)
            self.cancel_button.setEnabled(False)
            self.status.setText(self.tr("Writing the file…"))

    def _end_export(self) -> None:
        self._export_job = None
        self.progress.hide()
        self.cancel_button.hide()
        self._set_busy(False)

    def _exported(self, result: Any) -> None:
        self._end_export()
        self.result = result
        lines = [self.tr("Saved: {path}").format(path=result.path),
                 self.tr("Pages: {pages}").format(pages=result.pages),
                 self.tr("SHA-256: {sha}").format(sha=result.sha256)]
        if result.signer is None:
            lines.append(self.tr("Not signed."))
        elif result.level == "B-T":
            lines.append(self.tr("Signed by {name}, with a trusted timestamp (PAdES B-T).")
                         .format(name=result.signer))
        else:
            lines.append(self.tr("Signed by {name}, without a timestamp (PAdES B-B).")
                         .format(name=result.signer))
        if result.originals_embedded:
            lines.append(self.tr("Original files embedded: {files} ({size}).").format(
                files=result.files, size=size_text(result.originals_size)))
        text = "\n".join(lines)
        kind = dialogs.Kind.INFO
        if result.notice:
            text = errors.timestamp_notice(result.notice) + "\n\n" + text
            kind = dialogs.Kind.WARNING
        self.status.setText(text)
        dialogs.tell(self, kind, self.tr("Complaint exported"), text)
        self.export_finished.emit(result)

    def _export_error(self, exc: BaseException) -> None:
        self._end_export()
        if isinstance(exc, Cancelled):
            self.status.setText(self.tr("Export cancelled: no file was written."))
            return
        self._show_error(exc)

    def _show_error(self, exc: BaseException) -> None:
        if isinstance(exc, KuaError) or errors.classify(exc) is not None:
            found = errors.explain(exc, self.data_dir)
            self.status.setText(found.text)
            dialogs.tell(self, dialogs.Kind.WARNING, found.title, found.text, found.details)
            self.export_failed.emit(found.text)
        else:
            errors.report(exc, self)

    def _show_message(self, text: str) -> None:
        self.status.setText(text)
        dialogs.tell(self, dialogs.Kind.WARNING, self.tr("Complaint"), text)
        self.export_failed.emit(text)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self._show_error(exc)

    def cancel_job(self) -> None:
        if self._export_job is not None:
            self._export_job.cancel()
            self.cancel_button.setEnabled(False)
            self.status.setText(self.tr("Cancelling…"))

    def _set_busy(self, busy: bool) -> None:
        self.export_button.setEnabled(not busy)
        self.preview_button.setEnabled(not busy)

    @property
    def busy(self) -> bool:
        return self._export_job is not None

    def reject(self) -> None:
        """Esc, Close and the window's close button: not while the file is being written
        (the export is cancelled instead, if it still can be)."""
        if self._export_job is not None:
            self.cancel_job()
            return
        if self._preview_job is not None:
            self._preview_job.cancel()
            self._preview_job = None
        super().reject()
