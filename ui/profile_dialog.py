"""The applicant's details (the name complaints are filed in), editable after the first run."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.profile import APPLICANT_STATUSES, Applicant, set_applicant
from ui.first_run import status_label
from ui.worker import Worker


class ProfileDialog(QDialog):
    """Emits saved(Applicant) once the storage worker has stored the details."""

    saved = Signal(object)

    def __init__(self, storage: Worker, applicant: Applicant,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._storage = storage
        self.full_name = QLineEdit(applicant.full_name)
        self.status = QComboBox()
        for key in APPLICANT_STATUSES:
            self.status.addItem(key, key)
        self.status.setCurrentIndex(max(0, self.status.findData(applicant.status)))
        self.organization = QLineEdit(applicant.organization)
        self.phone = QLineEdit(applicant.phone)
        self.note = QLabel()
        self.note.setWordWrap(True)
        form = QFormLayout()
        self._labels = [QLabel() for _ in range(4)]
        for label, field in zip(self._labels, (self.full_name, self.status, self.organization,
                                               self.phone), strict=True):
            label.setBuddy(field)
            form.addRow(label, field)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.retranslate()
        self.resize(520, self.sizeHint().height())

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Your details"))
        self.note.setText(self.tr(
            "Complaints are filed in your name. These details go into each complaint; they "
            "stay on this computer."))
        for label, text in zip(self._labels, (
            self.tr("&Full name"), self.tr("&Status"), self.tr("&Organization"),
            self.tr("&Phone"),
        ), strict=True):
            label.setText(text)
        for row in range(self.status.count()):
            self.status.setItemText(row, status_label(self.status.itemData(row)))
        self.full_name.setPlaceholderText(self.tr("Surname, name, patronymic"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def applicant(self) -> Applicant:
        return Applicant(self.full_name.text(), self.status.currentData(),
                         self.organization.text(), self.phone.text())

    def save(self) -> None:
        applicant = self.applicant()
        if not applicant.complete:
            self.full_name.setFocus()
            return
        self.buttons.setEnabled(False)

        def done(stored: Applicant) -> None:
            self.saved.emit(stored)
            self.accept()

        def failed(exc: BaseException) -> None:
            from ui import errors

            self.buttons.setEnabled(True)
            errors.report(exc, self)

        self._storage.submit(lambda ctx: set_applicant(ctx.store, applicant), done, failed)
