"""A team's own server over HTTPS with a certificate no public authority signed (a real server
process on loopback), and the limit on wrong enrolment codes."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from app.cli import main
from app.incidents import get_incident
from app.server.admin import add_device, create_team
from app.server.api import create_app
from app.server.db import open_server_db
from app.store import Store
from app.sync import client as sync_client
from app.sync.client import SyncError, enrol, sync_once, sync_status
from tests.sync_helpers import incident, laptop, running_server

# --- certificates made for the test ----------------------------------------------------------


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _certificate(
    name: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Certificate, Any] | None
) -> x509.Certificate:
    """A CA certificate (issuer None, self-signed) or a server's for 127.0.0.1 issued by one."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer[0].subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )
    if issuer is None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=True
        ).add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), True
        )
    else:
        builder = (
            builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer[1].public_key()), False
            )
        )
    return builder.sign(issuer[1] if issuer else key, hashes.SHA256())


@dataclass
class Tls:
    url: str  # https://127.0.0.1:PORT
    db: str
    ca: Path  # the coalition's own CA, which issued the server's certificate
    cert: Path  # the server's certificate itself
    other: Path  # a certificate of another CA (what an impostor would present)

    def code(self, device: str) -> str:
        return add_device(self.db, "tls-team", device).code


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tls]:
    root = tmp_path_factory.mktemp("tls")
    ca_key, server_key, other_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("Kuä test CA", ca_key, None)
    files = {
        "ca.pem": _pem(ca),
        "server.pem": _pem(_certificate("127.0.0.1", server_key, (ca, ca_key))),
        "other.pem": _pem(_certificate("other CA", other_key, None)),
        "server-key.pem": server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    db = f"sqlite:///{root / 'server.db'}"
    create_team(db, "tls-team")
    with running_server(root, db, tls=(root / "server.pem", root / "server-key.pem")) as (
        url,
        _proc,
    ):
        assert url.startswith("https://")
        yield Tls(url, db, root / "ca.pem", root / "server.pem", root / "other.pem")


def _nothing_stored(store: Store) -> None:
    st = sync_status(store)
    assert (st.enrolled, st.server) == (False, None)
    assert not sync_client.token_path(store).exists()
    assert not sync_client.server_cert_path(store).exists()


# --- HTTPS ------------------------------------------------------------------------------------


def test_enrol_and_sync_over_https_trusting_the_given_certificate(
    tls: Tls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # On the command line, trusting the CA that issued the server's certificate.
    laptop(tmp_path, "a").close()
    a_dir = str(tmp_path / "a")
    argv = ["--data-dir", a_dir, "sync", "--server", tls.url, "--enroll", tls.code("a")]
    assert main([*argv, "--server-cert", str(tls.ca)]) == 0
    assert f"enrolled with {tls.url}" in capsys.readouterr().out
    kept = tmp_path / "a" / "sync-server.pem"
    assert kept.read_bytes() == tls.ca.read_bytes()
    with Store(tmp_path / "a") as a:
        i = incident(a, "по https")
    assert main(["--data-dir", a_dir, "sync"]) == 0
    assert "sent " in capsys.readouterr().out
    # Trusting the server's own certificate works as well.
    with laptop(tmp_path, "b") as b:
        assert enrol(b, tls.url, tls.code("b"), server_cert=tls.cert) == "tls-team"
        sync_once(b)
        assert get_incident(b, i).description == "по https"


def test_without_the_certificate_the_server_is_refused_with_the_tls_reason(
    tls: Tls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = tls.code("c")
    with laptop(tmp_path, "c") as c:
        with pytest.raises(SyncError) as err:  # the system's authorities know nothing of it
            enrol(c, tls.url, code)
        assert err.value.reason == "tls"
        assert "certificate is not the one this laptop trusts" in str(err.value)
        assert "--server-cert" in str(err.value)
        _nothing_stored(c)
        # The code was not spent: the same one works with the certificate.
        enrol(c, tls.url, code, server_cert=tls.ca)
        sync_once(c)
        # A laptop that lost the kept certificate falls back to the system's trust: refused.
        sync_client.server_cert_path(c).unlink()
        with pytest.raises(SyncError) as err:
            sync_once(c)
        assert err.value.reason == "tls"
    capsys.readouterr()
    assert main(["--data-dir", str(tmp_path / "c"), "sync"]) == 1
    err_text = capsys.readouterr().err
    assert err_text.count("\n") == 1 and "certificate is not the one" in err_text


def test_a_different_certificate_is_refused_and_nothing_is_stored(
    tls: Tls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = tls.code("d")
    d_dir = str(tmp_path / "d")
    with laptop(tmp_path, "d") as d:
        with pytest.raises(SyncError) as err:
            enrol(d, tls.url, code, server_cert=tls.other)
        assert err.value.reason == "tls" and "certificate is not the one" in str(err.value)
        _nothing_stored(d)
        enrol(d, tls.url, code, server_cert=tls.cert)
        kept = sync_client.server_cert_path(d)
        # An impostor's certificate in place of the kept one: refused, naming the kept file.
        kept.write_bytes(tls.other.read_bytes())
        with pytest.raises(SyncError) as err:
            sync_once(d)
        assert err.value.reason == "tls" and str(kept) in str(err.value)
    # A new certificate is tried before it replaces the kept one: a wrong one changes nothing.
    capsys.readouterr()
    assert main(["--data-dir", d_dir, "sync", "--server-cert", str(tls.other)]) == 1
    assert "certificate is not the one" in capsys.readouterr().err
    assert main(["--data-dir", d_dir, "sync", "--server-cert", str(tls.ca)]) == 0
    assert main(["--data-dir", d_dir, "sync"]) == 0
    assert kept.read_bytes() == tls.ca.read_bytes()


def test_a_file_that_is_not_a_pem_certificate_is_one_line_naming_it(
    tls: Tls, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    laptop(tmp_path, "e").close()
    cert = x509.load_pem_x509_certificate(tls.cert.read_bytes())
    bad = {
        "empty.pem": b"",  # an empty PEM must not mean "the system's authorities"
        "server.der": cert.public_bytes(serialization.Encoding.DER),
        "key.pem": (tls.ca.parent / "server-key.pem").read_bytes(),
        "notes.txt": "сертификат".encode(),
    }
    code = tls.code("e")
    for name, data in bad.items():
        path = tmp_path / name
        path.write_bytes(data)
        argv = ["--data-dir", str(tmp_path / "e"), "sync", "--server", tls.url, "--enroll", code]
        assert main([*argv, "--server-cert", str(path)]) == 1, name
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "PEM" in err, err
    assert main([*argv, "--server-cert", str(tmp_path / "missing.pem")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.pem: cannot read" in err
    with Store(tmp_path / "e") as e:
        _nothing_stored(e)


def test_the_connect_dialog_takes_the_server_certificate(
    tls: Tls, tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ui import dialogs
    from ui.sync import ConnectDialog, SyncController
    from ui.worker import Worker

    laptop(tmp_path, "f").close()
    data = tmp_path / "f"
    storage = Worker("storage", open_store=lambda: Store(data))
    controller = SyncController(storage, data)
    dialog = ConnectDialog(controller)
    qtbot.addWidget(dialog)
    picked: list[Path] = []
    monkeypatch.setattr(dialogs, "choose_file", lambda *_a: picked.pop())
    try:
        dialog.server.setText(tls.url)
        dialog.code.setText(tls.code("f"))
        notes = tmp_path / "notes.txt"
        notes.write_text("не сертификат", encoding="utf-8")
        picked.append(notes)
        dialog.cert_button.click()  # said at once, before anything is sent
        assert "notes.txt is not a certificate file" in dialog.message.text()
        dialog.cert.clear()  # no certificate: the system's authorities refuse this server
        dialog.submit()
        qtbot.waitUntil(lambda: "not the one this laptop trusts" in dialog.message.text())
        assert dialog.connect_button.isEnabled()
        picked.append(tls.ca)
        dialog.cert_button.click()
        with qtbot.waitSignal(controller.finished, timeout=20_000) as first_sync:
            dialog.submit()
        assert first_sync.args == [True] and not dialog.isVisible()
        assert (data / "sync-server.pem").read_bytes() == tls.ca.read_bytes()
    finally:
        controller.close()
        storage.close()


# --- wrong enrolment codes ----------------------------------------------------------------------


def test_wrong_enrolment_codes_are_limited_per_address(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'server.db'}"
    create_team(db, "t")
    codes = {d: add_device(db, "t", d).code for d in ("a", "b")}
    now = [1000.0]
    engine = open_server_db(db)
    app = create_app(engine, tmp_path / "blobs", clock=lambda: now[0])

    def try_code(code: str, address: str = "10.0.0.1") -> httpx.Response:
        async def post() -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://server") as c:
                return await c.post(
                    "/v1/enrol", json={"code": code}, headers=sync_client._headers(None)
                )

        return asyncio.run(post())

    wrong = "AAAA-BBBB-CCCC-DDDD"
    try:
        # A right code is not a failure: nine wrong, one right, then the tenth wrong one.
        for _ in range(9):
            assert try_code(wrong).json()["error"] == "invalid_enrolment_code"
        assert try_code(codes["a"]).status_code == 200
        assert try_code(wrong).status_code == 401
        # The eleventh wrong code is refused before it is looked at, and so is a right one.
        for code in (wrong, codes["b"]):
            r = try_code(code)
            assert (r.status_code, r.json()["error"]) == (429, "too_many_attempts")
            assert r.headers["Retry-After"] == "600" and r.json()["retry_after"] == 600
            assert "try again in 10 min" in r.json()["message"]
        assert try_code(wrong, "10.0.0.2").status_code == 401  # other addresses are not held up
        now[0] += 599
        assert try_code(codes["b"]).headers["Retry-After"] == "1"
        now[0] += 1  # the window has passed: the right code works
        r = try_code(codes["b"])
        assert r.status_code == 200 and r.json()["device"] == "b"
    finally:
        engine.dispose()
