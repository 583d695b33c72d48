"""This copy's user: the applicant profile used in complaints and the interface language.

Both are local settings (never synced): another laptop of the team has its own user.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from app.elections import current_election
from app.errors import InvalidInput
from app.store import Store, get_setting, set_setting
from app.sync import SERVER_KEY
from app.taxonomy import LANGS

APPLICANT = "applicant"
INTERFACE_LANGUAGE = "interface_language"

# Statuses an applicant can have under the election law; stored as keys, shown translated.
APPLICANT_STATUSES = ("observer", "proxy", "candidate", "commission_member", "voter")


@dataclass(frozen=True)
class Applicant:
    full_name: str = ""
    status: str = "observer"
    organization: str = ""
    phone: str = ""

    @property
    def complete(self) -> bool:
        return bool(self.full_name.strip())


@dataclass(frozen=True)
class UserSettings:
    """What the app needs at start-up, read in one go."""

    language: str | None
    applicant: Applicant
    has_election: bool
    joined_team: bool  # enrolled with a team server (its election may not have arrived yet)


def _applicant_from(raw: object) -> Applicant:
    if not isinstance(raw, dict):
        return Applicant()
    fields = {k: str(v) for k, v in raw.items() if k in Applicant.__dataclass_fields__}
    return Applicant(**fields)


def get_applicant(store: Store) -> Applicant:
    with store.db.read() as s:
        return _applicant_from(get_setting(s, APPLICANT))


def set_applicant(store: Store, applicant: Applicant) -> Applicant:
    cleaned = Applicant(
        full_name=applicant.full_name.strip(),
        status=applicant.status,
        organization=applicant.organization.strip(),
        phone=applicant.phone.strip(),
    )
    if not cleaned.complete:
        raise InvalidInput("applicant: the full name is needed for complaints")
    if cleaned.status not in APPLICANT_STATUSES:
        raise InvalidInput(f"applicant status: {cleaned.status!r} is not one of "
                           f"{', '.join(APPLICANT_STATUSES)}")
    with store.db.write() as s:
        set_setting(s, APPLICANT, asdict(cleaned))
    return cleaned


def get_language(store: Store) -> str | None:
    with store.db.read() as s:
        lang = get_setting(s, INTERFACE_LANGUAGE)
        return lang if lang in LANGS else None


def set_language(store: Store, lang: str) -> None:
    if lang not in LANGS:
        raise InvalidInput(f"language: {lang!r} is not one of {', '.join(LANGS)}")
    with store.db.write() as s:
        set_setting(s, INTERFACE_LANGUAGE, lang)


def user_settings(store: Store) -> UserSettings:
    with store.db.read() as s:
        lang = get_setting(s, INTERFACE_LANGUAGE)
        return UserSettings(
            language=lang if lang in LANGS else None,
            applicant=_applicant_from(get_setting(s, APPLICANT)),
            has_election=current_election(s) is not None,
            joined_team=get_setting(s, SERVER_KEY) is not None,
        )
