"""Streaming CSV reading: encoding detection, delimiter sniffing, limits, line numbers.

`iter_csv_rows(stream)` is the public entry point (contacts import and the bulk DNC add
share it). The file is decoded incrementally and parsed record by record, so memory
stays flat whatever the file size.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (",", ";", "\t", "|")
# Leading bytes of files people upload by mistake, with what to tell them.
MAGIC = {
    b"PK\x03\x04": "a ZIP archive or an Excel .xlsx workbook",
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
}
CONTROL_CHARS = frozenset(chr(c) for c in range(32)) - {"\t", "\n", "\r", "\f"}
ERROR_HANDLER = "csvimport-cp1252"


def _single_byte(value: int) -> str:
    try:
        return bytes([value]).decode("cp1252")
    except UnicodeDecodeError:  # the five bytes cp1252 leaves undefined read as Latin-1
        return chr(value)


_CP1252 = [_single_byte(b) for b in range(256)]


def _decode_as_cp1252(exc: UnicodeError) -> tuple[str, int]:
    """Bytes that are not valid in the detected encoding read as Windows-1252.

    Files saved by hand often mix encodings (a UTF-8 export edited in an old editor);
    one stray byte should cost one odd character, never the whole import.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(_CP1252[b] for b in bad), exc.end


codecs.register_error(ERROR_HANDLER, _decode_as_cp1252)


@dataclass(frozen=True)
class CsvLimits:
    max_line_chars: int = 256 * 1024
    max_columns: int = 500
    max_field_chars: int = 10_000


class CsvFormatError(ValueError):
    """The file cannot be read as CSV (binary, over a structural limit, unbalanced)."""

    code = "invalid_csv"

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


class CsvLimitError(CsvFormatError):
    code = "csv_limit_exceeded"


@dataclass
class CsvRows:
    """A parsed file: the header and an iterator of (line number, values)."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    encoding: str
    delimiter: str
    header_line: int = 1
    warnings: list[str] = field(default_factory=list)


def detect_encoding(sample: bytes) -> str:
    """UTF-8 (BOM or not), UTF-16 (BOM or not), else Windows-1252 / Latin-1."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    pairs = len(sample) // 2
    if pairs >= 2:
        # ASCII-range text in UTF-16 puts a NUL in every other byte.
        even_nuls, odd_nuls = sample[0::2].count(0), sample[1::2].count(0)
        if odd_nuls > pairs * 0.3 and even_nuls < pairs * 0.05:
            return "utf-16-le"
        if even_nuls > pairs * 0.3 and odd_nuls < pairs * 0.05:
            return "utf-16-be"
    # Valid multi-byte sequences are near impossible by chance in Windows-1252 text, so
    # a sample with more of them than broken bytes is UTF-8 with a few stray bytes.
    text = sample[: len(sample) - 3].decode("utf-8", errors="replace") if sample else ""
    broken = text.count("\ufffd")
    multibyte = sum(1 for char in text if char > "\x7f") - broken
    return "utf-8" if broken == 0 or multibyte > broken else "cp1252"


def check_not_binary(sample: bytes, text: str) -> None:
    for magic, what in MAGIC.items():
        if sample.startswith(magic):
            raise CsvFormatError(f"The file looks like {what}, not CSV. Export it as CSV.")
    controls = sum(1 for char in text[:8192] if char in CONTROL_CHARS)
    if "\x00" in text or controls > max(4, len(text[:8192]) // 100):
        raise CsvFormatError("The file is not text; upload a CSV file.")


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the sample into the most consistent rows of >1 column.

    csv.Sniffer guesses from character frequencies and is easily fooled by commas inside
    names; parsing the sample with each candidate respects quoting.
    """
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end mid-record
    best, best_score = ",", (0, 0)
    for delimiter in DELIMITERS:
        try:
            records = [r for r in csv.reader(lines[:200], delimiter=delimiter) if any(r)]
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        score = (sum(1 for r in records if len(r) == width), width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class _Prefixed(io.RawIOBase):
    """Replays the bytes already read for sniffing, then the rest of the stream."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = memoryview(head), rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _physical_lines(text: io.TextIOBase, limit: int) -> Iterator[str]:
    number = 0
    while True:
        line = text.readline(limit + 1)
        if not line:
            return
        number += 1
        if len(line) > limit:
            raise CsvLimitError(f"Line {number} is longer than {limit} characters.", number)
        yield line


def iter_csv_rows(stream: BinaryIO, limits: CsvLimits | None = None) -> CsvRows:
    """Open a CSV byte stream: detect encoding and delimiter, read the header.

    Rows are yielded lazily as (line number where the record starts, values); blank
    lines are skipped. Raises CsvFormatError for a file that is not CSV text.
    """
    limits = limits or CsvLimits()
    sample = stream.read(SAMPLE_BYTES)
    encoding = detect_encoding(sample)
    sample_text = sample.decode(encoding, errors=ERROR_HANDLER)
    check_not_binary(sample, sample_text)
    delimiter = sniff_delimiter(sample_text.lstrip("\ufeff"))
    raw = io.BufferedReader(_Prefixed(sample, stream), buffer_size=SAMPLE_BYTES)
    text = io.TextIOWrapper(raw, encoding=encoding, errors=ERROR_HANDLER, newline="")
    reader = csv.reader(_physical_lines(text, limits.max_line_chars), delimiter=delimiter)
    records = _records(reader, limits)
    header_line, header = next(records, (0, []))
    if len(header) > limits.max_columns:
        raise CsvLimitError(
            f"The header has {len(header)} columns; at most {limits.max_columns} are allowed.",
            header_line,
        )
    header = [name.strip().lstrip("\ufeff") for name in header]
    return CsvRows(header, records, encoding, delimiter, header_line or 1)


def _records(reader, limits: CsvLimits) -> Iterator[tuple[int, list[str]]]:
    previous_end = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            line = reader.line_num
            raise CsvFormatError(f"Line {line}: {exc} (an unbalanced quote?).", line) from exc
        start, previous_end = previous_end + 1, reader.line_num
        if not "".join(values).strip():  # blank line, or only delimiters
            continue
        if len(values) > limits.max_columns:
            raise CsvLimitError(
                f"Line {start} has {len(values)} fields; at most {limits.max_columns} are allowed.",
                start,
            )
        yield start, values
