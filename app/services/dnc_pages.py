"""DncPages: the DNC list's and its history's pages, for DncService.

Offset pages (`offset` + `limit`, within the window app/services/paging.py allows, no
cursors) of the workspace's entries (newest first, filtered by reason, source, scope,
channel, kind of rule and when they were added) and of its history events (newest
first, by number and action), each with the total and whether more follow.

Separate from app/services/dnc.py because these are plain searches of the record: they
take no part in the cache protocol or the DNC invariant. DncService inherits it; its
methods use the service's `client`, `names`, `history` and `default_country`.
"""

from __future__ import annotations

from app.phones import canonical
from app.services.dnc_rules import entry_of
from app.services.paging import require_window


class DncPages:
    """The list and history pages of DncService (mixed into it)."""

    def list_page(self, args: dict) -> dict:
        filters = [{"term": {"workspaceId": args["workspaceId"]}}]
        for field in ("reason", "source", "scope", "channel"):
            if args.get(field):
                filters.append({"term": {field: args[field]}})
        if args.get("rule") == "prefix":
            filters.append({"term": {"kind": "prefix"}})
        elif args.get("rule") == "exact":
            filters.append({"bool": {"must_not": [{"term": {"kind": "prefix"}}]}})
        added = {}
        if args.get("addedAfter"):
            added["gte"] = args["addedAfter"].isoformat()
        if args.get("addedBefore"):
            added["lt"] = args["addedBefore"].isoformat()
        if added:
            filters.append({"range": {"addedAt": added}})
        sort = [{"addedAt": "desc"}, {"matchKey": {"order": "desc", "unmapped_type": "keyword"}}]
        hits, total = self._page(self.names.read, args, filters, sort)
        return self._envelope([entry_of(h) for h in hits], total, args)

    def history_page(self, args: dict) -> dict:
        filters = [{"term": {"workspaceId": args["workspaceId"]}}]
        if args.get("phone"):
            phone = canonical(args["phone"], (args.get("defaultCountry") or self.default_country))
            filters.append({"term": {"phone": phone or args["phone"]}})
        if args.get("action"):
            filters.append({"term": {"action": args["action"]}})
        hits, total = self._page(self.history.read, args, filters, [{"at": "desc"}, {"id": "desc"}])
        fields = (
            "id",
            "phone",
            "action",
            "reason",
            "source",
            "actor",
            "at",
            "entryId",
            "rule",
            "prefix",
            "scope",
            "channel",
            "expiresAt",
        )
        return self._envelope([{f: h.get(f) for f in fields} for h in hits], total, args)

    def _page(self, index: str, args: dict, filters: list, sort: list) -> tuple[list[dict], int]:
        require_window(args["offset"], args["limit"], cursors_page_deeper=False)
        result = self.client.search(
            index=index,
            routing=args["workspaceId"],
            body={
                "query": {"bool": {"filter": filters}},
                "sort": sort,
                "from": args["offset"],
                "size": args["limit"],
                "track_total_hits": True,
            },
        )
        hits = [hit["_source"] for hit in result["hits"]["hits"]]
        return hits, result["hits"]["total"]["value"]

    @staticmethod
    def _envelope(data: list[dict], total: int, args: dict) -> dict:
        has_more = args["offset"] + len(data) < total
        return {"data": data, "meta": {"total": total, "hasMore": has_more}}
