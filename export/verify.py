"""Check a complaint PDF: its signature (pyHanko) and its embedded evidence (SHA-256 list).

Findings, not just a yes/no: who signed, when, whether the bytes are intact, whether the
signature covers the whole file (an incremental update after signing is reported and counts as
a failure), whether the signer chains to a given CA, and, per embedded file, whether its bytes
match the SHA-256 the document lists for it (the ``/KuaEvidence`` manifest in the Info
dictionary, and the hash in the attachment's description).

Offline by design: no OCSP/CRL fetching, so a check gives the same answer in a courtroom
without network as on the laptop that made it.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from export.errors import ExportError
from export.keys import common_name
from export.keys import fingerprint as cert_fingerprint
from export.pdf import MANIFEST_KEY
from export.sign import _quiet_pyhanko

_HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@dataclass(frozen=True)
class FileCheck:
    name: str
    listed_sha256: str | None  # from the manifest (None: the file is not listed)
    actual_sha256: str | None  # of the embedded bytes (None: listed but not embedded)
    size: int | None
    ok: bool
    problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listed_sha256": self.listed_sha256,
            "actual_sha256": self.actual_sha256,
            "size": self.size,
            "ok": self.ok,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class SignatureFinding:
    field: str
    signer: str | None
    signer_fingerprint: str | None
    signing_time: str | None  # claimed by the signer (PAdES: the /M entry)
    timestamp: str | None  # from a timestamp token (B-T), if any
    level: str  # "B-B" or "B-T"
    intact: bool  # the signed bytes hash to the signed digest
    valid: bool  # the cryptographic signature is valid
    whole_file: bool  # covers every byte of the file
    coverage: str
    modified_after: str | None  # what an update after signing changed, if any
    trusted: bool | None  # None when no trust anchor was given
    trust_problem: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class VerifyReport:
    file: str
    signatures: tuple[SignatureFinding, ...]
    files: tuple[FileCheck, ...]
    manifest_found: bool
    problems: tuple[str, ...] = field(default=())
    trust_given: bool = False

    @property
    def signed(self) -> bool:
        return bool(self.signatures)

    @property
    def ok(self) -> bool:
        if not self.signatures or self.problems:
            return False
        sig = self.signatures[-1]  # the last signature must cover the whole file
        return (
            all(s.intact and s.valid for s in self.signatures)
            and sig.whole_file
            and all(f.ok for f in self.files)
            and (not self.trust_given or all(s.trusted for s in self.signatures))
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": self.ok,
            "signed": self.signed,
            "signatures": [s.to_json() for s in self.signatures],
            "manifest_found": self.manifest_found,
            "embedded_files": [f.to_json() for f in self.files],
            "problems": list(self.problems),
        }


def verify_pdf(path: Path, trust: Sequence[x509.Certificate] = ()) -> VerifyReport:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    if not data.startswith(b"%PDF-"):
        raise ExportError(f"{path}: not a PDF file")
    with _quiet_pyhanko(), warnings.catch_warnings():
        # pyHanko warns (DeprecationWarning) on some legacy structures in third-party files;
        # those are findings for the report, not reasons to stop.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            reader = PdfFileReader(io.BytesIO(data), strict=False)
            sigs = list(reader.embedded_signatures)
        except (PdfReadError, ValueError, KeyError, TypeError) as exc:
            return VerifyReport(
                str(path), (), (), False, (f"the file is damaged and cannot be read ({exc})",)
            )
        findings = []
        problems: list[str] = []
        for sig in sigs:
            try:
                findings.append(_check_signature(sig, trust))
            except Exception as exc:  # noqa: BLE001 - a mangled signature is a finding
                problems.append(f"signature {sig.field_name}: cannot be checked ({exc})")
        try:
            manifest_found, files = _check_files(reader)
        except Exception as exc:  # noqa: BLE001 - a mangled attachment tree is a finding too
            manifest_found, files = False, []
            problems.append(f"embedded files cannot be read ({exc})")
    return VerifyReport(
        str(path), tuple(findings), tuple(files), manifest_found, tuple(problems), bool(trust)
    )


def _check_signature(sig: Any, trust: Sequence[x509.Certificate]) -> SignatureFinding:
    from pyhanko.keys.internal import translate_pyca_cryptography_cert_to_asn1 as to_asn1

    vc = ValidationContext(
        trust_roots=[to_asn1(c) for c in trust], allow_fetching=False, revocation_mode="soft-fail"
    )
    status = validate_pdf_signature(sig, signer_validation_context=vc)
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    ts = status.timestamp_validity
    coverage = status.coverage
    whole = coverage == SignatureCoverageLevel.ENTIRE_FILE
    modified = None
    if not whole and status.modification_level is not None:
        modified = status.modification_level.name.lower()
    elif not whole:
        modified = "unknown"
    trusted: bool | None = None
    trust_problem = None
    if trust:
        trusted = bool(status.trusted)
        if not trusted:
            indic = status.trust_problem_indic
            trust_problem = str(indic) if indic is not None else "not trusted"
    return SignatureFinding(
        field=str(sig.field_name),
        signer=common_name(cert),
        signer_fingerprint=cert_fingerprint(cert),
        signing_time=_iso(status.signer_reported_dt or sig.self_reported_timestamp),
        timestamp=_iso(ts.timestamp) if ts is not None else None,
        level="B-T" if ts is not None else "B-B",
        intact=bool(status.intact),
        valid=bool(status.valid),
        whole_file=whole,
        coverage=coverage.name.lower() if coverage is not None else "unknown",
        modified_after=modified,
        trusted=trusted,
        trust_problem=trust_problem,
    )


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _check_files(reader: PdfFileReader) -> tuple[bool, list[FileCheck]]:
    listed = _manifest(reader)
    embedded = dict(_embedded_files(reader))
    checks: list[FileCheck] = []
    for name, (sha, size, _embedded_flag) in (listed or {}).items():
        if not _embedded_flag:
            continue
        got = embedded.pop(name, None)
        if got is None:
            checks.append(FileCheck(name, sha, None, size, False, "listed but not embedded"))
            continue
        actual, actual_size, desc_hashes = got
        problem = None
        if actual != sha:
            problem = "embedded bytes do not match the listed SHA-256"
        elif desc_hashes and actual not in desc_hashes:
            problem = "the attachment's description names another SHA-256"
        checks.append(FileCheck(name, sha, actual, actual_size, problem is None, problem))
    for name, (actual, actual_size, _desc) in embedded.items():
        checks.append(FileCheck(name, None, actual, actual_size, False, "embedded but not listed"))
    return listed is not None, checks


def _manifest(reader: PdfFileReader) -> dict[str, tuple[str, int, bool]] | None:
    info = _deref(reader.trailer_view, "/Info")
    if not isinstance(info, generic.DictionaryObject) or MANIFEST_KEY not in info:
        return None
    raw = json.loads(str(info[MANIFEST_KEY]))
    return {
        str(f["name"]): (str(f["sha256"]), int(f["size"]), bool(f.get("embedded", True)))
        for f in raw.get("files", [])
    }


def _embedded_files(reader: PdfFileReader) -> Iterator[tuple[str, tuple[str, int, set[str]]]]:
    names = _deref(reader.root, "/Names")
    if not isinstance(names, generic.DictionaryObject):
        return
    tree = _deref(names, "/EmbeddedFiles")
    if not isinstance(tree, generic.DictionaryObject):
        return
    for spec in _name_tree_values(tree):
        spec = spec.get_object()
        name = str(_deref(spec, "/UF") or _deref(spec, "/F") or "")
        ef = _deref(spec, "/EF")
        if not isinstance(ef, generic.DictionaryObject):
            continue
        ref = ef.get("/UF") or ef.get("/F")
        if ref is None:
            continue
        stream = ref.get_object()
        data = stream.data
        desc = str(_deref(spec, "/Desc") or "")
        yield name, (hashlib.sha256(data).hexdigest(), len(data), set(_HEX64.findall(desc)))


def _name_tree_values(node: generic.DictionaryObject, depth: int = 0) -> Iterator[Any]:
    if depth > 32:  # a cycle or a hostile file
        return
    arr = _deref(node, "/Names")
    if isinstance(arr, generic.ArrayObject):
        yield from list(arr)[1::2]
    kids = _deref(node, "/Kids")
    if isinstance(kids, generic.ArrayObject):
        for kid in kids:
            yield from _name_tree_values(kid.get_object(), depth + 1)


def _deref(d: Any, key: str) -> Any:
    """d[key] resolved (pyHanko's DictionaryObject.get returns indirect references as is)."""
    value = d.get(key) if isinstance(d, generic.DictionaryObject) else None
    return value.get_object() if isinstance(value, generic.IndirectObject) else value
