"""Sync with the team server from the window: in the background every few minutes and on
demand (F9), on a worker thread of its own so a long upload never holds up a search or an edit.

The sync worker opens its own Store on the same data folder (SQLite in WAL mode with BEGIN
IMMEDIATE lets its connection and the storage worker's take turns). The status bar shows
whether the team server was reachable, what is waiting to be sent, when the last sync was and
how many conflicts wait for a decision; a failed attempt is retried with a growing pause
(15 s, doubling, at most 5 min) until one succeeds, with or without new local edits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.errors import KuaError
from app.store import Store
from app.sync.client import (
    SyncError,
    SyncReport,
    SyncStatus,
    enrol,
    read_server_cert,
    sync_once,
    sync_status,
)
from storage.timeutil import from_utc_text
from ui import dialogs, errors
from ui.worker import Job, JobContext, Worker

if TYPE_CHECKING:
    from ui.main_window import MainWindow

SYNC_INTERVAL_S = 180  # between background syncs while all goes well
RETRY_BASE_S = 15  # the first retry after a failure
RETRY_CAP_S = 300  # retries never wait longer than this
SHORTCUTS = ("F9", "Ctrl+Shift+S")

_tr = partial(QCoreApplication.translate, "sync")


def retry_delay(failures: int) -> int:
    """Seconds until the next attempt after `failures` failed attempts in a row: the usual
    interval when none failed, else 15 s doubling with each failure, at most 5 minutes."""
    if failures <= 0:
        return SYNC_INTERVAL_S
    return int(min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(failures - 1, 16)))


class _Cancelled(Exception):
    """The window is closing: the sync stops at its next step (what was done stays done)."""


@dataclass(frozen=True)
class SyncOutcome:
    report: SyncReport
    status: SyncStatus


def _status(ctx: JobContext) -> SyncStatus:
    return sync_status(ctx.store)


def _sync(ctx: JobContext) -> SyncOutcome:
    def progress(stage: str, done: int, total: int) -> None:
        if ctx.cancelled():
            raise _Cancelled
        ctx.progress((stage, done, total))

    report = sync_once(ctx.store, progress)
    # The status the sync ended with (computed there; a second look would scan the files again).
    return SyncOutcome(report, report.status or sync_status(ctx.store))


@dataclass
class SyncState:
    """What the status bar shows; plain data, updated on the main thread only."""

    enrolled: bool = False
    server: str | None = None
    team: str | None = None
    online: bool = False  # enrolled, and the last attempt (if any) reached the server
    syncing: bool = False
    progress: tuple[str, int, int] | None = None
    pending: int = 0  # changes and evidence files still to be sent
    evidence_pending: int = 0  # evidence files still to come from the team
    conflicts: int = 0
    last_sync: str | None = None  # UTC text
    failures: int = 0  # failed attempts in a row
    error: SyncError | KuaError | None = None  # the last failure
    next_attempt_s: int | None = None  # when the timer fires next

    def take(self, status: SyncStatus) -> None:
        self.enrolled = status.enrolled
        self.server, self.team = status.server, status.team
        self.pending = status.pending_revisions + status.pending_uploads
        self.evidence_pending = status.evidence_pending
        self.conflicts = status.open_conflicts
        self.last_sync = status.last_sync
        if not self.enrolled:
            self.online = False


class SyncController(QObject):
    """Runs syncs on the sync worker and keeps SyncState; never blocks the main thread."""

    state_changed = Signal(object)  # SyncState
    brought_changes = Signal(object)  # SyncReport: records or files arrived from the team
    finished = Signal(bool)  # one attempt is over: True if it succeeded

    def __init__(self, storage: Worker, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.storage = storage
        self.worker = Worker("sync", open_store=lambda: Store(data_dir))
        self.state = SyncState()
        self.timer = QTimer(self)
        self.timer.setObjectName("kua-sync-timer")
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.sync_now)
        self._job: Job | None = None
        self.last_report: SyncReport | None = None
        self._again = False  # "sync now" pressed during a sync: one more right after it
        self._sync_on_status = False  # start(): the next status read starts the first sync
        self._bug_reported = False
        self._closed = False

    def start(self) -> None:
        """An enrolled laptop syncs right away: once the window's first status read (after its
        first overview) arrives. No read of its own here: it would queue ahead of the first
        page of incidents, and the overview's read follows at once anyway."""
        self._sync_on_status = True

    def close(self) -> None:
        """Stop the timer and the worker (a running sync stops at its next step)."""
        if self._closed:
            return
        self._closed = True
        self.timer.stop()
        self.worker.close()

    # --- status ----------------------------------------------------------------------------

    def refresh_status(self, sync_after: bool = False) -> None:
        """Re-read what is waiting (after a local change): cheap, on the storage worker."""
        if self._closed:
            return
        self.storage.submit(_status, lambda st: self._status_arrived(st, sync_after))

    def _status_arrived(self, status: SyncStatus, sync_after: bool) -> None:
        if self._closed:
            return
        sync_after, self._sync_on_status = sync_after or self._sync_on_status, False
        was_enrolled = self.state.enrolled
        self.state.take(status)
        if self.state.enrolled and not was_enrolled and self.state.failures == 0:
            self.state.online = True
        self._emit()
        if sync_after and self.state.enrolled:
            self.sync_now()

    def _emit(self) -> None:
        self.state.next_attempt_s = (
            round(self.timer.remainingTime() / 1000) if self.timer.isActive() else None
        )
        self.state_changed.emit(self.state)

    # --- syncing ---------------------------------------------------------------------------

    @property
    def syncing(self) -> bool:
        return self._job is not None

    def sync_now(self) -> None:
        if self._closed:
            return
        if self._job is not None:
            self._again = True
            return
        self.timer.stop()
        self.state.syncing = True
        self.state.progress = None
        self._emit()
        self._job = self.worker.submit(_sync, self._synced, self._failed, self._progressed)

    def _progressed(self, payload: tuple[str, int, int]) -> None:
        self.state.progress = payload
        self._emit()

    def _attempt_over(self) -> None:
        self._job = None
        self.state.syncing = False
        self.state.progress = None

    def _synced(self, outcome: SyncOutcome) -> None:
        self._attempt_over()
        self.state.failures = 0
        self.state.error = None
        self.state.online = True
        self.state.take(outcome.status)
        self._schedule()
        self._emit()
        report = self.last_report = outcome.report
        if report.pulled or report.downloaded:
            self.brought_changes.emit(report)
        self.finished.emit(True)
        self._maybe_again()

    def _failed(self, exc: BaseException) -> None:
        self._attempt_over()
        if isinstance(exc, SyncError) and exc.reason == "not_enrolled":
            self.state.enrolled = self.state.online = False
            self.state.error = None
            self.state.failures = 0
            self._emit()
            self.finished.emit(False)
            return
        self.state.failures += 1
        if isinstance(exc, KuaError):
            self.state.error = exc
            self.state.online = not (isinstance(exc, SyncError) and exc.reason == "unreachable")
        else:  # a bug: said once, then retried quietly like any failure
            self.state.error = None
            if not self._bug_reported and not errors.classify(exc):
                self._bug_reported = True
                errors.report(exc)
        self._schedule()
        self._emit()
        self.finished.emit(False)
        self._maybe_again()

    def _schedule(self) -> None:
        self.timer.start(retry_delay(self.state.failures) * 1000)

    def _maybe_again(self) -> None:
        if self._again:
            self._again = False
            self.sync_now()

    # --- enrolment -------------------------------------------------------------------------

    def enrol(
        self, server: str, code: str, on_done: Any, on_error: Any, server_cert: Path | None = None
    ) -> None:
        """Enrol this laptop (on the sync worker: it talks to the server); then sync.
        server_cert: the PEM certificate of a team's own server, trusted alone from now on."""

        def done(team: str) -> None:
            self.state.failures = 0
            self.state.online = True
            on_done(team)
            self.refresh_status(sync_after=True)

        self.worker.submit(
            lambda ctx: enrol(ctx.store, server, code, server_cert=server_cert), done, on_error
        )


# --- words -----------------------------------------------------------------------------------


def failure_text(exc: BaseException, server: str | None = None) -> str:
    """A failed sync or enrolment in the interface language (the English stays as details)."""
    if isinstance(exc, SyncError):
        if exc.reason == "unreachable":
            return _tr(
                "Cannot reach the team server at {server}. Check the address and the "
                "network; nothing is lost."
            ).format(server=server or "?")
        if exc.reason == "invalid_enrolment_code":
            return _tr(
                "The enrolment code is not valid: used already, expired or mistyped. "
                "Ask the team server's admin for a new one."
            )
        if exc.reason in ("token_revoked", "invalid_token", "token_missing"):
            return _tr(
                "The team server no longer accepts this laptop. Ask its admin for a "
                "new enrolment code."
            )
        if exc.reason in ("client_too_old", "update_required"):
            return _tr("This version of Kuä is too old for the team server: please update it.")
        if exc.reason == "tls":
            return _tr(
                "The team server's certificate is not the one this laptop trusts, so "
                "nothing was sent. If your team runs its own server, get its "
                "certificate file from the admin (Server certificate)."
            )
        if exc.reason == "too_many_attempts":
            return _tr(
                "Too many wrong enrolment codes were tried from this network. Wait a "
                "few minutes, then try again."
            )
        if exc.reason == "server_too_old":
            return _tr("The team server runs an older version of Kuä: ask its admin to update it.")
        return _tr("The team server refused the sync. Nothing is lost; it will be tried again.")
    if isinstance(exc, KuaError):
        return errors.translate_known(str(exc)) or str(exc)
    return _tr("The sync failed ({error}). Nothing is lost; it will be tried again.").format(
        error=type(exc).__name__
    )


def _local_time(utc_text: str) -> str:
    when = from_utc_text(utc_text).astimezone()
    now = datetime.now().astimezone()
    return when.strftime("%H:%M") if when.date() == now.date() else when.strftime("%d.%m %H:%M")


# --- the status bar and the menu ---------------------------------------------------------------


class SyncPanel(QWidget):
    """The sync part of the status bar (state, waiting changes, last sync, conflicts) and the
    sync actions of the window's menu."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window_ = window
        self.controller = SyncController(window.storage, window.data_dir, self)
        self.controller.state_changed.connect(self.show_state)
        self.controller.brought_changes.connect(lambda _report: self._changes_arrived())
        self.connect_dialog: ConnectDialog | None = None
        self.conflict_dialog: Any = None

        self.state_label = QLabel()
        self.pending_label = QLabel()
        self.last_label = QLabel()
        self.conflicts_button = QPushButton()
        self.conflicts_button.setFlat(True)
        self.conflicts_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.conflicts_button.setStyleSheet(
            "QPushButton { color: #b3261e; font-weight: bold; padding: 0 6px; }"
        )
        self.conflicts_button.clicked.connect(self.open_conflicts)
        self.conflicts_button.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        for w in (self.conflicts_button, self.pending_label, self.last_label, self.state_label):
            layout.addWidget(w)

        # The window's own actions (in window.actions too): their shortcuts work anywhere in it.
        self.menu_actions: dict[str, QAction] = {
            "connect": window._action("connect", self.open_connect),
            "sync_now": window._action("sync_now", self.sync_now, *SHORTCUTS),
            "conflicts": window._action("conflicts", self.open_conflicts),
        }
        window.overview_loaded.connect(self.controller.refresh_status)
        self.retranslate()
        self.controller.start()

    def add_to_menu(self, menu: QMenu) -> None:
        menu.addSeparator()
        for key in ("connect", "sync_now", "conflicts"):
            menu.addAction(self.menu_actions[key])

    def close_sync(self) -> None:
        self.controller.close()
        for dialog in (self.connect_dialog, self.conflict_dialog):
            if dialog is not None:
                dialog.close()

    # --- actions ---------------------------------------------------------------------------

    def sync_now(self) -> None:
        if not self.controller.state.enrolled:
            self.open_connect()
            return
        self.controller.sync_now()

    def open_connect(self) -> ConnectDialog:
        if self.connect_dialog is None:
            self.connect_dialog = ConnectDialog(self.controller, self.window_)
            self.connect_dialog.enrolled.connect(self._enrolled)
        self.connect_dialog.show()
        self.connect_dialog.raise_()
        return self.connect_dialog

    def _enrolled(self, team: str) -> None:
        self.window_.statusBar().showMessage(
            self.tr("Connected to the team server (team {team}). Syncing…").format(team=team), 8000
        )

    def open_conflicts(self) -> Any:
        from ui.conflicts import ConflictDialog

        if self.conflict_dialog is None:
            self.conflict_dialog = ConflictDialog(
                self.window_.storage, self.window_.language, self.window_
            )
            self.conflict_dialog.resolved.connect(self._conflict_resolved)
        self.conflict_dialog.reload()
        self.conflict_dialog.show()
        self.conflict_dialog.raise_()
        return self.conflict_dialog

    def _conflict_resolved(self) -> None:
        # The dialog reloads itself; the window's refresh re-reads the status (overview_loaded).
        self.window_.refresh_after_sync()
        if self.controller.state.enrolled:
            self.controller.sync_now()  # the decision goes to the team at once

    def _changes_arrived(self) -> None:
        self.window_.refresh_after_sync()
        if self.conflict_dialog is not None and self.conflict_dialog.isVisible():
            self.conflict_dialog.reload()

    # --- what is shown ---------------------------------------------------------------------

    def show_state(self, state: SyncState) -> None:
        if not state.enrolled:
            self.state_label.setText(self.tr("Offline"))
            self.state_label.setToolTip(
                self.tr("Sync is not set up: everything is kept on this computer.")
            )
            self.state_label.setStyleSheet("")
        elif state.syncing:
            self.state_label.setText(self._progress_text(state.progress))
            self.state_label.setToolTip(self._where(state))
            self.state_label.setStyleSheet("")
        elif state.online:
            self.state_label.setText(self.tr("Online"))
            tip = self._where(state)
            if state.error is not None:
                tip += "\n\n" + failure_text(state.error, state.server)
            self.state_label.setToolTip(tip)
            self.state_label.setStyleSheet(
                "color: #146c2e;" if state.error is None else "color: #b3261e;"
            )
            if state.error is not None:
                self.state_label.setText(self.tr("Sync failed"))
        else:
            self.state_label.setText(self.tr("Offline"))
            tip = failure_text(state.error, state.server) if state.error is not None else ""
            self.state_label.setToolTip(tip)
            self.state_label.setStyleSheet("color: #8a5a00;")
        if (
            state.enrolled
            and not state.syncing
            and state.next_attempt_s is not None
            and state.failures
        ):
            self.state_label.setToolTip(
                self.state_label.toolTip()
                + "\n"
                + self.tr("Next attempt in {seconds} s (F9 tries now).").format(
                    seconds=state.next_attempt_s
                )
            )

        if state.enrolled:
            text = self.tr("To send: {count}").format(count=state.pending)
            if state.evidence_pending:
                text += "  ·  " + self.tr("Evidence pending: {count}").format(
                    count=state.evidence_pending
                )
            self.pending_label.setText(text)
            self.pending_label.setToolTip(
                self.tr(
                    "Changes and evidence files on this laptop that the team server does not "
                    "have yet."
                )
            )
            self.last_label.setText(
                self.tr("Last sync: {time}").format(time=_local_time(state.last_sync))
                if state.last_sync
                else self.tr("Never synced")
            )
        self.pending_label.setVisible(state.enrolled)
        self.last_label.setVisible(state.enrolled)
        self.conflicts_button.setText(self.tr("Conflicts: {count}").format(count=state.conflicts))
        self.conflicts_button.setToolTip(
            self.tr(
                "The same thing was changed on two laptops: click to decide which version stands."
            )
        )
        self.conflicts_button.setVisible(state.conflicts > 0)

    def _where(self, state: SyncState) -> str:
        return self.tr("Team {team} on {server}").format(
            team=state.team or "?", server=state.server or "?"
        )

    def _progress_text(self, progress: tuple[str, int, int] | None) -> str:
        if progress is None:
            return self.tr("Syncing…")
        stage, done, total = progress
        names = {
            "push": self.tr("Sending changes"),
            "pull": self.tr("Receiving changes"),
            "upload": self.tr("Sending evidence files"),
            "download": self.tr("Receiving evidence files"),
        }
        if stage == "snapshot":  # counted in bytes
            return self.tr("Receiving the team's records: {done}/{total} MB").format(
                done=done >> 20, total=max(1, total >> 20)
            )
        name = names.get(stage, self.tr("Syncing…"))
        return f"{name}: {done}/{total}" if total else f"{name}: {done}"

    def retranslate(self) -> None:
        self.menu_actions["connect"].setText(self.tr("Connect to &team server…"))
        self.menu_actions["sync_now"].setText(self.tr("S&ync now"))
        self.menu_actions["conflicts"].setText(self.tr("Review &conflicts…"))
        self.show_state(self.controller.state)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)


# --- the enrolment dialog ----------------------------------------------------------------------


class ConnectDialog(QDialog):
    """Tools > Connect to team server: the server's address and the one-time enrolment code
    from its admin; for a team's own server with its own certificate, that certificate."""

    enrolled = Signal(str)  # the team's name

    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.server = QLineEdit()
        self.server.setPlaceholderText("https://team.example.org")
        self.code = QLineEdit()
        self.code.setPlaceholderText("K3QF-7TQM-XW2A-PL9D")
        self.cert = QLineEdit()  # a path; empty: the system's authorities vouch for the server
        self.cert_button = QPushButton()
        self.cert_button.clicked.connect(self.choose_cert)
        self.cert_row = QWidget()
        row = QHBoxLayout(self.cert_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.cert, 1)
        row.addWidget(self.cert_button)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.connect_button = self.buttons.addButton("", QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        self.form = QFormLayout()
        # Made once, their texts set in retranslate: rows re-added there would leave the old
        # labels behind (takeRow does not delete them).
        self._labels = [QLabel() for _ in range(3)]
        for label, field in zip(self._labels, (self.server, self.code, self.cert_row),
                                strict=True):
            label.setBuddy(field)
            self.form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Connect to the team server"))
        self.intro.setText(
            self.tr(
                "The team server's admin gives you its address and a one-time enrolment code for "
                "this laptop."
            )
        )
        for label, text in zip(self._labels, (
            self.tr("Server address"), self.tr("Enrolment code"), self.tr("Server certificate")
        ), strict=True):
            label.setText(text)
        self.cert.setPlaceholderText(self.tr("Optional: only for a team's own server"))
        self.cert_button.setText(self.tr("Browse…"))
        self.connect_button.setText(self.tr("Connect"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def choose_cert(self) -> None:
        path = dialogs.choose_file(
            self,
            self.tr("The team server's certificate"),
            self.tr("Certificates (*.pem *.crt *.cer)") + ";;" + self.tr("All files") + " (*)",
        )
        if path is not None:
            self.cert.setText(str(path))
            self._cert_ok(path)

    def _cert_ok(self, path: Path) -> bool:
        """Said at once, in the interface language, if the file is not a PEM certificate."""
        try:
            read_server_cert(path)
        except KuaError as exc:
            self.message.setText(
                self.tr(
                    "{file} is not a certificate file (PEM). Ask the team server's admin for "
                    "its certificate."
                ).format(file=path.name)
            )
            self.message.setToolTip(str(exc))
            self.cert.setFocus()
            return False
        self.message.clear()
        return True

    def submit(self) -> None:
        server = self.server.text().strip()
        code = self.code.text().strip().upper()
        cert = Path(self.cert.text().strip()) if self.cert.text().strip() else None
        if not server.startswith(("http://", "https://")):
            self.message.setText(
                self.tr(
                    "Enter the server's address, starting with https:// (or http:// on the "
                    "office network)."
                )
            )
            self.server.setFocus()
            return
        if not code:
            self.message.setText(self.tr("Enter the enrolment code."))
            self.code.setFocus()
            return
        if cert is not None and not server.startswith("https://"):
            self.message.setText(
                self.tr("A server certificate is only for an address starting with https://.")
            )
            self.server.setFocus()
            return
        if cert is not None and not self._cert_ok(cert):
            return
        self.message.setText(self.tr("Connecting…"))
        self._set_busy(True)
        self.controller.enrol(
            server, code, self._done, lambda exc: self._failed(exc, server), server_cert=cert
        )

    def _set_busy(self, busy: bool) -> None:
        for w in (self.server, self.code, self.cert, self.cert_button, self.connect_button):
            w.setEnabled(not busy)

    def _done(self, team: str) -> None:
        self._set_busy(False)
        self.message.clear()
        self.code.clear()
        self.enrolled.emit(team)
        self.accept()

    def _failed(self, exc: BaseException, server: str) -> None:
        self._set_busy(False)
        if isinstance(exc, KuaError):
            self.message.setText(failure_text(exc, server))
            self.message.setToolTip(str(exc))
        else:
            errors.report(exc, self)
