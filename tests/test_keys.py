"""Team CA and signer certificates (export.keys) and their CLI: real files in tmp folders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID

from app.cli import main
from export import keys
from export.errors import ExportError
from export.sign import load_pkcs12


def test_create_ca_and_issue_signer(tmp_path: Path) -> None:
    ca = keys.create_ca("Команда «Адал сайлау»", tmp_path / "ca", b"ca-pass")
    cert = x509.load_pem_x509_certificate((tmp_path / "ca" / keys.CA_CERT).read_bytes())
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert bc.ca and ku.key_cert_sign
    assert ca.subject == "Команда «Адал сайлау»"
    assert b"ENCRYPTED" in (tmp_path / "ca" / keys.CA_KEY).read_bytes()

    info = keys.issue_signer(
        tmp_path / "ca", "Сейітова Әсел", tmp_path / "me.p12", b"p12-pass", b"ca-pass"
    )
    key, signer_cert, extra = pkcs12.load_key_and_certificates(
        (tmp_path / "me.p12").read_bytes(), b"p12-pass"
    )
    assert key is not None and signer_cert is not None
    assert keys.common_name(signer_cert) == "Сейітова Әсел" == info.subject
    assert signer_cert.issuer == cert.subject and extra == [cert]
    sku = signer_cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert sku.digital_signature and sku.content_commitment and not sku.key_cert_sign
    eku = signer_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    days = (signer_cert.not_valid_after_utc - signer_cert.not_valid_before_utc).days
    assert 729 <= days <= 731
    assert load_pkcs12(tmp_path / "me.p12", b"p12-pass").fingerprint == info.fingerprint


def test_ca_errors(tmp_path: Path) -> None:
    keys.create_ca("Team", tmp_path / "ca", b"ca-pass")
    with pytest.raises(ExportError, match="already holds a CA"):
        keys.create_ca("Team", tmp_path / "ca")
    with pytest.raises(ExportError, match="wrong password"):
        keys.issue_signer(tmp_path / "ca", "X", tmp_path / "x.p12", b"p", b"nope")
    with pytest.raises(ExportError, match="encrypted"):
        keys.issue_signer(tmp_path / "ca", "X", tmp_path / "x.p12", b"p")
    with pytest.raises(ExportError, match="no team CA"):
        keys.issue_signer(tmp_path / "nothing", "X", tmp_path / "x.p12", b"p")
    assert not (tmp_path / "x.p12").exists()


def test_wrong_password_expired_and_non_signing(tmp_path: Path) -> None:
    keys.create_ca("Team", tmp_path / "ca")
    keys.issue_signer(tmp_path / "ca", "Signer", tmp_path / "ok.p12", b"right")
    with pytest.raises(ExportError, match="wrong password"):
        load_pkcs12(tmp_path / "ok.p12", b"wrong")
    past = datetime.now(UTC) - timedelta(days=800)
    keys.issue_signer(tmp_path / "ca", "Old", tmp_path / "old.p12", b"pw", valid_from=past)
    with pytest.raises(ExportError, match="expired"):
        load_pkcs12(tmp_path / "old.p12", b"pw")


def test_cli_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pw = tmp_path / "pw.txt"
    pw.write_text("secret\n")  # the newline an editor adds is not part of the password
    data_dir = tmp_path / "data"
    code = main(["--data-dir", str(data_dir), "keys", "create-ca", "--name", "Team CA",
                 "--out", str(tmp_path / "ca")])
    assert code == 0, capsys.readouterr().err
    assert "ca-cert.pem" in capsys.readouterr().out
    code = main(["keys", "issue", "--ca", str(tmp_path / "ca"), "--name", "Иванова Анна",
                 "--out", str(tmp_path / "a.p12"), "--password-file", str(pw)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Иванова Анна" in out
    assert load_pkcs12(tmp_path / "a.p12", b"secret").name == "Иванова Анна"
    assert not data_dir.exists()  # keys commands never open (or create) a data folder
    code = main(["keys", "issue", "--ca", str(tmp_path / "missing"), "--name", "X",
                 "--out", str(tmp_path / "b.p12"), "--password-file", str(pw)])
    out, err = capsys.readouterr()
    assert code == 1 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:  # --password-file is required: a usage error
        main(["keys", "issue", "--ca", str(tmp_path / "ca"), "--name", "X",
              "--out", str(tmp_path / "b.p12")])
    assert exc.value.code == 2
