"""Team keys for the desktop app: create a team CA, issue a signer's PKCS#12, hand out the CA
certificate. Thin operations over export/keys.py, so the UI never imports export/ directly;
export errors become KuaError (the UI explains KuaError texts to the user)."""

from __future__ import annotations

import shutil
from pathlib import Path

from app.errors import KuaError
from export import keys
from export.errors import ExportError

CertInfo = keys.CertInfo
CA_CERT = keys.CA_CERT
CA_KEY = keys.CA_KEY


def create_team_ca(name: str, out_dir: Path, password: bytes | None = None) -> CertInfo:
    """A new team CA in out_dir (ca-cert.pem for the commission, ca-key.pem kept offline)."""
    try:
        return keys.create_ca(name, Path(out_dir), password or None)
    except ExportError as exc:
        raise KuaError(str(exc)) from exc


def issue_signer(
    ca_dir: Path,
    full_name: str,
    out_p12: Path,
    p12_password: bytes,
    ca_password: bytes | None = None,
) -> CertInfo:
    """A signer's key and certificate from the team CA, as a password-protected PKCS#12."""
    try:
        return keys.issue_signer(
            Path(ca_dir), full_name, Path(out_p12), p12_password, ca_password or None
        )
    except ExportError as exc:
        raise KuaError(str(exc)) from exc


def export_ca_certificate(ca: Path, dest: Path) -> CertInfo:
    """Copy the team CA's certificate (a CA folder or the PEM itself) to dest, for the
    commission. Only the certificate: the CA's key never leaves its folder."""
    ca = Path(ca)
    src = ca / CA_CERT if ca.is_dir() else ca
    try:
        certs = keys.load_pem_certs(src)
    except ExportError as exc:
        raise KuaError(str(exc)) from exc
    if not certs:
        raise KuaError(f"{src}: not a certificate (PEM or DER)")
    dest = Path(dest)
    try:
        if dest.resolve() != src.resolve():
            shutil.copyfile(src, dest)
    except OSError as exc:
        raise KuaError(f"cannot write to {dest.parent}: {exc.strerror or exc}") from exc
    cert = certs[0]
    return CertInfo(
        keys.common_name(cert),
        keys.fingerprint(cert),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        dest,
    )
