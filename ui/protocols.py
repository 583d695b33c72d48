"""Protocol entry: the photo of the vote-count protocol on one side (zoom, rotate), its figures
on the other in the profile's line order, and the control relations checked as you type: red
for a hard relation that fails, amber for a soft one, with both sides' values.

The relations are computed here with app.protocols.check_figures (plain arithmetic on what is
typed, no store); the photo is decoded on the image worker, saving goes through the storage
worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QImageReader
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.country_profiles import Profile
from app.protocols import (
    SOURCES,
    CheckResult,
    ProtocolConflict,
    ProtocolDraft,
    ProtocolView,
    add_protocol_with_photos,
    check_figures,
    parse_count,
)
from ui import dialogs, errors
from ui.i18n import Language
from ui.photo_view import ZOOM_STEP, PhotoView
from ui.worker import JobContext, Worker

COLORS = {  # (text, background) per status and kind
    ("failed", "hard"): ("#b71c1c", "#ffebee"),
    ("failed", "soft"): ("#8a5300", "#fff3cd"),
    ("ok", "hard"): ("#1b5e20", "#ffffff"),
    ("ok", "soft"): ("#1b5e20", "#ffffff"),
    ("unknown", "hard"): ("#616161", "#ffffff"),
    ("unknown", "soft"): ("#616161", "#ffffff"),
}

_tr = partial(QCoreApplication.translate, "protocols")


def source_name(source: str) -> str:
    """A protocol source's name in the interface language (the key itself if unknown)."""
    names = {"observer": _tr("Observer's copy"), "posted": _tr("Posted copy"),
             "official": _tr("Official result")}
    return names.get(source, source)


def add_sources(combo: QComboBox, sources: Iterable[str]) -> None:
    """One item per source, its key as the item's data; name_sources gives the names."""
    for src in sources:
        combo.addItem("", src)


def name_sources(combo: QComboBox) -> None:
    """The combo's source names in the interface language (on every retranslate)."""
    for i in range(combo.count()):
        combo.setItemText(i, source_name(str(combo.itemData(i))))


def read_photo(path: Path) -> QImage:
    """Decode a photo upright (EXIF orientation applied); runs on a worker thread."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    image = reader.read()
    if image.isNull():
        raise ValueError(f"{path.name}: {reader.errorString()}")
    return image


class ProtocolEntry(QWidget):
    """A window to enter one station's protocol from one source."""

    def __init__(self, storage: Worker, images: Worker, profile: Profile, language: Language,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.storage = storage
        self.images = images
        self.profile = profile
        self.language = language
        self.lang = lang = language.current  # the lines' and checks' language
        self.photo_paths: list[Path] = []
        self.results: list[CheckResult] = []
        self.saved_id: str | None = None

        self.photo = PhotoView(wheel_zooms=False)
        self.open_button = QPushButton()
        self.open_button.clicked.connect(self.choose_photo)
        self.zoom_in = QPushButton("+")
        self.zoom_in.clicked.connect(lambda: self.photo.zoom_by(ZOOM_STEP))
        self.zoom_out = QPushButton("−")
        self.zoom_out.clicked.connect(lambda: self.photo.zoom_by(1 / ZOOM_STEP))
        self.rotate_button = QPushButton("⟳")
        self.rotate_button.clicked.connect(lambda: self.photo.rotate_by(90))
        self.fit_button = QPushButton()
        self.fit_button.clicked.connect(self.photo.fit)
        tools = QHBoxLayout()
        for b in (self.open_button, self.zoom_in, self.zoom_out, self.rotate_button,
                  self.fit_button):
            tools.addWidget(b)
        tools.addStretch(1)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.addLayout(tools)
        left_layout.addWidget(self.photo, 1)

        self.station = QLineEdit()
        self.source = QComboBox()
        add_sources(self.source, SOURCES)
        self.entered_by = QLineEdit()
        self.form = QFormLayout()
        self.form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)  # each label above
        self.station_label, self.source_label, self.entered_label = QLabel(), QLabel(), QLabel()
        self.form.addRow(self.station_label, self.station)
        self.form.addRow(self.source_label, self.source)
        self.form.addRow(self.entered_label, self.entered_by)
        self.fields: dict[str, QLineEdit] = {}
        self.line_labels: dict[str, QLabel] = {}
        for line in profile.lines:
            edit = QLineEdit()
            edit.setAlignment(Qt.AlignmentFlag.AlignRight)
            edit.textChanged.connect(self.update_checks)
            label = QLabel(line.label(lang))
            label.setWordWrap(True)
            self.fields[line.id] = edit
            self.line_labels[line.id] = label
            self.form.addRow(label, edit)
        self.candidates = QTableWidget(0, 2)
        for name in profile.candidates:
            self._add_candidate_row(name)
        self.candidates.itemChanged.connect(lambda _item: self.update_checks())
        self.add_candidate = QPushButton()
        self.add_candidate.clicked.connect(lambda: self._add_candidate_row(""))
        self.candidates_label = QLabel()
        self.checks = QListWidget()
        self.checks.setWordWrap(True)
        self.checks_label = QLabel()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.save_button = QPushButton()
        self.save_button.clicked.connect(lambda: self.save())

        figures = QWidget()
        fl = QVBoxLayout(figures)
        fl.addLayout(self.form)
        fl.addWidget(self.candidates_label)
        fl.addWidget(self.candidates)
        fl.addWidget(self.add_candidate, 0, Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(figures)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.addWidget(scroll, 3)
        rl.addWidget(self.checks_label)
        rl.addWidget(self.checks, 2)
        rl.addWidget(self.status)
        rl.addWidget(self.save_button, 0, Qt.AlignmentFlag.AlignRight)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([700, 500])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.resize(1200, 800)
        self.retranslate()
        self.update_checks()

    # --- figures and checks -------------------------------------------------------------------

    def _add_candidate_row(self, name: str) -> None:
        row = self.candidates.rowCount()
        self.candidates.insertRow(row)
        self.candidates.setItem(row, 0, QTableWidgetItem(name))
        votes = QTableWidgetItem("")
        votes.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.candidates.setItem(row, 1, votes)

    def set_candidate_votes(self, name: str, votes: str) -> None:
        for row in range(self.candidates.rowCount()):
            item = self.candidates.item(row, 0)
            if item is not None and item.text() == name:
                cell = self.candidates.item(row, 1)
                if cell is not None:
                    cell.setText(votes)
                return
        self._add_candidate_row(name)
        cell = self.candidates.item(self.candidates.rowCount() - 1, 1)
        if cell is not None:
            cell.setText(votes)

    def figures(self) -> tuple[dict[str, int | None], dict[str, int | None], list[str]]:
        """What is typed: lines and candidates (None = blank), and the fields that are not
        whole numbers (those count as unknown in the checks)."""
        lines: dict[str, int | None] = {}
        bad: list[str] = []
        for line_id, edit in self.fields.items():
            value = parse_count(edit.text())
            if isinstance(value, str):
                bad.append(line_id)
                edit.setStyleSheet("background: #ffebee")
                value = None
            else:
                edit.setStyleSheet("")
            lines[line_id] = value
        candidates: dict[str, int | None] = {}
        for row in range(self.candidates.rowCount()):
            name_item, votes_item = self.candidates.item(row, 0), self.candidates.item(row, 1)
            name = name_item.text().strip() if name_item is not None else ""
            value = parse_count(votes_item.text() if votes_item is not None else "")
            if not name:
                continue
            if isinstance(value, str):
                bad.append(name)
                value = None
            candidates[name] = value
        return lines, candidates, bad

    def update_checks(self) -> None:
        lines, candidates, _bad = self.figures()
        known = {k: v for k, v in lines.items() if v is not None}
        cands = {k: v for k, v in candidates.items() if v is not None}
        self.results = check_figures(self.profile, known, cands, self.lang)
        self.checks.clear()
        for r in self.results:
            status = {"ok": self.tr("ok"), "failed": self.tr("FAILS"),
                      "unknown": self.tr("not yet known")}[r.status]
            kind = self.tr("hard") if r.kind == "hard" else self.tr("soft")
            off = ""
            if r.status == "failed" and r.difference:
                off = "   " + self.tr("(off by {count})").format(count=abs(r.difference))
            item = QListWidgetItem(f"{status} ({kind}) — {r.label}\n{r.formula()}{off}")
            fg, bg = COLORS[(r.status, r.kind)]
            item.setForeground(QBrush(QColor(fg)))
            item.setBackground(QBrush(QColor(bg)))
            item.setData(Qt.ItemDataRole.UserRole, (r.relation, r.status, r.kind))
            self.checks.addItem(item)

    def show_protocol(self, view: ProtocolView) -> None:
        """A stored protocol's figures in the form, checked (blank lines stay blank)."""
        self.station.setText(view.station_code)
        self.source.setCurrentIndex(self.source.findData(view.source))
        self.entered_by.setText(view.entered_by or "")
        for line_id, edit in self.fields.items():
            value = view.lines.get(line_id)
            edit.setText("" if value is None else str(value))
        for name, votes in view.candidates.items():
            self.set_candidate_votes(name, "" if votes is None else str(votes))
        self.update_checks()
        failed = sum(1 for r in self.results if r.status == "failed")
        self.status.setText(self.tr("Stored protocol of station {station}: {count} relations "
                                    "failed").format(station=view.station_code, count=failed))

    # --- photo ------------------------------------------------------------------------------

    def choose_photo(self) -> None:
        path = dialogs.choose_file(self, self.tr("Photo of the protocol"),
                                   self.tr("Photos (*.jpg *.jpeg *.png *.tif *.tiff *.webp)"))
        if path is not None:
            self.open_photo(path)

    def open_photo(self, path: Path) -> None:
        def shown(image: QImage) -> None:
            self.photo.set_image(image)
            self.photo_paths = [path]

        # On the image worker: a large JPEG holds up neither the window nor a search.
        self.images.submit(lambda _ctx: read_photo(path), shown,
                           lambda exc: errors.report(exc, self))

    # --- saving -----------------------------------------------------------------------------

    def draft(self) -> ProtocolDraft:
        lines, candidates, _ = self.figures()
        return ProtocolDraft(
            station_code=self.station.text().strip(),
            source=str(self.source.currentData()),
            lines=lines,
            candidates=candidates,
            entered_by=self.entered_by.text().strip() or None,
        )

    def save(self, replace: bool = False) -> None:
        _, _, bad = self.figures()
        if bad:
            dialogs.tell(self, dialogs.Kind.WARNING, self.tr("Protocol"), self.tr(
                "These figures are not whole numbers: {fields}").format(fields=", ".join(bad)))
            return
        draft, photos = self.draft(), list(self.photo_paths)

        def job(ctx: JobContext) -> Any:
            return add_protocol_with_photos(ctx.store, draft, photos, replace)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ProtocolConflict) and dialogs.ask(
                self, self.tr("Protocol"),
                self.tr("This station already has a different protocol from this source:\n"
                        "{details}\n\nReplace it with the figures entered here?").format(
                    details=errors.protocol_differences(str(exc)))):
                self.save(replace=True)
                return
            errors.report(exc, self)

        self.save_button.setEnabled(False)
        self.storage.submit(job, self._saved, lambda exc: (self.save_button.setEnabled(True),
                                                          failed(exc)))

    def _saved(self, view: Any) -> None:
        self.save_button.setEnabled(True)
        self.saved_id = view.id
        self.status.setText(self.tr("Saved: station {station}, {count} relations failed").format(
            station=view.station_code, count=len(view.failed)))

    # --- language ---------------------------------------------------------------------------

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Protocol entry"))
        self.open_button.setText(self.tr("&Open photo…"))
        self.fit_button.setText(self.tr("Fit"))
        self.zoom_in.setToolTip(self.tr("Zoom in (Ctrl+wheel)"))
        self.zoom_out.setToolTip(self.tr("Zoom out (Ctrl+wheel)"))
        self.rotate_button.setToolTip(self.tr("Rotate 90°"))
        self.station_label.setText(self.tr("Station code"))
        self.source_label.setText(self.tr("Source"))
        self.entered_label.setText(self.tr("Entered by"))
        name_sources(self.source)
        self.candidates.setHorizontalHeaderLabels([self.tr("Candidate"), self.tr("Votes")])
        self.candidates_label.setText(self.tr("Votes for candidates"))
        self.add_candidate.setText(self.tr("Add a candidate"))
        self.checks_label.setText(self.tr("Control relations (blank = not yet known)"))
        self.save_button.setText(self.tr("&Save protocol"))

    def set_language(self, lang: str) -> None:
        self.lang = lang
        for line in self.profile.lines:
            self.line_labels[line.id].setText(line.label(lang))
        self.update_checks()

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
            self.set_language(self.language.current)  # the lines' labels too, and the checks
        super().changeEvent(event)
