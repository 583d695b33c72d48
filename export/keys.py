"""Keys for teams without a national certificate: a team CA and the signer certificates it issues.

The CA folder holds ``ca-cert.pem`` (hand it to the commission: `verify --trust` and Adobe both
take it) and ``ca-key.pem`` (keep it offline; encrypted when a password was given). Signer keys
are written only as password-protected PKCS#12 files, the format national CAs issue, so the
signing code has a single input format.

Plain `cryptography` (a pyHanko dependency); no app/ imports (the export layer gets plain data).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from export.errors import ExportError
from storage.files import write_atomic

CA_CERT = "ca-cert.pem"
CA_KEY = "ca-key.pem"
# RSA rather than EC: every PDF reader (old Acrobat, poppler with NSS or GPGME) verifies RSA.
CA_KEY_BITS = 3072
SIGNER_KEY_BITS = 2048
CA_DAYS = 10 * 365
SIGNER_DAYS = 2 * 365
# id-kp-documentSigning (RFC 9336): what Acrobat and newer validators expect on signing certs.
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@dataclass(frozen=True)
class CertInfo:
    subject: str
    fingerprint: str  # SHA-256 of the DER certificate, hex
    not_before: datetime
    not_after: datetime
    path: Path


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def common_name(cert: x509.Certificate) -> str:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    value = names[0].value if names else cert.subject.rfc4514_string()
    return value.decode() if isinstance(value, bytes) else value


def _info(cert: x509.Certificate, path: Path) -> CertInfo:
    return CertInfo(
        common_name(cert),
        fingerprint(cert),
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
        path,
    )


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def create_ca(
    name: str, out_dir: Path, password: bytes | None = None, days: int = CA_DAYS
) -> CertInfo:
    """A self-signed team CA in out_dir. Refuses to overwrite an existing CA."""
    name = name.strip()
    if not name:
        raise ExportError("the CA needs a name (--name)")
    cert_path, key_path = out_dir / CA_CERT, out_dir / CA_KEY
    if cert_path.exists() or key_path.exists():
        raise ExportError(f"{out_dir}: already holds a CA; choose an empty folder")
    key = rsa.generate_private_key(public_exponent=65537, key_size=CA_KEY_BITS)
    now = datetime.now(UTC)
    subject = _name(name)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            ),
            0o600,
        )
        write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    except OSError as exc:
        key_path.unlink(missing_ok=True)
        raise ExportError(f"{out_dir}: cannot write the CA ({exc.strerror or exc})") from exc
    return _info(cert, cert_path)


def load_ca(ca_dir: Path, password: bytes | None) -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    try:
        cert = x509.load_pem_x509_certificate((ca_dir / CA_CERT).read_bytes())
        key_pem = (ca_dir / CA_KEY).read_bytes()
    except FileNotFoundError as exc:
        raise ExportError(f"{ca_dir}: no team CA here ({exc.filename} is missing)") from exc
    except ValueError as exc:
        raise ExportError(f"{ca_dir / CA_CERT}: not a PEM certificate") from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password)
    except TypeError as exc:  # encrypted but no password, or a password for a plain key
        msg = "the CA key is encrypted: give its password" if password is None else str(exc)
        raise ExportError(f"{ca_dir / CA_KEY}: {msg}") from exc
    except ValueError as exc:
        raise ExportError(f"{ca_dir / CA_KEY}: wrong password or not a private key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ExportError(f"{ca_dir / CA_KEY}: not an RSA key")
    return cert, key


def issue_signer(
    ca_dir: Path,
    full_name: str,
    out_p12: Path,
    p12_password: bytes,
    ca_password: bytes | None = None,
    *,
    days: int = SIGNER_DAYS,
    valid_from: datetime | None = None,
    organization: str | None = None,
) -> CertInfo:
    """A signer certificate and key from the team CA, as a PKCS#12 file (key, cert, CA cert).

    keyUsage digitalSignature + nonRepudiation (what PAdES signatures need), extendedKeyUsage
    documentSigning + emailProtection (Acrobat accepts either), validity two years by default.
    """
    full_name = full_name.strip()
    if not full_name:
        raise ExportError("the signer needs a full name (--name)")
    if not p12_password:
        raise ExportError("the PKCS#12 file needs a password (--password-file)")
    ca_cert, ca_key = load_ca(ca_dir, ca_password)
    key = rsa.generate_private_key(public_exponent=65537, key_size=SIGNER_KEY_BITS)
    start = valid_from or datetime.now(UTC) - timedelta(minutes=5)
    ca_org = ca_cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    org_value = organization or (str(ca_org[0].value) if ca_org else None)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(full_name, org_value))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([DOCUMENT_SIGNING, ExtendedKeyUsageOID.EMAIL_PROTECTION]),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        full_name.encode(),
        key,
        cert,
        [ca_cert],
        serialization.BestAvailableEncryption(p12_password),
    )
    try:
        out_p12.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(out_p12, data, 0o600)
    except OSError as exc:
        raise ExportError(f"{out_p12}: cannot write ({exc.strerror or exc})") from exc
    return _info(cert, out_p12)


def load_pem_certs(path: Path) -> list[x509.Certificate]:
    """Certificates from a PEM (one or many) or DER file, e.g. a team CA given to `--trust`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise ExportError(f"{path}: not a certificate (PEM or DER)") from exc
