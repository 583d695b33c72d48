"""Protocols: country profiles as data, control relations, entering figures, conflicts."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from app.country_profiles import CANDIDATES, get_profile, profile_ids
from app.protocols import check_figures, parse_count
from tests.test_cli import Cli

ROOT = Path(__file__).parent.parent
PHOTOS = Path(__file__).parent / "fixtures" / "photos"
STATIONS = Path(__file__).parent / "fixtures" / "stations"

# 01-010-0001 as the observers' table has it (Belarus 2020): the README's example row.
BY_0001 = {
    "1": 1656, "2": 1329, "3": 1319, "3.1": 252, "3.2": 4, "3.3": 1063,
    "6": 96, "8": 5, "9": 1660, "10": 1, "11": 330,
}
BY_0001_CANDIDATES = {
    "Дмитриев Андрей Владимирович": 21,
    "Канопацкая Анна Анатольевна": 16,
    "Лукашенко Александр Григорьевич": 464,
    "Тихановская Светлана Георгиевна": 701,
    "Черечень Сергей Владимирович": 16,
}


# --- profiles ---------------------------------------------------------------------------------


def test_the_three_profiles_ship_as_data() -> None:
    assert {"kz-presidential", "by-2020-presidential", "generic"} <= set(profile_ids())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "data/profiles/*.json" in pyproject["tool"]["setuptools"]["package-data"]["app"]
    assert any(d.startswith("openpyxl>=") for d in pyproject["project"]["dependencies"])


@pytest.mark.parametrize("pid", ["kz-presidential", "by-2020-presidential", "generic"])
def test_profile_lines_and_relations(pid: str) -> None:
    profile = get_profile(pid)
    assert profile.comment  # says what it rests on, and what was not checked
    for line in profile.lines:
        assert all(line.labels.get(lang) for lang in ("ru", "kk", "en")), line.id
    for rel in profile.relations:
        assert rel.kind in ("hard", "soft") and rel.op in ("=", "<=", ">=")
        assert all(t == CANDIDATES or t in profile.line_ids for t in rel.terms)
        assert all(rel.labels.get(lang) for lang in ("ru", "kk", "en")), rel.id
    assert profile.addressee == "superior_commission"


def test_kz_profile_has_against_all_and_says_it_is_unchecked() -> None:
    kz = get_profile("kz-presidential")
    assert "against_all" in kz.line_ids
    valid = next(r for r in kz.relations if r.id == "valid")
    assert valid.right == (CANDIDATES, "against_all")
    raw = json.loads((ROOT / "app/data/profiles/kz-presidential.json").read_text("utf-8"))
    assert raw["checked"] is False and "NOT checked" in raw["comment"]


def test_generic_profile_has_the_six_design_relations() -> None:
    g = get_profile("generic")
    kinds = {r.id: r.kind for r in g.relations}
    assert kinds == {
        "received": "hard", "found": "hard", "valid": "hard", "stuffing": "hard",
        "issued_list": "soft", "issued_parts": "hard",
    }


def test_unknown_profile_is_a_clear_error() -> None:
    from app.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no such country profile"):
        get_profile("mars-2030")


# --- checks -----------------------------------------------------------------------------------


def by_checks(lines: dict[str, int], candidates: dict[str, int] | None = None) -> dict[str, str]:
    profile = get_profile("by-2020-presidential")
    cands = BY_0001_CANDIDATES if candidates is None else candidates
    return {c.relation: c.status for c in check_figures(profile, lines, cands)}


def test_belarus_01_010_0001_passes_every_relation() -> None:
    profile = get_profile("by-2020-presidential")
    results = {c.relation: c for c in check_figures(profile, BY_0001, BY_0001_CANDIDATES)}
    assert {k: c.status for k, c in results.items()} == dict.fromkeys(results, "ok")
    assert results["received"].formula() == "1660 = 1329 + 1 + 330"
    assert results["votes"].formula() == "1319 = 1218 + 96 + 5"
    assert results["parts"].formula() == "1319 = 252 + 4 + 1063"
    assert results["stuffing"].formula() == "1319 <= 1329"
    assert results["issued_list"].formula() == "1329 <= 1656"
    assert results["issued_list"].kind == "soft" and results["stuffing"].kind == "hard"


@pytest.mark.parametrize(
    ("line", "value", "relation"),
    [
        ("10", 2, "received"),
        ("9", 1600, "received"),
        ("8", 6, "votes"),
        ("6", 95, "votes"),
        ("3.2", 5, "parts"),
        ("1", 1300, "issued_list"),
    ],
)
def test_one_figure_changed_fails_that_relation_only(line: str, value: int, relation: str) -> None:
    statuses = by_checks(BY_0001 | {line: value})
    assert statuses.pop(relation) == "failed"
    assert set(statuses.values()) == {"ok"}


def test_a_candidate_changed_fails_the_votes_relation_only() -> None:
    cands = BY_0001_CANDIDATES | {"Лукашенко Александр Григорьевич": 564}
    statuses = by_checks(BY_0001, cands)
    assert statuses.pop("votes") == "failed" and set(statuses.values()) == {"ok"}


def test_stuffing_signature_more_found_than_issued() -> None:
    profile = get_profile("by-2020-presidential")
    lines = BY_0001 | {"2": 1300, "9": 1631}  # still received = issued + spoiled + unused
    results = {c.relation: c for c in check_figures(profile, lines, BY_0001_CANDIDATES)}
    assert results["stuffing"].status == "failed"
    assert (results["stuffing"].left, results["stuffing"].right) == (1319, 1300)
    assert results["received"].status == "ok"


def test_blank_is_unknown_not_zero() -> None:
    lines = {k: v for k, v in BY_0001.items() if k != "10"}
    profile = get_profile("by-2020-presidential")
    results = {c.relation: c for c in check_figures(profile, lines, BY_0001_CANDIDATES)}
    assert results["received"].status == "unknown"
    assert results["received"].missing == ("10",)
    assert results["received"].left is None and results["received"].right is None
    assert results["received"].formula() == "1660 = 1329 + ? + 330"
    # A missing candidate leaves the candidates' sum unknown, too.
    some = dict(list(BY_0001_CANDIDATES.items())[:4])
    assert by_checks(BY_0001, some)["votes"] == "unknown"
    assert by_checks(BY_0001, {})["votes"] == "unknown"


def test_generic_profile_checks_with_against_all() -> None:
    g = get_profile("generic")
    lines = {
        "voters_on_list": 1000, "ballots_received": 900, "issued_early": 50,
        "issued_premises": 500, "issued_mobile": 30, "ballots_issued": 580,
        "ballots_cancelled": 318, "ballots_spoiled": 2, "found_stationary": 550,
        "found_mobile": 30, "valid": 570, "invalid": 10, "against_all": 20,
    }
    cands = {"A": 300, "B": 250}
    assert {c.status for c in check_figures(g, lines, cands)} == {"ok"}
    stuffed = lines | {"found_stationary": 600, "valid": 620}
    statuses = {c.relation: c.status for c in check_figures(g, stuffed, cands | {"A": 350})}
    assert statuses["stuffing"] == "failed"
    assert statuses["found"] == statuses["valid"] == "ok"


@pytest.mark.parametrize(
    ("text", "value"),
    [("1329", 1329), ("1 329", 1329), ("1\u00a0329", 1329), (" 0 ", 0), ("", None)],
)
def test_parse_count(text: str, value: int | None) -> None:
    assert parse_count(text) == value


@pytest.mark.parametrize(("text", "message"), [("-5", "negative"), ("12a", "not a whole"),
                                               ("1.5", "not a whole")])
def test_parse_count_errors(text: str, message: str) -> None:
    result = parse_count(text)
    assert isinstance(result, str) and message in result


# --- protocol add / check on the command line ------------------------------------------------


@pytest.fixture
def by_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    """A Belarus 2020 election with one station, 01-010-0001."""
    c = Cli(tmp_path / "data", capsys)
    code, _, err = c("election", "create", "Belarus 2020", "--date", "2020-08-09",
                     "--profile", "by-2020-presidential")
    assert code == 0, err
    stations = tmp_path / "st.csv"
    stations.write_text("code,name,region,district,address\n"
                        "01-010-0001,УИК 1,Брест,Брест,ул. 1\n"
                        "01-010-0002,УИК 2,Брест,Брест,ул. 2\n",
                        encoding="utf-8")
    assert c("stations", "import", str(stations))[0] == 0
    return c


def add_args(lines: dict[str, int], source: str = "observer", *extra: str) -> list[str]:
    args = ["protocol", "add", "--station", "01-010-0001", "--source", source]
    for k, v in lines.items():
        args += ["--line", f"{k}={v}"]
    for name, votes in BY_0001_CANDIDATES.items():
        args += ["--candidate", f"{name}={votes}"]
    return args + list(extra)


def test_protocol_add_with_photo_and_check(by_cli: Cli) -> None:
    out = by_cli.json(*add_args(BY_0001), "--photo", str(PHOTOS / "gps_DSCN0010.jpg"),
                      "--entered-by", "Иванова А.")
    assert isinstance(out, dict)
    assert out["lines"] == BY_0001 and out["candidates"] == BY_0001_CANDIDATES
    assert out["entered_by"] == "Иванова А." and out["profile"] == "by-2020-presidential"
    (photo,) = out["photos"]
    assert len(photo["sha256"]) == 64
    assert {c["status"] for c in out["checks"]} == {"ok"}
    code, text, err = by_cli("protocol", "check", "--station", "01-010-0001")
    assert code == 0, err
    assert "1660 = 1329 + 1 + 330" in text and "1319 = 1218 + 96 + 5" in text
    assert "1319 = 252 + 4 + 1063" in text
    # The photo is evidence of the protocol, not of any incident.
    from app.store import Store
    from storage.models import Evidence

    with Store(by_cli.data_dir) as store, store.db.read() as s:
        (ev,) = s.query(Evidence).all()
        assert ev.protocol_id == out["id"] and ev.incident_id is None


def test_protocol_check_failed_hard_relation_exits_1(by_cli: Cli) -> None:
    assert by_cli(*add_args(BY_0001 | {"10": 2}))[0] == 0
    code, text, _ = by_cli("protocol", "check", "--station", "01-010-0001")
    assert code == 1
    assert "FAILED  hard  Received" in text and "1660 = 1329 + 2 + 330" in text
    assert "off by 1" in text
    checks = json.loads(by_cli("protocol", "check", "--station", "01-010-0001", "--json")[1])
    statuses = {c["relation"]: c["status"] for c in checks[0]["checks"]}
    assert statuses == {"received": "failed", "votes": "ok", "parts": "ok", "stuffing": "ok",
                        "issued_list": "ok"}
    received = next(c for c in checks[0]["checks"] if c["relation"] == "received")
    assert received["left"] == 1660 and received["right"] == 1661 and received["kind"] == "hard"


def test_blank_line_value_is_unknown(by_cli: Cli) -> None:
    out = by_cli.json(*add_args(BY_0001), "--line", "5=")
    assert isinstance(out, dict) and "5" not in out["lines"]


def test_second_different_entry_is_a_conflict_unless_replace(by_cli: Cli) -> None:
    assert by_cli(*add_args(BY_0001))[0] == 0
    code, _, err = by_cli(*add_args(BY_0001 | {"3.2": 5}))
    assert code == 1
    assert "already has a different observer protocol" in err
    assert "line 3.2: stored 4, new 5" in err and "--replace" in err
    assert err.count("\n") == 1
    stored = json.loads(by_cli("protocol", "check", "--station", "01-010-0001", "--json")[1])
    assert stored[0]["lines"]["3.2"] == 4  # nothing was overwritten
    # The same figures again are no conflict; another source is another protocol.
    assert by_cli(*add_args(BY_0001))[0] == 0
    assert by_cli(*add_args(BY_0001 | {"3.2": 5}, "official"))[0] == 0
    out = by_cli.json(*add_args(BY_0001 | {"3.2": 5}), "--replace")
    assert isinstance(out, dict) and out["lines"]["3.2"] == 5
    both = json.loads(by_cli("protocol", "check", "--station", "01-010-0001", "--json")[1])
    assert [p["source"] for p in both] == ["observer", "official"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--line", "42=7"], "line '42' is not in profile by-2020-presidential"),
        (["--line", "9=abc"], "line 9: 'abc' is not a whole number"),
        (["--line", "9=-1"], "negative"),
        (["--line", "9"], "write it as NAME=VALUE"),
        (["--candidate", "Иванов=5"], "not on the ballot"),
        (["--photo", str(PHOTOS / "corrupted.jpg")], "no protocol was saved"),
    ],
)
def test_protocol_add_input_errors(by_cli: Cli, extra: list[str], message: str) -> None:
    code, _, err = by_cli(*add_args({"9": 1660}), *extra)
    assert code == 1 and message in err, err
    assert "Traceback" not in err
    code, _, err = by_cli("protocol", "check", "--station", "01-010-0001")
    assert code == 1 and "no protocol entered yet" in err


def test_protocol_add_unknown_station(by_cli: Cli) -> None:
    code, _, err = by_cli("protocol", "add", "--station", "99-999", "--source", "observer",
                          "--line", "9=1")
    assert code == 1 and "station '99-999': no such station" in err


def test_protocol_add_bad_source_is_usage_error(by_cli: Cli) -> None:
    with pytest.raises(SystemExit) as exc:
        by_cli("protocol", "add", "--station", "01-010-0001", "--source", "rumour")
    assert exc.value.code == 2


def test_kz_election_uses_the_kz_profile(cli: Cli) -> None:
    out = cli.json("protocol", "add", "--station", "75-003", "--source", "posted",
                   "--line", "valid=570", "--line", "against_all=20",
                   "--candidate", "Кандидат А=300", "--candidate", "Кандидат Б=250")
    assert isinstance(out, dict) and out["profile"] == "kz-presidential"
    valid = next(c for c in out["checks"] if c["relation"] == "valid")
    assert valid["status"] == "ok" and valid["left"] == valid["right"] == 570
    assert {c["status"] for c in out["checks"] if c["relation"] != "valid"} == {"unknown"}


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    c = Cli(tmp_path / "data", capsys)
    assert c("stations", "import", str(STATIONS / "almaty.csv"))[0] == 0
    return c


# --- forensics: stations with incidents or failed checks are marked --------------------------


def test_forensics_points_mark_incidents_and_failed_checks(tmp_path: Path) -> None:
    from datetime import datetime, timedelta, timezone

    from app.elections import create_election
    from app.forensics import station_points
    from app.incidents import IncidentDraft, add_incident
    from app.results_import import import_results
    from app.store import Store

    with Store(tmp_path / "data") as store:
        create_election(store, "Belarus 2020", "2020-08-09", profile="by-2020-presidential")
        real = ROOT / "tests/fixtures/protocols/belarus-2020-observer-protocols.csv"
        import_results(store, real, "observer", create_stations=True)
        minsk = timezone(timedelta(hours=3))
        for code in ("01-010-0021", "01-010-0004"):
            add_incident(store, IncidentDraft(code, "carousel", datetime(2020, 8, 9, 15,
                                                                         tzinfo=minsk), "x"))
        data = station_points(store, "observer")
    points = {p.code: p for p in data.points}
    # 01-010-0021 in the real data: 782 = 240 + 94 + 782 ("parts") and 782 = 1081 + 34 + 1
    # ("votes") both fail; and it has an incident, too.
    assert points["01-010-0021"].failed == ("votes", "parts")
    assert points["01-010-0021"].incidents == 1
    assert points["01-010-0004"].incidents == 1 and points["01-010-0004"].marked
    assert not points["01-010-0001"].marked  # every relation holds, no incident
    assert data.with_incidents == 2
    assert 40 <= data.with_failed_checks < len(data.points)
    assert all(p.marked == bool(p.incidents or p.failed) for p in data.points)
