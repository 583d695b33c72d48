"""The applicant's details (the name complaints are filed in), editable after the first run."""

from __future__ import annotations

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QVBoxLayout,
    QWidget,
)

from app.profile import Applicant, set_applicant
from ui.applicant_form import ApplicantForm
from ui.worker import Worker


class ProfileDialog(QDialog):
    """Emits saved(Applicant) once the storage worker has stored the details."""

    saved = Signal(object)

    def __init__(self, storage: Worker, applicant: Applicant,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._storage = storage
        self.applicant_form = ApplicantForm(applicant)
        self.full_name = self.applicant_form.full_name
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.applicant_form)
        layout.addWidget(self.buttons)
        self.retranslate()
        self.resize(520, self.sizeHint().height())

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Your details"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def applicant(self) -> Applicant:
        return self.applicant_form.applicant()

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
