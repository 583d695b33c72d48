"""The command line as scripts and the later issues use it: output, JSON and exit codes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main

ROOT = Path(__file__).parent.parent
PHOTOS = Path(__file__).parent / "fixtures" / "photos"
STATIONS = Path(__file__).parent / "fixtures" / "stations"


class Cli:
    def __init__(self, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.data_dir = data_dir
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        code = main(["--data-dir", str(self.data_dir), *args])
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args: str) -> object:
        code, out, err = self(*args, "--json")
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Cli:
    c = Cli(tmp_path / "data", capsys)
    assert c("stations", "import", str(STATIONS / "almaty.csv"))[0] == 0
    return c


def add(cli: Cli, *extra: str) -> dict[str, object]:
    out = cli.json(
        "incident", "add", "--station", "75-003", "--category", "ballot_stuffing",
        "--observed-at", "2024-03-17T14:05:00+05:00", "--text", "Вброс бюллетеней в урну №2",
        "--witness", "Сейітов Қ.", "--witness", "Иванова А.", *extra,
    )
    assert isinstance(out, dict)
    return out


def test_incident_add_show_list_json(cli: Cli) -> None:
    inc = add(cli, "--photo", str(PHOTOS / "gps_DSCN0010.jpg"))
    assert inc["station"] == "75-003" and inc["category"] == "ballot_stuffing"
    assert inc["observed_at"] == "2024-03-17T14:05:00+05:00"
    assert inc["witnesses"] == ["Сейітов Қ.", "Иванова А."]
    assert inc["status"] == "new" and inc["severity"] == "minor"
    assert inc["text"] == "Вброс бюллетеней в урну №2"
    (ev,) = inc["evidence"]  # type: ignore[misc]
    assert len(ev["sha256"]) == 64 and ev["id"]
    shown = cli.json("incident", "show", str(inc["id"]))
    assert shown == inc
    listed = cli.json("incident", "list", "--search", "ВБРОС")
    assert [i["id"] for i in listed] == [inc["id"]]  # type: ignore[union-attr,index]


def test_data_dir_accepted_after_the_command(cli: Cli, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["stations", "list", "--json", "--data-dir", str(cli.data_dir)])
    assert code == 0
    assert len(json.loads(capsys.readouterr().out)) == 15


def test_evidence_add_json_one_object_per_file(cli: Cli) -> None:
    inc = add(cli)
    files = [PHOTOS / "gps_DSCN0010.jpg", PHOTOS / "heic_IMG_5195.HEIC", PHOTOS / "corrupted.jpg"]
    code, out, err = cli("evidence", "add", str(inc["id"]), *map(str, files), "--json")
    assert code == 1  # one file was rejected
    results = {Path(r["file"]).name: r for r in json.loads(out)}
    gps = results["gps_DSCN0010.jpg"]
    assert gps["ok"] and gps["duplicate"] is False
    assert gps["gps"]["lat"] == pytest.approx(43.4674, abs=1e-3)
    assert gps["taken_at"] == "2008-10-22T16:28:39"
    assert gps["width"] == 640 and gps["height"] == 480 and gps["orientation"] == 1
    assert "NIKON" in gps["camera"]
    assert results["heic_IMG_5195.HEIC"]["ok"]
    bad = results["corrupted.jpg"]
    assert bad["ok"] is False and "corrupted.jpg" in bad["error"]
    # The same bytes again: linked, reported as a duplicate, stored once.
    again = cli.json("evidence", "add", str(inc["id"]), str(PHOTOS / "gps_DSCN0010.jpg"))
    assert again[0]["duplicate"] is True  # type: ignore[index]
    assert again[0]["evidence_id"] == gps["evidence_id"]  # type: ignore[index]
    blobs = [p for p in (cli.data_dir / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == 2


def test_bad_photo_rejects_the_whole_incident_add(cli: Cli) -> None:
    code, out, err = cli(
        "incident", "add", "--station", "75-003", "--category", "other",
        "--observed-at", "now", "--text", "x", "--photo", str(PHOTOS / "corrupted.jpg"),
    )
    assert code == 1 and "corrupted.jpg" in err and "no incident was added" in err
    assert cli.json("incident", "list") == []


def test_edit_delete_restore(cli: Cli) -> None:
    inc = add(cli)
    code, out, err = cli("incident", "edit", str(inc["id"]), "--status", "verified", "--text", "Т")
    assert code == 0, err
    shown = cli.json("incident", "show", str(inc["id"]))
    assert shown["status"] == "verified" and shown["text"] == "Т"  # type: ignore[index]
    assert cli("incident", "delete", str(inc["id"]))[0] == 0
    assert cli.json("incident", "list") == []
    assert cli("incident", "show", str(inc["id"]))[0] == 1
    assert cli("incident", "restore", str(inc["id"]))[0] == 0
    assert len(cli.json("incident", "list")) == 1  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["incident", "show", "nope"], "incident nope: no such incident"),
        (["incident", "edit", "nope", "--status", "closed"], "no such incident"),
        (["stations", "import", "missing.csv"], "missing.csv: cannot read the file"),
        (["evidence", "add", "nope", "x.jpg"], "no such incident"),
    ],
)
def test_input_errors_are_one_line_exit_1(cli: Cli, args: list[str], message: str) -> None:
    code, out, err = cli(*args)
    assert code == 1
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_usage_errors_exit_2(cli: Cli) -> None:
    with pytest.raises(SystemExit) as exc:
        cli("incident", "add", "--station", "75-001")
    assert exc.value.code == 2


def test_evidence_verify_finds_missing_and_corrupt_blobs(cli: Cli) -> None:
    inc = add(cli)
    out = cli.json(
        "evidence", "add", str(inc["id"]),
        str(PHOTOS / "gps_DSCN0010.jpg"), str(PHOTOS / "gps_DSCN0012.jpg"),
    )
    assert cli("evidence", "verify")[0] == 0
    sha_a, sha_b = (r["sha256"] for r in out)  # type: ignore[union-attr]
    blob_a = cli.data_dir / "blobs" / sha_a[:2] / sha_a[2:]
    blob_a.chmod(0o644)
    blob_a.write_bytes(b"tampered")
    blob_b = cli.data_dir / "blobs" / sha_b[:2] / sha_b[2:]
    blob_b.unlink()
    report = json.loads(cli("evidence", "verify", "--json")[1])
    assert report["ok"] is False
    problems = {p["sha256"]: p["problem"] for p in report["problems"]}
    assert "corrupt" in problems[sha_a] and problems[sha_b] == "missing"
    assert cli("evidence", "verify")[0] == 1


def test_audit_verify_cli(cli: Cli) -> None:
    add(cli)
    code, out, _ = cli("audit", "verify")
    assert code == 0 and "chain intact" in out
    con = sqlite3.connect(cli.data_dir / "kua.db")
    con.execute("UPDATE audit_event SET action = 'update' WHERE seq = 2")
    con.commit()
    con.close()
    code, out, _ = cli("audit", "verify")
    assert code == 1 and "event 2" in out


def test_categories_in_kazakh(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["categories", "--lang", "kk", "--json"]) == 0
    cats = json.loads(capsys.readouterr().out)
    assert len(cats) == 21 and cats[0]["key"] == "ballot_stuffing"
    assert any(ch in cats[0]["label"] for ch in "әғқңөұүһі")


def test_demo_then_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = str(tmp_path / "demo")
    assert main(["--data-dir", data, "demo", "--stations", "6", "--incidents", "30",
                 "--photos", "3"]) == 0
    capsys.readouterr()
    assert main(["--data-dir", data, "incident", "list", "--json"]) == 0
    incidents = json.loads(capsys.readouterr().out)
    assert len(incidents) == 30
    assert sum(len(i["evidence"]) for i in incidents) == 3
    assert main(["--data-dir", data, "audit", "verify"]) == 0


def test_output_into_a_pipe_closed_early_says_nothing(tmp_path: Path) -> None:
    """`incident list | head -1`: the reader goes away; that is no error of the data folder."""
    data = str(tmp_path / "demo")
    assert main(["--data-dir", data, "demo", "--stations", "6", "--incidents", "300",
                 "--photos", "0"]) == 0
    run = subprocess.run(
        f"{sys.executable} main.py --data-dir {data} incident list | head -1",
        shell=True, cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert len(run.stdout.splitlines()) == 1
    assert run.stderr == ""


def test_real_process_no_traceback_for_user_mistakes(tmp_path: Path) -> None:
    """As a user runs it: a separate process, the environment variable for the data folder."""
    env = {"KUA_DATA_DIR": str(tmp_path / "env-data"), "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "incident", "add", "--station", "1",
         "--category", "other", "--observed-at", "yesterday", "--text", "x"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert run.returncode == 2 and "not a time" in run.stderr and "Traceback" not in run.stderr
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "incident", "show", "x"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert run.returncode == 1 and "Traceback" not in run.stderr
    assert (tmp_path / "env-data" / "kua.db").exists()


def test_profile_set_and_show(cli: Cli) -> None:
    code, _, err = cli("profile", "--full-name", "Әлия Сейітова", "--status", "proxy")
    assert code == 0, err
    assert cli.json("profile") == {
        "full_name": "Әлия Сейітова", "status": "proxy", "organization": "", "phone": "",
    }
    code, _, err = cli("profile", "--status", "nonsense")
    assert code == 1 and "applicant status" in err
    assert cli.json("profile")["status"] == "proxy"  # type: ignore[index]
