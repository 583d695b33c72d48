import dataclasses
import pickle
from pathlib import Path

import pytest

from app.stations_csv import StationCsvError, StationRow, parse_stations_csv

FIXTURES = Path(__file__).parent / "fixtures" / "stations"

HEADER = "code,name,region,district,address,commission,registered_voters,lat,lon\n"
ROW = "75-001,№ 1 сайлау учаскесі,Алматы қаласы,Әуезов ауданы,Жандосов к-сі 55,,{v},{lat},{lon}\n"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def parse_text(text: str, file_name: str = "stations.csv") -> list[StationRow]:
    return parse_stations_csv(text.encode("utf-8"), file_name)


def errors_of(data: bytes | str, file_name: str = "stations.csv") -> list[str]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(StationCsvError) as info:
        parse_stations_csv(raw, file_name)
    assert info.value.errors, "StationCsvError without errors"
    return info.value.errors


def one_row(v: str = "", lat: str = "", lon: str = "") -> str:
    return HEADER + ROW.format(v=v, lat=lat, lon=lon)


# --- well-formed files ----------------------------------------------------------


def test_realistic_almaty_list() -> None:
    stations = parse_stations_csv(fixture("almaty.csv"), "almaty.csv")
    assert len(stations) == 15
    assert [s.code for s in stations] == [f"75-{n:03d}" for n in range(1, 16)]
    first = stations[0]
    assert first == StationRow(
        code="75-001",
        name="№ 1 сайлау учаскесі",
        region="Алматы қаласы",
        district="Әуезов ауданы",
        address="Алматы қ., Әуезов ауданы, Жандосов к-сі 55",
        commission="Әуезов аудандық сайлау комиссиясы",
        registered_voters=2143,
        lat=43.2231,
        lon=76.8512,
    )
    by_code = {s.code: s for s in stations}
    assert by_code["75-004"].address == (
        'г. Алматы, ул. Толе би, 101, КГУ "Общеобразовательная школа № 35"'
    )
    assert by_code["75-008"].registered_voters is None
    assert by_code["75-009"].lat is None and by_code["75-009"].lon is None
    assert by_code["75-010"].commission is None


def test_excel_russian_locale_variant_gives_the_same_stations() -> None:
    """BOM, semicolons, CRLF, Russian headers, decimal commas, NBSP thousands, an empty row."""
    data = fixture("almaty_excel_ru.csv")
    assert data.startswith(b"\xef\xbb\xbf")
    assert b";" in data.splitlines()[0] and b"\r\n" in data
    assert parse_stations_csv(data, "almaty_excel_ru.csv") == parse_stations_csv(
        fixture("almaty.csv"), "almaty.csv"
    )


def test_bom_with_comma_delimiter() -> None:
    stations = parse_stations_csv(b"\xef\xbb\xbf" + fixture("almaty.csv"), "bom.csv")
    assert len(stations) == 15
    assert stations[0].code == "75-001"


def test_utf16_unicode_text_export_is_accepted() -> None:
    text = fixture("almaty.csv").decode("utf-8")
    lines = [line.replace(",", "\t") for line in text.splitlines()[:1]]
    lines.append("75-001\tУчасток № 1\tг. Алматы\tМедеуский район\tул. Пушкина, 2\t\t1500\t\t")
    data = "\r\n".join(lines).encode("utf-16")
    [station] = parse_stations_csv(data, "unicode.txt")
    assert station.address == "ул. Пушкина, 2"
    assert station.registered_voters == 1500


def test_semicolon_sniffed_with_commas_inside_values() -> None:
    text = (
        "code;name;region;district;address\n"
        "75-005;№ 5 сайлау учаскесі;Алматы қаласы;Алмалы ауданы;Алматы қ., Абылай хан даңғ. 91\n"
    )
    [station] = parse_text(text)
    assert station.address == "Алматы қ., Абылай хан даңғ. 91"
    assert station.commission is None
    assert station.registered_voters is None


def test_header_case_and_spaces_ignored_values_stripped() -> None:
    text = (
        " CODE , Name ,REGION,District , Address, Registered Voters ,LAT,Lon\n"
        '  75-001 ,  Участок № 1\u00a0,  г. Алматы ,Медеуский район," ул. Пушкина, 2 ",'
        " 1500 , 43.26 , 76.95 \n"
    )
    [station] = parse_text(text)
    assert station == StationRow(
        code="75-001",
        name="Участок № 1",
        region="г. Алматы",
        district="Медеуский район",
        address="ул. Пушкина, 2",
        commission=None,
        registered_voters=1500,
        lat=43.26,
        lon=76.95,
    )


def test_russian_header_aliases() -> None:
    text = (
        "Код;Название;Регион;Район;Адрес;Комиссия;Избирателей;Широта;Долгота\n"
        "75-002;Участок № 2;г. Алматы;Ауэзовский район;мкр. Аксай-4, 67;Ауэзовская ТИК;"
        "2 587;43,2365;76,8327\n"
    )
    [station] = parse_text(text)
    assert station.commission == "Ауэзовская ТИК"
    assert station.registered_voters == 2587
    assert station.lat == pytest.approx(43.2365)
    assert station.lon == pytest.approx(76.8327)


def test_alternative_russian_and_kazakh_aliases() -> None:
    ru = "код;наименование;область;район;адрес\n1;Участок;Алматинская;Илийский;п. Отеген батыр\n"
    kk = "Коды;Атауы;Облыс;Аудан;Мекенжай;Сайлаушылар саны;Ендік;Бойлық\n"
    kk += "2;№ 2 учаске;Алматы облысы;Іле ауданы;Өтеген батыр к.;900;43,41;77,02\n"
    assert parse_text(ru)[0].district == "Илийский"
    station = parse_text(kk)[0]
    assert station.region == "Алматы облысы"
    assert station.registered_voters == 900


def test_blank_lines_and_empty_excel_rows_are_skipped() -> None:
    text = "\n\n" + HEADER + "\n" + ROW.format(v="1", lat="", lon="") + ",,,,,,,,\n\n"
    assert [s.code for s in parse_text(text)] == ["75-001"]


def test_crlf_and_old_mac_line_endings() -> None:
    text = one_row(v="10").replace("\n", "\r\n")
    assert parse_text(text)[0].registered_voters == 10
    text = one_row(v="11").replace("\n", "\r")
    assert parse_text(text)[0].registered_voters == 11


def test_trailing_unnamed_column_with_no_values_is_ignored() -> None:
    text = "code;name;region;district;address;\n75-001;Участок;г. Алматы;Медеу;Достық 44;\n"
    assert parse_text(text)[0].address == "Достық 44"


def test_station_row_is_frozen() -> None:
    station = parse_text(one_row())[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        station.code = "x"  # type: ignore[misc]


# --- registered voters ------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0),
        ("1234", 1234),
        ("1 234", 1234),
        ("1\u00a0234", 1234),
        ("1\u202f234", 1234),
        ("12 345 678", 12345678),
        ("  987 ", 987),
        ("", None),
    ],
)
def test_registered_voters_accepted(raw: str, expected: int | None) -> None:
    assert parse_text(one_row(v=raw))[0].registered_voters == expected


@pytest.mark.parametrize("raw", ["abc", "1.5", '"1,234"', "12 34", "1234.0", "1e3", "+-1"])
def test_registered_voters_not_a_whole_number(raw: str) -> None:
    [error] = errors_of(one_row(v=raw))
    assert error.startswith("stations.csv line 2, column registered_voters: ")
    assert "not a whole number" in error


def test_registered_voters_negative() -> None:
    [error] = errors_of(one_row(v="-5"))
    assert error.startswith("stations.csv line 2, column registered_voters: '-5'")
    assert "negative" in error


def test_registered_voters_error_uses_the_header_as_written() -> None:
    text = "Код;Название;Регион;Район;Адрес;Избирателей\n1;Уч;Алматы;Медеу;Достық 44;много\n"
    [error] = errors_of(text)
    assert error == "stations.csv line 2, column Избирателей: 'много' is not a whole number"


# --- coordinates ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        ("43.2567", "76.9286", (43.2567, 76.9286)),
        ("43,2567", "76,9286", (43.2567, 76.9286)),
        ("-90", "-180", (-90.0, -180.0)),
        ("90", "180", (90.0, 180.0)),
        ("+43.", ".5", (43.0, 0.5)),
        ("", "", (None, None)),
    ],
)
def test_coordinates_accepted(lat: str, lon: str, expected: tuple[float, float]) -> None:
    station = parse_text(one_row(lat=f'"{lat}"', lon=f'"{lon}"'))[0]
    assert (station.lat, station.lon) == expected


@pytest.mark.parametrize(
    ("lat", "lon", "column", "words"),
    [
        ("90.0001", "76.9", "lat", "out of range"),
        ("-91", "76.9", "lat", "out of range"),
        ("43.2", "180.5", "lon", "out of range"),
        ("43.2", "-181", "lon", "out of range"),
        ("nan", "76.9", "lat", "not a number"),
        ("43.2", "inf", "lon", "not a number"),
        ("4e1", "76.9", "lat", "not a number"),
        ("43°15'", "76.9", "lat", "not a number"),
        ("43.2", "76.92.50", "lon", "not a number"),
        ('"43,2,5"', "76.9", "lat", "not a number"),
    ],
)
def test_coordinates_rejected(lat: str, lon: str, column: str, words: str) -> None:
    [error] = errors_of(one_row(lat=lat, lon=lon))
    assert error.startswith(f"stations.csv line 2, column {column}: ")
    assert words in error


def test_latitude_without_longitude() -> None:
    [error] = errors_of(one_row(lat="43.2", lon=""))
    assert error.startswith("stations.csv line 2, column lon: empty while lat is given")


def test_lat_column_without_lon_column() -> None:
    text = "code,name,region,district,address,lat\n1,Уч,Алматы,Медеу,Достық 44,43.2\n"
    [error] = errors_of(text)
    assert error.startswith("stations.csv line 1: ")
    assert "lon is missing" in error


# --- header problems ----------------------------------------------------------------------


def test_missing_required_columns_one_error_naming_them() -> None:
    errors = errors_of("code,name,address\n1,Уч,Достық 44\n")
    assert errors == ["stations.csv line 1: missing required column(s): region, district"]


def test_unknown_column_is_an_error_listing_accepted_columns() -> None:
    text = "code,name,region,district,adress,voterz\n1,Уч,Алматы,Медеу,Достық 44,100\n"
    errors = errors_of(text)
    assert errors[0] == "stations.csv line 1: missing required column(s): address"
    assert errors[1].startswith("stations.csv line 1: unknown column(s): 'adress', 'voterz';")
    for column in ("code", "name", "region", "district", "address", "commission"):
        assert column in errors[1]
    assert "registered_voters" in errors[1] and "lat" in errors[1] and "lon" in errors[1]


def test_same_column_twice() -> None:
    text = "code,name,region,district,address,код\n1,Уч,Алматы,Медеу,Достық 44,1\n"
    [error] = errors_of(text)
    assert error == "stations.csv line 1: columns 'code' and 'код' both mean code"


def test_single_column_header_hints_at_separators() -> None:
    text = "code|name|region|district|address\n1|a|b|c|d\n"
    assert errors_of(text) == [
        "stations.csv line 1: missing required column(s): code, name, region, district, "
        "address (columns must be separated by commas or semicolons)",
        "stations.csv line 1: unknown column(s): 'code|name|region|district|address'; "
        "accepted columns are: code, name, region, district, address, commission, "
        "registered_voters, lat, lon "
        "(Russian names such as код, название, регион, район, адрес are accepted too)",
    ]


def test_header_errors_point_at_the_header_line_after_blank_lines() -> None:
    errors = errors_of("\n\ncode,name\n1,a\n")
    assert errors == ["stations.csv line 3: missing required column(s): region, district, address"]


# --- row problems ---------------------------------------------------------------------------


def test_row_with_too_few_fields() -> None:
    [error] = errors_of(HEADER + "75-001,Уч,Алматы,Медеу\n")
    assert error == "stations.csv line 2: 4 fields, but the header line has 9 columns"


def test_row_with_too_many_fields_hints_at_quoting() -> None:
    text = "code;name;region;district;address\n1;Уч;Алматы;Медеу;Достық; 44\n"
    [error] = errors_of(text)
    assert error.startswith("stations.csv line 2: 6 fields, but the header line has 5 columns")
    assert "double quotes" in error


def test_empty_code_and_name() -> None:
    text = "code,name,region,district,address\n ,Уч,Алматы,Медеу,Достық 44\n2,  ,Алматы,Медеу,x\n"
    assert errors_of(text) == [
        "stations.csv line 2, column code: the station code is empty",
        "stations.csv line 3, column name: the station name is empty",
    ]


def test_region_district_address_may_be_empty() -> None:
    [station] = parse_text("code,name,region,district,address\n1,Участок,,,\n")
    assert (station.region, station.district, station.address) == ("", "", "")


def test_duplicate_code_names_both_lines() -> None:
    text = (
        "code,name,region,district,address\n"
        "75-001,Уч 1,Алматы,Медеу,a\n"
        "75-002,Уч 2,Алматы,Медеу,b\n"
        "\n"
        " 75-001 ,Уч 3,Алматы,Медеу,c\n"
    )
    assert errors_of(text) == [
        "stations.csv line 5, column code: duplicate code '75-001', already used on line 2"
    ]


def test_duplicate_code_ignores_letter_case() -> None:
    text = "code,name,region,district,address\nA-1,Уч 1,x,y,z\na-1,Уч 2,x,y,z\n"
    [error] = errors_of(text)
    assert "duplicate code 'a-1', already used on line 2" in error


def test_duplicate_reported_even_when_the_row_has_other_errors() -> None:
    text = HEADER + ROW.format(v="1", lat="", lon="") + ROW.format(v="x", lat="", lon="")
    errors = errors_of(text)
    assert len(errors) == 2
    assert "duplicate code '75-001', already used on line 2" in errors[0]
    assert "'x' is not a whole number" in errors[1]


def test_value_in_a_column_without_a_name() -> None:
    text = "code;name;region;district;address;\n1;Уч;Алматы;Медеу;Достық 44;забыли\n"
    [error] = errors_of(text)
    assert error.startswith("stations.csv line 2, column 6: 'забыли'")


# --- quoting and line numbers -------------------------------------------------------------


def test_multiline_fields_report_the_physical_start_line() -> None:
    data = fixture("multiline.csv")
    assert errors_of(data, "multiline.csv") == [
        "multiline.csv line 7, column name: the station name is empty"
    ]
    fixed = data.replace(b"75-003;;", b"75-003;x;")
    stations = parse_stations_csv(fixed, "multiline.csv")
    assert stations[0].name == "Избирательный участок № 1\n(школа № 35)"
    assert stations[0].address == "г. Алматы,\nул. Толе би, 101"
    assert [s.code for s in stations] == ["75-001", "75-002", "75-003"]


def test_error_in_a_multiline_record_names_its_first_line() -> None:
    text = 'code,name,region,district,address\n\n,"Участок\nшкола",x,y,"a\nb"\n'
    assert errors_of(text) == ["stations.csv line 3, column code: the station code is empty"]


def test_unclosed_quote() -> None:
    text = 'code,name,region,district,address\n1,a,b,c,d\n2,"Участок,b,c,d\n3,x,y,z,w\n'
    [error] = errors_of(text)
    assert error.startswith("stations.csv line 3: a quoted field starts here")


def test_text_after_closing_quote_is_an_error_and_parsing_goes_on() -> None:
    text = 'code,name,region,district,address\n1,"Школа "Болашак"",b,c,d\n2,a,b,c,d\n3,,b,c,d\n'
    errors = errors_of(text)
    assert len(errors) == 2
    assert errors[0].startswith("stations.csv line 2: a closing quote must be followed")
    assert errors[1] == "stations.csv line 4, column name: the station name is empty"


def test_nul_character() -> None:
    [error] = errors_of("code,name,region,district,address\n1,a\x00,b,c,d\n")
    assert error.startswith("stations.csv line 2: the file contains NUL characters")


def test_utf16_without_bom_is_rejected() -> None:
    [error] = errors_of(HEADER.encode("utf-16-le"))
    assert "NUL characters" in error and "UTF-8" in error


@pytest.mark.parametrize("magic", [b"PK\x03\x04", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"])
def test_excel_workbook_instead_of_csv(magic: bytes) -> None:
    [error] = errors_of(magic + b"\x00" * 40, "stations.xlsx")
    assert error.startswith("stations.xlsx: this is an Excel workbook")
    assert "CSV UTF-8" in error


# --- all errors at once, no partial result ----------------------------------------------------


def test_broken_file_reports_every_error_in_order() -> None:
    with pytest.raises(StationCsvError) as info:
        parse_stations_csv(fixture("broken.csv"), "broken.csv")
    errors = info.value.errors
    assert errors == [
        "broken.csv line 3, column registered_voters: 'abc' is not a whole number",
        "broken.csv line 4, column code: the station code is empty",
        "broken.csv line 5, column code: duplicate code '75-001', already used on line 2",
        "broken.csv line 6, column lat: '95.5' is out of range (must be between -90 and 90)",
        "broken.csv line 7, column lon: '76.92.50' is not a number "
        "(expected decimal degrees such as 43.2567)",
        "broken.csv line 8: 11 fields, but the header line has 9 columns "
        "(a value that contains ',' must be in double quotes)",
        "broken.csv line 9, column registered_voters: '-5' is negative; "
        "the number of voters must be 0 or more",
        "broken.csv line 10, column lon: empty while lat is given; fill both or neither",
        "broken.csv line 12, column name: the station name is empty",
    ]
    assert str(info.value) == "\n".join(errors)


def test_message_lists_at_most_twenty_errors() -> None:
    rows = "".join(f"{n},,x,y,z\n" for n in range(30))
    with pytest.raises(StationCsvError) as info:
        parse_text("code,name,region,district,address\n" + rows)
    assert len(info.value.errors) == 30
    lines = str(info.value).splitlines()
    assert len(lines) == 21
    assert lines[:20] == info.value.errors[:20]
    assert lines[20] == "... and 10 more"


def test_header_and_row_errors_together() -> None:
    text = "code,name,region,district,addres,registered_voters\n1,a,b,c,d,xx\n"
    errors = errors_of(text)
    assert len(errors) == 3
    assert "missing required column(s): address" in errors[0]
    assert "unknown column(s): 'addres'" in errors[1]
    assert errors[2] == "stations.csv line 2, column registered_voters: 'xx' is not a whole number"


# --- empty files -------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n  \n"])
def test_empty_file(data: bytes) -> None:
    [error] = errors_of(data)
    assert error.startswith("stations.csv: no stations")
    assert "empty" in error


@pytest.mark.parametrize("data", [HEADER, HEADER + "\n\n", HEADER + ",,,,,,,,\n"])
def test_header_only(data: str) -> None:
    [error] = errors_of(data)
    assert error == "stations.csv: no stations: the file has a header line but no station rows"


# --- encodings ---------------------------------------------------------------------------------


def test_windows_1251_file_is_recognised() -> None:
    [error] = errors_of(fixture("almaty_cp1251.csv"), "almaty_cp1251.csv")
    assert error.startswith("almaty_cp1251.csv line 1: ")
    assert "the file looks like Windows-1251, save it as UTF-8" in error


def test_windows_1251_detected_in_data_rows_with_line_number() -> None:
    data = "code,name,region,district,address\n1,Участок,г. Алматы,Медеуский,ул. Пушкина 2\n"
    [error] = errors_of(data.encode("cp1251"))
    assert error.startswith("stations.csv line 2: ")
    assert "Windows-1251" in error


def test_invalid_utf8_names_the_line_and_suggests_utf8() -> None:
    data = "code,name,region,district,address\n1,Участок,x,y,z\n2,".encode() + b"\xb0\xb1,x,y,z\n"
    [error] = errors_of(data)
    assert error.startswith("stations.csv line 3: byte 0xB0 is not valid UTF-8")
    assert "save the file as UTF-8" in error
    assert "Windows-1251" not in error


def test_mostly_utf8_file_with_a_stray_byte_is_not_called_windows_1251() -> None:
    good = "".join(
        f"{n},Сайлау учаскесі № {n},Алматы қаласы,Әуезов ауданы,к-сі\n" for n in range(9)
    )
    data = ("code,name,region,district,address\n" + good).encode() + b"9,\xc0,x,y,z\n"
    [error] = errors_of(data)
    assert error.startswith("stations.csv line 11: byte 0xC0 is not valid UTF-8")


def test_errors_name_the_given_file() -> None:
    [error] = errors_of(one_row(v="x"), "Алматы_участки.csv")
    assert error.startswith("Алматы_участки.csv line 2, column registered_voters")


def test_error_survives_pickling() -> None:
    error = StationCsvError(["a.csv line 2: x", "a.csv line 3: y"])
    copy = pickle.loads(pickle.dumps(error))
    assert copy.errors == error.errors
    assert str(copy) == str(error)


@pytest.mark.parametrize("raw", ["١٢٣", "１２３"])
def test_only_ascii_digits(raw: str) -> None:
    [error] = errors_of(one_row(v=raw))
    assert "not a whole number" in error
