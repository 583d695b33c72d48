"""Photo import: validate an evidence photo, read its metadata, make a thumbnail.

Everything works on the bytes of the file, read once by the caller. The functions are pure and
meant to run in worker processes: they temporarily change the global warnings filters (Python's
``warnings.catch_warnings`` is not thread-safe), so do not call them from several threads of one
process at the same time.

Decoding, once per call:

* JPEG (and MPO, the multi-picture JPEG some phones write) is decoded at a reduced size
  (``Image.draft``: libjpeg scales by 1/2, 1/4 or 1/8 while decoding), never at full size for a
  thumbnail. The whole compressed stream is still read, so truncation is still detected.
* PNG, TIFF, WebP and HEIC/HEIF have no reduced decode; they are decoded once at full size.
  Before that the declared pixel count is checked against ``MAX_PIXELS`` from the header alone.

Orientation: the EXIF Orientation tag is reported as stored in the file. Pillow's TIFF loader and
pillow-heif (libheif) turn the pixels themselves while decoding (for HEIF from the container's
``irot``/``imir`` boxes, which the HEIF standard makes authoritative; pillow-heif then resets the
EXIF tag to 1 so nobody turns the image twice). JPEG, PNG and WebP pixels come out as stored. The
thumbnail code turns the decoded pixels only if the decoder has not done it, so every thumbnail is
turned exactly once.
"""

from __future__ import annotations

import functools
import io
import math
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import pillow_heif
from PIL import Image, TiffImagePlugin, UnidentifiedImageError

try:
    from PIL import ImageCms
except ImportError:  # Pillow built without littlecms: thumbnails keep the file's colours
    ImageCms = None  # type: ignore[assignment]

pillow_heif.register_heif_opener()

__all__ = [
    "ACCEPTED_FORMATS",
    "MAX_PIXELS",
    "Gps",
    "PhotoError",
    "PhotoInfo",
    "analyze",
    "render_oriented",
    "thumbnail",
]

ACCEPTED_FORMATS: dict[str, str] = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",  # phones' multi-picture JPEG: the first picture is a plain JPEG
    "PNG": "image/png",
    "TIFF": "image/tiff",
    "WEBP": "image/webp",
    "HEIF": "image/heif",  # refined to image/heic from the file's brand
}
MAX_PIXELS = 150_000_000

# MPO has no opener of its own: Pillow's JPEG opener returns MPO files.
_OPEN_FORMATS = tuple(f for f in ACCEPTED_FORMATS if f != "MPO")
_ACCEPTED_LABEL = "JPEG, PNG, TIFF, WebP, HEIC/HEIF"
_DAMAGED = "the image data is truncated or damaged"
_THUMB_QUALITY = 80
_MAX_UNREADABLE = 20

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_TAG_MAKE = 0x010F
_TAG_MODEL = 0x0110
_TAG_ORIENTATION = 0x0112
_TAG_DATETIME_ORIGINAL = 0x9003
_TAG_DATETIME_DIGITIZED = 0x9004
_TAG_OFFSET_ORIGINAL = 0x9011
_TAG_OFFSET_DIGITIZED = 0x9012

# EXIF orientation -> the transposition that shows the stored pixels upright (as Pillow's
# ImageOps.exif_transpose does).
_TRANSPOSE: dict[int, Image.Transpose] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class PhotoError(Exception):
    """A file that cannot be accepted as a photo.

    ``str(e)`` is a user-facing reason in English without the file name (the caller prefixes it),
    e.g. "not an image (unrecognised format)" or "the image data is truncated or damaged".
    ``__cause__`` keeps the library exception, if any, for logs.
    """


@dataclass(frozen=True)
class Gps:
    lat: float  # decimal degrees, negative south
    lon: float  # decimal degrees, negative west
    alt: float | None  # metres, negative below sea level (GPSAltitudeRef=1)


@dataclass(frozen=True)
class PhotoInfo:
    mime: str  # image/jpeg, image/png, image/tiff, image/webp, image/heic or image/heif
    width: int  # pixel size as stored in the file, before orientation is applied
    height: int
    orientation: int | None  # EXIF Orientation 1..8, None if absent or invalid
    taken_at: str | None  # "2008-05-30T15:56:01", "+02:00" appended when the offset is known
    gps: Gps | None
    camera: str | None  # "Make Model", or the model alone when it already names the make
    unreadable: tuple[str, ...]  # metadata present but unreadable, e.g. ("gps: bad rational",)


# --------------------------------------------------------------------------------------------
# public API


def analyze(data: bytes, thumb_size: int = 320) -> tuple[PhotoInfo, bytes]:
    """Validate the bytes as an accepted image, read its metadata, make a thumbnail.

    Returns ``(info, thumbnail_jpeg_bytes)``; the thumbnail fits in ``thumb_size`` x
    ``thumb_size`` with the orientation applied. Raises ``PhotoError`` for anything the user must
    be told about and nothing else for bad input. No warning escapes: those about metadata end up
    in ``info.unreadable``.
    """
    data = _as_bytes(data)
    unreadable: list[str] = []
    with _warnings_into(unreadable, "metadata"):  # opening parses headers, for JPEG the EXIF
        im = _open(data)
    with im:
        fmt = _format(im)
        mime = _mime(im, fmt)
        _check_pixels(im)
        if fmt in ("JPEG", "MPO"):
            damage = _jpeg_scan_damage(data)
            if damage:
                raise PhotoError(_DAMAGED) from ValueError(damage)
        elif fmt == "HEIF" and _isobmff_truncated(data):
            raise PhotoError(_DAMAGED) from ValueError("HEIF boxes or items extend past the end")

        # Header facts that decoding changes (draft shrinks the size, the TIFF loader turns the
        # pixels and drops the tag, pillow-heif forgets the container after loading).
        exif = None if fmt == "PNG" else _exif(im, unreadable)  # PNG: may need the pixel data
        orientation = _file_orientation(im, exif, unreadable)
        width, height = _stored_size(im, fmt, orientation)

        with _warnings_into(unreadable, "image"), _decoding_errors(im.size):
            small = _decode_small(im, fmt, thumb_size, use_heif_thumbnail=False)
        if exif is None:
            exif = _exif(im, unreadable)
            orientation = _file_orientation(im, exif, unreadable)
        with _warnings_into(unreadable, "image"), _decoding_errors(im.size):
            thumb = _jpeg_bytes(_finish(im, small, orientation))

        taken_at = _field(unreadable, "taken_at", _taken_at, exif, unreadable)
        gps = _field(unreadable, "gps", _gps, exif, unreadable)
        camera = _field(unreadable, "camera", _camera, exif)

    info = PhotoInfo(
        mime=mime,
        width=width,
        height=height,
        orientation=orientation,
        taken_at=taken_at,
        gps=gps,
        camera=camera,
        unreadable=(),
    )
    return replace(info, unreadable=_dedupe(unreadable)), thumb


def thumbnail(data: bytes, size: int = 320) -> bytes:
    """JPEG thumbnail fitting in ``size`` x ``size``, orientation applied (rebuilds the cache).

    Meant for files ``analyze`` accepted; see ``render_oriented`` for what it checks.
    """
    return _jpeg_bytes(render_oriented(data, size))


def render_oriented(data: bytes, max_side: int) -> Image.Image:
    """The picture upright, as an RGB image whose longer side is at most ``max_side``.

    Decodes at reduced size where the format allows it (JPEG draft, HEIF embedded thumbnails of
    sufficient size). Raises ``PhotoError`` for files it cannot open or decode, but does not
    repeat ``analyze``'s integrity checks (JPEG scan structure, HEIF truncation): it is meant for
    files ``analyze`` accepted.
    """
    data = _as_bytes(data)
    ignored: list[str] = []
    with _warnings_into(ignored, "image"):
        im = _open(data)
        with im:
            fmt = _format(im)
            _check_pixels(im)
            exif = None if fmt == "PNG" else _exif(im, ignored)
            orientation = _file_orientation(im, exif, ignored)
            with _decoding_errors(im.size):
                small = _decode_small(im, fmt, max_side, use_heif_thumbnail=True)
                if exif is None:
                    orientation = _file_orientation(im, _exif(im, ignored), ignored)
                return _finish(im, small, orientation)


# --------------------------------------------------------------------------------------------
# opening and validating


def _as_bytes(data: bytes) -> bytes:
    if isinstance(data, bytes):
        return data
    return bytes(data)  # bytearray, memoryview


def _open(data: bytes) -> Image.Image:
    """Image.open restricted to the accepted formats, reading the header only."""
    if not data:
        raise PhotoError("empty file")
    try:
        return Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
    except Image.DecompressionBombError as e:
        raise PhotoError(_too_large_message(data, str(e))) from e
    except UnidentifiedImageError as e:
        raise PhotoError(_not_accepted_message(data)) from e
    except MemoryError as e:
        raise PhotoError("too large to decode safely (out of memory)") from e
    except Exception as e:  # noqa: BLE001 - any failure of a plugin on bad bytes is bad data
        raise PhotoError(_DAMAGED) from e


def _format(im: Image.Image) -> str:
    fmt = im.format or ""
    if fmt not in ACCEPTED_FORMATS:  # cannot happen with formats=..., but never trust it
        raise PhotoError(_unsupported(fmt or "unknown"))
    return fmt


def _mime(im: Image.Image, fmt: str) -> str:
    if fmt != "HEIF":
        return ACCEPTED_FORMATS[fmt]
    get_mimetype = getattr(im, "get_format_mimetype", None)  # ImageFile method
    mime = str((get_mimetype() if get_mimetype else None) or "image/heif")
    mime = mime.removesuffix("-sequence")
    if mime not in ("image/heic", "image/heif"):  # e.g. image/avif through libheif
        raise PhotoError(_unsupported(mime.removeprefix("image/").upper()))
    return mime


def _check_pixels(im: Image.Image) -> None:
    width, height = im.size
    if width <= 0 or height <= 0:
        raise PhotoError(_DAMAGED)
    if width * height > MAX_PIXELS:
        raise PhotoError(_too_large(width, height))


def _too_large(width: int, height: int) -> str:
    return (
        f"too large to decode safely ({width}x{height} pixels, "
        f"over the {MAX_PIXELS // 1_000_000} megapixel limit)"
    )


def _too_large_message(data: bytes, pillow_message: str) -> str:
    """Pillow refused the header (over twice its own limit); name the size if we can."""
    size = _header_size(data)
    if size is not None:
        return _too_large(*size)
    match = re.search(r"\((\d+) pixels\)", pillow_message)
    if match:
        megapixels = int(match.group(1)) // 1_000_000
        return (
            f"too large to decode safely ({megapixels} megapixels, "
            f"over the {MAX_PIXELS // 1_000_000} megapixel limit)"
        )
    return f"too large to decode safely (over the {MAX_PIXELS // 1_000_000} megapixel limit)"


def _header_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from the header, bypassing Pillow's bomb check (nothing is decoded)."""
    for fmt in ACCEPTED_FORMATS:
        entry = Image.OPEN.get(fmt)
        if entry is None:
            continue
        factory, accept = entry
        try:
            if accept is not None and not accept(data[:16]):
                continue
            im = factory(io.BytesIO(data), "")
            with im:
                width, height = im.size
            return int(width), int(height)
        except Exception:  # noqa: BLE001, S112 - best effort for a message
            continue
    return None


_IMAGE_MAGIC = (
    b"\xff\xd8\xff",  # JPEG
    b"\x89PNG\r\n\x1a\n",
    b"II*\x00",  # TIFF little-endian
    b"MM\x00*",  # TIFF big-endian
)
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


def _not_accepted_message(data: bytes) -> str:
    head = data[:32]
    if head.startswith(_IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return _DAMAGED  # looks like an accepted format but its header cannot be read
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return _DAMAGED
    fmt = None
    try:
        with Image.open(io.BytesIO(data)) as other:  # all formats, header only, to name it
            fmt = other.format
    except Exception:  # noqa: BLE001 - only used to word the message
        fmt = None
    if fmt:
        return _unsupported(fmt)
    if head.startswith(b"%PDF-"):
        return "not an image (a PDF document)"
    if head.startswith(b"PK\x03\x04"):
        return "not an image (a ZIP archive or office document)"
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3") or head[8:12] == b"AVI ":
        return "not an image (a video or other media file)"
    return "not an image (unrecognised format)"


def _unsupported(fmt: str) -> str:
    return f"unsupported image format {fmt} (accepted: {_ACCEPTED_LABEL})"


# A marker inside entropy-coded data: 0xFF and a byte other than 0x00 (stuffing) or 0xFF (fill).
# One fixed-width pattern, no "\xff+": that backtracks quadratically over a run of 0xFF bytes.
_SCAN_MARKER = re.compile(rb"\xff([^\x00\xff])")
_FILL = re.compile(rb"\xff+")


def _jpeg_scan_damage(data: bytes) -> str | None:
    """Definite damage inside the compressed image data of a JPEG, or None.

    libjpeg (so Pillow) skips over garbage inside the compressed stream with a warning only and
    paints the lost blocks grey, so a damaged file decodes "successfully". This walks the
    segments of the first picture up to EOI and looks, inside each scan, for markers that cannot
    occur there (reserved codes, SOI) and for restart markers out of sequence. Whatever it does
    not understand is left to the decoder; it never rejects a file on a guess.
    """
    n = len(data)
    pos = 2  # after SOI
    while pos < n:
        if data[pos] != 0xFF:  # extraneous bytes between segments: libjpeg tolerates them
            pos = data.find(b"\xff", pos)
            if pos < 0:
                return None
        fill = _FILL.match(data, pos)  # 0xFF and any fill bytes before the marker code
        if fill:
            pos = fill.end()
        if pos >= n:
            return None
        marker = data[pos]
        pos += 1
        if marker == 0xD9:  # EOI: the first picture is complete (MPO pictures may follow)
            return None
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # stand-alone markers
            continue
        if pos + 2 > n:
            return None
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2:
            return None
        pos += length
        if marker != 0xDA:  # not SOS: an ordinary segment
            continue
        expected = 0  # restart markers count RST0..RST7 from each scan's start
        for match in _SCAN_MARKER.finditer(data, pos):
            code = match.group(1)[0]
            if 0xD0 <= code <= 0xD7:
                if code != 0xD0 + expected:
                    return "restart marker out of sequence"
                expected = (expected + 1) % 8
                continue
            if code < 0xC0 or code == 0xD8:
                return f"invalid marker 0x{code:02X} inside the image data"
            pos = match.start()  # the segment after the scan (DHT, SOS, EOI, ...)
            break
        else:
            return None  # ran off the end: truncation, which the decoder reports
    return None


def _isobmff_truncated(data: bytes) -> bool:
    """True if a HEIF file is definitely cut short.

    libheif decodes a HEIC whose tiles are missing without an error (the missing tiles come out
    black), so check that every top-level box and every item extent lies inside the data.
    """
    n = len(data)
    pos = 0
    try:
        while pos + 8 <= n:
            size, box_type = struct.unpack_from(">I4s", data, pos)
            header = 8
            if size == 1:
                if pos + 16 > n:
                    return True
                (size,) = struct.unpack_from(">Q", data, pos + 8)
                header = 16
            elif size == 0:
                size = n - pos
            if size < header:
                return False  # malformed; libheif has accepted it, not our call
            if pos + size > n:
                return True
            if box_type == b"meta" and _iloc_end(data[pos + header + 4 : pos + size]) > n:
                return True
            pos += size
    except (struct.error, IndexError, ValueError):
        return False
    return False


def _iloc_end(meta: bytes) -> int:
    """End of the furthest file extent referenced by the item location box inside ``meta``."""
    pos = 0
    while pos + 8 <= len(meta):
        size, box_type = struct.unpack_from(">I4s", meta, pos)
        if size < 8:
            return 0
        if box_type == b"iloc":
            return _parse_iloc(meta[pos + 8 : pos + size])
        pos += size
    return 0


def _parse_iloc(box: bytes) -> int:
    version = box[0]
    pos = 4
    offset_size, length_size = box[pos] >> 4, box[pos] & 15
    base_offset_size = box[pos + 1] >> 4
    index_size = box[pos + 1] & 15 if version in (1, 2) else 0
    pos += 2
    if not (offset_size or length_size or index_size):
        return 0  # extents of zero bytes each: nothing to check, and nothing bounds the loops

    def read(size: int) -> int:
        nonlocal pos
        if pos + size > len(box):
            raise ValueError("iloc box too short")
        value = int.from_bytes(box[pos : pos + size], "big")
        pos += size
        return value

    end = 0
    item_count = read(2 if version < 2 else 4)
    for _ in range(item_count):
        read(2 if version < 2 else 4)  # item_ID
        method = read(2) & 15 if version in (1, 2) else 0
        data_reference = read(2)
        base_offset = read(base_offset_size)
        for _ in range(read(2)):
            if index_size:
                read(index_size)
            offset = read(offset_size)
            length = read(length_size)
            if method == 0 and data_reference == 0 and length:
                end = max(end, base_offset + offset + length)
    return end


# --------------------------------------------------------------------------------------------
# decoding


def _stored_size(im: Image.Image, fmt: str, orientation: int | None) -> tuple[int, int]:
    """The pixel size as stored, before any orientation (what exiftool calls ImageWidth/Height)."""
    width, height = im.size
    if fmt == "TIFF":
        # Pillow reports TIFFs already turned by their Orientation tag; the tags hold the truth.
        if isinstance(im, TiffImagePlugin.TiffImageFile):
            tag_w, tag_h = im.tag_v2.get(256), im.tag_v2.get(257)
            if isinstance(tag_w, int) and isinstance(tag_h, int):
                return tag_w, tag_h
        return (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    if fmt == "HEIF":
        quarter = _heif_quarter_turn(im)
        if quarter is None:
            quarter = orientation in (5, 6, 7, 8)
        return (height, width) if quarter else (width, height)
    return width, height


def _heif_quarter_turn(im: Image.Image) -> bool | None:
    """Whether libheif rotates this HEIF by 90/270 degrees (``irot``); None if unknown.

    pillow-heif exposes the container transformations only on its internal objects, so this is
    best effort; the caller falls back to the EXIF orientation.
    """
    try:
        heif_file: Any = getattr(im, "_heif_file", None)
        if heif_file is None:
            return None
        transformations = heif_file[im.tell()]._c_image.transformations
        return any(t[0] == "irot" and int(t[1]) % 180 == 90 for t in transformations)
    except Exception:  # noqa: BLE001 - private API, may change
        return None


def _decode_small(
    im: Image.Image, fmt: str, max_side: int, *, use_heif_thumbnail: bool
) -> Image.Image:
    """Decode once, at reduced size where possible; the result fits in max_side x max_side."""
    max_side = max(1, int(max_side))
    target = _fit(im.size, max_side)
    if fmt in ("JPEG", "MPO"):
        # draft picks the largest 1/n scale whose result still covers ``target``
        im.draft("RGB", target)
    elif fmt == "HEIF" and use_heif_thumbnail:
        # an embedded thumbnail at least as large as target, if the file has one; analyze()
        # never uses it, because only decoding the main image proves that it is intact
        im.draft(None, target)
    im.load()  # OSError "image file is truncated" etc. (LOAD_TRUNCATED_IMAGES stays False)
    final = _fit(im.size, max_side)
    if im.size == final:
        return im.copy()
    return im.resize(final, Image.Resampling.LANCZOS, reducing_gap=3.0)


@contextmanager
def _decoding_errors(size: tuple[int, int]) -> Iterator[None]:
    """Turn whatever a decoder raises on bad data into PhotoError."""
    try:
        yield
    except PhotoError:
        raise
    except Image.DecompressionBombError as e:
        raise PhotoError(_too_large(*size)) from e
    except MemoryError as e:
        raise PhotoError("too large to decode safely (out of memory)") from e
    except Exception as e:  # noqa: BLE001 - truncated/damaged data raises OSError, others vary
        raise PhotoError(_DAMAGED) from e


def _fit(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    width, height = size
    if width <= max_side and height <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _finish(im: Image.Image, small: Image.Image, orientation: int | None) -> Image.Image:
    """RGB, sRGB where a profile says otherwise, and upright (unless the decoder did it)."""
    rgb = _to_rgb(small)
    rgb = _to_srgb(rgb, im.info.get("icc_profile"))
    if orientation in _TRANSPOSE and _decoder_left_orientation(im, orientation):
        rgb = rgb.transpose(_TRANSPOSE[orientation])
    return rgb


def _decoder_left_orientation(im: Image.Image, orientation: int) -> bool:
    """True if the decoded pixels are still as stored, i.e. the tag is still in force.

    Pillow's TIFF loader and pillow-heif turn the pixels themselves and remove (TIFF) or reset to
    1 (HEIF) the tag; JPEG, PNG and WebP keep it. Checking the loaded image instead of
    hard-coding formats keeps this right if a library changes its mind.
    """
    try:
        return im.getexif().get(_TAG_ORIENTATION) == orientation
    except Exception:  # noqa: BLE001
        return False


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode not in _CONVERTIBLE_MODES:
        raise PhotoError(f"unsupported colour mode {im.mode}")
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    elif im.mode == "F":
        im = im.point(lambda v: v * 255).convert("L")
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode == "P" and "transparency" in im.info
    )
    if has_alpha:
        rgba = im.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return im.convert("RGB")


_CONVERTIBLE_MODES = frozenset(
    {"1", "L", "P", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LA", "La", "PA", "I", "F"}
    | {"I;16", "I;16L", "I;16B", "I;16N"}
)


def _to_srgb(im: Image.Image, icc: object) -> Image.Image:
    """Convert from an embedded RGB profile (e.g. an iPhone's Display P3) to sRGB; best effort."""
    if not isinstance(icc, bytes) or not icc or im.mode != "RGB" or ImageCms is None:
        return im
    try:
        transform = _srgb_transform(icc)
        if transform is None:
            return im
        converted = ImageCms.applyTransform(im, transform)
        return converted if converted is not None else im
    except Exception:  # noqa: BLE001 - a broken profile only costs colour accuracy
        return im


@functools.lru_cache(maxsize=8)  # photos from one camera share their profile
def _srgb_transform(icc: bytes) -> Any:
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if source.profile.xcolor_space.strip() != "RGB":
        return None
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    return ImageCms.buildTransform(source, srgb, "RGB", "RGB")


def _jpeg_bytes(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=_THUMB_QUALITY, optimize=True)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# metadata


def _exif(im: Image.Image, unreadable: list[str]) -> Image.Exif:
    """The EXIF block with its Exif and GPS sub-IFDs parsed (Pillow caches them), so complaints
    about a damaged block are reported once, as ``exif: ...``."""
    with _warnings_into(unreadable, "exif"):
        try:
            exif = im.getexif()
        except Exception as e:  # noqa: BLE001
            unreadable.append(f"exif: {_reason(e)}")
            return Image.Exif()
        for tag in (_EXIF_IFD, _GPS_IFD):
            try:
                exif.get_ifd(tag)
            except Exception as e:  # noqa: BLE001
                unreadable.append(f"exif: {_reason(e)}")
    return exif


def _file_orientation(
    im: Image.Image, exif: Image.Exif | None, unreadable: list[str]
) -> int | None:
    """The Orientation tag as stored in the file (EXIF, else XMP tiff:Orientation, as Pillow)."""
    value: object = im.info.get("original_orientation")  # pillow-heif: the tag before its reset
    if value is None and exif is not None:
        value = exif.get(_TAG_ORIENTATION)
    if isinstance(value, tuple) and len(value) == 1:
        value = value[0]
    if value is None or value == 0:  # 0 is written by some software for "unknown"
        return None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 8:
        return value
    unreadable.append(f"orientation: invalid value {value!r}"[:80])
    return None


def _field(unreadable: list[str], name: str, func: Any, *args: Any) -> Any:
    """``func(*args)``; an exception or warning becomes a ``"name: reason"`` entry."""
    with _warnings_into(unreadable, name):
        try:
            return func(*args)
        except Exception as e:  # noqa: BLE001 - garbage metadata must not fail an import
            unreadable.append(f"{name}: {_reason(e)}")
    return None


def _ifd(exif: Image.Exif, tag: int) -> dict[int, Any]:
    return dict(exif.get_ifd(tag))  # {} when absent


def _text(value: object) -> str | None:
    """An EXIF ASCII value: up to the first NUL, trimmed; None if empty."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        raise ValueError(f"not text ({type(value).__name__})")
    text = value.split("\x00", 1)[0].strip()
    return text or None


_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?Z?")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


def _taken_at(exif: Image.Exif, unreadable: list[str]) -> str | None:
    sub = _ifd(exif, _EXIF_IFD)
    for date_tag, offset_tag in (
        (_TAG_DATETIME_ORIGINAL, _TAG_OFFSET_ORIGINAL),
        (_TAG_DATETIME_DIGITIZED, _TAG_OFFSET_DIGITIZED),
    ):
        raw = sub.get(date_tag, exif.get(date_tag))  # some writers put it in IFD0
        if raw is None:
            continue
        stamp = _exif_datetime(raw)
        if stamp is None:  # blank or all zeros: the camera had no time; treat as absent
            continue
        try:
            offset = _exif_offset(sub.get(offset_tag, exif.get(offset_tag)))
        except ValueError as e:  # keep the local time without an offset
            unreadable.append(f"taken_at: {_reason(e)}")
            offset = None
        return stamp + (offset or "")
    return None


def _exif_datetime(raw: object) -> str | None:
    text = _text(raw)
    if text is None or text.strip(" :0-T") == "":
        return None
    match = _DATETIME.fullmatch(text)
    if not match:
        raise ValueError(f"unrecognised date {text[:40]!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups())
    try:
        datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise ValueError(f"impossible date {text[:40]!r}") from None
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"


def _exif_offset(raw: object) -> str | None:
    text = _text(raw)
    if text is None or text.strip(" :") == "":
        return None
    match = _OFFSET.fullmatch(text)
    if not match or int(match.group(2)) > 14 or int(match.group(3)) >= 60:
        raise ValueError(f"bad time zone offset {text[:20]!r}")
    return text


def _gps(exif: Image.Exif, unreadable: list[str]) -> Gps | None:
    ifd = _ifd(exif, _GPS_IFD)
    lat_raw, lon_raw = ifd.get(2), ifd.get(4)
    if lat_raw is None and lon_raw is None:
        return None
    if lat_raw is None or lon_raw is None:
        raise ValueError("latitude or longitude missing")
    lat = _coordinate(lat_raw, _text(ifd.get(1)), "NS", 90.0, "latitude", unreadable)
    lon = _coordinate(lon_raw, _text(ifd.get(3)), "EW", 180.0, "longitude", unreadable)
    alt: float | None = None
    if ifd.get(6) is not None:
        try:
            alt = _number(ifd[6])
            if _altitude_below_reference(ifd.get(5)):
                alt = -abs(alt)
        except Exception as e:  # noqa: BLE001 - keep the position without the altitude
            unreadable.append(f"gps: altitude: {_reason(e)}")
            alt = None
    return Gps(lat=lat, lon=lon, alt=alt)


def _coordinate(
    raw: object, ref: str | None, refs: str, limit: float, name: str, unreadable: list[str]
) -> float:
    parts = tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"{name} has {len(parts)} values")
    value = sum(_number(part) / 60.0**i for i, part in enumerate(parts))
    letter = ref[:1].upper() if ref else None
    if letter is None:
        unreadable.append(f"gps: no {name} reference ({refs[0]}/{refs[1]}), {refs[0]} assumed")
    elif letter == refs[1]:
        value = -abs(value)
    elif letter == refs[0]:
        value = abs(value)
    else:
        raise ValueError(f"bad {name} reference {ref!r}")
    if not -limit <= value <= limit:
        raise ValueError(f"{name} out of range ({value:g})")
    return value


def _number(value: object) -> float:
    """An EXIF (S)RATIONAL or integer as a float; zero denominators are errors, not NaN."""
    if isinstance(value, TiffImagePlugin.IFDRational):
        numerator, denominator = value.numerator, value.denominator
        if not denominator:
            raise ValueError("bad rational (zero denominator)")
        result = float(numerator) / float(denominator)
    elif isinstance(value, tuple) and len(value) == 2:
        numerator, denominator = value
        if not denominator:
            raise ValueError("bad rational (zero denominator)")
        result = float(numerator) / float(denominator)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        result = float(value)
    else:
        raise ValueError(f"bad rational ({type(value).__name__})")
    if not math.isfinite(result):
        raise ValueError("bad rational (not a finite number)")
    return result


def _altitude_below_reference(raw: object) -> bool:
    """GPSAltitudeRef: 1 below sea level (EXIF 3.0 adds 3, below the ellipsoid)."""
    if raw is None:
        return False
    if isinstance(raw, (bytes, tuple, list)):
        raw = raw[0] if len(raw) else 0
    if isinstance(raw, str):
        raw = int(raw.strip("\x00 ") or 0)
    if not isinstance(raw, int):
        raise ValueError(f"bad altitude reference {raw!r}")
    return raw in (1, 3)


def _camera(exif: Image.Exif) -> str | None:
    make = _text(exif.get(_TAG_MAKE))
    model = _text(exif.get(_TAG_MODEL))
    if make and model:
        make_key, model_key = make.casefold(), model.casefold()
        # "Canon" + "Canon EOS 40D", also "NIKON CORPORATION" + "NIKON D70"
        if model_key.startswith(make_key) or model_key.split()[0] == make_key.split()[0]:
            return model
        return f"{make} {model}"
    return make or model


# --------------------------------------------------------------------------------------------
# warnings


@contextmanager
def _warnings_into(sink: list[str], label: str) -> Iterator[None]:
    """Record warnings raised inside as ``"label: message"`` instead of letting them escape.

    Pillow's DecompressionBombWarning is dropped: MAX_PIXELS is checked explicitly.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            code_warnings: list[warnings.WarningMessage] = []
            for w in caught:
                if issubclass(w.category, Image.DecompressionBombWarning):
                    continue
                if issubclass(w.category, (DeprecationWarning, ResourceWarning)):
                    code_warnings.append(w)  # about the code, not the file: let them be seen
                    continue
                sink.append(f"{label}: {_reason(w.message)}")
    for w in code_warnings:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)


def _reason(error: object) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:160]


def _dedupe(entries: list[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for entry in entries:
        seen.setdefault(entry, None)
    result = tuple(seen)
    if len(result) > _MAX_UNREADABLE:
        result = result[: _MAX_UNREADABLE - 1] + (
            f"... and {len(result) - _MAX_UNREADABLE + 1} more",
        )
    return result
