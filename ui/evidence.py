"""Evidence of one incident: a thumbnail strip that takes dropped or pasted photos, the import
progress with cancel, and a photo viewer with zoom, pan and the photo's provenance."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QMimeData, QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDropEvent,
    QFontDatabase,
    QGuiApplication,
    QImage,
    QKeySequence,
    QPixmap,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.errors import KuaError
from app.incidents import EvidenceView
from app.store import Store
from ui import dialogs, errors
from ui.commands import DetachEvidence
from ui.models import EvidenceListModel
from ui.photo_view import ZOOM_STEP, PhotoView
from ui.worker import Job, JobContext, Worker

# Photo decoding processes: all cores but one, which stays free for the UI thread (with every
# core busy decoding, the window visibly stutters during a large import).
IMPORT_PROCESSES = max(1, (os.cpu_count() or 2) - 1)
VIEWER_MAX_SIDE = 4096  # enough to zoom into a protocol photo; bounds memory per photo


# --- jobs (run on a worker thread: no widgets here) -----------------------------------------


def _load_thumbnail(store: Store, sha256: str) -> QImage | None:
    """The thumbnail, or None while the photo's bytes are still on their way from the team
    (a synced record can arrive before its file: "evidence pending", not an error)."""
    from app.evidence import thumbnail_file
    from app.sync.blobs import evidence_state

    if evidence_state(store, sha256) == "pending":
        return None
    image = QImage(str(thumbnail_file(store, sha256)))
    if image.isNull():
        raise OSError(f"cannot read the thumbnail of {sha256}")
    return image


def _load_photo(store: Store, sha256: str) -> QImage:
    """The stored photo, orientation applied, as a QImage (QImage is safe off the GUI thread;
    QPixmap is not, so the viewer converts it on the main thread)."""
    from app.photos import render_oriented

    picture = render_oriented(store.blobs.read(sha256), VIEWER_MAX_SIDE).convert("RGBA")
    raw = picture.tobytes("raw", "RGBA")
    image = QImage(raw, picture.width, picture.height, 4 * picture.width,
                   QImage.Format.Format_RGBA8888)
    return image.copy()  # own the pixels: raw is freed when this job returns


def _save_pasted_image(image: QImage, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="pasted-", suffix=".png", dir=folder)
    path = Path(name)
    with open(fd, "wb"):
        pass
    if not image.save(str(path), "PNG"):
        path.unlink(missing_ok=True)
        raise OSError(f"cannot write the pasted image to {path}")
    return path


def _import(ctx: JobContext, incident_id: str, paths: list[Path], temporary: list[Path]) -> Any:
    from app.evidence import import_files

    try:
        return import_files(
            ctx.store, incident_id, paths, workers=IMPORT_PROCESSES,
            progress=lambda done, total, outcome: ctx.progress(
                (done, total, Path(outcome.file).name), force=done == total),
            cancelled=ctx.cancelled,
        )
    finally:
        for p in temporary:
            p.unlink(missing_ok=True)


def paths_from_mime(mime: QMimeData) -> list[Path]:
    return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]


# --- widgets ---------------------------------------------------------------------------------


class EvidencePanel(QWidget):
    """Photos of the incident being edited. Drop files or folders here, paste with Ctrl+V,
    or use "Add photos…"; the import runs on the storage worker with progress and cancel."""

    imported = Signal(str)  # incident id: its evidence count changed
    needs_incident = Signal()  # photos arrived before the incident was saved
    detached = Signal(object, bool)  # EvidenceView, detached (False: attached again by undo)

    def __init__(self, storage: Worker, images: Worker, temp_dir: Path,
                 undo_stack: QUndoStack | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._storage = storage
        self._images = images
        self._temp_dir = temp_dir
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self._detached_rows: dict[str, int] = {}  # where a detached photo was, for undo
        self._incident_id: str | None = None
        self._job: Job | None = None
        self._waiting: list[tuple[list[Path], list[Path]]] = []  # until the incident exists
        self.viewers: list[PhotoViewer] = []
        self.model = EvidenceListModel(self._request_thumbnail, self)

        self.title = QLabel()
        self.add_button = QPushButton()
        self.add_button.clicked.connect(self.choose_files)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setFlow(QListView.Flow.LeftToRight)
        self.view.setWrapping(False)
        self.view.setUniformItemSizes(True)
        self.view.setIconSize(EvidenceListModel.THUMB)
        self.view.setGridSize(QSize(112, 124))
        self.view.setFixedHeight(146)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.activated.connect(self._open_viewer)
        self.view.installEventFilter(self)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._show_context_menu)
        self.open_action = QAction(self)
        self.open_action.triggered.connect(self.open_selected)
        self.detach_action = QAction(self)
        self.detach_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.detach_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.detach_action.triggered.connect(self.detach_selected)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton()
        self.cancel_button.clicked.connect(self.cancel_import)
        self.progress.hide()
        self.cancel_button.hide()
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.add_button)
        bottom = QHBoxLayout()
        bottom.addWidget(self.progress, 1)
        bottom.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.view)
        layout.addLayout(bottom)
        layout.addWidget(self.hint)
        self.setAcceptDrops(True)
        self.retranslate()

    def retranslate(self) -> None:
        self.title.setText(self.tr("Evidence"))
        self.add_button.setText(self.tr("Add photos…"))
        self.cancel_button.setText(self.tr("Cancel import"))
        self.hint.setText(self.tr(
            "Drop photos or folders here, or paste with Ctrl+V. Enter opens a photo, "
            "Delete detaches it from the incident."))
        self.open_action.setText(self.tr("&Open"))
        self.detach_action.setText(self.tr("&Detach from the incident"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    # --- what the editor tells us -----------------------------------------------------------

    def show_incident(self, incident_id: str | None, evidence: Sequence[EvidenceView]) -> None:
        self._incident_id = incident_id
        self.model.set_evidence(evidence)
        if incident_id is not None:
            waiting, self._waiting = self._waiting, []
            for paths, temporary in waiting:
                self._start_import(paths, temporary)
        else:
            self._discard_waiting()

    def _discard_waiting(self) -> None:
        for _paths, temporary in self._waiting:
            for p in temporary:
                p.unlink(missing_ok=True)
        self._waiting = []

    # --- getting files in -------------------------------------------------------------------

    def import_paths(self, paths: Sequence[Path], temporary: Sequence[Path] = ()) -> None:
        """Attach these files (folders are searched for photos). Before the incident is saved,
        the files wait and needs_incident asks the editor to save it."""
        paths, temporary = list(paths), list(temporary)
        if not paths:
            return
        if self._incident_id is None:
            self._waiting.append((paths, temporary))
            self.needs_incident.emit()
            return
        self._start_import(paths, temporary)

    def import_mime(self, mime: QMimeData) -> bool:
        """Files (URLs) or a bitmap from a drop or the clipboard; False if it holds neither."""
        paths = paths_from_mime(mime)
        if paths:
            self.import_paths(paths)
            return True
        if mime.hasImage():
            image = QImage(mime.imageData())
            if image.isNull():
                return False
            folder = self._temp_dir
            self._images.submit(
                lambda _ctx: _save_pasted_image(image, folder),
                lambda path: self.import_paths([path], [path]),
            )
            return True
        return False

    def paste(self) -> None:
        if not self.import_mime(QGuiApplication.clipboard().mimeData()):
            dialogs.tell(self, dialogs.Kind.INFO, self.tr("Paste"),
                         self.tr("The clipboard holds no photo or file."))

    def choose_files(self) -> None:
        paths = dialogs.choose_files(
            self, self.tr("Add photos"),
            self.tr("Photos") + " (*.jpg *.jpeg *.png *.heic *.heif *.tif *.tiff *.webp);;"
            + self.tr("All files") + " (*)",
        )
        self.import_paths(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasUrls() or mime.hasImage():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        if self.import_mime(event.mimeData()):
            event.acceptProposedAction()

    def eventFilter(self, watched: Any, event: QEvent) -> bool:
        if watched is self.view:
            kind = event.type()
            if kind == QEvent.Type.ShortcutOverride and self._is_detach_key(event):
                # Delete here detaches the photo: it must not reach the window's "Delete
                # incident" shortcut, so take the key as a plain key press.
                event.accept()
                return True
            if kind == QEvent.Type.KeyPress:
                if event.matches(QKeySequence.StandardKey.Paste):  # type: ignore[attr-defined]
                    self.paste()
                    return True
                if self._is_detach_key(event):
                    self.detach_selected()
                    return True
        return super().eventFilter(watched, event)

    @staticmethod
    def _is_detach_key(event: Any) -> bool:
        return bool(event.matches(QKeySequence.StandardKey.Delete)
                    or (event.key() == Qt.Key.Key_Backspace
                        and event.modifiers() == Qt.KeyboardModifier.NoModifier))

    # --- the import -------------------------------------------------------------------------

    @property
    def importing(self) -> bool:
        return self._job is not None

    def _start_import(self, paths: list[Path], temporary: list[Path]) -> None:
        if self._job is not None:  # one at a time; this one follows
            self._waiting.append((paths, temporary))
            return
        incident_id = self._incident_id
        assert incident_id is not None
        self.progress.setRange(0, 0)
        self.progress.setFormat(self.tr("Importing…"))
        self.progress.show()
        self.cancel_button.show()
        self._job = self._storage.submit(
            lambda ctx: _import(ctx, incident_id, paths, temporary),
            lambda outcomes: self._import_done(incident_id, outcomes),
            self._import_failed,
            self._import_progress,
        )

    def cancel_import(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.progress.setFormat(self.tr("Cancelling…"))

    def _import_progress(self, payload: tuple[int, int, str]) -> None:
        done, total, name = payload
        self.progress.setRange(0, total)
        self.progress.setValue(done)
        self.progress.setFormat(self.tr("{done} of {total}: {name}").format(
            done=done, total=total, name=name))

    def _finish_job(self) -> None:
        self._job = None
        self.progress.hide()
        self.cancel_button.hide()
        if self._waiting and self._incident_id is not None:
            paths, temporary = self._waiting.pop(0)
            self._start_import(paths, temporary)

    def _import_failed(self, exc: BaseException) -> None:
        self._finish_job()
        errors.report(exc, self)

    def _import_done(self, incident_id: str, outcomes: list[Any]) -> None:
        cancelled = self._job is not None and self._job.cancel_requested
        self._finish_job()
        added = [o.evidence for o in outcomes if o.ok and o.evidence is not None]
        if incident_id == self._incident_id:
            self.model.add_evidence(added)
        self.imported.emit(incident_id)
        failed = [errors.import_failure(o.file, o.error) for o in outcomes if not o.ok]
        if failed:
            dialogs.tell(
                self, dialogs.Kind.WARNING, self.tr("Some files were not imported"),
                self.tr("{ok} imported, {failed} not imported:").format(
                    ok=len(added), failed=len(failed)) + "\n\n" + "\n".join(failed),
            )
        elif cancelled:
            dialogs.tell(self, dialogs.Kind.INFO, self.tr("Import cancelled"),
                         self.tr("{ok} files were imported before the import was cancelled.")
                         .format(ok=len(added)))

    # --- detaching ---------------------------------------------------------------------------

    def selected_evidence(self) -> list[EvidenceView]:
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        found = (self.model.evidence_at(r) for r in rows)
        return [e for e in found if e is not None]

    def context_menu(self, pos: QPoint) -> QMenu | None:
        """The menu for the photo at pos (viewport coordinates); None where there is none."""
        index = self.view.indexAt(pos)
        if not index.isValid():
            return None
        if not self.view.selectionModel().isSelected(index):
            self.view.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction(self.open_action)
        menu.addSeparator()
        menu.addAction(self.detach_action)
        return menu

    def _show_context_menu(self, pos: QPoint) -> None:
        menu = self.context_menu(pos)
        if menu is not None:
            menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            menu.popup(self.view.viewport().mapToGlobal(pos))

    def open_selected(self) -> None:
        for evidence in self.selected_evidence():
            self.open_viewer(evidence)

    def detach_selected(self) -> None:
        self.detach(self.selected_evidence())

    def detach(self, items: Sequence[EvidenceView]) -> None:
        """Detach the photos from the incident, as one step on the undo stack."""
        items = list(items)
        if not items:
            return
        if len(items) == 1:
            text = self.tr("Detach photo {name}").format(name=items[0].original_name)
        else:
            text = self.tr("Detach {count} photos").format(count=len(items))
        self.undo_stack.beginMacro(text)
        for evidence in items:
            self.undo_stack.push(DetachEvidence(text, self._storage, evidence,
                                                self._detach_changed))
        self.undo_stack.endMacro()

    def _detach_changed(self, view: EvidenceView, detached: bool) -> None:
        if view.incident_id is not None and view.incident_id == self._incident_id:
            if detached:
                row = self.model.remove_evidence(view.id)
                if row is not None:
                    self._detached_rows[view.id] = row
            else:
                row = self._detached_rows.pop(view.id, self.model.rowCount())
                self.model.insert_evidence(view, row)
        if detached:
            for viewer in [v for v in self.viewers if v.evidence.id == view.id]:
                viewer.close()
        if view.incident_id is not None:
            self.imported.emit(view.incident_id)
        self.detached.emit(view, detached)

    # --- thumbnails and the viewer ----------------------------------------------------------

    def _request_thumbnail(self, sha256: str) -> None:
        self._images.submit(
            lambda ctx: _load_thumbnail(ctx.store, sha256),
            lambda image: self.model.set_pending(sha256) if image is None
            else self.model.set_thumbnail(sha256, QPixmap.fromImage(image)),
            self._thumbnail_failed,
        )

    def _thumbnail_failed(self, exc: BaseException) -> None:
        if not isinstance(exc, OSError):  # a lost cache file just stays blank; bugs surface
            errors.report(exc, self)

    def _open_viewer(self, index: QModelIndex) -> None:
        evidence = self.model.evidence_at(index.row())
        if evidence is not None:
            self.open_viewer(evidence)

    def open_viewer(self, evidence: EvidenceView) -> PhotoViewer:
        viewer = PhotoViewer(evidence, self.window())
        viewer.finished.connect(lambda _result: self._forget_viewer(viewer))
        self.viewers.append(viewer)
        if self.model.is_pending(evidence.sha256):
            viewer.show_pending()
            viewer.show()
            return viewer
        self._images.submit(lambda ctx: _load_photo(ctx.store, evidence.sha256),
                            viewer.set_image, viewer.image_failed)
        viewer.show()
        return viewer

    def _forget_viewer(self, viewer: PhotoViewer) -> None:
        if viewer in self.viewers:
            self.viewers.remove(viewer)


class PhotoViewer(QDialog):
    """One photo with what makes it evidence: its SHA-256, capture time, place and camera."""

    def __init__(self, evidence: EvidenceView, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.evidence = evidence
        self.pending = False  # the photo's bytes have not arrived from the team yet
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.view = PhotoView()
        self.status = QLabel()
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)

        info = QWidget()
        self.form = QFormLayout(info)
        self.fields: dict[str, QLabel] = {}
        for key in ("file", "sha256", "taken", "gps", "camera", "size"):
            label = QLabel()
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.fields[key] = label
        self._fill_fields()

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.view, 1)
        left_layout.addWidget(self.status)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(info)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([760, 320])
        layout = QVBoxLayout(self)
        layout.addWidget(splitter)
        self.resize(1100, 680)
        self.retranslate()

    def _fill_fields(self) -> None:
        e = self.evidence
        f = self.fields
        f["file"].setText(e.original_name)
        # In two lines of 32, so the hash does not push the photo aside; the tooltip has it whole.
        f["sha256"].setText(f"{e.sha256[:32]}\n{e.sha256[32:]}" if len(e.sha256) > 32
                            else e.sha256)
        f["sha256"].setToolTip(e.sha256)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(f["sha256"].font().pointSizeF())
        f["sha256"].setFont(mono)
        f["taken"].setText(e.taken_at or "—")
        f["gps"].setText("—" if e.gps is None else
                         f"{e.gps.lat:.6f}, {e.gps.lon:.6f}"
                         + ("" if e.gps.alt is None else f", {e.gps.alt:.0f} m"))
        f["camera"].setText(e.camera or "—")
        pixels = f"{e.width} × {e.height}, " if e.width and e.height else ""
        f["size"].setText(f"{pixels}{e.size:,} B".replace(",", " "))

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Photo: {name}").format(name=self.evidence.original_name))
        while self.form.rowCount():
            self.form.takeRow(0)
        for key, text in (
            ("file", self.tr("File")), ("sha256", self.tr("SHA-256")),
            ("taken", self.tr("Taken")), ("gps", self.tr("Location (GPS)")),
            ("camera", self.tr("Camera")), ("size", self.tr("Size")),
        ):
            self.form.addRow(text, self.fields[key])
        if self.pending:
            self.status.setText(self.tr(
                "Evidence pending: this photo has not arrived from the team server yet. It "
                "comes with a later sync."))
        elif self.view.item is None:
            self.status.setText(self.tr("Loading the photo…"))
        else:
            self.status.setText(self.tr("Wheel or Ctrl +/− to zoom, drag to move, 0 to fit."))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def set_image(self, image: QImage) -> None:
        self.view.set_image(image)
        self.retranslate()

    def show_pending(self) -> None:
        self.pending = True
        self.retranslate()

    def image_failed(self, exc: BaseException) -> None:
        from app.photos import PhotoError  # loaded by the job that failed

        if isinstance(exc, PhotoError):
            reason = errors.photo_reason(str(exc))
        elif isinstance(exc, KuaError):
            reason = errors.translate_known(str(exc)) or str(exc)
        elif isinstance(exc, OSError):
            reason = self.tr("the stored file cannot be read ({error})").format(
                error=exc.strerror or exc)
        else:  # a bug: log it and say so
            reason = type(exc).__name__
            errors.report(exc, self)
        self.status.setText(self.tr("The photo cannot be shown: {reason}").format(reason=reason))

    def keyPressEvent(self, event: Any) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.view.zoom_by(ZOOM_STEP)
        elif key == Qt.Key.Key_Minus:
            self.view.zoom_by(1 / ZOOM_STEP)
        elif key == Qt.Key.Key_0:
            self.view.fit()
        else:
            super().keyPressEvent(event)

