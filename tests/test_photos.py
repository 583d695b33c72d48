"""Tests of app.photos: validation, metadata extraction (checked against exiftool), thumbnails."""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import struct
import subprocess
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image, ImageChops, ImageFile, ImageStat, JpegImagePlugin
from PIL.TiffImagePlugin import IFDRational

from app import photos
from app.photos import Gps, PhotoError, PhotoInfo, analyze, render_oriented, thumbnail

FIXTURES = Path(__file__).parent / "fixtures" / "photos"
DAMAGED = "the image data is truncated or damaged"
ACCEPTED = "(accepted: JPEG, PNG, TIFF, WebP, HEIC/HEIF)"


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def thumb_image(jpeg: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(jpeg))
    assert im.format == "JPEG"
    im.load()
    return im


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference of two same-size images, 0..255."""
    assert a.size == b.size
    diff = ImageChops.difference(a.convert("L"), b.convert("L"))
    return float(ImageStat.Stat(diff).mean[0])


def analyze_quietly(data: bytes) -> tuple[PhotoInfo, bytes]:
    """analyze(), asserting that not a single warning escapes it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = analyze(data)
    assert [str(w.message) for w in caught] == []
    return result


def rejection(data: bytes) -> str:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(PhotoError) as info:
            analyze(data)
    assert [str(w.message) for w in caught] == []
    return str(info.value)


# --------------------------------------------------------------------------------------------
# Expected values, from `exiftool -n -json` (ExifTool 12.57) on the fixtures. Numeric GPS values
# are exiftool's Composite:GPSLatitude/GPSLongitude/GPSAltitude (signed by the Ref tags).
# taken_at is EXIF DateTimeOriginal (+ OffsetTimeOriginal). exiftool's default "CreateDate" for
# Nikon_D70 ("2008:03:15 09:52:01-04:00") and the invalid_image files comes from XMP, not EXIF,
# so it is not expected here. invalid_image*'s Orientation 1 is XMP tiff:Orientation, which
# exiftool and Pillow both report as the orientation when EXIF has none.

EXPECTED: dict[str, dict[str, Any]] = {
    "Canon_40D.jpg": dict(
        mime="image/jpeg", width=100, height=68, orientation=1,
        taken_at="2008-05-30T15:56:01", gps=None, camera="Canon EOS 40D",
    ),
    "Nikon_D70.jpg": dict(  # Make "NIKON CORPORATION", Model "NIKON D70"
        mime="image/jpeg", width=100, height=66, orientation=1,
        taken_at="2008-03-15T09:52:01", gps=None, camera="NIKON D70",
    ),
    "gps_DSCN0010.jpg": dict(  # GPSAltitudeRef present, GPSAltitude absent
        mime="image/jpeg", width=640, height=480, orientation=1,
        taken_at="2008-10-22T16:28:39", gps=(43.4674483333333, 11.8851266666639, None),
        camera="NIKON COOLPIX P6000",
    ),
    "gps_DSCN0012.jpg": dict(
        mime="image/jpeg", width=640, height=480, orientation=1,
        taken_at="2008-10-22T16:29:49", gps=(43.4671566666639, 11.8853949999972, None),
        camera="NIKON COOLPIX P6000",
    ),
    "gps_DSCN0021.jpg": dict(
        mime="image/jpeg", width=640, height=480, orientation=1,
        taken_at="2008-10-22T16:38:20", gps=(43.4670816666639, 11.8845383333306, None),
        camera="NIKON COOLPIX P6000",
    ),
    "heic_IMG_5195.HEIC": dict(  # no EXIF Orientation, container rotation 0; west longitude
        mime="image/heic", width=2566, height=3313, orientation=None,
        taken_at="2021-04-11T15:47:53-05:00",
        gps=(39.0513444444444, -94.2887722222222, 260.5606383),
        camera="Apple iPhone 11 Pro Max",
    ),
    "mobile_jolla.jpg": dict(
        mime="image/jpeg", width=3264, height=2448, orientation=1,
        taken_at="2014-09-21T16:00:56", gps=None, camera="Jolla",
    ),
    "orientation_landscape_1.jpg": dict(
        mime="image/jpeg", width=600, height=450, orientation=1,
        taken_at=None, gps=None, camera=None,
    ),
    "orientation_landscape_3.jpg": dict(
        mime="image/jpeg", width=600, height=450, orientation=3,
        taken_at=None, gps=None, camera=None,
    ),
    "orientation_landscape_6.jpg": dict(
        mime="image/jpeg", width=450, height=600, orientation=6,
        taken_at=None, gps=None, camera=None,
    ),
    "orientation_landscape_8.jpg": dict(
        mime="image/jpeg", width=450, height=600, orientation=8,
        taken_at=None, gps=None, camera=None,
    ),
    # Not broken EXIF: Photoshop/Fireworks exports (JFIF + an XMP packet, no EXIF block at all).
    # They are valid pictures; they import with no capture time, position or camera.
    "invalid_image00971.jpg": dict(
        mime="image/jpeg", width=636, height=227, orientation=1,
        taken_at=None, gps=None, camera=None,
    ),
    "invalid_image01088.jpg": dict(
        mime="image/jpeg", width=425, height=120, orientation=1,
        taken_at=None, gps=None, camera=None,
    ),
}  # fmt: skip


def assert_gps(actual: Gps | None, expected: tuple[float, float, float | None] | None) -> None:
    if expected is None:
        assert actual is None
        return
    assert actual is not None
    lat, lon, alt = expected
    assert round(actual.lat, 6) == round(lat, 6)
    assert round(actual.lon, 6) == round(lon, 6)
    if alt is None:
        assert actual.alt is None
    else:
        assert actual.alt == pytest.approx(alt, abs=1e-6)


def test_all_fixtures_are_covered() -> None:
    present = {p.name for p in FIXTURES.iterdir()} - {"README.md"}
    assert present == set(EXPECTED) | {"corrupted.jpg"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_metadata_matches_exiftool(name: str) -> None:
    expected = EXPECTED[name]
    info, thumb = analyze_quietly(read(name))
    assert info.mime == expected["mime"]
    assert (info.width, info.height) == (expected["width"], expected["height"])
    assert info.orientation == expected["orientation"]
    assert info.taken_at == expected["taken_at"]
    assert_gps(info.gps, expected["gps"])
    assert info.camera == expected["camera"]
    assert info.unreadable == ()
    assert max(thumb_image(thumb).size) == min(320, max(info.width, info.height))


def test_hemisphere_signs_of_the_fixtures() -> None:
    heic, _ = analyze(read("heic_IMG_5195.HEIC"))  # Missouri: north, west
    assert heic.gps is not None and heic.gps.lat > 0 and heic.gps.lon < 0
    assert heic.gps.alt is not None and heic.gps.alt > 0
    tuscany, _ = analyze(read("gps_DSCN0010.jpg"))  # Italy: north, east
    assert tuscany.gps is not None and tuscany.gps.lat > 0 and tuscany.gps.lon > 0


def test_accepted_formats_and_limit() -> None:
    assert photos.ACCEPTED_FORMATS["JPEG"] == "image/jpeg"
    assert photos.ACCEPTED_FORMATS["MPO"] == "image/jpeg"
    assert set(photos.ACCEPTED_FORMATS) == {"JPEG", "MPO", "PNG", "TIFF", "WEBP", "HEIF"}
    assert photos.MAX_PIXELS == 150_000_000
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False  # truncation must be detected


# --------------------------------------------------------------------------------------------
# generated files: other formats, orientation in them, southern/western hemispheres


def _landscape_scene() -> Image.Image:
    with Image.open(FIXTURES / "orientation_landscape_1.jpg") as im:
        return im.convert("RGB")


def _exif(
    orientation: int | None = None,
    gps: dict[int, Any] | None = None,
    dates: dict[int, Any] | None = None,
    make: str | None = None,
    model: str | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if make is not None:
        exif[0x010F] = make
    if model is not None:
        exif[0x0110] = model
    if gps:
        exif.get_ifd(0x8825).update(gps)
    if dates:
        exif.get_ifd(0x8769).update(dates)
    return exif


def _r(numerator: int, denominator: int = 1) -> IFDRational:
    return IFDRational(numerator, denominator)


SYDNEY_GPS = {  # 33°52'30" S, 151°12'0" W (sic: west, to test both signs), 10.5 m below
    1: "S",
    2: (_r(33), _r(52), _r(3000, 100)),
    3: "W",
    4: (_r(151), _r(12), _r(0)),
    5: b"\x01",
    6: _r(105, 10),
}


def _save(im: Image.Image, fmt: str, exif: Image.Exif) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, exif=exif)
    return out.getvalue()


def _portrait_stored(orientation: int) -> Image.Image:
    """The landscape scene stored turned, the way a camera with that orientation stores it."""
    undo = {1: None, 3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90}
    undo[8] = Image.Transpose.ROTATE_270
    scene = _landscape_scene()
    transpose = undo[orientation]
    return scene if transpose is None else scene.transpose(transpose)


GENERATED_FORMATS = [("TIFF", "image/tiff"), ("PNG", "image/png"), ("WEBP", "image/webp")]


@pytest.mark.parametrize(("fmt", "mime"), GENERATED_FORMATS)
def test_other_formats_with_orientation_gps_and_time(fmt: str, mime: str) -> None:
    exif = _exif(
        orientation=6,
        gps=SYDNEY_GPS,
        dates={0x9003: "2024:03:10 08:15:00", 0x9011: "+05:00"},
        make="ACME",
        model="Observer 1",
    )
    data = _save(_portrait_stored(6), fmt, exif)
    info, thumb = analyze_quietly(data)
    assert info.mime == mime
    assert (info.width, info.height) == (450, 600)  # as stored, before orientation
    assert info.orientation == 6
    if fmt == "TIFF":
        # Pillow's TIFF writer drops the Exif and GPS sub-IFD pointers, so this file has neither
        # (the live exiftool test writes them into a TIFF with exiftool and reads them back)
        assert (info.taken_at, info.gps) == (None, None)
    else:
        assert info.taken_at == "2024-03-10T08:15:00+05:00"
        assert_gps(info.gps, (-33.875, -151.2, -10.5))
    assert info.camera == "ACME Observer 1"
    assert info.unreadable == ()
    # turned exactly once (Pillow's TIFF loader turns TIFFs itself; PNG/WebP are turned by us)
    reference = thumb_image(analyze(read("orientation_landscape_1.jpg"))[1])
    image = thumb_image(thumb)
    assert image.size == (320, 240)
    assert mean_difference(image, reference) < 12


def test_mpo_counts_as_jpeg() -> None:
    scene = _landscape_scene()
    out = io.BytesIO()
    scene.save(out, "MPO", save_all=True, append_images=[scene.resize((160, 120))])
    with Image.open(io.BytesIO(out.getvalue())) as im:
        assert im.format == "MPO"
    info, _ = analyze_quietly(out.getvalue())
    assert (info.mime, info.width, info.height) == ("image/jpeg", 600, 450)


def test_transparent_png_is_flattened_on_white() -> None:
    im = Image.new("RGBA", (400, 200), (0, 0, 0, 0))
    im.paste((200, 0, 0, 255), (0, 0, 200, 200))
    info, thumb = analyze_quietly(_save(im, "PNG", Image.Exif()))
    image = thumb_image(thumb)
    assert image.size == (320, 160)
    assert image.getpixel((300, 80)) == pytest.approx((255, 255, 255), abs=3)
    assert image.getpixel((20, 80)) == pytest.approx((200, 0, 0), abs=6)


def test_sixteen_bit_png_keeps_its_tones() -> None:
    im = Image.new("I;16", (512, 16))
    im.frombytes(b"".join(struct.pack("<H", x * 128) for x in range(512)) * 16)
    _, thumb = analyze_quietly(_save(im, "PNG", Image.Exif()))
    row = list(thumb_image(thumb).convert("L").crop((0, 5, 320, 6)).tobytes())
    assert row[0] < 10
    assert 100 < row[160] < 156  # mid-grey, not clipped to white
    assert row[319] > 240


# --------------------------------------------------------------------------------------------
# live comparison with exiftool


def _exiftool(paths: list[Path], *options: str) -> dict[str, dict[str, Any]]:
    exiftool = shutil.which("exiftool")
    assert exiftool
    output = subprocess.run(
        [exiftool, "-n", "-json", *options, *map(str, paths)],
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout
    return {Path(entry["SourceFile"]).name: entry for entry in json.loads(output)}


def _iso(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"(\d{4}):(\d\d):(\d\d) (\d\d:\d\d:\d\d)", value.strip())
    if not match or set(value) <= set("0: "):
        return None
    return f"{match[1]}-{match[2]}-{match[3]}T{match[4]}"


def _expected_from_exiftool(plain: dict[str, Any], grouped: dict[str, Any]) -> dict[str, Any]:
    def first(*keys: str) -> Any:
        return next((grouped[k] for k in keys if k in grouped), None)

    taken_at = _iso(first("ExifIFD:DateTimeOriginal", "IFD0:DateTimeOriginal"))
    offset = first("ExifIFD:OffsetTimeOriginal")
    if taken_at is None:
        taken_at = _iso(first("ExifIFD:CreateDate"))
        offset = first("ExifIFD:OffsetTimeDigitized")
    if taken_at is not None and isinstance(offset, str):
        taken_at += offset
    gps = None
    if "Composite:GPSLatitude" in grouped:
        gps = (
            float(grouped["Composite:GPSLatitude"]),
            float(grouped["Composite:GPSLongitude"]),
            grouped.get("Composite:GPSAltitude"),
        )
    orientation = first("IFD0:Orientation", "XMP-tiff:Orientation")
    return dict(
        mime=plain["MIMEType"],
        width=plain["ImageWidth"],
        height=plain["ImageHeight"],
        orientation=orientation,
        taken_at=taken_at,
        gps=gps,
        make=first("IFD0:Make"),
        model=first("IFD0:Model"),
    )


def _generated_files(directory: Path) -> list[Path]:
    files = []
    for fmt, _ in GENERATED_FORMATS:
        path = directory / f"generated_o6.{fmt.lower()}"
        exif = _exif(orientation=6, gps=SYDNEY_GPS, dates={0x9003: "2024:03:10 08:15:00"})
        path.write_bytes(_save(_portrait_stored(6), fmt, exif))
        files.append(path)
    tiff = directory / "generated_o6.tiff"
    exiftool = shutil.which("exiftool")
    assert exiftool
    subprocess.run(  # Pillow cannot write EXIF sub-IFDs into a TIFF; exiftool can
        [
            exiftool, "-q", "-overwrite_original", "-GPSLatitude=12.5", "-GPSLatitudeRef=S",
            "-GPSLongitude=77.25", "-GPSLongitudeRef=E", "-GPSAltitude=3.5", "-GPSAltitudeRef#=1",
            "-DateTimeOriginal=2024:03:10 08:15:00", "-OffsetTimeOriginal=-03:00", str(tiff),
        ],
        check=True,
        timeout=60,
    )  # fmt: skip
    if heic_encoder_available():
        files.extend(_rotated_heics(directory).values())
    return files


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_live_exiftool_agrees_on_every_file(tmp_path: Path) -> None:
    paths = [FIXTURES / name for name in sorted(EXPECTED)] + _generated_files(tmp_path)
    plain = _exiftool(paths)
    grouped = _exiftool(paths, "-G1")
    for path in paths:
        expected = _expected_from_exiftool(plain[path.name], grouped[path.name])
        info, _ = analyze_quietly(path.read_bytes())
        context = f"{path.name}: {info} vs exiftool {expected}"
        assert info.mime == expected["mime"], context
        assert (info.width, info.height) == (expected["width"], expected["height"]), context
        assert info.orientation == expected["orientation"], context
        assert info.taken_at == expected["taken_at"], context
        assert_gps(info.gps, expected["gps"])
        make, model = expected["make"], expected["model"]
        if model is None:
            assert info.camera == make, context
        else:
            assert info.camera is not None and info.camera.endswith(str(model)), context
            assert info.camera == str(model) or info.camera.startswith(str(make)), context


# --------------------------------------------------------------------------------------------
# orientation: every thumbnail turned exactly once


def test_orientations_1_3_6_8_give_upright_thumbnails() -> None:
    reference = thumb_image(analyze(read("orientation_landscape_1.jpg"))[1])
    assert reference.size == (320, 240)
    for orientation in (1, 3, 6, 8):
        data = read(f"orientation_landscape_{orientation}.jpg")
        info, thumb = analyze_quietly(data)
        assert info.orientation == orientation
        image = thumb_image(thumb)
        assert image.size == (320, 240), orientation  # landscape after orientation
        # the same scene (only the drawn digit differs) ...
        assert mean_difference(image, reference) < 8, orientation
        # ... while a picture turned the wrong way differs a lot
        assert mean_difference(image.rotate(180), reference) > 40, orientation
        assert mean_difference(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), reference) > 30
        # thumbnail() (cache rebuild) and render_oriented() (PDF) agree with analyze()
        assert mean_difference(thumb_image(thumbnail(data)), image) < 3
        rendered = render_oriented(data, 320)
        assert rendered.mode == "RGB" and rendered.size == (320, 240)
        assert mean_difference(rendered, image) < 8  # only the thumbnail's JPEG compression


def test_heic_fixture_thumbnail() -> None:
    data = read("heic_IMG_5195.HEIC")
    info, thumb = analyze_quietly(data)
    image = thumb_image(thumb)
    assert image.size == (248, 320)  # portrait like the stored 2566x3313, no rotation
    # same picture as a plain decode through pillow-heif
    with Image.open(io.BytesIO(data)) as im:
        plain = im.convert("RGB").resize((248, 320), Image.Resampling.LANCZOS)
    assert mean_difference(image, plain) < 6
    assert render_oriented(data, 500).size == (387, 500)


def heic_encoder_available() -> bool:
    return bool(pillow_heif.libheif_info().get("HEIF"))


def _rotated_heics(directory: Path) -> dict[int, Path]:
    """HEICs saved by pillow-heif from the orientation JPEGs: EXIF Orientation kept, and the
    container gets the matching irot box (what iPhones write)."""
    paths = {}
    for orientation in (1, 3, 6, 8):
        path = directory / f"rotated_{orientation}.heic"
        with Image.open(FIXTURES / f"orientation_landscape_{orientation}.jpg") as im:
            im.save(path, format="HEIF", exif=im.getexif().tobytes(), quality=70)
        paths[orientation] = path
    return paths


@pytest.mark.skipif(not heic_encoder_available(), reason="libheif has no HEVC encoder")
def test_heic_orientation_turned_exactly_once(tmp_path: Path) -> None:
    reference = thumb_image(analyze(read("orientation_landscape_1.jpg"))[1])
    for orientation, path in _rotated_heics(tmp_path).items():
        data = path.read_bytes()
        info, thumb = analyze_quietly(data)
        # the file's EXIF tag, although pillow-heif resets it to 1 after libheif applied irot
        assert info.orientation == orientation
        stored = (600, 450) if orientation in (1, 3) else (450, 600)
        assert (info.width, info.height) == stored  # irot undone: the size as stored
        image = thumb_image(thumb)
        assert image.size == (320, 240), orientation
        assert mean_difference(image, reference) < 8, orientation
        assert mean_difference(image.rotate(180), reference) > 40, orientation
        assert mean_difference(thumb_image(thumbnail(data)), image) < 3


# --------------------------------------------------------------------------------------------
# reduced-size decoding


def test_jpeg_thumbnail_uses_draft(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, Any, tuple[int, int]]] = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self: JpegImagePlugin.JpegImageFile, mode: Any, size: Any) -> Any:
        result = original(self, mode, size)
        calls.append((mode, size, self.size))  # self.size is now the size that gets decoded
        return result

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    info, thumb = analyze(read("mobile_jolla.jpg"))  # 3264x2448
    assert (info.width, info.height) == (3264, 2448)
    assert len(calls) == 1
    mode, requested, decoded = calls[0]
    assert mode == "RGB"
    assert requested == (320, 240)  # the thumbnail's size: never less, or quality would suffer
    assert decoded == (408, 306)  # libjpeg decodes at 1/8 scale, not 3264x2448
    assert decoded[0] >= requested[0] and decoded[1] >= requested[1]
    assert thumb_image(thumb).size == (320, 240)


# --------------------------------------------------------------------------------------------
# broken and unaccepted files


def test_corrupted_jpeg_is_rejected() -> None:
    # 16 KB of garbage inside the compressed data (a stray 0xFF9F marker, restart markers out of
    # sequence). libjpeg skips it with a warning only and paints grey blocks, so Pillow "decodes"
    # it; analyze's own scan of the JPEG structure rejects it.
    data = read("corrupted.jpg")
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # demonstrates that Pillow alone does not notice
    assert rejection(data) == DAMAGED


def test_text_file_is_not_an_image() -> None:
    assert rejection(read("README.md")) == "not an image (unrecognised format)"
    assert rejection(b"polling station 12, 08:00\n" * 20) == "not an image (unrecognised format)"


def test_empty_file() -> None:
    assert rejection(b"") == "empty file"


@pytest.mark.parametrize("keep", [0.001, 0.02, 0.5, 0.99])
def test_truncated_jpeg_is_rejected(keep: float) -> None:
    data = read("mobile_jolla.jpg")
    assert rejection(data[: int(len(data) * keep)]) == DAMAGED


def test_jpeg_missing_only_its_end_marker_is_rejected() -> None:
    data = read("gps_DSCN0010.jpg")
    assert data.endswith(b"\xff\xd9")
    assert rejection(data[:-2]) == DAMAGED


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.999])
def test_truncated_heic_is_rejected(keep: float) -> None:
    # libheif decodes a HEIC with missing tiles without any error (they come out black); the
    # box-structure check catches it.
    data = read("heic_IMG_5195.HEIC")
    assert rejection(data[: int(len(data) * keep)]) == DAMAGED


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "TIFF"])
def test_truncated_other_formats_are_rejected(fmt: str) -> None:
    data = _save(_landscape_scene(), fmt, Image.Exif())
    assert rejection(data[: len(data) // 2]) == DAMAGED


@pytest.mark.parametrize(("fmt", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("ICO", "ICO")])
def test_other_image_formats_are_named(fmt: str, name: str) -> None:
    out = io.BytesIO()
    _landscape_scene().save(out, fmt)
    assert rejection(out.getvalue()) == f"unsupported image format {name} {ACCEPTED}"


def test_pdf_is_named() -> None:
    out = io.BytesIO()
    _landscape_scene().save(out, "PDF")
    assert rejection(out.getvalue()) == "not an image (a PDF document)"


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int, height: int) -> bytes:
    """A real 1-bit PNG of width x height, all black, compressed to a few dozen kilobytes."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    loads: list[object] = []
    original = ImageFile.ImageFile.load

    def spy(self: ImageFile.ImageFile) -> Any:
        loads.append(self)
        return original(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    return loads


@pytest.mark.parametrize(
    ("width", "height"),
    [
        (12_500, 12_500),  # over MAX_PIXELS, under Pillow's error limit (Pillow only warns)
        (20_000, 20_000),  # over Pillow's own limit too (DecompressionBombError)
    ],
)
def test_png_decompression_bomb_is_rejected_before_decoding(
    width: int, height: int, no_decoding: list[object]
) -> None:
    data = png_bomb(width, height)
    assert len(data) < 100_000
    message = rejection(data)
    assert message == (
        f"too large to decode safely ({width}x{height} pixels, over the 150 megapixel limit)"
    )
    assert no_decoding == []


def _jpeg_with_frame_size(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF) claims width x height."""
    data = bytearray(read("Canon_40D.jpg"))
    pos = 2
    while True:  # walk the segments to the main SOF (the EXIF thumbnail has one of its own)
        marker = data[pos + 1]
        (length,) = struct.unpack_from(">H", data, pos + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            break
        pos += 2 + length
    struct.pack_into(">HH", data, pos + 5, height, width)
    return bytes(data)


@pytest.mark.parametrize(("width", "height"), [(24_000, 24_000), (12_500, 12_500)])
def test_jpeg_decompression_bomb_is_rejected(
    width: int, height: int, no_decoding: list[object]
) -> None:
    message = rejection(_jpeg_with_frame_size(width, height))
    assert message == (
        f"too large to decode safely ({width}x{height} pixels, over the 150 megapixel limit)"
    )
    assert no_decoding == []


# --------------------------------------------------------------------------------------------
# garbage metadata: recorded in `unreadable`, never a failed import


def _jpeg(exif: Image.Exif) -> bytes:
    return _save(_landscape_scene().resize((120, 90)), "JPEG", exif)


def test_southern_western_below_sea_level() -> None:
    info, _ = analyze_quietly(_jpeg(_exif(gps=SYDNEY_GPS)))
    assert info.gps is not None
    assert round(info.gps.lat, 6) == -33.875
    assert round(info.gps.lon, 6) == -151.2
    assert info.gps.alt == -10.5
    assert info.unreadable == ()


def test_zero_denominator_in_position_is_unreadable() -> None:
    gps = {1: "N", 2: (_r(43), _r(28, 0), _r(2)), 3: "E", 4: (_r(11), _r(53), _r(6))}
    info, _ = analyze_quietly(_jpeg(_exif(gps=gps)))
    assert info.gps is None
    assert info.unreadable == ("gps: bad rational (zero denominator)",)


def test_zero_denominator_in_altitude_keeps_the_position() -> None:
    gps = {1: "N", 2: (_r(43), _r(30), _r(0)), 3: "E", 4: (_r(11), _r(15), _r(0)), 6: _r(5, 0)}
    info, _ = analyze_quietly(_jpeg(_exif(gps=gps)))
    assert info.gps == Gps(lat=43.5, lon=11.25, alt=None)
    assert info.unreadable == ("gps: altitude: bad rational (zero denominator)",)


def test_missing_reference_is_noted() -> None:
    gps = {2: (_r(10), _r(0), _r(0)), 3: "E", 4: (_r(20), _r(0), _r(0))}
    info, _ = analyze_quietly(_jpeg(_exif(gps=gps)))
    assert info.gps == Gps(lat=10.0, lon=20.0, alt=None)
    assert info.unreadable == ("gps: no latitude reference (N/S), N assumed",)


def test_zeroed_and_blank_dates_are_absent_not_unreadable() -> None:
    zeroed = {0x9003: "0000:00:00 00:00:00", 0x9004: "0000:00:00 00:00:00"}
    info, _ = analyze_quietly(_jpeg(_exif(dates=zeroed)))
    assert (info.taken_at, info.unreadable) == (None, ())
    blank = {0x9003: "    :  :     :  :  ", 0x9004: "2019:01:01 10:00:00", 0x9012: "+01:00"}
    info, _ = analyze_quietly(_jpeg(_exif(dates=blank)))
    assert (info.taken_at, info.unreadable) == ("2019-01-01T10:00:00+01:00", ())


def test_digitized_time_is_only_a_fallback() -> None:
    dates = {0x9003: "2020:05:06 07:08:09", 0x9004: "2021:01:01 00:00:00"}
    info, _ = analyze_quietly(_jpeg(_exif(dates=dates)))
    assert info.taken_at == "2020-05-06T07:08:09"


def test_garbage_date_is_unreadable_and_not_replaced() -> None:
    dates = {0x9003: "yesterday", 0x9004: "2019:01:01 10:00:00"}
    info, _ = analyze_quietly(_jpeg(_exif(dates=dates)))
    assert info.taken_at is None
    assert info.unreadable == ("taken_at: unrecognised date 'yesterday'",)
    info, _ = analyze_quietly(_jpeg(_exif(dates={0x9003: "2019:13:45 25:00:00"})))
    assert info.unreadable == ("taken_at: impossible date '2019:13:45 25:00:00'",)


def test_bad_offset_keeps_the_local_time() -> None:
    dates = {0x9003: "2019:01:01 10:00:00", 0x9011: "GMT+3"}
    info, _ = analyze_quietly(_jpeg(_exif(dates=dates)))
    assert info.taken_at == "2019-01-01T10:00:00"
    assert info.unreadable == ("taken_at: bad time zone offset 'GMT+3'",)


def test_invalid_orientation() -> None:
    info, thumb = analyze_quietly(_jpeg(_exif(orientation=9)))
    assert info.orientation is None
    assert info.unreadable == ("orientation: invalid value 9",)
    assert thumb_image(thumb).size == (120, 90)  # not turned
    info, _ = analyze_quietly(_jpeg(_exif(orientation=0)))  # "unknown", written by some apps
    assert (info.orientation, info.unreadable) == (None, ())


def test_camera_strings_are_cleaned() -> None:
    exif = _exif(make="OLYMPUS IMAGING CORP.  ", model="u1020,S1020\x00\x00  ")
    info, _ = analyze_quietly(_jpeg(exif))
    assert info.camera == "OLYMPUS IMAGING CORP. u1020,S1020"
    info, _ = analyze_quietly(_jpeg(_exif(model="Pixel 8")))
    assert info.camera == "Pixel 8"


def _with_app1(jpeg: bytes, payload: bytes) -> bytes:
    """Insert an APP1 segment right after SOI (Pillow reads the first EXIF segment)."""
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_corrupt_exif_block_is_reported_not_warned() -> None:
    # IFD0 with one entry (Make) whose 1000-byte value lies beyond the end of the block:
    # Pillow warns "Tag data larger than file"; the warning must become an `unreadable` entry.
    tiff = b"II*\x00" + struct.pack("<IH", 8, 1) + struct.pack("<HHII", 0x010F, 2, 1000, 5000)
    data = _with_app1(_jpeg(Image.Exif()), b"Exif\x00\x00" + tiff + b"\x00\x00\x00\x00")
    info, _ = analyze_quietly(data)
    assert info.camera is None
    assert len(info.unreadable) == 1
    assert info.unreadable[0].startswith("metadata: ")
    assert "larger than file" in info.unreadable[0]


def test_exif_that_is_not_tiff_at_all() -> None:
    data = _with_app1(_jpeg(Image.Exif()), b"Exif\x00\x00" + b"\x07garbage" * 8)
    info, _ = analyze_quietly(data)
    assert (info.taken_at, info.gps, info.camera) == (None, None, None)


def _mutations(data: bytes, region: range, count: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        mutated = bytearray(data)
        for _ in range(rng.randint(1, 30)):
            mutated[rng.choice(region)] = rng.randrange(256)
        out.append(bytes(mutated))
    return out


def _never_anything_but_photo_error(call: Callable[[], object]) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            call()
        except PhotoError as e:
            assert str(e)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize(
    ("name", "count"),
    [("gps_DSCN0010.jpg", 120), ("Canon_40D.jpg", 120), ("heic_IMG_5195.HEIC", 24)],
)
def test_mutated_files_never_raise_anything_else(name: str, count: int) -> None:
    data = read(name)
    header = range(2, min(len(data), 12_000))  # metadata lives at the start
    everywhere = range(2, len(data))
    mutations = _mutations(data, header, count, 1) + _mutations(data, everywhere, count // 3, 2)
    for mutated in mutations:
        _never_anything_but_photo_error(lambda d=mutated: analyze(d))  # type: ignore[misc]


def test_random_bytes_and_tiny_inputs() -> None:
    rng = random.Random(3)
    samples = [bytes([b]) for b in (0, 0xFF)] + [b"\xff\xd8", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"]
    samples += [bytes(rng.randrange(256) for _ in range(rng.randint(1, 400))) for _ in range(50)]
    for sample in samples:
        _never_anything_but_photo_error(lambda d=sample: analyze(d))  # type: ignore[misc]
        _never_anything_but_photo_error(lambda d=sample: thumbnail(d))  # type: ignore[misc]
