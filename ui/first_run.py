"""First run: interface language, the applicant's profile, and an election to work on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QDate, QEvent, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QDateEdit,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from app.profile import Applicant
from app.taxonomy import LANGS
from ui import dialogs
from ui.applicant_form import ApplicantForm
from ui.i18n import NATIVE_NAMES, Language


@dataclass(frozen=True)
class FirstRunChoice:
    """What the user chose; the application stores it through the worker."""

    language: str
    applicant: Applicant
    demo: bool
    join: bool  # the team's server brings the election: connect to it first
    election_name: str
    election_date: str
    stations_csv: Path | None


class _Page(QWizardPage):
    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def retranslate(self) -> None:
        raise NotImplementedError


class LanguagePage(_Page):
    def __init__(self, language: Language) -> None:
        super().__init__()
        self._language = language
        self.buttons = QButtonGroup(self)
        self.intro = QLabel()
        self.intro.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.intro)
        for lang in LANGS:
            button = QRadioButton(NATIVE_NAMES[lang])
            button.setChecked(lang == language.current)
            button.toggled.connect(lambda on, lang=lang: on and self._language.switch(lang))
            self.buttons.addButton(button)
            layout.addWidget(button)
            setattr(self, f"button_{lang}", button)
        layout.addStretch(1)
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("Welcome to Kuä"))
        self.intro.setText(self.tr(
            "Kuä keeps the evidence of election observers on this computer: incidents, photos "
            "and protocols, with or without a network. Choose the interface language (you can "
            "change it later in the Language menu)."))


class ProfilePage(_Page):
    def __init__(self, applicant: Applicant) -> None:
        super().__init__()
        self.applicant_form = ApplicantForm(applicant)
        self.full_name = self.applicant_form.full_name
        self.status = self.applicant_form.status
        self.organization = self.applicant_form.organization
        self.phone = self.applicant_form.phone
        self.phone.setPlaceholderText("+7 7XX XXX XX XX")
        self.registerField("full_name*", self.full_name)
        layout = QVBoxLayout(self)
        layout.addWidget(self.applicant_form)
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("Your details"))

    def applicant(self) -> Applicant:
        return self.applicant_form.applicant()


class ElectionPage(_Page):
    def __init__(self) -> None:
        super().__init__()
        self.demo = QRadioButton()
        self.create = QRadioButton()
        self.create.setChecked(True)
        self.join = QRadioButton()
        group = QButtonGroup(self)
        for button in (self.create, self.join, self.demo):
            group.addButton(button)
        self.name = QLineEdit()
        self.day = QDateEdit(QDate.currentDate())
        self.day.setCalendarPopup(True)
        self.day.setDisplayFormat("dd.MM.yyyy")
        self.csv = QLineEdit()
        self.browse = QPushButton()
        self.browse.clicked.connect(self._browse)
        csv_row = QHBoxLayout()
        csv_row.addWidget(self.csv, 1)
        csv_row.addWidget(self.browse)
        self.details = QWidget()
        self.form = QFormLayout(self.details)
        self._labels = [QLabel() for _ in range(3)]
        self.form.addRow(self._labels[0], self.name)
        self.form.addRow(self._labels[1], self.day)
        self.form.addRow(self._labels[2], csv_row)
        for label, field in zip(self._labels, (self.name, self.day, self.csv), strict=True):
            label.setBuddy(field)
        self.create.toggled.connect(self.details.setEnabled)
        self.create.toggled.connect(self.completeChanged)
        self.name.textChanged.connect(self.completeChanged)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.create)
        layout.addWidget(self.details)
        layout.addWidget(self.join)
        layout.addWidget(self.demo)
        layout.addWidget(self.note)
        layout.addStretch(1)
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("Election"))
        self.create.setText(self.tr("&Create an election"))
        self.join.setText(self.tr("&Join my team's server (the election comes from it)"))
        self.demo.setText(self.tr("Load the &demo election (to try the app)"))
        for label, text in zip(self._labels, (
            self.tr("&Name"), self.tr("&Election day"), self.tr("Station &list (CSV)"),
        ), strict=True):
            label.setText(text)
        self.name.setPlaceholderText(self.tr("e.g. Presidential election 2029"))
        self.csv.setPlaceholderText(self.tr("Optional: can be imported later"))
        self.browse.setText(self.tr("&Browse…"))
        self.note.setText(self.tr(
            "The station list is a CSV file with the columns code, name, region, district, "
            "address (as published by the election commission)."))

    def _browse(self) -> None:
        path = dialogs.choose_file(self, self.tr("Station list"),
                                   self.tr("Station lists") + " (*.csv *.txt)")
        if path is not None:
            self.csv.setText(str(path))

    def isComplete(self) -> bool:
        return not self.create.isChecked() or bool(self.name.text().strip())

    def validatePage(self) -> bool:
        csv = self.csv.text().strip()
        if self.create.isChecked() and csv and not Path(csv).is_file():
            dialogs.tell(self, dialogs.Kind.WARNING, self.tr("Station list"),
                         self.tr("There is no file {path}.").format(path=csv))
            return False
        return True


class FirstRunWizard(QWizard):
    """Emits chosen with the user's choices when finished."""

    chosen = Signal(object)  # FirstRunChoice

    def __init__(self, language: Language, applicant: Applicant,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.language_page = LanguagePage(language)
        self.profile_page = ProfilePage(applicant)
        self.election_page = ElectionPage()
        self._language = language
        for page in (self.language_page, self.profile_page, self.election_page):
            self.addPage(page)
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.resize(640, 460)
        self.accepted.connect(lambda: self.chosen.emit(self.choice()))
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(self.tr("Kuä: first start"))

    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()
        super().changeEvent(event)

    def choice(self) -> FirstRunChoice:
        page = self.election_page
        csv = page.csv.text().strip()
        return FirstRunChoice(
            language=self._language.current,
            applicant=self.profile_page.applicant(),
            demo=page.demo.isChecked(),
            join=page.join.isChecked(),
            election_name=page.name.text().strip(),
            election_date=page.day.date().toPython().isoformat(),  # type: ignore[union-attr]
            stations_csv=Path(csv) if csv and page.create.isChecked() else None,
        )

