"""CSV import building blocks: streaming reader, header mapping, row conversion.

Pure functions and small classes without I/O beyond the stream they are given; the
ImportService (app/services/imports.py) drives them. The DNC bulk add reuses
`iter_csv_rows` for its own files.
"""

from app.imports.headers import ColumnMapping, MappingError, build_mapping, normalize_header
from app.imports.reader import (
    CsvFormatError,
    CsvLimitError,
    CsvLimits,
    CsvRows,
    detect_encoding,
    iter_csv_rows,
    sniff_delimiter,
)
from app.imports.rows import RowConverter, RowProblem, split_full_name

__all__ = [
    "ColumnMapping",
    "CsvFormatError",
    "CsvLimitError",
    "CsvLimits",
    "CsvRows",
    "MappingError",
    "RowConverter",
    "RowProblem",
    "build_mapping",
    "detect_encoding",
    "iter_csv_rows",
    "normalize_header",
    "sniff_delimiter",
    "split_full_name",
]
