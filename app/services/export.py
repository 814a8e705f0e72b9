"""CSV export of a workspace's contacts, streamed from one point in time.

Nothing is held in memory beyond one page of contacts: the rows are read with
search_after inside a point in time (a consistent snapshot, however long the download
takes) and written out page by page. Custom fields become `customFields.<key>` columns;
their keys are collected first by a pass that reads only `customFields`, in the same
point in time, so the header is complete before the first row is sent.

Failures before the first byte are ordinary JSON errors (429 when the workspace holds
its budget of points in time, 503 when the engine refuses one or loses it). After the
first byte the status is sent and cannot change: a failure then ends the file with one
last row, `#export-incomplete,<why>`, so a truncated download never passes for a whole
one (a client checks the last row, or the stream's end).
"""

from __future__ import annotations

import csv
import io
import json
import logging
import zlib
from collections.abc import Iterator

from opensearchpy import NotFoundError

from app import observability
from app.errors import ServiceUnavailable, Unprocessable
from app.search import queries, readings
from app.search.documents import CONTACT_FIELDS, from_source
from app.services.contact_rules import exact_dnc_filter
from app.services.search import SearchService

# The contact's own fields (custom fields get a column each), then the derived DNC flag.
BASE_COLUMNS = (
    *(f for f in CONTACT_FIELDS if f not in ("customFields", "phones", "emails")),
    "dnc",
    # Every number (each with its own DNC state) and address, after the contact's flag.
    "phones",
    "emails",
)
CUSTOM_PREFIX = "customFields."
TAG_SEPARATOR = ", "  # the importer splits tags on , ; or |
# A contact's numbers and addresses, one cell each: "+14155551234 (mobile, primary, dnc);
# +12125550000 (work)" (the importer reads that back). A number's own DNC state is in its
# flags: "dnc" listed, "dnc unknown" when the list could not be read.
LIST_COLUMNS = {"phones": "number", "emails": "address"}
LIST_SEPARATOR = "; "
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel reads UTF-8 only with a byte-order mark; the importer skips it.
BOM = "\ufeff"
INCOMPLETE_MARKER = "#export-incomplete"

log = logging.getLogger(__name__)


def neutralize(value: str) -> str:
    """Make a spreadsheet show the cell as text: a leading apostrophe (OWASP advice)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def listed_entry(entry: dict, key: str) -> str:
    flags = [entry["type"]]
    if entry.get("primary"):
        flags.append("primary")
    if "dnc" in entry and entry["dnc"] is not False:
        flags.append("dnc" if entry["dnc"] else "dnc unknown")
    return f"{entry[key]} ({', '.join(flags)})"


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return neutralize(str(value))


def gzip_chunks(chunks: Iterator[bytes], level: int = 6) -> Iterator[bytes]:
    """Compress a byte stream as it goes (gzip container, flushed at the end)."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)
    for chunk in chunks:
        out = compressor.compress(chunk)
        if out:
            yield out
    yield compressor.flush()


class ContactExport:
    """One export: the point in time and header are ready before the first byte is sent."""

    def __init__(self, service: ExportService, workspace_id: str, query, filters, sort) -> None:
        self.service = service
        self.workspace_id = workspace_id
        self.parsed = readings.parse_query(query)
        self.filters = filters
        self.sort = sort
        self.pit = service.search.open_point_in_time(workspace_id)
        try:
            self.custom_keys = self._custom_keys()
        except NotFoundError as exc:  # the point in time expired or was closed under us
            self.close()
            raise ServiceUnavailable("The export's snapshot was lost; retry.") from exc
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self.pit:
            self.service.search.close_point_in_time(self.workspace_id, self.pit)
            self.pit = None

    @property
    def columns(self) -> list[str]:
        return [*BASE_COLUMNS, *(CUSTOM_PREFIX + key for key in self.custom_keys)]

    def _pages(self, source=None) -> Iterator[list[dict]]:
        page_size = self.service.page_size
        after = None
        while True:
            body = queries.build_search_body(
                self.workspace_id,
                self.parsed,
                self.filters,
                sort=self.sort,
                size=page_size,
                search_after=after,
                track_total_hits=False,
            )
            if source is not None:
                body["_source"] = source
            result = self.service.search.search_in_point_in_time(self.workspace_id, body, self.pit)
            self.pit = result.get("pit_id") or self.pit
            hits = result["hits"]["hits"]
            if hits:
                yield [hit["_source"] for hit in hits]
            if len(hits) < page_size:
                return
            after = hits[-1]["sort"]

    def _custom_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for page in self._pages(source=["customFields"]):
            for source in page:
                keys.update(dict.fromkeys(source.get("customFields") or {}))
            if len(keys) > self.service.max_custom_columns:
                raise Unprocessable(
                    f"The contacts carry more than {self.service.max_custom_columns} "
                    "distinct custom fields; narrow the export with filters."
                )
        return sorted(keys)

    def _encode(self, rows: list[list[str]]) -> bytes:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        return buffer.getvalue().encode("utf-8")

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield (BOM).encode() + self._encode([[cell(c) for c in self.columns]])
            try:
                for page in self._pages():
                    contacts = [from_source(source) for source in page]
                    self.service.search.annotate(self.workspace_id, contacts)
                    contacts = exact_dnc_filter(contacts, self.filters)
                    yield self._encode([self._row(contact) for contact in contacts])
                    observability.EXPORT_ROWS.inc(len(contacts))
            except Exception:  # the status is out: the marker row is the only way to say it
                log.exception("export of %s stopped mid-stream", self.workspace_id)
                why = "The export stopped before its end; download it again."
                yield self._encode([[INCOMPLETE_MARKER, why]])
        finally:
            self.close()

    def _row(self, contact: dict) -> list[str]:
        row = []
        for column in BASE_COLUMNS:
            value = contact.get(column)
            if column == "tags":
                value = TAG_SEPARATOR.join(value or [])
            elif column in LIST_COLUMNS:
                value = LIST_SEPARATOR.join(listed_entry(e, LIST_COLUMNS[column]) for e in value)
            row.append(cell(value))
        custom = contact.get("customFields") or {}
        row.extend(cell(custom.get(key)) for key in self.custom_keys)
        return row


class ExportService:
    def __init__(
        self, search: SearchService, *, page_size: int = 1000, max_custom_columns: int = 500
    ) -> None:
        self.search = search
        self.page_size = page_size
        self.max_custom_columns = max_custom_columns

    def export(
        self,
        workspace_id: str,
        *,
        query: str | None = None,
        filters: dict | None = None,
        sort: str | None = None,
    ) -> ContactExport:
        """Open the export (errors surface here, before any byte); iterate it for bytes."""
        return ContactExport(self, workspace_id, query, filters, sort or "createdAt")
