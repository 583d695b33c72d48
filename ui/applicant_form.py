"""The applicant's details form, shared by the first-run wizard and the profile dialog."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QCoreApplication, QEvent
from PySide6.QtWidgets import QComboBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from app.profile import APPLICANT_STATUSES, Applicant

_tr = partial(QCoreApplication.translate, "profile")


def status_label(key: str) -> str:
    return {
        "observer": _tr("Observer"),
        "proxy": _tr("Candidate's proxy"),
        "candidate": _tr("Candidate"),
        "commission_member": _tr("Commission member with an advisory vote"),
        "voter": _tr("Voter"),
    }.get(key, key)


class ApplicantForm(QWidget):
    """A note on what the details are for, then full name, status, organization and phone.
    Retranslates itself when the interface language changes."""

    def __init__(self, applicant: Applicant, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.full_name = QLineEdit()
        self.status = QComboBox()
        for key in APPLICANT_STATUSES:
            self.status.addItem(key, key)
        self.organization = QLineEdit()
        self.phone = QLineEdit()
        self.set_applicant(applicant)
        form = QFormLayout()
        self._labels = [QLabel() for _ in range(4)]
        for label, field in zip(self._labels, (self.full_name, self.status, self.organization,
                                               self.phone), strict=True):
            label.setBuddy(field)
            form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.note)
        layout.addLayout(form)
        self.retranslate()

    def retranslate(self) -> None:
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

    def set_applicant(self, applicant: Applicant) -> None:
        self.full_name.setText(applicant.full_name)
        self.status.setCurrentIndex(max(0, self.status.findData(applicant.status)))
        self.organization.setText(applicant.organization)
        self.phone.setText(applicant.phone)
