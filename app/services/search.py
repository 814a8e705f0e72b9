"""SearchService: typo-tolerant contact search with filters, highlights and cursor paging."""

from __future__ import annotations

import logging

import redis
from opensearchpy import NotFoundError, OpenSearch, TransportError

from app.errors import RateLimited, ServiceUnavailable
from app.search import cursors, queries, readings, sorts
from app.search.documents import from_source
from app.search.highlights import highlights
from app.search.indices import IndexNames
from app.search.pits import PitBudget
from app.services.contact_rules import exact_dnc_filter
from app.services.contacts import ContactService
from app.services.paging import (
    cursor_error,
    decode_cursor,
    more_after,
    probe_size,
    require_window,
)

log = logging.getLogger(__name__)


class SearchService:
    def __init__(
        self,
        client: OpenSearch,
        index_prefix: str,
        contacts: ContactService,
        *,
        cursor_key: str | bytes,
        pits: PitBudget | None = None,
        pit_keep_alive: str = "1m",
    ) -> None:
        self.client = client
        self.names = IndexNames(index_prefix, "contacts")
        self.contacts = contacts
        self.cursors = cursors.CursorCodec(cursor_key)
        self.pits = pits
        self.pit_keep_alive = pit_keep_alive

    def annotate(self, workspace_id: str, contacts: list[dict]) -> None:
        """Read-time fields (the DNC flag) for one page of hits."""
        self.contacts.annotate(workspace_id, contacts)

    # --- search -----------------------------------------------------------------------

    def search(
        self,
        workspace_id: str,
        *,
        query: str | None = None,
        filters: dict | None = None,
        sort: str | None = None,
        limit: int = 10,
        offset: int = 0,
        cursor: str | None = None,
    ) -> dict:
        """One page: {"data": [contact + highlights], "meta": {total, hasMore, nextCursor}}.

        Cursor paging: page 1 is a plain search; its cursor carries the last sort values.
        From page 2 on, sorts whose keys can change (score, names, updatedAt) run inside
        a point in time, so an edit during paging cannot move a contact across a page
        boundary (duplicate or miss). createdAt never changes and needs no point in time.
        """
        parsed = readings.parse_query(query)
        sort_name, _ = sorts.parse_sort(sort)
        mark = cursors.fingerprint(workspace_id, parsed.words, parsed.phone, filters, sort)
        after, pit = None, None
        if cursor:
            decoded = decode_cursor(
                self.cursors, cursor, workspace_id, mark, offset=offset, sort_keys=None
            )
            after, pit = decoded.after, decoded.pit
        else:
            require_window(offset, limit)
        body = queries.build_search_body(
            workspace_id,
            parsed,
            filters,
            sort=sort,
            size=probe_size(limit, offset),
            offset=offset,
            search_after=after,
        )
        if after is not None and len(after) != len(body["sort"]):
            raise cursor_error("The cursor is not valid.")
        if after is not None and pit is None and sort_name not in sorts.IMMUTABLE_SORTS:
            pit = self.open_point_in_time(workspace_id, quiet=True)
        result, pit = self._run(workspace_id, body, pit)
        if queries.should_broaden(parsed, result["hits"]["total"]["value"]):
            # Nothing literal found: the same page again with sound-alikes, nicknames,
            # first-letter errors and initials (the total ignores search_after, so later
            # cursor pages take the same branch).
            result, pit = self._run(workspace_id, queries.broaden_body(body, parsed), pit)
        hits = result["hits"]["hits"]
        page = hits[:limit]
        has_more = bool(page) and more_after(hits, limit, offset, result["hits"]["total"])
        contacts = []
        for hit in page:
            contact = from_source(hit["_source"])
            contact["highlights"] = highlights(contact, parsed)
            contacts.append(contact)
        self.annotate(workspace_id, contacts)
        contacts = exact_dnc_filter(contacts, filters)
        next_cursor = None
        if has_more:
            next_cursor = self.cursors.encode(
                cursors.Cursor(page[-1]["sort"], mark, pit), workspace_id
            )
        elif pit:
            self.close_point_in_time(workspace_id, pit)
        total = result["hits"]["total"]
        return {
            "data": contacts,
            "meta": {
                "total": total["value"],
                "totalIsExact": total["relation"] == "eq",
                "hasMore": has_more,
                "nextCursor": next_cursor,
            },
        }

    def _run(self, workspace_id: str, body: dict, pit: str | None) -> tuple[dict, str | None]:
        """Search inside the point in time when there is one; if it expired, carry on
        without it (search_after on a total order still neither repeats nor skips rows
        that did not change)."""
        if pit:
            try:
                result = self.search_in_point_in_time(workspace_id, body, pit)
                return result, result.get("pit_id") or pit
            except NotFoundError:
                log.info("point in time expired; continuing without it")
            except TransportError as exc:
                if exc.status_code not in (400, 404) and not _missing_context(exc):
                    raise
                log.info("point in time unusable (%s); continuing without it", exc.status_code)
        result = self.client.search(index=self.names.read, routing=workspace_id, body=body)
        return result, None

    # --- points in time (also for export) ---------------------------------------------

    def open_point_in_time(self, workspace_id: str, *, quiet: bool = False) -> str | None:
        """A point in time over the workspace's shard, within the workspace's budget.

        Quiet (cursor paging): None when the budget is spent, Redis cannot count it or
        the engine refuses one; paging then goes on without a snapshot. Otherwise
        (export): 429 over the budget, 503 when the engine refuses, never a 500.
        """
        try:
            reservation = self.pits.reserve(workspace_id) if self.pits else ""
        except redis.RedisError:
            if not quiet:
                raise
            log.warning("point-in-time budget unavailable; paging without one")
            return None
        if reservation is None:
            if quiet:
                return None
            raise RateLimited(
                "This workspace has too many exports and paged searches open; "
                "finish or wait for one, then retry.",
                headers={"Retry-After": str(int(self.pits.keep_alive_seconds))},
            )
        try:
            pit = self.client.create_pit(
                index=self.names.read, routing=workspace_id, keep_alive=self.pit_keep_alive
            )["pit_id"]
        except TransportError as exc:
            if reservation:
                self.pits.release(workspace_id, reservation)
            log.warning("the engine refused a point in time (%s)", exc.status_code)
            if quiet:
                return None
            raise ServiceUnavailable(
                "The search engine cannot open a snapshot right now; retry shortly."
            ) from exc
        if reservation:
            self.pits.bind(workspace_id, reservation, pit)
        return pit

    def search_in_point_in_time(self, workspace_id: str, body: dict, pit: str) -> dict:
        """One search inside the point in time, renewing its keep-alive (and its budget)."""
        result = self.client.search(
            body={**body, "pit": {"id": pit, "keep_alive": self.pit_keep_alive}}
        )
        if self.pits:
            self.pits.touch(workspace_id, pit)
        return result

    def close_point_in_time(self, workspace_id: str, pit: str) -> None:
        """Best effort: an unclosed point in time expires after its keep-alive anyway."""
        if self.pits:
            self.pits.release(workspace_id, pit)
        try:
            self.client.delete_pit(body={"pit_id": [pit]})
        except TransportError:
            log.info("point in time already gone")


def _missing_context(exc: TransportError) -> bool:
    return "search_context_missing" in str(exc.info) or "No search context" in str(exc.info)
