import json
import re
from importlib import resources

import pytest

from app import taxonomy
from app.taxonomy import LANGS, Term

EXPECTED_CATEGORY_KEYS = [
    "ballot_stuffing",
    "carousel",
    "voting_without_id",
    "vote_buying",
    "coercion",
    "organized_transport",
    "campaigning",
    "secrecy_breach",
    "mobile_box",
    "voter_list",
    "box_sealing",
    "unauthorized_persons",
    "observer_obstruction",
    "counting_procedure",
    "invalid_ballots",
    "protocol_not_posted",
    "protocol_copy_refused",
    "protocol_falsified",
    "control_relations_fail",
    "turnout_inflation",
    "other",
]

ALL_KINDS = {
    "category": taxonomy.categories,
    "severity": taxonomy.severities,
    "status": taxonomy.statuses,
}

CYRILLIC_LABEL = re.compile(r"^[\u0400-\u04FF0-9 ,.()/\-«»№]+$")
KAZAKH_ONLY_LETTERS = set("ӘәҒғҚқҢңӨөҰұҮүҺһІі")


def all_terms() -> list[Term]:
    return [t for f in ALL_KINDS.values() for t in f()]


def test_category_keys_in_design_order() -> None:
    assert [t.key for t in taxonomy.categories()] == EXPECTED_CATEGORY_KEYS
    assert taxonomy.category_keys() == frozenset(EXPECTED_CATEGORY_KEYS)


def test_severity_and_status_keys() -> None:
    assert [t.key for t in taxonomy.severities()] == ["info", "minor", "serious", "critical"]
    assert [t.key for t in taxonomy.statuses()] == [
        "new",
        "verified",
        "complaint_filed",
        "answered",
        "closed",
        "rejected",
    ]
    assert taxonomy.severity_keys() == {"info", "minor", "serious", "critical"}
    assert taxonomy.status_keys() == {
        "new",
        "verified",
        "complaint_filed",
        "answered",
        "closed",
        "rejected",
    }


@pytest.mark.parametrize("kind", list(ALL_KINDS))
def test_keys_unique_and_snake_case(kind: str) -> None:
    keys = [t.key for t in ALL_KINDS[kind]()]
    assert len(keys) == len(set(keys))
    for key in keys:
        assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", key), key


def test_every_term_has_all_labels() -> None:
    for t in all_terms():
        for lang in LANGS:
            text = t.labels[lang]
            assert text.strip(), (t.key, lang)
            assert text == text.strip(), (t.key, lang)


def test_russian_and_kazakh_labels_are_cyrillic() -> None:
    for t in all_terms():
        assert CYRILLIC_LABEL.match(t.labels["ru"]), t.labels["ru"]
        assert not KAZAKH_ONLY_LETTERS & set(t.labels["ru"]), t.labels["ru"]
        kk = t.labels["kk"]
        assert re.search(r"[\u0400-\u04FF]", kk), kk
        assert not re.search(r"[A-Za-z]", kk), kk


def test_kazakh_is_a_translation_not_a_copy() -> None:
    terms = all_terms()
    differing = [t for t in terms if t.labels["kk"] != t.labels["ru"]]
    assert len(differing) >= 0.9 * len(terms)
    # Real Kazakh text uses the letters Russian lacks.
    with_kazakh_letters = [t for t in terms if KAZAKH_ONLY_LETTERS & set(t.labels["kk"])]
    assert len(with_kazakh_letters) >= len(terms) // 2


def test_english_labels_are_ascii() -> None:
    for t in all_terms():
        assert t.labels["en"].isascii(), t.labels["en"]


def test_label_lookup() -> None:
    assert taxonomy.label("category", "ballot_stuffing", "ru") == "Вброс бюллетеней"
    assert taxonomy.label("category", "ballot_stuffing", "en") == "Ballot stuffing"
    assert taxonomy.label("status", "complaint_filed", "kk") == "Шағым берілді"
    assert taxonomy.label("severity", "critical", "en") == "Critical"


def test_label_unknown_key_returns_key() -> None:
    assert taxonomy.label("category", "team_custom_thing", "ru") == "team_custom_thing"
    assert taxonomy.label("status", "", "en") == ""


def test_label_unknown_language_falls_back_to_english() -> None:
    assert taxonomy.label("category", "other", "de") == "Other"
    assert taxonomy.categories()[0].label("uz") == "Ballot stuffing"


def test_term_label_falls_back_when_language_missing() -> None:
    t = Term(key="x", labels={"en": "Thing", "ru": ""})
    assert t.label("ru") == "Thing"
    assert t.label("kk") == "Thing"
    assert Term(key="bare", labels={}).label("en") == "bare"


def test_term_is_immutable_and_hashable() -> None:
    t = taxonomy.categories()[0]
    with pytest.raises(AttributeError):
        t.key = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        t.labels["en"] = "changed"  # type: ignore[index]
    assert {t, t} == {t}
    assert t == Term(key=t.key, labels=dict(t.labels))


def test_returned_lists_are_copies() -> None:
    cats = taxonomy.categories()
    cats.clear()
    assert len(taxonomy.categories()) == len(EXPECTED_CATEGORY_KEYS)


def test_term_lookup() -> None:
    found = taxonomy.term("category", "carousel")
    assert found is not None and found.key == "carousel"
    assert taxonomy.term("category", "nope") is None
    with pytest.raises(ValueError):
        taxonomy.term("colour", "red")  # type: ignore[arg-type]


def test_json_file_documents_its_source() -> None:
    raw = resources.files("app").joinpath("data/taxonomy.json").read_text(encoding="utf-8")
    data = json.loads(raw)
    assert "VoteMonitor" in data["source"]
    assert "ZUBR" in data["source"]
    assert "Citizen Observer" in data["source"]
