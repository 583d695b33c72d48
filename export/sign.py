"""PAdES signatures with pyHanko: keys from PKCS#12 (or a PKCS#11 token), a visible stamp set in
Noto Sans, B-T when a timestamp server answers and B-B otherwise, atomic output.

* PKCS#12 is opened with `cryptography` rather than ``SimpleSigner.load_pkcs12``: the latter
  returns None (and only logs) on a wrong password, while we need to say what went wrong.
* The certificate is checked before any work: expired or not yet valid, or a keyUsage without
  digitalSignature/nonRepudiation, is refused with a message (pyHanko itself only checks key
  usage when given a validation context).
* The timestamp client uses urllib: pyHanko's HTTP clients need ``requests`` or an aiohttp
  session, and one POST does not justify either. The server is probed before signing (pyHanko
  asks it for a dummy token anyway, to size the signature), so an unreachable server costs one
  failed request and the file is signed B-B with a notice instead.
* Output goes to a temporary file in the destination folder, is fsynced and renamed: there is
  never a 0-byte or half-written PDF under the requested name.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import io
import logging
import math
import os
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from fontTools import ttLib
from pyhanko.keys.internal import (
    translate_pyca_cryptography_cert_to_asn1,
    translate_pyca_cryptography_key_to_asn1,
)
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from export.errors import ExportError
from export.keys import common_name, fingerprint
from storage.files import atomic_file

FIELD_NAME = "Signature1"
TSA_TIMEOUT = 10.0


@dataclass
class LoadedSigner:
    """A pyHanko signer and the certificate it signs with (as `cryptography` sees it)."""

    signer: signers.Signer
    cert: x509.Certificate
    close: Callable[[], None] = field(default=lambda: None)

    @property
    def name(self) -> str:
        return common_name(self.cert)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.cert)


@dataclass(frozen=True)
class SignOutcome:
    level: str  # "B-B" or "B-T"
    notice: str | None  # e.g. why there is no timestamp
    sha256: str  # of the written file
    size: int


def check_certificate(cert: x509.Certificate, now: datetime | None = None) -> None:
    """Refuse certificates that cannot make a valid signature now."""
    now = now or datetime.now(UTC)
    who = common_name(cert)
    if now < cert.not_valid_before_utc:
        raise ExportError(
            f"certificate of {who} is not valid yet (from {cert.not_valid_before_utc:%Y-%m-%d})"
        )
    if now > cert.not_valid_after_utc:
        raise ExportError(
            f"certificate of {who} expired on {cert.not_valid_after_utc:%Y-%m-%d}: "
            "issue a new one (`keys issue`)"
        )
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return  # no keyUsage extension: any use is allowed (RFC 5280 4.2.1.3)
    if not (ku.digital_signature or ku.content_commitment):
        raise ExportError(
            f"certificate of {who} is not for signing (its key usage has neither "
            "digitalSignature nor nonRepudiation)"
        )


def load_pkcs12(path: Path, password: bytes) -> LoadedSigner:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, password or None)
    except ValueError as exc:
        raise ExportError(
            f"{path.name}: wrong password, or not a PKCS#12 (.p12/.pfx) file"
        ) from exc
    if key is None or cert is None:
        raise ExportError(f"{path.name}: holds no private key with its certificate")
    check_certificate(cert)
    signer = signers.SimpleSigner(
        signing_cert=translate_pyca_cryptography_cert_to_asn1(cert),
        signing_key=translate_pyca_cryptography_key_to_asn1(key),
        cert_registry=SimpleCertificateStore.from_certs(
            [translate_pyca_cryptography_cert_to_asn1(c) for c in extra]
        ),
    )
    return LoadedSigner(signer, cert)


def load_pkcs11(
    lib_path: str,
    token_label: str,
    pin: str | None,
    key_label: str | None = None,
    cert_label: str | None = None,
) -> LoadedSigner:  # pragma: no cover - needs a token; see the note below
    """A signer on a PKCS#11 token (smart card, USB key).

    UNTESTED: no token or SoftHSM is available in CI. It needs the optional dependency
    ``python-pkcs11`` (``pip install 'pyHanko[pkcs11]'``), which is not a required dependency.
    Call ``close()`` on the result when done: it ends the token session.
    """
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11 as p11
    except ImportError as exc:
        raise ExportError(
            "PKCS#11 tokens need the optional package python-pkcs11 (pip install 'pyHanko[pkcs11]')"
        ) from exc
    try:
        session = p11.open_pkcs11_session(
            lib_path, token_criteria=TokenCriteria(label=token_label), user_pin=pin
        )
    except Exception as exc:  # noqa: BLE001 - python-pkcs11 raises many unrelated types
        raise ExportError(f"cannot open token {token_label!r}: {exc}") from exc
    signer = p11.PKCS11Signer(session, cert_label=cert_label, key_label=key_label)
    cert = x509.load_der_x509_certificate(signer.signing_cert.dump())
    check_certificate(cert)
    return LoadedSigner(signer, cert, close=session.close)


class UrllibTimeStamper(TimeStamper):
    """RFC 3161 over HTTP POST with the standard library (see the module note)."""

    def __init__(self, url: str, timeout: float = TSA_TIMEOUT) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # pyHanko leaves it unannotated
        self.url, self.timeout = url, timeout

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        def task() -> tsp.TimeStampResp:
            request = urllib.request.Request(
                self.url,
                data=req.dump(),
                headers={"Content-Type": "application/timestamp-query"},
                method="POST",
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                    ctype = resp.headers.get("Content-Type", "")
                    body = resp.read()
            except (OSError, urllib.error.URLError) as exc:
                raise TimestampRequestError(f"no answer from {self.url} ({_reason(exc)})") from exc
            if not ctype.startswith("application/timestamp-reply"):
                raise TimestampRequestError(f"{self.url} did not answer with a timestamp")
            try:
                return tsp.TimeStampResp.load(body)
            except ValueError as exc:
                raise TimestampRequestError(f"{self.url} sent a malformed timestamp") from exc

        return await asyncio.to_thread(task)


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    if isinstance(inner, BaseException):
        exc = inner
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def probe_timestamper(url: str) -> tuple[TimeStamper | None, str | None]:
    """A timestamper that answered a dummy request, or None and the reason it did not."""
    ts = UrllibTimeStamper(url)
    try:
        with _quiet_pyhanko():
            asyncio.run(ts.async_dummy_response("sha256"))
    except Exception as exc:  # noqa: BLE001 - any failure means "no timestamp", never a crash
        return None, str(exc) or type(exc).__name__
    return ts, None


@contextlib.contextmanager
def _quiet_pyhanko() -> Iterator[None]:
    """pyHanko logs a traceback at ERROR level for failures we report ourselves."""
    loggers = [logging.getLogger(n) for n in ("pyhanko", "pyhanko_certvalidator")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


@contextlib.contextmanager
def atomic_output(out_path: Path) -> Iterator[Any]:
    """A file object (w+b) that becomes out_path only if the block completes."""
    with contextlib.ExitStack() as stack:
        try:
            f = stack.enter_context(atomic_file(out_path))
        except OSError as exc:  # only the temp file's creation: the folder is not writable
            folder = out_path.parent if str(out_path.parent) else Path(".")
            raise ExportError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
        yield f


def check_writable(out_path: Path) -> None:
    """Fail early (before rendering) when the destination cannot be written."""
    if out_path.is_dir():
        raise ExportError(f"{out_path}: is a folder; give a file name ending in .pdf")
    folder = out_path.parent if str(out_path.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"cannot write to {folder}: no such folder")
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{out_path.name}.", suffix=".part")
    except OSError as exc:
        raise ExportError(f"cannot write to {folder}: {exc.strerror or exc}") from exc
    os.close(fd)
    os.unlink(tmp)


def _sha256_of(f: Any) -> tuple[str, int]:
    f.seek(0)
    h = hashlib.sha256()
    size = 0
    while chunk := f.read(1 << 20):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def write_unsigned(w: IncrementalPdfFileWriter, out_path: Path) -> SignOutcome:
    with atomic_output(out_path) as f:
        w.write(f)
        sha, size = _sha256_of(f)
    return SignOutcome("unsigned", None, sha, size)


@dataclass(frozen=True)
class StampSpec:
    page: int  # 0-based
    box: tuple[float, float, float, float]
    text: str  # with %(signer)s, %(ts)s, %(level)s
    font: Path
    reason: str | None = None
    location: str | None = None


@functools.lru_cache(maxsize=4)
def _stamp_font(path: str) -> bytes:
    """The font without its OpenType layout tables, once per process.

    Subsetting the full Noto Sans decompiles its large GPOS/GSUB tables (~0.3 s per
    signature); a stamp of Cyrillic and Latin text needs no shaping beyond the cmap, so
    they are dropped. The glyphs and metrics are untouched."""
    with ttLib.TTFont(path, lazy=True) as tt:
        for tag in ("GPOS", "GSUB", "GDEF", "kern"):
            if tag in tt:
                del tt[tag]
        buf = io.BytesIO()
        tt.save(buf)
    return buf.getvalue()


class _FontFromBytes(GlyphAccumulatorFactory):
    """GlyphAccumulatorFactory opens the font file and never closes it (a ResourceWarning per
    signature); hand it the (reduced, cached) bytes instead."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(_stamp_font(self.font_file)),
            font_size=self.font_size,
            obj_stream=obj_stream,
        )


def _stamp_style(spec: StampSpec) -> TextStampStyle:
    return TextStampStyle(
        stamp_text=spec.text,
        text_box_style=TextBoxStyle(
            font=_FontFromBytes(str(spec.font), font_size=8),
            font_size=8,
            leading=10,
        ),
        border_width=1,
        background=None,
        timestamp_format="%Y-%m-%d %H:%M:%S %Z",
    )


def sign_to_file(
    make_writer: Callable[[], IncrementalPdfFileWriter],
    out_path: Path,
    loaded: LoadedSigner,
    stamp: StampSpec,
    timestamp_url: str | None = None,
) -> SignOutcome:
    """Sign the writer's document (PAdES B-B, or B-T when timestamp_url answers) into out_path.

    make_writer is called again if the timestamp server fails after answering the probe, so
    the retry starts from a clean writer."""
    timestamper: TimeStamper | None = None
    notice: str | None = None
    if timestamp_url:
        timestamper, why = probe_timestamper(timestamp_url)
        if timestamper is None:
            notice = f"timestamp server did not answer ({why}): signed without a timestamp (B-B)"
    try:
        return _sign_once(make_writer(), out_path, loaded, stamp, timestamper, notice)
    except TimestampRequestError as exc:
        notice = f"timestamp server failed ({exc}): signed without a timestamp (B-B)"
        return _sign_once(make_writer(), out_path, loaded, stamp, None, notice)


def _int_box(box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """PDF points, rounded inwards so the stamp stays inside the reserved box."""
    x1, y1, x2, y2 = box
    return math.ceil(x1), math.ceil(y1), math.floor(x2), math.floor(y2)


def _sign_once(
    w: IncrementalPdfFileWriter,
    out_path: Path,
    loaded: LoadedSigner,
    stamp: StampSpec,
    timestamper: TimeStamper | None,
    notice: str | None,
) -> SignOutcome:
    level = "B-T" if timestamper is not None else "B-B"
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD_NAME,
        md_algorithm="sha256",
        # ETSI.CAdES.detached: the PAdES baseline profile (no CMS signing-time attribute;
        # the signing certificate is bound by the signing-certificate-v2 attribute).
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=stamp.reason,
        location=stamp.location,
        name=loaded.name,
    )
    pdf_signer = signers.PdfSigner(
        meta,
        signer=loaded.signer,
        timestamper=timestamper,
        stamp_style=_stamp_style(stamp),
        new_field_spec=fields.SigFieldSpec(
            sig_field_name=FIELD_NAME,
            on_page=stamp.page,
            box=_int_box(stamp.box),
        ),
    )
    with atomic_output(out_path) as f, _quiet_pyhanko(), warnings.catch_warnings():
        # asn1crypto/pyHanko may warn about legacy constructs in third-party certificates;
        # the signature is still made and verified on its own terms.
        warnings.simplefilter("ignore", DeprecationWarning)
        pdf_signer.sign_pdf(
            w,
            output=f,
            appearance_text_params={"level": f"PAdES {level}"},
            # pyHanko's default 4 KiB chunks mean ~20,000 reads to digest 80 MB of photos.
            chunk_size=1 << 20,
        )
        sha, size = _sha256_of(f)
    return SignOutcome(level, notice, sha, size)
