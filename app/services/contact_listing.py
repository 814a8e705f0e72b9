"""ContactListing: newest-first listing of a workspace's contacts by offset or cursor.

ContactService inherits it (its methods use the service's `client`, `names`, `annotate`
and `cursors`); kept apart so the write paths in app/services/contacts.py read alone.
"""

from __future__ import annotations

from collections.abc import Callable

from opensearchpy import OpenSearch

from app.search import cursors
from app.search.documents import from_source
from app.search.filters import build_filters
from app.search.indices import IndexNames
from app.services.paging import decode_cursor, more_after, probe_size, require_window


class ContactListing:
    client: OpenSearch
    names: IndexNames
    annotate: Callable[[str, list[dict]], None]
    cursors: cursors.CursorCodec | None

    def list_page(self, args: dict) -> dict:
        cursor = args.get("cursor")
        filters = {k: args[k] for k in ("externalId", "source") if args.get(k)}
        contacts, total, next_cursor = self.list(
            args["workspaceId"],
            limit=args["limit"],
            offset=args["offset"],
            cursor=cursor,
            filters=filters,
        )
        return {
            "data": contacts,
            "meta": {
                "total": total,
                "hasMore": next_cursor is not None,
                "totalIsExact": True,
                "nextCursor": next_cursor,
            },
        }

    def list(
        self,
        workspace_id: str,
        *,
        limit: int,
        offset: int = 0,
        cursor: str | None = None,
        filters: dict | None = None,
    ) -> tuple[list[dict], int, str | None]:
        """Newest first: offset paging within the engine's result window, or a cursor
        (search_after on createdAt, id) for any depth.

        createdAt never changes, so new contacts only ever land before the first page and
        search_after alone neither repeats nor skips a row: no point in time is needed.
        `filters` (externalId, source) are the search filters of the same names.
        """
        # A cursor pages the filters it was made with (unfiltered cursors stay as they were).
        mark = cursors.fingerprint(workspace_id, "list", *([filters] if filters else []))
        after = None
        if cursor:
            after = decode_cursor(
                self._codec(), cursor, workspace_id, mark, offset=offset, sort_keys=2
            ).after
        else:
            require_window(offset, limit)
        body = {
            "query": {"bool": {"filter": build_filters(workspace_id, filters)}},
            "sort": [{"createdAt": "desc"}, {"id": "desc"}],
            "size": probe_size(limit, offset if after is None else 0),
            "track_total_hits": True,
            "_source": {"excludes": ["phoneDigits", "fullNameExact"]},
        }
        if after is not None:
            body["search_after"] = after
        else:
            body["from"] = offset
        result = self.client.search(index=self.names.read, routing=workspace_id, body=body)
        hits = result["hits"]["hits"]
        contacts = [from_source(hit["_source"]) for hit in hits[:limit]]
        self.annotate(workspace_id, contacts)
        next_cursor = None
        total = result["hits"]["total"]
        if hits and more_after(hits, limit, offset if after is None else 0, total):
            last = cursors.Cursor(hits[:limit][-1]["sort"], mark)
            next_cursor = self._codec().encode(last, workspace_id)
        return contacts, total["value"], next_cursor

    def _codec(self) -> cursors.CursorCodec:
        if self.cursors is None:
            raise RuntimeError("cursor paging needs a ContactService built with cursor_key")
        return self.cursors
