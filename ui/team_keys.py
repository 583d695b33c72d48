"""Tools > Team keys: a team CA for teams without a national certificate, and the signing keys
(PKCS#12) it issues. Key generation runs on the storage worker (a 3072-bit RSA key takes a
moment); passwords are read from their fields when the job starts and never stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.errors import KuaError
from ui import dialogs, errors
from ui.worker import JobContext, Worker


def _create_ca(_ctx: JobContext, name: str, folder: Path, password: bytes | None) -> Any:
    from app.team_keys import create_team_ca

    return create_team_ca(name, folder, password)


def _issue(_ctx: JobContext, ca_dir: Path, name: str, out: Path, password: bytes,
           ca_password: bytes | None) -> Any:
    from app.team_keys import issue_signer

    return issue_signer(ca_dir, name, out, password, ca_password)


def _password_field() -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    return field


def _path_row(field: QLineEdit, button: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(field, 1)
    row.addWidget(button)
    return row


class TeamKeysDialog(QDialog):
    ca_created = Signal(object)  # CertInfo
    signer_issued = Signal(object)  # CertInfo
    failed = Signal(str)  # the message shown

    def __init__(self, storage: Worker, data_dir: Path, full_name: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.storage = storage
        self.data_dir = data_dir
        self._running = False

        # Team CA
        self.ca_name = QLineEdit()
        self.ca_folder = QLineEdit()
        self.ca_browse = QPushButton()
        self.ca_browse.clicked.connect(lambda: self._choose_folder(self.ca_folder))
        self.ca_password = _password_field()
        self.ca_password2 = _password_field()
        self.create_button = QPushButton()
        self.create_button.clicked.connect(self.create_ca)
        self.ca_note = QLabel()
        self.ca_note.setWordWrap(True)
        ca_page = QWidget()
        ca_form = QFormLayout(ca_page)
        self._ca_labels = [QLabel() for _ in range(4)]
        for label, field, buddy in zip(
            self._ca_labels,
            (self.ca_name, _path_row(self.ca_folder, self.ca_browse), self.ca_password,
             self.ca_password2),
            (self.ca_name, self.ca_folder, self.ca_password, self.ca_password2), strict=True,
        ):
            label.setBuddy(buddy)
            ca_form.addRow(label, field)
        ca_form.addRow(self.ca_note)
        ca_form.addRow("", self.create_button)

        # Signer
        self.issuer_folder = QLineEdit()
        self.issuer_browse = QPushButton()
        self.issuer_browse.clicked.connect(lambda: self._choose_folder(self.issuer_folder))
        self.issuer_password = _password_field()
        self.full_name = QLineEdit(full_name)
        self.p12_file = QLineEdit()
        self.p12_browse = QPushButton()
        self.p12_browse.clicked.connect(self._choose_p12)
        self.p12_password = _password_field()
        self.p12_password2 = _password_field()
        self.issue_button = QPushButton()
        self.issue_button.clicked.connect(self.issue)
        self.signer_note = QLabel()
        self.signer_note.setWordWrap(True)
        signer_page = QWidget()
        signer_form = QFormLayout(signer_page)
        self._signer_labels = [QLabel() for _ in range(6)]
        for label, field, buddy in zip(
            self._signer_labels,
            (_path_row(self.issuer_folder, self.issuer_browse), self.issuer_password,
             self.full_name, _path_row(self.p12_file, self.p12_browse), self.p12_password,
             self.p12_password2),
            (self.issuer_folder, self.issuer_password, self.full_name, self.p12_file,
             self.p12_password, self.p12_password2), strict=True,
        ):
            label.setBuddy(buddy)
            signer_form.addRow(label, field)
        signer_form.addRow(self.signer_note)
        signer_form.addRow("", self.issue_button)

        self.tabs = QTabWidget()
        self.tabs.addTab(ca_page, "")
        self.tabs.addTab(signer_page, "")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.close_button = QPushButton()
        self.close_button.clicked.connect(self.reject)
        bottom = QHBoxLayout()
        bottom.addWidget(self.status, 1)
        bottom.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(bottom)
        self.retranslate()
        self.resize(640, 420)

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Team keys"))
        self.tabs.setTabText(0, self.tr("Team CA"))
        self.tabs.setTabText(1, self.tr("Signing key"))
        for label, text in zip(self._ca_labels, (
            self.tr("&Name"), self.tr("&Folder"), self.tr("&Password"),
            self.tr("Password &again"),
        ), strict=True):
            label.setText(text)
        for label, text in zip(self._signer_labels, (
            self.tr("Team &CA folder"), self.tr("CA pass&word"), self.tr("&Full name"),
            self.tr("&Key file (.p12)"), self.tr("&Password"), self.tr("Password &again"),
        ), strict=True):
            label.setText(text)
        self.ca_name.setPlaceholderText(self.tr("e.g. the name of your observer team"))
        self.ca_folder.setPlaceholderText(self.tr("An empty folder, best on a memory stick "
                                                  "kept offline"))
        self.ca_password.setPlaceholderText(self.tr("Optional, recommended"))
        self.issuer_password.setPlaceholderText(self.tr("If the team CA has one"))
        self.ca_note.setText(self.tr(
            "For teams without a national signing certificate. Give ca-cert.pem to the "
            "commission so it can check your signatures; keep ca-key.pem offline."))
        self.signer_note.setText(self.tr(
            "Each team lead gets their own key file, protected by a password. Kuä never "
            "stores the password."))
        self.create_button.setText(self.tr("C&reate team CA"))
        self.issue_button.setText(self.tr("&Issue signing key"))
        for button in (self.ca_browse, self.issuer_browse, self.p12_browse):
            button.setText(self.tr("Browse…"))
        self.close_button.setText(self.tr("Close"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def _choose_folder(self, field: QLineEdit) -> None:
        path = dialogs.choose_folder(self, self.tr("Choose a folder"))
        if path is not None:
            field.setText(str(path))

    def _choose_p12(self) -> None:
        path = dialogs.choose_save_file(self, self.tr("Save the signing key"),
                                        self.tr("Signing keys") + " (*.p12 *.pfx)",
                                        str(Path.home() / "signer.p12"))
        if path is not None:
            self.p12_file.setText(str(path if path.suffix else path.with_suffix(".p12")))

    def _problem(self, text: str, focus: QLineEdit | None = None) -> None:
        self.status.setText(text)
        dialogs.tell(self, dialogs.Kind.WARNING, self.tr("Team keys"), text)
        self.failed.emit(text)
        if focus is not None:
            focus.setFocus()

    def _set_running(self, running: bool) -> None:
        self._running = running
        for w in (self.create_button, self.issue_button, self.close_button):
            w.setEnabled(not running)
        if running:
            self.status.setText(self.tr("Creating the keys…"))

    def _job_failed(self, exc: BaseException) -> None:
        self._set_running(False)
        if isinstance(exc, KuaError) or errors.classify(exc) is not None:
            found = errors.explain(exc, self.data_dir)
            self._problem(found.text)
        else:
            self.status.setText("")
            errors.report(exc, self)

    def create_ca(self) -> None:
        if self._running:
            return
        name = self.ca_name.text().strip()
        folder = self.ca_folder.text().strip()
        if not name:
            return self._problem(self.tr("Give the team CA a name."), self.ca_name)
        if not folder:
            return self._problem(self.tr("Choose the folder for the team CA."), self.ca_folder)
        if self.ca_password.text() != self.ca_password2.text():
            return self._problem(self.tr("The two passwords differ."), self.ca_password2)
        password = self.ca_password.text().encode("utf-8") or None
        self._set_running(True)

        def done(info: Any) -> None:
            self._set_running(False)
            text = self.tr(
                "Team CA \"{name}\" created in {folder}. Give ca-cert.pem to the commission; "
                "keep ca-key.pem offline.\nSHA-256 fingerprint: {fingerprint}\nValid until "
                "{day}.").format(name=info.subject, folder=folder, fingerprint=info.fingerprint,
                                 day=f"{info.not_after:%d.%m.%Y}")
            self.status.setText(text)
            self.issuer_folder.setText(folder)
            self.issuer_password.setText(self.ca_password.text())
            self.ca_password.clear()
            self.ca_password2.clear()
            dialogs.tell(self, dialogs.Kind.INFO, self.tr("Team keys"), text)
            self.ca_created.emit(info)
            self.tabs.setCurrentIndex(1)

        self.storage.submit(lambda ctx: _create_ca(ctx, name, Path(folder), password), done,
                            self._job_failed)

    def issue(self) -> None:
        if self._running:
            return
        ca_dir = self.issuer_folder.text().strip()
        name = self.full_name.text().strip()
        out = self.p12_file.text().strip()
        if not ca_dir:
            return self._problem(self.tr("Choose the team CA's folder."), self.issuer_folder)
        if not name:
            return self._problem(self.tr("Enter the signer's full name."), self.full_name)
        if not out:
            return self._problem(self.tr("Choose where to save the key file."), self.p12_file)
        if not self.p12_password.text():
            return self._problem(self.tr("The signing key needs a password."),
                                 self.p12_password)
        if self.p12_password.text() != self.p12_password2.text():
            return self._problem(self.tr("The two passwords differ."), self.p12_password2)
        password = self.p12_password.text().encode("utf-8")
        ca_password = self.issuer_password.text().encode("utf-8") or None
        out_path = Path(out)
        self._set_running(True)

        def done(info: Any) -> None:
            self._set_running(False)
            text = self.tr(
                "Signing key for {name} saved to {file}.\nSHA-256 fingerprint: {fingerprint}\n"
                "Valid until {day}.").format(name=info.subject, file=out_path,
                                             fingerprint=info.fingerprint,
                                             day=f"{info.not_after:%d.%m.%Y}")
            self.status.setText(text)
            self.p12_password.clear()
            self.p12_password2.clear()
            dialogs.tell(self, dialogs.Kind.INFO, self.tr("Team keys"), text)
            self.signer_issued.emit(info)

        self.storage.submit(
            lambda ctx: _issue(ctx, Path(ca_dir), name, out_path, password, ca_password),
            done, self._job_failed)

    def reject(self) -> None:
        if self._running:
            return  # the key is being written; the dialog closes once it is done
        super().reject()


def export_ca_certificate(parent: QWidget, storage: Worker, data_dir: Path) -> None:
    """Tools > Export CA certificate: copy the team CA's ca-cert.pem for the commission."""
    folder = dialogs.choose_folder(parent, parent.tr("The team CA's folder"))
    if folder is None:
        return
    dest = dialogs.choose_save_file(parent, parent.tr("Save the CA certificate"),
                                    parent.tr("Certificates") + " (*.pem)",
                                    str(Path.home() / "ca-cert.pem"))
    if dest is None:
        return

    def job(_ctx: JobContext) -> Any:
        from app.team_keys import export_ca_certificate as copy

        return copy(folder, dest)

    def done(info: Any) -> None:
        dialogs.tell(parent, dialogs.Kind.INFO, parent.tr("CA certificate exported"), parent.tr(
            "{file}: the certificate of the team CA \"{name}\". Give it to the commission "
            "with the complaint.\nSHA-256 fingerprint: {fingerprint}").format(
                file=dest, name=info.subject, fingerprint=info.fingerprint))

    def failed(exc: BaseException) -> None:
        found = errors.explain(exc, data_dir)
        dialogs.tell(parent, dialogs.Kind.WARNING, found.title, found.text, found.details)

    storage.submit(job, done, failed)
