"""What the user is told when something fails.

Known errors (bad input, disk full, database locked, unreadable file) are explained in words
the user can act on, in the interface language; the English text from app/ stays available as
the message's details (what a developer or a helpdesk would ask for). Anything else is a bug:
its traceback goes to a crash log in the data folder and the message names that file, so it can
be sent to the developers. Nothing fails silently: worker errors without their own handler, and
exceptions escaping a slot, come here.
"""

from __future__ import annotations

import errno
import re
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication
from PySide6.QtWidgets import QApplication, QWidget
from sqlalchemy.exc import DatabaseError

from app.cli import write_crash_log
from app.errors import KuaError
from app.store import describe_environment_error, is_environment_error
from ui import dialogs

_tr = partial(QCoreApplication.translate, "errors")
_data_dir: Path | None = None  # where crash logs go; set by install()


@dataclass(frozen=True)
class Explanation:
    title: str
    text: str  # in the interface language
    details: str = ""  # the original (English) text, when text is a translation of it


# --- environment errors: what happened to the computer ------------------------------------


class Trouble(Enum):
    """The kinds of environment error we can explain, each with its own advice."""

    DISK_FULL = "disk_full"
    NO_PERMISSION = "no_permission"
    READ_ONLY = "read_only"
    LOCKED = "locked"
    DAMAGED = "damaged"
    FOLDER = "folder"  # another OSError: disk removed, file in use, …
    DATABASE = "database"  # another database error


# SQLite's own result names (sqlite3.Error.sqlite_errorname, Python 3.11+), most reliable.
_SQLITE_NAMES = {
    "SQLITE_FULL": Trouble.DISK_FULL,
    "SQLITE_BUSY": Trouble.LOCKED,
    "SQLITE_LOCKED": Trouble.LOCKED,
    "SQLITE_READONLY": Trouble.READ_ONLY,
    "SQLITE_PERM": Trouble.NO_PERMISSION,
    "SQLITE_CORRUPT": Trouble.DAMAGED,
    "SQLITE_NOTADB": Trouble.DAMAGED,
}
# Otherwise the message: first match wins ("database or disk is full" before anything else).
_SQLITE_WORDS = (
    ("disk is full", Trouble.DISK_FULL),
    ("locked", Trouble.LOCKED),
    ("busy", Trouble.LOCKED),
    ("readonly", Trouble.READ_ONLY),
    ("read-only", Trouble.READ_ONLY),
    ("malformed", Trouble.DAMAGED),
    ("not a database", Trouble.DAMAGED),
)


def _sqlite_trouble(exc: BaseException) -> Trouble | None:
    """The problem a database error names (SQLAlchemy's wrapper or the driver's own error)."""
    # SQLAlchemy's own str() adds the SQL and the parameters, which may hold the user's text
    # ("the box was locked"), so look at the driver's error.
    original = getattr(exc, "orig", None) or exc
    name = getattr(original, "sqlite_errorname", None)
    if isinstance(original, sqlite3.Error) and isinstance(name, str):
        for prefix, trouble in _SQLITE_NAMES.items():
            if name == prefix or name.startswith(prefix + "_"):
                return trouble
    low = str(original).lower()
    for word, trouble in _SQLITE_WORDS:
        if word in low:
            return trouble
    return None


def _is_environment(exc: BaseException) -> bool:
    if is_environment_error(exc):
        return True
    # A damaged file surfaces as a DatabaseError, which app.store does not count among its
    # environment errors (it is no OperationalError); recognise it by what SQLite says.
    return isinstance(exc, DatabaseError | sqlite3.DatabaseError) and \
        _sqlite_trouble(exc) is not None


def environment_cause(exc: BaseException | None) -> BaseException | None:
    """The environment error behind exc: exc itself, or what a KuaError was raised from
    (the store wraps a failed open that way)."""
    for _ in range(5):
        if exc is None:
            return None
        if _is_environment(exc):
            return exc
        exc = exc.__cause__
    return None


def classify(exc: BaseException) -> Trouble | None:
    """Which environment problem exc is, or None if it is not one."""
    cause = environment_cause(exc)
    if cause is None:
        return None
    if isinstance(cause, OSError):
        if cause.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
            return Trouble.DISK_FULL
        if cause.errno in (errno.EACCES, errno.EPERM):
            return Trouble.NO_PERMISSION
        if cause.errno == errno.EROFS:
            return Trouble.READ_ONLY
        return Trouble.FOLDER
    return _sqlite_trouble(cause) or Trouble.DATABASE


def trouble_text(trouble: Trouble, folder: Path | str) -> str:
    """What happened and what to do, in the interface language."""
    texts = {
        Trouble.DISK_FULL: _tr(
            "The disk is full, so the last change was not saved. Free some space on the disk "
            "that holds {folder} and try again. Everything saved before is safe."),
        Trouble.NO_PERMISSION: _tr(
            "Kuä is not allowed to write to {folder}. Check the folder's permissions, or start "
            "Kuä with another data folder."),
        Trouble.READ_ONLY: _tr(
            "{folder} is read-only (for example a write-protected memory card). Copy the data "
            "folder to a writable disk, or remove the protection, and try again."),
        Trouble.LOCKED: _tr(
            "The database is busy: another Kuä window or another program is using it. Close "
            "the other window, wait a moment and try again."),
        Trouble.DAMAGED: _tr(
            "The database in {folder} is damaged or is not a Kuä database. Do not delete "
            "anything: make a copy of the data folder and ask your coordinator or the "
            "developers for help."),
        Trouble.FOLDER: _tr(
            "{folder} cannot be used: the disk may have been removed, or the file is open in "
            "another program. Check it and try again."),
        Trouble.DATABASE: _tr(
            "The database could not complete the operation. Try again; if it keeps happening, "
            "restart Kuä."),
    }
    return texts[trouble].format(folder=folder)


def _place(cause: BaseException, data_dir: Path) -> str:
    """The file the error is about (an OSError usually names it), else the data folder."""
    if isinstance(cause, OSError) and cause.filename:
        return str(cause.filename)
    return str(data_dir)


def _english(exc: BaseException, data_dir: Path) -> str:
    """app/'s own description, then the raw error: the details a helper would ask for."""
    cause = environment_cause(exc) or exc
    original = getattr(cause, "orig", None) or cause
    described = describe_environment_error(cause, data_dir)
    raw = f"{type(original).__name__}: {original}"
    return described if raw in described else f"{described}\n\n{raw}"


# --- errors a user can act on (KuaError) that the UI can still meet -----------------------

# A pattern of app/'s English text, and its translation: {name} stands for the group name.
_Rule = tuple["re.Pattern[str]", Callable[[], str]]


def _known_rules() -> list[_Rule]:
    return [
        (re.compile(r"^station '(?P<code>[^']*)': no such station"),
         lambda: _tr("There is no station {code} in this election. Type its code or part of "
                     "its name and choose it from the list.")),
        (re.compile(r"^text: (describe what happened|the description must not be empty)"),
         lambda: _tr("Describe what happened.")),
        (re.compile(r"^incident \S+: no such incident"),
         lambda: _tr("This incident no longer exists (it may have been deleted on another "
                     "computer). Press F5 to refresh the list.")),
        (re.compile(r"^evidence \S+: no such evidence"),
         lambda: _tr("This photo is no longer stored. Press F5 to refresh the list.")),
        (re.compile(r"^There is no election yet"),
         lambda: _tr("There is no election yet: import a station list or load the demo "
                     "election from the File menu.")),
        (re.compile(r"^(?P<file>.+): cannot read the file"),
         lambda: _tr("Cannot read the file {file}.")),
        *_complaint_rules(),
    ]


def _complaint_rules() -> list[_Rule]:
    """Signing keys, complaint export and team keys (export/sign.py, export/keys.py)."""
    return [
        (re.compile(r"^(?P<file>.+): wrong password, or not a PKCS#12"),
         lambda: _tr("The password does not open {file}, or the file is not a signing key "
                     "(.p12/.pfx). Check the password and try again.")),
        (re.compile(r"^(?P<file>.+): holds no private key"),
         lambda: _tr("{file} holds no signing key with its certificate.")),
        (re.compile(r"^certificate of (?P<who>.+) expired on (?P<day>\S+?):"),
         lambda: _tr("The certificate of {who} expired on {day}: it can no longer sign. "
                     "Issue a new signing key (Tools > Team keys).")),
        (re.compile(r"^certificate of (?P<who>.+) is not valid yet \(from (?P<day>[^)]+)\)"),
         lambda: _tr("The certificate of {who} is valid only from {day}. Check the "
                     "computer's date.")),
        (re.compile(r"^certificate of (?P<who>.+) is not for signing"),
         lambda: _tr("The certificate of {who} is not meant for signing documents.")),
        (re.compile(r"^(?P<path>.+): is a folder; give a file name"),
         lambda: _tr("{path} is a folder: give a file name ending in .pdf.")),
        (re.compile(r"^cannot write to (?P<folder>.+?): no such folder"),
         lambda: _tr("The folder {folder} does not exist. Choose another place for the "
                     "file.")),
        (re.compile(r"^cannot write to (?P<folder>.+?): "),
         lambda: _tr("Kuä cannot write to the folder {folder}. Choose another place for the "
                     "file.")),
        (re.compile(r"^(?P<file>.+): cannot write \("),
         lambda: _tr("Kuä cannot write {file}. Choose another place for the file.")),
        (re.compile(r"^evidence (?P<name>.+) \(\S+\) is missing from the data folder"),
         lambda: _tr("The photo {name} is missing from the data folder, so the complaint "
                     "cannot include it. Leave it out, or restore the data folder from a "
                     "copy.")),
        (re.compile(r"^evidence (?P<name>.+) \(\S+\) is corrupt"),
         lambda: _tr("The photo {name} has been changed or damaged since it was stored, so "
                     "the complaint cannot include it as evidence.")),
        (re.compile(r"^a complaint needs at least one incident"),
         lambda: _tr("Choose at least one incident for the complaint.")),
        (re.compile(r"^the CA needs a name"),
         lambda: _tr("Give the team CA a name.")),
        (re.compile(r"^(?P<folder>.+): already holds a CA"),
         lambda: _tr("{folder} already holds a team CA: choose an empty folder.")),
        (re.compile(r"^(?P<folder>.+): no team CA here"),
         lambda: _tr("There is no team CA in {folder}: choose the folder with "
                     "ca-cert.pem and ca-key.pem.")),
        (re.compile(r"^(?P<file>.+): the CA key is encrypted"),
         lambda: _tr("The team CA's key is protected by a password: enter it.")),
        (re.compile(r"^(?P<file>.+): wrong password or not a private key"),
         lambda: _tr("The password does not open the team CA's key.")),
        (re.compile(r"^the signer needs a full name"),
         lambda: _tr("Enter the signer's full name.")),
        (re.compile(r"^the PKCS#12 file needs a password"),
         lambda: _tr("The signing key needs a password.")),
        (re.compile(r"^(?P<file>.+): not a certificate"),
         lambda: _tr("{file} is not a certificate.")),
    ]


def timestamp_notice(notice: str) -> str:
    """The signer's notice (the timestamp server did not answer) in the interface language."""
    match = re.match(r"^timestamp server (did not answer|failed) \((?P<why>.*)\): signed "
                     r"without a timestamp", notice)
    if match is None:
        return notice
    return _tr("The timestamp server did not answer ({reason}), so the complaint is signed "
               "without a trusted time (PAdES B-B). The signature is valid; the time of "
               "signing is the computer's own.").format(reason=match["why"])


def translate_known(text: str) -> str | None:
    """A KuaError's English text in the interface language, if it is one we know."""
    for pattern, template in _known_rules():
        match = pattern.match(text)
        if match:
            return template().format(**match.groupdict())
    return file_problems(text)


# --- station lists and results tables (app/stations_csv.py, app/results_import.py) ---------

# Each problem is one line, "FILE line N, column C: REASON" (the line and the column may be
# absent). The place is rebuilt in the interface language and the reason translated by its
# own table, so a few rules cover every combination; names and values stay as in the file.
_WHERE = re.compile(r"(?P<file>.+?) line (?P<line>\d+)"
                    r"(?:, column (?P<column>'.*?'|.+?))?: (?P<reason>.+)")
_WHOLE_FILE = re.compile(r"(?P<file>.+?): (?P<reason>.+)")
_EXCEL_HINT = 'in Excel: File > Save As > "CSV UTF-8 (Comma delimited)"'


def _quoted(text: str) -> str:
    """A name or value from the file in the interface language's quotes (« » in Russian)."""
    return _tr("'{text}'").format(text=text)


def _unquote(text: str) -> str:
    return text[1:-1] if len(text) > 1 and text[0] == text[-1] == "'" else text


def _column(column: str) -> str:
    if column.isdigit():  # a column without a name: its number
        return _tr("column {number}").format(number=column)
    return _tr("column {name}").format(name=_unquote(column))


def _meaning(target: str) -> str:
    """What two columns both mean: a protocol line, a candidate or a station list column."""
    if match := re.fullmatch(r"line (\S+)", target):
        return _tr("protocol line {line}").format(line=match[1])
    if target.startswith("candidate "):
        return _tr("candidate {name}").format(name=target.removeprefix("candidate "))
    return _quoted(target)


def _excel_hint() -> str:
    return _tr('in Excel: File > Save As > "CSV UTF-8 (Comma delimited)"')


def _differences(diffs: str) -> str:
    """describe_conflict's "line 9: stored 5, new 6; Name: stored blank, new 3; and 2 more"."""
    def one(part: str) -> str:
        if match := re.fullmatch(r"and (\d+) more", part):
            return _tr("and {count} more").format(count=match[1])
        match = re.fullmatch(r"(?:line (?P<line>\S+)|(?P<name>.+)): stored (?P<old>\S+), "
                             r"new (?P<new>\S+)", part)
        if match is None:
            return part
        old, new = (_tr("blank") if v == "blank" else v for v in (match["old"], match["new"]))
        if match["line"]:
            return _tr("line {line}: stored {old}, new {new}").format(
                line=match["line"], old=old, new=new)
        return _tr("{name}: stored {old}, new {new}").format(name=match["name"], old=old,
                                                             new=new)
    return "; ".join(one(part) for part in diffs.split("; "))


def protocol_differences(conflict: str) -> str:
    """The differing figures of a ProtocolConflict's text, one per line, in the interface
    language (the protocol window asks whether to replace them); the text itself if unknown."""
    match = re.search(r" protocol(?: entered by .+?)? \((?P<diffs>.*)\); nothing was changed",
                      conflict)
    if match is None:
        return conflict
    return _differences(match["diffs"]).replace("; ", "\n")


# Groups that need more than copying: lists of names, the Excel hint, protocol sources, ….
_GROUPS: dict[str, Callable[[str], str]] = {
    "unknown": lambda names: ", ".join(_quoted(n) for n in names[1:-1].split("', '")),
    "hint": lambda hint: _excel_hint() if hint == _EXCEL_HINT else hint,
    "target": _meaning,
    "diffs": _differences,
    "source": lambda source: {"observer": _tr("Observer's copy"), "posted": _tr("Posted copy"),
                              "official": _tr("Official result")}.get(source, source),
}


def _reason_rules() -> list[tuple[str, str]]:
    """(regex of app/'s English reason, its translation): {name} stands for the group."""
    value = r"'(?P<value>.*)'"
    hint = r" \((?P<hint>in Excel: .*)\)"
    fields = r"(?P<fields>\d+) fields, but the header line has (?P<columns>\d+) columns"
    unknown = r"unknown column\(s\):? (?P<unknown>'.*'); "
    conflict = r"station (?P<code>.+?) already has a different (?P<source>\w+) protocol"
    replace = r" \((?P<diffs>.*)\); nothing was changed: (?:give|use) --replace to replace it"
    return [
        # the file as a whole (decoding, CSV syntax)
        (r"this is an Excel workbook \(\.xlsx/\.xls\), not a CSV file; save it as CSV UTF-8"
         + hint, _tr("this is an Excel workbook (.xlsx/.xls), not a CSV file; save it as CSV "
                     "UTF-8 ({hint})")),
        (r"the file is not valid UTF-16 text; save it as UTF-8",
         _tr("the file is not valid UTF-16 text; save it as UTF-8")),
        (r"the file is not UTF-8 text; the file looks like Windows-1251, save it as UTF-8" + hint,
         _tr("the file is not UTF-8 text; it looks like Windows-1251: save it as UTF-8 "
             "({hint})")),
        (r"byte 0x(?P<byte>[0-9A-F]{2}) is not valid UTF-8 text; save the file as UTF-8" + hint,
         _tr("byte 0x{byte} is not valid UTF-8 text; save the file as UTF-8 ({hint})")),
        (r"the file contains NUL characters, so it is not a CSV text file; save it as CSV "
         r"UTF-8" + hint,
         _tr("the file contains NUL characters, so it is not a CSV text file; save it as CSV "
             "UTF-8 ({hint})")),
        (r'a quoted field starts here but its closing quote \("\) is missing',
         _tr('a quoted field starts here but its closing quote (") is missing')),
        (r'a closing quote must be followed by the separator; inside a quoted field write a '
         r'quote as two quotes \(""\)',
         _tr('a closing quote must be followed by the separator; inside a quoted field write '
             'a quote as two quotes ("")')),
        (r"a field is too long", _tr("a field is too long")),
        (r"cannot read the line as CSV \((?P<error>.*)\)",
         _tr("cannot read the line as CSV ({error})")),
        (r"not a readable \.xlsx workbook \((?P<error>.*)\)",
         _tr("not a readable .xlsx workbook ({error})")),
        (r"no stations: the file is empty", _tr("no stations: the file is empty")),
        (r"the file is empty", _tr("the file is empty")),
        (r"no stations: the file has no header line and no rows",
         _tr("no stations: the file has no header line and no rows")),
        (r"no stations: the file has a header line but no station rows",
         _tr("no stations: the file has a header line but no station rows")),
        (r"the file has a header line but no rows",
         _tr("the file has a header line but no rows")),
        # the header line
        (r"missing required column\(s\): (?P<names>.+) \(columns must be separated by "
         r"commas or semicolons\)",
         _tr("missing required column(s): {names} (columns must be separated by commas or "
             "semicolons)")),
        (r"missing required column\(s\): (?P<names>.+)",
         _tr("missing required column(s): {names}")),
        (unknown + r"accepted columns are: (?P<accepted>.+?) \(Russian names such as "
         r"(?P<examples>.+) are accepted too\)",
         _tr("unknown column(s): {unknown}; accepted columns are: {accepted} (Russian names "
             "such as {examples} are accepted too)")),
        (unknown + r"profile (?P<profile>\S+) has lines (?P<lines>.+?) and candidates "
         r"(?P<candidates>.+)",
         _tr("unknown column(s): {unknown}; profile {profile} has lines {lines} and "
             "candidates {candidates}")),
        (unknown + r"profile (?P<profile>\S+) has lines (?P<lines>.+)",
         _tr("unknown column(s): {unknown}; profile {profile} has lines {lines}")),
        (r"columns '(?P<first>.*?)' and '(?P<second>.*)' both mean (?P<target>.+)",
         _tr("columns '{first}' and '{second}' both mean {target}")),
        (r"column '(?P<given>.*)' is there but (?P<absent>\w+) is missing; give both lat and "
         r"lon, or neither",
         _tr("column '{given}' is there but {absent} is missing; give both lat and lon, or "
             "neither")),
        (r"no station code column \(name it code, код or код комиссии\)",
         _tr("no station code column (name it code, код or код комиссии)")),
        (r"no column is a protocol line of profile (?P<profile>\S+)",
         _tr("no column is a protocol line of profile {profile}")),
        # a row
        (fields + r" \(a value that contains '(?P<separator>.+)' must be in double quotes\)",
         _tr("{fields} fields, but the header line has {columns} columns (a value that "
             "contains '{separator}' must be in double quotes)")),
        (fields, _tr("{fields} fields, but the header line has {columns} columns")),
        (value + r" is in a column that has no name in the header line",
         _tr("'{value}' is in a column that has no name in the header line")),
        (r"the station code is empty", _tr("the station code is empty")),
        (r"the station name is empty", _tr("the station name is empty")),
        (value + r" is not a whole number", _tr("'{value}' is not a whole number")),
        (value + r" is negative; the number of voters must be 0 or more",
         _tr("'{value}' is negative; the number of voters must be 0 or more")),
        (value + r" is negative; a protocol figure is 0 or more",
         _tr("'{value}' is negative; a protocol figure is 0 or more")),
        (value + r" is not a number \(expected decimal degrees such as 43\.2567\)",
         _tr("'{value}' is not a number (expected decimal degrees such as 43.2567)")),
        (value + r" is out of range \(must be between -(?P<limit>\d+) and (?P=limit)\)",
         _tr("'{value}' is out of range (must be between -{limit} and {limit})")),
        (r"empty while (?P<given>.+) is given; fill both or neither",
         _tr("empty while {given} is given; fill both or neither")),
        (r"duplicate code '(?P<code>.*)', already used on line (?P<line>\d+)",
         _tr("duplicate code '{code}', already used on line {line}")),
        (r"duplicate station '(?P<code>.*)', already on line (?P<line>\d+) with other figures",
         _tr("duplicate station '{code}', already on line {line} with other figures")),
        (r"station '(?P<code>.*)' is not in the station list of (?P<q>['\"])(?P<election>.*)"
         r"(?P=q) \(import the station list first, or give --create-stations\)",
         _tr("station '{code}' is not in the station list of '{election}' (import the station "
             "list first, or give --create-stations)")),
        (conflict + r" entered by (?P<who>.+?)" + replace,
         _tr("station {code} already has a different protocol ({source}) entered by {who}: "
             "{diffs}; nothing was changed: give --replace to replace it")),
        (conflict + replace,
         _tr("station {code} already has a different protocol ({source}): {diffs}; nothing "
             "was changed: give --replace to replace it")),
    ]


def _reason(reason: str) -> str | None:
    for pattern, template in _reason_rules():
        if match := re.fullmatch(pattern, reason):
            found = {k: _GROUPS[k](v) if k in _GROUPS else v
                     for k, v in match.groupdict().items() if v is not None}
            return template.format(**found)
    return None


def _file_problem(line: str) -> str | None:
    """One line of a station list's or results table's problems, translated, if known."""
    if match := re.fullmatch(r"\.\.\. and (\d+) more", line):
        return "... " + _tr("and {count} more").format(count=match[1])
    if match := re.fullmatch(r"(?P<file>.+?) line (?P<line>\d+) repeats line (?P<first>\d+) "
                             r"exactly \(station (?P<code>.+)\); imported once", line):
        return _tr("{file} line {line} repeats line {first} exactly (station {code}); imported "
                   "once").format(**match.groupdict())
    if where := _WHERE.fullmatch(line):
        reason = _reason(where["reason"])
        if reason is None:
            return None
        if where["column"] is None:
            return _tr("{file} line {line}: {reason}").format(
                file=where["file"], line=where["line"], reason=reason)
        return _tr("{file} line {line}, {column}: {reason}").format(
            file=where["file"], line=where["line"], column=_column(where["column"]),
            reason=reason)
    whole = _WHOLE_FILE.fullmatch(line)
    reason = _reason(whole["reason"]) if whole else None
    return f"{whole['file']}: {reason}" if whole and reason else None


def file_problems(text: str) -> str | None:
    """The problems app/ found in a station list or results table (one a line), in the
    interface language; a line we do not know stays in English. None if none is known, or
    nothing changed (English interface)."""
    lines = text.split("\n")
    shown = "\n".join(_file_problem(line) or line for line in lines)
    return None if shown == text else shown


# --- photo import: the reason a file was refused ------------------------------------------

_PhotoRule = tuple[str, Callable[[str], str]]


def _photo_rules() -> list[_PhotoRule]:
    """(English prefix, rest -> translation) for app/photos.py's PhotoError texts and
    app/evidence.py's per-file reasons. Longer prefixes first."""

    def pixels(rest: str) -> str:
        size = re.search(r"(\d+)x(\d+) pixels", rest)
        if size:
            return _tr("too large to open safely ({width}×{height} pixels)").format(
                width=size[1], height=size[2])
        return _tr("too large to open safely")

    def fmt(rest: str) -> str:
        name = rest.split(" (", 1)[0].strip() or "?"
        return _tr("unsupported image format {format} (accepted: JPEG, PNG, TIFF, WebP, "
                   "HEIC/HEIF)").format(format=name)

    def in_parens(rest: str) -> str:
        match = re.match(r"\s*\((.*)\)\s*$", rest)
        return match[1] if match else rest.strip()

    return [
        ("not an image (a PDF document)", lambda _r: _tr("not a photo but a PDF document")),
        ("not an image (a ZIP archive or office document)",
         lambda _r: _tr("not a photo but a ZIP archive or an office document")),
        ("not an image (a video or other media file)",
         lambda _r: _tr("not a photo but a video or another media file")),
        ("not an image", lambda _r: _tr("not a photo (the file type is not recognised)")),
        ("the image data is truncated or damaged",
         lambda _r: _tr("the photo is incomplete or damaged")),
        ("too large to decode safely", pixels),
        ("too large for a photo", lambda r: _tr("too large for a photo ({size} MB)").format(
            size=re.sub(r"\D", "", r) or "?")),
        ("unsupported image format", fmt),
        ("unsupported colour mode", lambda r: _tr("unsupported colour mode {mode}").format(
            mode=r.strip())),
        ("empty file", lambda _r: _tr("the file is empty")),
        ("file not found", lambda _r: _tr("the file was not found")),
        ("is a folder, not a file", lambda _r: _tr("this is a folder, not a file")),
        ("cannot read the file", lambda r: _tr("the file cannot be read ({reason})").format(
            reason=in_parens(r))),
        ("the photo decoder crashed on this file",
         lambda _r: _tr("the photo could not be decoded (the decoder stopped on this file)")),
        # describe_environment_error's texts, when storing one file failed
        ("The disk is full", lambda _r: _tr("the disk is full: free some space and try again")),
        ("No permission to write",
         lambda _r: _tr("no permission to write to the data folder")),
        ("The database is busy",
         lambda _r: _tr("the database is busy: try again in a moment")),
        ("The database is read-only", lambda _r: _tr("the data folder is read-only")),
        ("The database file is damaged", lambda _r: _tr("the database is damaged")),
        ("Cannot use the data folder", lambda _r: _tr("the data folder cannot be used")),
    ]


def photo_reason(reason: str) -> str:
    """A photo's refusal reason (PhotoError text) in the interface language; unknown texts
    are returned unchanged."""
    for prefix, make in _photo_rules():
        if reason.startswith(prefix):
            return make(reason[len(prefix):])
    return reason


def import_failure(file: str, error: str | None) -> str:
    """One line about a refused file: "name: reason", the reason translated when known.
    app/evidence.py words it "name: reason" with the file's own name."""
    name = Path(file).name
    if not error:
        return name
    prefix = f"{name}: "
    reason = error[len(prefix):] if error.startswith(prefix) else error
    translated = photo_reason(reason)
    if translated == reason and not error.startswith(prefix):
        return error  # unknown and not in the usual form: as it came
    return f"{name}: {translated}"


# --- putting it together --------------------------------------------------------------------


def explain(exc: BaseException, data_dir: Path) -> Explanation:
    """Title, text and details for an error; a bug is logged to a file first."""
    trouble = classify(exc)
    if trouble is not None:
        cause = environment_cause(exc)
        assert cause is not None
        return Explanation(_tr("Problem with the computer"),
                           trouble_text(trouble, _place(cause, data_dir)),
                           _english(exc, data_dir))
    if isinstance(exc, KuaError):
        text = str(exc)
        translated = translate_known(text)
        if translated is None:
            return Explanation(_tr("Cannot do that"), text)
        return Explanation(_tr("Cannot do that"), translated, text)
    try:
        log = write_crash_log(data_dir, exc)
    except OSError as log_error:  # the data folder itself is unusable: say both
        log_trouble = classify(log_error) or Trouble.FOLDER
        return Explanation(_tr("Internal error"), _tr(
            "An internal error occurred ({error}), and it could not be saved to a log: {reason}"
        ).format(error=type(exc).__name__,
                 reason=trouble_text(log_trouble, _place(log_error, data_dir))),
            _english(log_error, data_dir))
    return Explanation(_tr("Internal error"), _tr(
        "An internal error occurred ({error}). Your saved data is safe. The details "
        "are in {path}; please send this file to the developers."
    ).format(error=type(exc).__name__, path=log))


def report(exc: BaseException, parent: QWidget | None = None) -> None:
    """Tell the user about exc (logging it first if it is a bug)."""
    if _data_dir is None:  # before install(): nowhere to log, so keep Python's behaviour
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
        return
    found = explain(exc, _data_dir)
    dialogs.tell(parent or QApplication.activeWindow(), dialogs.Kind.ERROR, found.title,
                 found.text, found.details)


def install(data_dir: Path) -> None:
    """Crash logs go to data_dir; exceptions escaping a slot are reported, not lost on stderr."""
    global _data_dir
    _data_dir = data_dir

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        report(exc.with_traceback(tb))

    sys.excepthook = hook
