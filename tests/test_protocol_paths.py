"""Protocol paths: an incident made from a discrepancy, protocol tables computed once
per station, a results import beside another election, the two conflict hints, a protocol
entered without photos, and the CLI's choices named by the modules that own them."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from app.elections import create_election
from app.errors import InvalidInput, NotFound
from app.protocols import ProtocolDraft, add_protocol, add_protocol_with_photos
from app.store import Store
from tests.test_protocols import BY_0001, BY_0001_CANDIDATES

PHOTOS = Path(__file__).parent / "fixtures" / "photos"
CODE = "01-010-0001"
WHEN = datetime(2020, 8, 9, 21, 30, tzinfo=timezone(timedelta(hours=3)))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """Belarus 2020: station 01-010-0001 with the observer's copy (and its photo) and an official
    result with 200 votes moved between two candidates; 01-010-0002 with the same figures from
    both; 01-010-0003 with the observer's copy only."""
    st = Store(tmp_path / "data")
    create_election(st, "Belarus 2020", "2020-08-09", profile="by-2020-presidential")
    csv_path = tmp_path / "stations.csv"
    csv_path.write_text(
        "code,name,region,district,address\n"
        + "".join(f"01-010-000{n},School {n},Minsk,Central,Street {n}\n" for n in (1, 2, 3)),
        encoding="utf-8",
    )
    from app.elections import import_stations

    import_stations(st, csv_path)
    add_protocol_with_photos(
        st, ProtocolDraft(CODE, "observer", BY_0001, BY_0001_CANDIDATES),
        [PHOTOS / "gps_DSCN0010.jpg"],
    )
    official = dict(BY_0001_CANDIDATES)
    official["Лукашенко Александр Григорьевич"] = 664
    official["Тихановская Светлана Георгиевна"] = 501
    add_protocol(st, ProtocolDraft(CODE, "official", BY_0001, official))
    for source in ("observer", "official"):
        add_protocol(st, ProtocolDraft("01-010-0002", source, BY_0001, BY_0001_CANDIDATES))
    add_protocol(st, ProtocolDraft("01-010-0003", "observer", BY_0001, BY_0001_CANDIDATES))
    yield st
    st.close()


def _incident_count(store: Store) -> int:
    from app.incidents import count_incidents

    return count_incidents(store)


# --- incident_from_discrepancy ----------------------------------------------------------------


def test_incident_from_discrepancy_is_the_same_incident(store: Store) -> None:
    from app.discrepancies import incident_from_discrepancy
    from app.incidents import get_incident

    inc = incident_from_discrepancy(store, f" {CODE} ", "observer", "en", "  Ann ", WHEN)
    assert inc.to_json() | {"id": None, "evidence": None} == {
        "id": None, "station": CODE, "station_name": "School 1",
        "category": "protocol_falsified", "severity": "serious", "status": "new",
        "observed_at": "2020-08-09T21:30:00+03:00",
        "text": (
            "The protocol of station 01-010-0001 (observer's copy) differs from the official "
            "result:\n"
            "- line Лукашенко Александр Григорьевич: 464 in the copy, 664 in the official "
            "result (+200)\n"
            "- line Тихановская Светлана Георгиевна: 701 in the copy, 501 in the official "
            "result (-200)"
        ),
        "witnesses": [], "reporter": "  Ann ",  # as given: this path never stripped it
        "legal_refs": None, "deleted": False, "evidence": None,
    }
    (ev,) = inc.evidence
    assert ev.original_name == "gps_DSCN0010.jpg" and ev.incident_id == inc.id
    assert get_incident(store, inc.id) == inc
    ru = incident_from_discrepancy(store, CODE, "observer", "ru", None, WHEN)
    assert ru.description.startswith("Протокол участка 01-010-0001 (копия наблюдателя)")
    assert ru.reporter is None


@pytest.mark.parametrize("code, source", [
    ("01-010-0002", "observer"),  # the same figures
    ("01-010-0003", "observer"),  # no official result
    ("01-010-0001", "posted"),  # no posted copy
    ("99-999", "observer"),  # no such station
])
def test_no_difference_is_not_found_and_logs_nothing(
    store: Store, code: str, source: str
) -> None:
    from app.discrepancies import incident_from_discrepancy

    with pytest.raises(NotFound) as caught:
        incident_from_discrepancy(store, code, source)
    assert str(caught.value) == (
        f"station {code}: its {source} protocol does not differ from the official result "
        "(or one of them is missing)"
    )
    assert _incident_count(store) == 0


def test_incident_from_discrepancy_refuses_the_official_source(store: Store) -> None:
    from app.discrepancies import incident_from_discrepancy

    with pytest.raises(InvalidInput, match="compare observer or posted with official"):
        incident_from_discrepancy(store, CODE, "official")


# --- protocol tables --------------------------------------------------------------------------


def test_protocol_views_computed_once_per_station(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import complaints
    from app.discrepancies import incident_from_discrepancy
    from app.incidents import IncidentDraft, add_incident, get_incident

    finding = incident_from_discrepancy(store, CODE, "observer", "en")
    other = add_incident(store, IncidentDraft(CODE, "carousel", WHEN, "A carousel"))
    again = incident_from_discrepancy(store, CODE, "observer", "ru")
    incidents = [get_incident(store, i.id) for i in (finding, other, again)]
    before = complaints.protocol_tables(store, incidents, "en")
    calls: list[str] = []
    real = complaints.protocol_views

    def counted(session: Any, st: Any, lang: str = "en") -> Any:
        calls.append(st.code)
        return real(session, st, lang)

    monkeypatch.setattr(complaints, "protocol_views", counted)
    assert complaints.protocol_tables(store, incidents, "en") == before
    assert calls == [CODE]
    assert set(before) == {finding.id, again.id}


# --- results import ---------------------------------------------------------------------------


def test_results_import_ignores_another_elections_protocols(
    store: Store, tmp_path: Path
) -> None:
    from app.protocols import station_protocols
    from app.results_import import ResultsFileError, import_results

    header = "Код комиссии," + ",".join([*BY_0001, *BY_0001_CANDIDATES])
    figures = [*BY_0001.values(), *BY_0001_CANDIDATES.values()]
    path = tmp_path / "observer.csv"
    path.write_text(f"{header}\n{CODE}," + ",".join(str(v + 1) for v in figures) + "\n",
                    encoding="utf-8")
    create_election(store, "Belarus 2025", "2025-01-26", profile="by-2020-presidential")
    r = import_results(store, path, "observer", create_stations=True)
    assert (r.created, r.replaced, r.unchanged, r.stations_created) == (1, 0, 0, 1)
    (view,) = station_protocols(store, CODE)
    assert view.lines["1"] == BY_0001["1"] + 1
    again = import_results(store, path, "observer")
    assert (again.created, again.unchanged) == (0, 1)
    path.write_text(f"{header}\n{CODE}," + ",".join(str(v) for v in figures) + "\n",
                    encoding="utf-8")
    with pytest.raises(ResultsFileError) as caught:
        import_results(store, path, "observer")
    assert caught.value.errors == [
        "observer.csv line 2: station 01-010-0001 already has a different observer protocol "
        "(line 1: stored 1657, new 1656; line 10: stored 2, new 1; line 11: stored 331, new 330; "
        "line 2: stored 1330, new 1329; line 3: stored 1320, new 1319; and 11 more); nothing was "
        "changed: give --replace to replace it"
    ]


def test_entered_protocol_conflict_says_use_replace(store: Store) -> None:
    from app.protocols import ProtocolConflict

    with pytest.raises(ProtocolConflict) as caught:
        add_protocol(store, ProtocolDraft(CODE, "observer", {"1": 1}, {}, "Bob"))
    assert str(caught.value).endswith(
        "(line 1: stored 1656, new 1; line 10: stored 1, new blank; line 11: stored 330, new "
        "blank; line 2: stored 1329, new blank; line 3: stored 1319, new blank; and 11 more); "
        "nothing was changed: use --replace to replace it"
    )


# --- protocols without photos -----------------------------------------------------------------


def test_protocol_with_no_photos_is_add_protocol(store: Store) -> None:
    from app.protocols import get_protocol

    view = add_protocol_with_photos(
        store, ProtocolDraft("01-010-0003", "posted", {"1": 5, "2": None}, {}, " Bob "), []
    )
    assert view == get_protocol(store, "01-010-0003", "posted")
    assert view.entered_by == "Bob" and view.photos == () and view.lines == {"1": 5}
    again = add_protocol_with_photos(
        store, ProtocolDraft("01-010-0003", "posted", {"1": 5}, {}, "Bob"), []
    )
    assert again == view  # unchanged
    with pytest.raises(InvalidInput, match="is not in profile"):
        add_protocol_with_photos(store, ProtocolDraft("01-010-0003", "posted", {"x": 1}), [])


# --- the CLI's choices ------------------------------------------------------------------------


def _choices(parser: argparse.ArgumentParser, *path: str) -> dict[str, Any]:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {a.dest: a.choices for a in parser._actions if a.choices is not None}


def test_cli_choices_are_the_modules_constants() -> None:
    from app.cli import build_parser
    from app.discrepancies import COPIES
    from app.protocols import SOURCES
    from app.tables import TABLES

    p = build_parser()
    assert tuple(_choices(p, "protocol", "add")["source"]) == SOURCES
    assert tuple(_choices(p, "protocol", "check")["source"]) == SOURCES
    assert tuple(_choices(p, "results", "import")["source"]) == SOURCES
    assert tuple(_choices(p, "discrepancies")["source"]) == COPIES
    assert tuple(_choices(p, "discrepancy", "incident")["source"]) == COPIES
    assert tuple(_choices(p, "export", "table")["table"]) == TABLES
