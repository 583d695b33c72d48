"""Complaint PDFs end to end: real stores, photos and keys, checked by pyHanko and poppler."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app import profile
from app.audit import verify_audit
from app.cli import main
from app.complaints import (
    ComplaintDraft,
    build_complaint,
    default_addressee,
    default_request,
    get_complaint,
    load_pkcs12,
    preview,
)
from app.elections import import_stations
from app.errors import KuaError
from app.evidence import import_files
from app.incidents import IncidentDraft, add_incident
from app.store import Store
from export import keys
from export.verify import verify_pdf

FIXTURES = Path(__file__).parent / "fixtures"
PHOTOS = FIXTURES / "photos"
ALMATY = timezone(timedelta(hours=5))
KK_TEXT = "Бюллетеньдер жәшікке топтап салынды, өңірлік әкімдік қызметкері қатысты"
RU_TEXT = "Вброс бюллетеней в урну №2; председатель комиссии наблюдал и не вмешался"


@dataclass(frozen=True)
class Pki:
    ca_dir: Path
    ca_pem: Path
    p12: Path
    password: bytes
    expired: Path
    non_signing: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    keys.create_ca("Адал сайлау — команда", root / "ca")
    keys.issue_signer(root / "ca", "Сейітова Әсел Қанатқызы", root / "signer.p12", b"s3cret")
    past = datetime.now(UTC) - timedelta(days=900)
    keys.issue_signer(root / "ca", "Old Signer", root / "expired.p12", b"s3cret", valid_from=past)
    # A certificate whose keyUsage is for encryption only: it must not sign complaints.
    ca_cert, ca_key = keys.load_ca(root / "ca", None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Encryption Only")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(False, False, True, False, False, False, False, False, False), True
        )
        .sign(ca_key, hashes.SHA256())
    )
    (root / "enc.p12").write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"enc", key, cert, [ca_cert], BestAvailableEncryption(b"s3cret")
        )
    )
    return Pki(
        root / "ca", root / "ca" / keys.CA_CERT, root / "signer.p12", b"s3cret",
        root / "expired.p12", root / "enc.p12",
    )


@dataclass
class World:
    store: Store
    data_dir: Path
    with_photos: str
    no_photos: str


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    data_dir = tmp_path / "data"
    store = Store(data_dir)
    import_stations(store, FIXTURES / "stations" / "almaty.csv")
    profile.set_applicant(
        store, profile.Applicant("Сейітова Әсел Қанатқызы", "observer", "Адал сайлау", "+7 701")
    )
    inc = add_incident(
        store,
        IncidentDraft(
            "75-003", "ballot_stuffing", datetime(2024, 3, 17, 14, 5, tzinfo=ALMATY),
            f"{KK_TEXT}. {RU_TEXT}.", witnesses=("Сейітов Қ.", "Иванова А."),
        ),
    )
    files = ["gps_DSCN0010.jpg", "orientation_landscape_6.jpg", "heic_IMG_5195.HEIC"]
    outcomes = import_files(store, inc.id, [PHOTOS / f for f in files], workers=1)
    assert all(o.ok for o in outcomes)
    bare = add_incident(
        store,
        IncidentDraft(
            "75-002", "protocol_copy_refused", datetime(2024, 3, 17, 22, 40, tzinfo=ALMATY),
            "Председатель отказал в выдаче копии протокола",
        ),
    )
    yield World(store, data_dir, inc.id, bare.id)
    store.close()


def _sign(pki: Pki) -> object:
    return load_pkcs12(pki.p12, pki.password)


def pdfsig(path: Path) -> dict[str, str]:
    """pdfsig's findings by line (its exit code is 0 even when the digest does not match)."""
    out = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True).stdout
    found = {}
    for line in out.splitlines():
        line = line.strip().lstrip("- ")
        if ":" in line:
            k, v = line.split(":", 1)
            found[k.strip()] = v.strip()
        elif line:
            found[line] = ""
    return found


def cli_verify(path: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["verify", str(path), "--json", *extra])
    out = capsys.readouterr().out
    return code, json.loads(out)


# --------------------------------------------------------------------------------------------


def test_signed_complaint_valid_for_pyhanko_and_pdfsig(
    world: World, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "complaint.pdf"
    r = build_complaint(
        world.store, ComplaintDraft((world.with_photos, world.no_photos), lang="kk"), out,
        signer=load_pkcs12(pki.p12, pki.password),
    )
    assert r.level == "B-B" and r.notice is None and r.files == 3
    assert r.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()

    report = verify_pdf(out, keys.load_pem_certs(pki.ca_pem))
    assert report.ok, report.to_json()
    (sig,) = report.signatures
    assert sig.signer == "Сейітова Әсел Қанатқызы" and sig.trusted and sig.whole_file
    assert sig.signer_fingerprint == r.signer_fingerprint
    assert [f.ok for f in report.files] == [True, True, True]

    found = pdfsig(out)
    assert found["Signature Validation"] == "Signature is Valid."
    assert "Total document signed" in found
    assert found["Signer Certificate Common Name"] == "Сейітова Әсел Қанатқызы"
    assert found["Signature Type"] == "ETSI.CAdES.detached"

    code, js = cli_verify(out, "--trust", str(pki.ca_pem), capsys=capsys)
    assert code == 0 and js["ok"] and js["signatures"][0]["trusted"] is True

    # The row and the audit event that record the export.
    row = get_complaint(world.store, r.complaint_id)
    assert row.pdf_sha256 == r.sha256 and row.signer_fingerprint == r.signer_fingerprint
    assert row.incident_ids == [world.with_photos, world.no_photos] and row.language == "kk"
    audit = verify_audit(world.store)
    assert audit.ok


def test_trust_in_another_ca_fails(world: World, pki: Pki, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.pdf"
    build_complaint(world.store, ComplaintDraft((world.no_photos,), lang="en"), out,
                    signer=load_pkcs12(pki.p12, pki.password))
    other = keys.create_ca("Someone else", tmp_path / "other")
    code, js = cli_verify(out, "--trust", str(other.path), capsys=capsys)
    assert code == 1 and js["signatures"][0]["trusted"] is False
    code, js = cli_verify(out, capsys=capsys)  # no trust anchor: integrity only
    assert code == 0 and js["signatures"][0]["trusted"] is None


def test_one_flipped_byte_fails_both_checkers(
    world: World, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.pdf"
    build_complaint(world.store, ComplaintDraft((world.with_photos,), lang="ru"), out,
                    signer=load_pkcs12(pki.p12, pki.password))
    data = bytearray(out.read_bytes())
    m = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", data)
    assert m is not None
    first_len = int(m.group(2))
    # Inside an embedded photo's bytes, well inside the first signed range: still parseable.
    pos = data.find(b"/EmbeddedFile") + 4000
    assert 0 < pos < first_len
    data[pos] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(data))

    found = pdfsig(bad)
    assert found.get("Signature Validation") != "Signature is Valid."
    code, js = cli_verify(bad, capsys=capsys)
    assert code == 1 and not js["ok"]
    assert js["signatures"][0]["intact"] is False


def test_incremental_update_after_signing_fails(
    world: World, pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    out = tmp_path / "c.pdf"
    build_complaint(world.store, ComplaintDraft((world.no_photos,), lang="ru"), out,
                    signer=load_pkcs12(pki.p12, pki.password))
    w = IncrementalPdfFileWriter(io.BytesIO(out.read_bytes()))
    w.root["/PageMode"] = generic.NameObject("/UseNone")
    w.update_root()
    buf = io.BytesIO()
    w.write(buf)
    extended = tmp_path / "extended.pdf"
    extended.write_bytes(buf.getvalue())

    code, js = cli_verify(extended, capsys=capsys)
    assert code == 1
    sig = js["signatures"][0]
    assert sig["intact"] and not sig["whole_file"] and sig["modified_after"]
    assert "Not total document signed" in pdfsig(extended)
    code, _ = cli_verify(out, capsys=capsys)
    assert code == 0


def test_text_fonts_and_attachments_with_poppler(world: World, pki: Pki, tmp_path: Path) -> None:
    out = tmp_path / "c.pdf"
    r = build_complaint(world.store, ComplaintDraft((world.with_photos,), lang="ru"), out,
                        signer=load_pkcs12(pki.p12, pki.password))
    text = subprocess.run(["pdftotext", "-raw", str(out), "-"], capture_output=True,
                          text=True, check=True).stdout
    flat = " ".join(text.split())
    assert KK_TEXT in flat and RU_TEXT in flat
    assert "Правовое основание: ____" in flat  # never invented: a blank to fill in
    assert "Жалоба" in flat and f"Страница 1 из {r.pages}" in flat
    assert r.complaint_id in flat

    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert fonts
    for line in fonts:
        cols = line.split()
        assert cols[-5] == "yes", line  # emb column
        assert "NotoSans" in cols[0], line  # no Base-14 (Helvetica, Courier, ...) at all

    saved = tmp_path / "detached"
    saved.mkdir()
    subprocess.run(["pdfdetach", "-saveall", "-o", str(saved), str(out)], check=True)
    got = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in saved.iterdir()}
    originals = {p: hashlib.sha256((PHOTOS / p).read_bytes()).hexdigest()
                 for p in ["gps_DSCN0010.jpg", "orientation_landscape_6.jpg",
                           "heic_IMG_5195.HEIC"]}
    assert got == originals
    for sha in originals.values():  # every hash is printed in the appendix, too
        assert sha in flat


def test_duplicate_names_no_originals_and_unsigned(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The same file name from two cameras: attachments get distinct names.
    other = tmp_path / "other"
    other.mkdir()
    (other / "gps_DSCN0010.jpg").write_bytes((PHOTOS / "gps_DSCN0012.jpg").read_bytes())
    assert import_files(world.store, world.no_photos, [other / "gps_DSCN0010.jpg"])[0].ok
    out = tmp_path / "c.pdf"
    r = build_complaint(
        world.store, ComplaintDraft((world.with_photos, world.no_photos), lang="en"), out
    )
    assert r.level == "unsigned" and r.signer_fingerprint is None
    report = verify_pdf(out)
    names = sorted(f.name for f in report.files)
    assert "gps_DSCN0010.jpg" in names and "gps_DSCN0010 (2).jpg" in names
    assert all(f.ok for f in report.files)
    code, js = cli_verify(out, capsys=capsys)
    assert code == 3 and js["signed"] is False

    lean = tmp_path / "lean.pdf"
    r2 = build_complaint(
        world.store,
        ComplaintDraft((world.with_photos,), lang="en", embed_originals=False), lean,
    )
    assert r2.size < r.size
    assert subprocess.run(["pdfdetach", "-list", str(lean)], capture_output=True, text=True,
                          check=True).stdout.startswith("0 embedded files")
    assert verify_pdf(lean).files == ()


def test_incident_without_evidence_makes_a_complaint(world: World, pki: Pki,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "c.pdf"
    r = build_complaint(world.store, ComplaintDraft((world.no_photos,), lang="ru"), out,
                        signer=load_pkcs12(pki.p12, pki.password))
    assert r.files == 0
    text = " ".join(subprocess.run(["pdftotext", str(out), "-"], capture_output=True,
                                   text=True, check=True).stdout.split())
    assert "К жалобе не приложено ни одного файла доказательств." in text
    assert "Выдать мне заверенную копию протокола" in text  # the category's default request
    assert verify_pdf(out).ok


def test_defaults(world: World) -> None:
    assert default_addressee(world.store, [world.with_photos]) == (
        "Әуезов аудандық сайлау комиссиясы"
    )
    both = default_addressee(world.store, [world.with_photos, world.no_photos])
    assert both == "Әуезов аудандық сайлау комиссиясы; Ауэзовская районная избирательная комиссия"
    ru = default_request(["counting_procedure"], "ru")
    assert "повторный подсчёт" in ru and "письменный ответ" in ru
    assert "recount" not in default_request(["vote_buying"], "en")
    assert "Сайлау учаскесінде" in default_request(["ballot_stuffing"], "kk")
    pdf = preview(world.store, ComplaintDraft((world.with_photos,), lang="kk"))
    assert pdf.startswith(b"%PDF-") and b"/EmbeddedFile" not in pdf


# --- bad input: a clear message and no output file ----------------------------------------


def _no_pdf_left(folder: Path) -> None:
    assert not [p for p in folder.iterdir() if p.suffix in (".pdf", ".part")], list(
        folder.iterdir()
    )


def test_unknown_incident(world: World, tmp_path: Path) -> None:
    with pytest.raises(KuaError, match="no such incident"):
        build_complaint(world.store, ComplaintDraft(("nope",), lang="ru"), tmp_path / "c.pdf")
    _no_pdf_left(tmp_path)


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_missing_or_corrupt_blob(world: World, tmp_path: Path, damage: str) -> None:
    sha = hashlib.sha256((PHOTOS / "orientation_landscape_6.jpg").read_bytes()).hexdigest()
    blob = world.store.blobs.path(sha)
    if damage == "missing":
        blob.unlink()
    else:
        os.chmod(blob, 0o644)
        data = bytearray(blob.read_bytes())
        data[500] ^= 0xFF
        blob.write_bytes(bytes(data))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(KuaError, match=f"orientation_landscape_6.jpg.*{damage}"):
        build_complaint(world.store, ComplaintDraft((world.with_photos,), lang="ru"),
                        out_dir / "c.pdf")
    _no_pdf_left(out_dir)


def test_key_problems(world: World, pki: Pki, tmp_path: Path) -> None:
    with pytest.raises(KuaError, match="wrong password"):
        load_pkcs12(pki.p12, b"wrong")
    with pytest.raises(KuaError, match="expired"):
        load_pkcs12(pki.expired, pki.password)
    with pytest.raises(KuaError, match="not for signing"):
        load_pkcs12(pki.non_signing, pki.password)


def test_unwritable_output(world: World, pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    for target in (tmp_path / "no-such-folder" / "c.pdf", tmp_path / "a-file" / "c.pdf",
                   tmp_path):
        with pytest.raises(KuaError, match="cannot write|is a folder"):
            build_complaint(world.store, ComplaintDraft((world.no_photos,), lang="ru"), target,
                            signer=load_pkcs12(pki.p12, pki.password))
    _no_pdf_left(tmp_path)


def test_cli_errors_are_one_line(world: World, pki: Pki, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    world.store.close()
    pw = tmp_path / "pw"
    pw.write_text("wrong\n")
    base = ["--data-dir", str(world.data_dir), "complaint", "export", world.with_photos,
            "--lang", "ru", "--out", str(tmp_path / "c.pdf")]
    assert main([*base, "--sign", str(pki.p12), "--password-file", str(pw)]) == 1
    err = capsys.readouterr().err
    assert "wrong password" in err and len(err.strip().splitlines()) == 1
    assert main(["--data-dir", str(world.data_dir), "complaint", "export", "nope", "--lang",
                 "ru", "--out", str(tmp_path / "c.pdf")]) == 1
    assert "no such incident" in capsys.readouterr().err
    assert main([*base, "--sign", str(pki.p12)]) == 2
    capsys.readouterr()
    _no_pdf_left(tmp_path)
    pw.write_text(pki.password.decode() + "\n")
    code = main([*base, "--sign", str(pki.p12), "--password-file", str(pw), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    result = json.loads(out)
    assert result["level"] == "B-B" and result["files"] == 3
    assert main(["verify", str(tmp_path / "nothing.pdf")]) == 1


# --- timestamps ----------------------------------------------------------------------------


def test_unreachable_timestamp_server_gives_b_b_with_notice(
    world: World, pki: Pki, tmp_path: Path
) -> None:
    out = tmp_path / "c.pdf"
    r = build_complaint(world.store, ComplaintDraft((world.no_photos,), lang="en"), out,
                        signer=load_pkcs12(pki.p12, pki.password),
                        timestamp_url="http://127.0.0.1:9/")
    assert r.level == "B-B"
    assert r.notice is not None and "timestamp server did not answer" in r.notice
    report = verify_pdf(out)
    assert report.ok and report.signatures[0].level == "B-B"


@pytest.fixture
def tsa(pki: Pki) -> Iterator[str]:
    """pyHanko's DummyTimeStamper behind a real HTTP server on loopback."""
    from pyhanko.keys.internal import (
        translate_pyca_cryptography_cert_to_asn1,
        translate_pyca_cryptography_key_to_asn1,
    )
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    ca_cert, ca_key = keys.load_ca(pki.ca_dir, None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), True)
        .sign(ca_key, hashes.SHA256())
    )
    stamper = DummyTimeStamper(
        translate_pyca_cryptography_cert_to_asn1(cert),
        translate_pyca_cryptography_key_to_asn1(key),
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            req = tsp.TimeStampReq.load(self.rfile.read(int(self.headers["Content-Length"])))
            body = stamper.request_tsa_response(req).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_timestamp_server_gives_b_t(world: World, pki: Pki, tmp_path: Path, tsa: str,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c.pdf"
    r = build_complaint(world.store, ComplaintDraft((world.no_photos,), lang="ru"), out,
                        signer=load_pkcs12(pki.p12, pki.password), timestamp_url=tsa)
    assert r.level == "B-T" and r.notice is None
    code, js = cli_verify(out, "--trust", str(pki.ca_pem), capsys=capsys)
    assert code == 0, js
    sig = js["signatures"][0]
    assert sig["level"] == "B-T" and sig["timestamp"] is not None
    assert pdfsig(out)["Signature Validation"] == "Signature is Valid."


# --- an incident from a protocol finding -------------------------------------------------------


def _pdf_text(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-raw", str(path), "-"], capture_output=True, text=True,
                         check=True).stdout
    return " ".join(out.split())


@dataclass
class ByWorld:
    store: Store
    finding: str  # the incident made from the discrepancy
    carousel: str  # another incident at the same station


@pytest.fixture
def by_world(tmp_path: Path) -> Iterator[ByWorld]:
    """Belarus 2020, station 01-010-0001: the observer's copy (with its photo) as the observers'
    table has it; an "official" result with 200 votes moved between two candidates and line 3
    raised by 20, so that two relations fail in the official protocol only."""
    from app.discrepancies import incident_from_discrepancy
    from app.elections import create_election
    from app.protocols import ProtocolDraft, add_protocol, add_protocol_with_photos
    from app.results_import import import_results
    from tests.test_protocols import BY_0001, BY_0001_CANDIDATES

    store = Store(tmp_path / "data")
    create_election(store, "Belarus 2020", "2020-08-09", profile="by-2020-presidential")
    header = "Код комиссии," + ",".join([*BY_0001, *BY_0001_CANDIDATES])
    row = "01-010-0001," + ",".join(str(v) for v in [*BY_0001.values(),
                                                     *BY_0001_CANDIDATES.values()])
    csv_path = tmp_path / "observer.csv"
    csv_path.write_text(f"{header}\n{row}\n", encoding="utf-8")
    import_results(store, csv_path, "observer", create_stations=True)
    add_protocol_with_photos(
        store, ProtocolDraft("01-010-0001", "observer", BY_0001, BY_0001_CANDIDATES),
        [PHOTOS / "gps_DSCN0010.jpg"],
    )
    official_cands = dict(BY_0001_CANDIDATES)
    official_cands["Лукашенко Александр Григорьевич"] = 664
    official_cands["Тихановская Светлана Георгиевна"] = 501
    add_protocol(store, ProtocolDraft("01-010-0001", "official", {**BY_0001, "3": 1339},
                                      official_cands))
    inc = incident_from_discrepancy(store, "01-010-0001", "observer", lang="en")
    other = add_incident(store, IncidentDraft(
        "01-010-0001", "carousel", datetime(2020, 8, 9, 15, 0, tzinfo=timezone(timedelta(hours=3))),
        "A group of voters came back with new ballots"))
    yield ByWorld(store, inc.id, other.id)
    store.close()


@pytest.mark.parametrize("lang", ["en", "ru", "kk"])
def test_complaint_about_a_discrepancy_has_the_protocol_table(
    by_world: ByWorld, tmp_path: Path, lang: str
) -> None:
    out = tmp_path / f"finding-{lang}.pdf"
    build_complaint(by_world.store, ComplaintDraft((by_world.finding,), lang=lang), out)
    flat = _pdf_text(out)
    heading = {"en": "Protocol figures", "ru": "Цифры протокола", "kk": "Хаттама сандары"}[lang]
    assert heading in flat
    columns = {"en": ("Observer's copy", "Official result"),
               "ru": ("Копия наблюдателя", "Официальные данные"),
               "kk": ("Байқаушы көшірмесі", "Ресми деректер")}[lang]
    assert all(c in flat for c in columns)
    # The differing lines: the label with both values in its row.
    assert "Лукашенко Александр Григорьевич 464 664" in flat
    assert "Тихановская Светлана Георгиевна 701 501" in flat
    line3 = {"en": "3. Voters who took part", "ru": "3. Число избирателей, принявших участие",
             "kk": "3. Дауыс беруге қатысқан сайлаушылар саны"}[lang]
    assert line3 in flat and "1319 1339" in flat
    # The failed relations, each with its kind, its terms and both sides.
    if lang == "en":
        assert ("Official result, hard: Took part (3) = early (3.1) + at home (3.2) + on "
                "election day (3.3). 1339 = 252 + 4 + 1063: left side 1339, right side 1319 "
                "(difference +20)") in flat
        assert "Took part (3) = votes for candidates + against all (6) + invalid (8)" in flat
        assert "1339 = 1218 + 96 + 5" in flat
        assert "Observer's copy, hard" not in flat  # the observer's copy adds up
    else:
        assert "1339 = 252 + 4 + 1063" in flat and "1319" in flat


def test_complaint_protocol_table_data(by_world: ByWorld) -> None:
    """The plain data handed to the PDF: a column per source, only differing cells marked."""
    from app.complaints import protocol_tables
    from app.incidents import get_incident

    finding = by_world.finding
    incidents = [get_incident(by_world.store, i) for i in (finding, by_world.carousel)]
    tables = protocol_tables(by_world.store, incidents, "en")
    assert set(tables) == {finding}  # a carousel at the same station has no protocol table
    table = tables[finding]
    assert table.sources == ("observer", "official") and table.reference == "official"
    marked = {r.label: r.values for r in table.rows if any(r.highlight)}
    assert marked == {
        "3. Voters who took part (ballots found in the boxes)": (1319, 1339),
        "Лукашенко Александр Григорьевич": (464, 664),
        "Тихановская Светлана Георгиевна": (701, 501),
    }
    for r in table.rows:
        if any(r.highlight):
            assert r.highlight == (True, False)  # the copy's figure, against the official one
    # votes and parts (3 = ...: 1339 against 1319), stuffing (3 <= 2: 1339 against 1329)
    assert sorted((f.source, f.kind, f.left, f.right) for f in table.failed) == [
        ("official", "hard", 1339, 1319), ("official", "hard", 1339, 1319),
        ("official", "hard", 1339, 1329),
    ]


def test_normal_incident_complaint_has_no_protocol_table(
    world: World, by_world: ByWorld, tmp_path: Path
) -> None:
    for store, incident in ((world.store, world.with_photos),
                            (by_world.store, by_world.carousel)):
        out = tmp_path / "plain.pdf"
        build_complaint(store, ComplaintDraft((incident,), lang="en"), out)
        flat = _pdf_text(out)
        assert "Protocol figures" not in flat and "Control relations that fail" not in flat
        assert "Protocol line" not in flat
