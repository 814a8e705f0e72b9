"""The streaming CSV reader, header mapping and row conversion (pure, no servers)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from app.imports import (
    CsvFormatError,
    CsvLimitError,
    CsvLimits,
    RowConverter,
    build_mapping,
    iter_csv_rows,
    split_full_name,
)
from app.imports.bloom import BloomFilter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "csv"


def read(name: str, limits: CsvLimits | None = None):
    with (FIXTURES / name).open("rb") as stream:
        parsed = iter_csv_rows(stream, limits)
        return parsed, list(parsed.rows)


@pytest.mark.parametrize(
    "name, encoding, delimiter",
    [
        ("utf8.csv", "utf-8", ","),
        ("utf8_bom.csv", "utf-8-sig", ","),
        ("utf16_bom_tab.csv", "utf-16", "\t"),
        ("utf16le_nobom.csv", "utf-16-le", ","),
        ("utf16be_nobom.csv", "utf-16-be", ","),
    ],
)
def test_unicode_encodings_and_delimiters_are_detected(name, encoding, delimiter):
    parsed, rows = read(name)
    assert (parsed.encoding, parsed.delimiter) == (encoding, delimiter)
    assert parsed.header == ["First Name", "Last Name", "Phone", "Email", "Company"]
    assert rows[0] == (2, ["Zoë", "Ångström", "(415) 555-0101", "zoe@example.com", "Åcme Ltd"])
    assert rows[1][1][:2] == ["李", "王"]


def test_windows_1252_with_semicolons_and_crlf():
    parsed, rows = read("cp1252_semicolon.csv")
    assert (parsed.encoding, parsed.delimiter) == ("cp1252", ";")
    assert parsed.header[0] == "Vorname"
    assert rows[0][1] == [
        "Jürgen",
        "Müller",
        "+49 30 901820",
        "juergen@beispiel.de",
        "Straße GmbH",
        "Preis 5 €",
    ]
    assert rows[1][1][0] == "Renée"


def test_latin1_reads_as_its_characters():
    parsed, rows = read("latin1.csv")
    assert parsed.encoding == "cp1252"
    assert rows[0][1] == ["José", "Niño", "jose@ejemplo.es", "Compañía Ñandú"]


def test_a_stray_invalid_byte_in_utf8_costs_one_character_not_the_file():
    head = "Name,Email\n" + "José,j@example.com\n" * 5000  # past the detection sample
    data = head.encode() + b"Ren\xe9,r@example.com\n"
    parsed = iter_csv_rows(io.BytesIO(data))
    rows = list(parsed.rows)
    assert parsed.encoding == "utf-8"
    assert [values[0] for _, values in rows[-2:]] == ["José", "René"]
    mixed = iter_csv_rows(io.BytesIO("Name\nJosé\nZoë\n".encode() + b"Ren\xe9\n"))
    assert [values[0] for _, values in mixed.rows] == ["José", "Zoë", "René"]


def test_quotes_embedded_newlines_crlf_and_blank_lines_with_start_line_numbers():
    parsed, rows = read("quoted_multiline_crlf.csv")
    assert parsed.delimiter == ","
    assert [line for line, _ in rows] == [2, 4, 9]
    assert rows[0][1] == ["Doe, Jane", "jane@example.com", "(415) 555-0102", 'Said "call me" later']
    assert rows[1][1][3] == "line one\r\nline two\r\nline three"
    assert rows[2][1][3] == "comma, inside"


def test_pipe_and_tab_delimiters():
    assert read("pipe.csv")[0].delimiter == "|"
    tsv = b"a\tb\tc\n1\t2\t3\n"
    assert iter_csv_rows(io.BytesIO(tsv)).delimiter == "\t"


def test_commas_inside_unquoted_semicolon_rows_do_not_fool_the_sniffer():
    data = b"Name;Email;Company\nDoe, Jane;j@example.com;Acme, Inc\nLee, Ann;a@example.com;Globex\n"
    parsed = iter_csv_rows(io.BytesIO(data))
    assert parsed.delimiter == ";"
    assert next(parsed.rows)[1] == ["Doe, Jane", "j@example.com", "Acme, Inc"]


def test_memory_stays_flat_rows_are_lazy():
    def endless():
        yield b"Name,Email\n"
        for i in range(10**9):
            yield f"n{i},n{i}@example.com\n".encode()

    class Stream(io.RawIOBase):
        def __init__(self):
            self.chunks, self.buffer = endless(), b""

        def readable(self):
            return True

        def read(self, size=-1):
            while len(self.buffer) < size:
                self.buffer += next(self.chunks)
            out, self.buffer = self.buffer[:size], self.buffer[size:]
            return out

    rows = iter_csv_rows(Stream()).rows
    assert next(rows) == (2, ["n0", "n0@example.com"])
    for _ in range(50_000):
        line, _values = next(rows)
    assert line == 50_002


@pytest.mark.parametrize("name", ["not_csv.xlsx", "binary.bin"])
def test_binary_files_are_refused(name):
    with pytest.raises(CsvFormatError) as info:
        read(name)
    assert "CSV" in info.value.message


def test_empty_and_blank_files_have_no_header():
    for name in ("empty.csv", "blank_lines_only.csv"):
        parsed, rows = read(name)
        assert parsed.header == [] and rows == []


def test_limits_on_columns_line_length_and_fields():
    with pytest.raises(CsvLimitError):
        iter_csv_rows(io.BytesIO(b"a,b,c,d\n1,2,3,4\n"), CsvLimits(max_columns=3))
    with pytest.raises(CsvLimitError) as info:
        list(iter_csv_rows(io.BytesIO(b"a,b\n1," + b"x" * 200 + b"\n"), CsvLimits(100)).rows)
    assert info.value.line == 2
    unbalanced = b'a,b\n1,"' + b"x\n" * 100_000
    with pytest.raises(CsvFormatError):
        list(iter_csv_rows(io.BytesIO(unbalanced)).rows)


# --- header mapping -------------------------------------------------------------------


def mapped(name: str, **kwargs) -> dict:
    parsed, _ = read(name)
    return build_mapping(parsed.header, **kwargs).describe(parsed.header)


def test_google_contacts_headers():
    mapping = mapped("google_contacts.csv", keep_unmapped=False)
    assert mapping["Given Name"] == "firstName" and mapping["Family Name"] == "lastName"
    assert mapping["E-mail 1 - Value"] == "email" and mapping["Phone 1 - Value"] == "phone"
    assert mapping["Organization 1 - Name"] == "company" and mapping["Notes"] == "notes"
    assert mapping["Name"] is None  # first/last are mapped on their own


def test_outlook_headers_prefer_mobile_and_keep_the_other_numbers_typed():
    mapping = mapped("outlook.csv")
    assert mapping["First Name"] == "firstName" and mapping["Last Name"] == "lastName"
    assert mapping["E-mail Address"] == "email" and mapping["Company"] == "company"
    assert mapping["Mobile Phone"] == "phone"
    assert mapping["Business Phone"] == mapping["Business Phone 2"] == "phones.work"
    assert mapping["Home Phone"] == "phones.home"
    assert mapping["E-mail 2 Address"] == "emails.other"
    assert mapping["Job Title"] == "customFields.Job Title"


def test_hubspot_headers():
    mapping = mapped("hubspot.csv")
    assert mapping["Email"] == "email" and mapping["Phone Number"] == "phone"
    assert mapping["Company Name"] == "company"
    assert mapping["Record ID"] == "customFields.Record ID"


def test_explicit_mapping_wins_and_unknown_columns_are_reported():
    header = ["Cell", "Org", "Email", "Junk"]
    mapping = build_mapping(header, {"cell": "phone", "Org": "company", "Junk": None})
    assert mapping.targets == ["phone", "company", "email", None]
    assert mapping.unmapped == []
    with pytest.raises(Exception) as info:
        build_mapping(header, {"Nope": "phone"})
    assert info.value.details[0]["field"] == "mapping.Nope"


def test_case_spaces_and_punctuation_do_not_matter():
    mapping = build_mapping(["  FIRST_name ", "e.mail", "PHONE-NUMBER"], keep_unmapped=False)
    assert mapping.targets == ["firstName", "email", "phone"]


def test_full_name_split():
    assert split_full_name("Mary Ann Smith") == ("Mary", "Ann Smith")
    assert split_full_name("Doe, John") == ("John", "Doe")
    assert split_full_name("Cher") == ("Cher", None)


def test_row_conversion_reports_ragged_rows_and_long_fields():
    header = ["Full Name", "Email", "Tags", "Color"]
    converter = RowConverter(header, build_mapping(header), "ws_x", "GB", max_field_chars=20)
    payload, problems = converter.convert(["Doe, Jane", "J@X.COM", "vip; lead", "blue"])
    assert problems == []
    assert payload == {
        "workspaceId": "ws_x",
        "defaultCountry": "GB",
        "firstName": "Jane",
        "lastName": "Doe",
        "email": "J@X.COM",
        "tags": ["vip", "lead"],
        "customFields": {"Color": "blue"},
    }
    assert converter.convert(["a", "b"])[1][0].field == "row"
    assert converter.convert(["a", "b@x.com", "", "", ""])[1] == []  # trailing empty field
    long = converter.convert(["a", "b@x.com", "", "x" * 21])[1]
    assert long[0].field == "Color"


def test_bloom_filter_remembers_without_false_negatives():
    bloom = BloomFilter(10_000)
    keys = [f"p:+1415555{i:04d}" for i in range(10_000)]
    for key in keys:
        bloom.add(key)
    assert all(key in bloom for key in keys)
    false_positives = sum(f"e:{i}@x" in bloom for i in range(10_000))
    assert false_positives < 20


def test_exported_columns_map_back_without_options():
    from app.imports.headers import build_mapping
    from app.imports.rows import unneutralize

    header = ["id", "workspaceId", "firstName", "customFields.plan", "createdAt", "dnc", "Extra"]
    mapping = build_mapping(header)
    assert mapping.targets == [
        None,
        None,
        "firstName",
        "customFields.plan",
        None,
        None,
        "customFields.Extra",
    ]
    assert mapping.unmapped == ["Extra"]
    assert unneutralize("'=SUM(A1)") == "=SUM(A1)"
    assert unneutralize("'-5") == "-5"
    assert unneutralize("'tis") == "'tis"
    assert unneutralize("'") == "'"
