"""Results import (CSV/XLSX), discrepancies between sources, incidents from them, tables."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest

from tests.test_cli import Cli
from tests.test_protocols import BY_0001, BY_0001_CANDIDATES

FIXTURES = Path(__file__).parent / "fixtures"
BELARUS = FIXTURES / "protocols" / "belarus-2020-observer-protocols.csv"
PHOTOS = FIXTURES / "photos"


@pytest.fixture
def by_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    c = Cli(tmp_path / "data", capsys)
    code, _, err = c("election", "create", "Belarus 2020", "--date", "2020-08-09",
                     "--profile", "by-2020-presidential")
    assert code == 0, err
    return c


def import_real(cli: Cli, source: str = "observer", path: Path = BELARUS) -> dict[str, object]:
    out = cli.json("results", "import", str(path), "--source", source, "--create-stations")
    assert isinstance(out, dict)
    return out


def test_real_belarus_file_imports_as_it_is(by_cli: Cli) -> None:
    out = import_real(by_cli)
    assert out["profile"] == "by-2020-presidential"
    # 677 rows; 04-112-0032 appears twice with identical figures: imported once, with a notice.
    assert out["rows"] == out["created"] == out["stations_created"] == 676
    (notice,) = out["notices"]  # type: ignore[misc]
    assert "line 485 repeats line 484 exactly (station 04-112-0032)" in notice
    assert len(out["candidates"]) == 5  # type: ignore[arg-type]
    checks = {c["relation"]: c for c in out["checks"]}  # type: ignore[attr-defined]
    # Blanks are unknown: most rows lack lines 9-11, so "received" is mostly unknown.
    assert (checks["received"]["ok"], checks["received"]["failed"]) == (149, 24)
    assert checks["received"]["unknown"] == 503
    # Real rows that break a relation are reported; complete rows that hold pass.
    assert (checks["votes"]["ok"], checks["votes"]["failed"]) == (232, 17)
    assert (checks["parts"]["ok"], checks["parts"]["failed"]) == (616, 40)
    assert "01-010-0021" in checks["parts"]["failed_stations"]  # 782 = 240 + 94 + 782
    assert "01-010-0001" not in {s for c in checks.values() for s in c["failed_stations"]}
    assert checks["stuffing"]["failed"] == 6 and checks["issued_list"]["failed"] == 3
    assert checks["issued_list"]["kind"] == "soft"

    code, text, _ = by_cli("protocol", "check", "--station", "01-010-0001")
    assert code == 0
    for formula in ("1660 = 1329 + 1 + 330", "1319 = 1218 + 96 + 5", "1319 = 252 + 4 + 1063"):
        assert formula in text
    stored = json.loads(by_cli("protocol", "check", "--station", "01-010-0001", "--json")[1])
    assert stored[0]["lines"] == BY_0001 and stored[0]["candidates"] == BY_0001_CANDIDATES
    # A row with blanks: those lines are absent (unknown), not zero.
    partial = json.loads(by_cli("protocol", "check", "--station", "01-010-0002", "--json")[1])
    assert "2" not in partial[0]["lines"]
    assert {c["relation"]: c["status"] for c in partial[0]["checks"]}["received"] == "unknown"


def test_reimport_is_unchanged_and_a_changed_figure_is_a_conflict(
    by_cli: Cli, tmp_path: Path
) -> None:
    import_real(by_cli)
    again = import_real(by_cli)
    assert again["unchanged"] == 676 and again["created"] == 0
    changed = tmp_path / "changed.csv"
    text = BELARUS.read_text(encoding="utf-8")
    changed.write_text(text.replace("01-010-0001,1656,1329,", "01-010-0001,1656,1330,"), "utf-8")
    code, _, err = by_cli("results", "import", str(changed), "--source", "observer")
    assert code == 1
    assert "changed.csv line 2: station 01-010-0001 already has a different observer" in err
    assert "line 2: stored 1329, new 1330" in err
    out = by_cli.json("results", "import", str(changed), "--source", "observer", "--replace")
    assert out["replaced"] == 1 and out["unchanged"] == 675  # type: ignore[index]


def write(tmp_path: Path, text: str, name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


HEADER = "Код комиссии,9,2,10,11\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("station_no,9,2,10,11\n01-010-0001,1,1,0,0\n",
         "r.csv line 1: unknown column(s) 'station_no'"),
        ("Код комиссии,9,2,10,11,42. Something\nA,1,1,0,0,1\n",
         "unknown column(s) '42. Something'"),
        ("Код комиссии,9,9. Ballots received\nA,1,1\n", "columns '9' and '9. Ballots received' "
         "both mean line 9"),
        (HEADER + "01-010-0001,1660,1329,1,330\n01-010-0002,12x,1,0,0\n",
         "r.csv line 3, column '9': '12x' is not a whole number"),
        (HEADER + "01-010-0001,1660,1329,1,330\n01-010-0002,1,1,-1,0\n",
         "r.csv line 3, column '10': '-1' is negative"),
        (HEADER + "01-010-0001,1660,1329,1,330\n01-010-0001,1660,1329,1,331\n",
         "r.csv line 3, column 'Код комиссии': duplicate station '01-010-0001', already on "
         "line 2 with other figures"),
        (HEADER + "01-010-0001,1660,1329,1,330\n,1,1,0,0\n", "line 3, column 'Код комиссии': "
         "the station code is empty"),
        (HEADER, "has a header line but no rows"),
        ("9,2\n1,1\n", "no station code column"),
    ],
)
def test_a_bad_file_imports_nothing(by_cli: Cli, tmp_path: Path, text: str, message: str) -> None:
    code, _, err = by_cli("results", "import", str(write(tmp_path, text)), "--source", "official",
                          "--create-stations")
    assert code == 1 and message in err, err
    assert "Traceback" not in err
    code, out, _ = by_cli("stations", "list", "--json")
    assert json.loads(out) == []  # not even the good rows' stations


def test_missing_station_without_create_stations(by_cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "01-010-0001,1660,1329,1,330\n")
    code, _, err = by_cli("results", "import", str(path), "--source", "official")
    assert code == 1
    assert ("r.csv line 2, column 'Код комиссии': station '01-010-0001' is not in the station "
            "list") in err and "--create-stations" in err


def test_header_by_label_any_case_and_semicolons(by_cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "CODE;RECEIVED BY THE COMMISSION;9. Ballots Received by the commission"
                 "\nA;1;1\n")
    code, _, err = by_cli("results", "import", str(path), "--source", "official",
                          "--create-stations")
    assert code == 1 and "unknown column(s) 'RECEIVED BY THE COMMISSION'" in err
    path = write(tmp_path, "CODE;9. BALLOTS RECEIVED BY THE COMMISSION;2. voters who received "
                 "ballots;10;11\nA;1 660;1329;1;330\n")
    out = by_cli.json("results", "import", str(path), "--source", "official", "--create-stations")
    assert out["created"] == 1  # type: ignore[index]
    checks = json.loads(by_cli("protocol", "check", "--station", "A", "--json")[1])
    assert checks[0]["lines"] == {"9": 1660, "2": 1329, "10": 1, "11": 330}


def test_xlsx_import(by_cli: Cli, tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    rows = list(csv.reader(io.StringIO(BELARUS.read_text(encoding="utf-8"))))
    for row in rows[:4]:
        ws.append([int(v) if v.isdigit() else (v or None) for v in row])
    path = tmp_path / "results.xlsx"
    wb.save(path)
    out = by_cli.json("results", "import", str(path), "--source", "posted", "--create-stations")
    assert out["created"] == 3  # type: ignore[index]
    stored = json.loads(by_cli("protocol", "check", "--station", "01-010-0001", "--json")[1])
    assert stored[0]["lines"] == BY_0001 and stored[0]["source"] == "posted"
    ws.append(["01-010-0099", "many"])
    wb.save(path)
    code, _, err = by_cli("results", "import", str(path), "--source", "official",
                          "--create-stations")
    assert code == 1 and "results.xlsx line 5, column " in err and "'many' is not a whole" in err


def test_not_a_workbook(by_cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"PK\x03\x04 not really")
    code, _, err = by_cli("results", "import", str(path), "--source", "official")
    assert code == 1 and "x.xlsx: not a readable .xlsx workbook" in err


# --- discrepancies ----------------------------------------------------------------------------


def official_copy(tmp_path: Path) -> Path:
    """The observers' file as an "official" result with three stations' figures changed."""
    text = BELARUS.read_text(encoding="utf-8")
    text = text.replace("01-010-0001,1656,1329,1319,252,4,1063,21,16,464,701",
                        "01-010-0001,1656,1329,1319,252,4,1063,21,16,664,501")
    text = text.replace("01-010-0004,1805,1717,", "01-010-0004,1805,1727,")
    text = text.replace("01-010-0005,2270,2122,2122,863,23,1236,42,21,1596",
                        "01-010-0005,2270,2122,2122,863,23,1236,42,21,1597")
    return write(tmp_path, text, "official.csv")


def test_discrepancies_sorted_by_size_and_incident(by_cli: Cli, tmp_path: Path) -> None:
    import_real(by_cli)
    import_real(by_cli, "official", official_copy(tmp_path))
    found = by_cli.json("discrepancies")
    assert isinstance(found, list)
    assert [(d["station"], d["size"]) for d in found] == [
        ("01-010-0001", 200), ("01-010-0004", 10), ("01-010-0005", 1)
    ]
    diffs = {x["line"]: (x["copy"], x["official"]) for x in found[0]["differences"]}
    assert diffs == {"Лукашенко Александр Григорьевич": (464, 664),
                     "Тихановская Светлана Георгиевна": (701, 501)}
    by_station = [d["station"] for d in by_cli.json("discrepancies", "--sort", "station")]
    assert by_station == ["01-010-0001", "01-010-0004", "01-010-0005"]
    code, text, _ = by_cli("discrepancies", "--limit", "1")
    assert code == 0 and "01-010-0001" in text and "01-010-0004" not in text

    # A protocol photo on the observer's copy goes with the incident made from the finding.
    args = ["protocol", "add", "--station", "01-010-0001", "--source", "observer",
            "--photo", str(PHOTOS / "gps_DSCN0010.jpg")]
    for k, v in BY_0001.items():
        args += ["--line", f"{k}={v}"]
    for name, votes in BY_0001_CANDIDATES.items():
        args += ["--candidate", f"{name}={votes}"]
    assert by_cli(*args)[0] == 0  # same figures: no conflict, the photo is attached
    inc = by_cli.json("discrepancy", "incident", "--station", "01-010-0001", "--lang", "en")
    assert isinstance(inc, dict)
    assert inc["category"] == "protocol_falsified" and inc["station"] == "01-010-0001"
    assert "Лукашенко Александр Григорьевич: 464 in the copy, 664 in the official" in inc["text"]
    (ev,) = inc["evidence"]
    assert ev["file"] == "gps_DSCN0010.jpg" and len(ev["sha256"]) == 64
    blobs = [p for p in (by_cli.data_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 1  # the same stored file, not a copy
    code, _, err = by_cli("discrepancy", "incident", "--station", "01-010-0002")
    assert code == 1 and "does not differ" in err


def test_blank_on_one_side_is_no_discrepancy(by_cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "A,1660,1329,,330\n")
    by_cli.json("results", "import", str(path), "--source", "observer", "--create-stations")
    path = write(tmp_path, HEADER + "A,1660,1329,1,\n")
    by_cli.json("results", "import", str(path), "--source", "official")
    assert by_cli.json("discrepancies") == []


# --- tables -----------------------------------------------------------------------------------


def test_export_tables_csv_and_xlsx(by_cli: Cli, tmp_path: Path) -> None:
    import_real(by_cli)
    import_real(by_cli, "official", official_copy(tmp_path))
    assert by_cli("discrepancy", "incident", "--station", "01-010-0004")[0] == 0

    out = tmp_path / "protocols.csv"
    assert by_cli("export", "table", "protocols", "--out", str(out))[0] == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 2 * 676
    first = next(r for r in rows if r["station"] == "01-010-0001" and r["source"] == "observer")
    assert first["9"] == "1660" and first["5"] == "" and first["failed_relations"] == ""
    assert first["Лукашенко Александр Григорьевич"] == "464"

    res = by_cli.json("export", "table", "discrepancies", "--out", str(tmp_path / "d.xlsx"))
    assert res == {"table": "discrepancies", "file": str(tmp_path / "d.xlsx"), "rows": 4}
    ws = openpyxl.load_workbook(tmp_path / "d.xlsx").worksheets[0]
    values = list(ws.iter_rows(values_only=True))
    assert values[0] == ("station", "station_name", "source", "line", "copy", "official",
                         "difference")
    assert values[1][:3] == ("01-010-0001", "01-010-0001", "observer")

    inc = tmp_path / "incidents.csv"
    assert by_cli("export", "table", "incidents", "--out", str(inc))[0] == 0
    rows = list(csv.DictReader(io.StringIO(inc.read_text(encoding="utf-8-sig"))))
    assert [r["category"] for r in rows] == ["protocol_falsified"]
    assert rows[0]["text"].startswith("'- ") is False  # text is not mistaken for a formula

    code, _, err = by_cli("export", "table", "incidents", "--out", str(tmp_path / "x.txt"))
    assert code == 1 and "must end in .csv or .xlsx" in err


def test_formula_like_text_is_quoted(tmp_path: Path) -> None:
    from app.tables import Table, write_table

    write_table(Table(("a", "b"), [("=HYPERLINK(1)", 5)]), tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "t.xlsx").worksheets[0]
    assert list(ws.iter_rows(values_only=True))[1] == ("'=HYPERLINK(1)", 5)


def test_same_figures_in_another_column_order_are_no_discrepancy(
    by_cli: Cli, tmp_path: Path
) -> None:
    path = write(tmp_path, "code,11,10,9,2\nA,330,1,1660,1329\n")
    by_cli.json("results", "import", str(path), "--source", "observer", "--create-stations")
    path = write(tmp_path, HEADER + "A,1660,1329,1,330\n")
    by_cli.json("results", "import", str(path), "--source", "official")
    assert by_cli.json("discrepancies") == []
    path = write(tmp_path, HEADER + "A,1660,1328,2,330\n")
    by_cli.json("results", "import", str(path), "--source", "official", "--replace")
    (found,) = by_cli.json("discrepancies")  # type: ignore[misc]
    assert [(x["line"], x["difference"]) for x in found["differences"]] == [("2", -1), ("10", 1)]
