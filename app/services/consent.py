"""ConsentService: a phone's consent record per workspace and channel, with its history.

Every change (obtained or revoked, for calls, sms or all) is a new history event in the
`consents` index (kind "event"); the current state per number and channel is one
document beside them (kind "current", id `<ws>:<e164>:<channel>`), read in real time.
The current document is written with an external version taken from the clock (µs), so
of two changes racing each other the one recorded later stays current whatever order
they land in; the earlier one is kept in the history and its answer says so.

A revocation adds a DNC entry for its channel (reason and source "consent_revoked")
through DncService's one write path, before the consent is written: when the consent
write then fails the number stays listed (the safe direction) and a retry is an upsert.
Whether it does is the workspace's setting (kind "settings", id `<ws>:settings`;
CONSENT_REVOKE_ADDS_DNC when none is saved), or the request's `addToDnc`.
"""

from __future__ import annotations

import secrets
import time

from opensearchpy import NotFoundError, OpenSearch

from app.errors import ServiceUnavailable
from app.search.documents import utc_now
from app.search.indices import IndexNames
from app.services.dnc import DncService
from app.services.paging import require_window

CHANNELS = ("calls", "sms", "all")
FIELDS = (
    "workspaceId",
    "phone",
    "channel",
    "status",
    "source",
    "evidence",
    "actor",
    "at",
    "eventId",
    "dncEntryId",
)


def _view(source: dict) -> dict:
    return {field: source.get(field) for field in FIELDS}


class ConsentService:
    def __init__(
        self, client: OpenSearch, index_prefix: str, dnc: DncService, revoke_adds_dnc: bool = True
    ) -> None:
        self.client = client
        self.names = IndexNames(index_prefix, "consents")
        self.dnc = dnc
        self.revoke_adds_dnc = revoke_adds_dnc

    @staticmethod
    def current_id(workspace_id: str, phone: str, channel: str) -> str:
        return f"{workspace_id}:{phone}:{channel}"

    def record(self, data: dict, actor: str = "") -> tuple[dict, bool]:
        """Record a change; returns (the change, whether it is now the current state)."""
        workspace_id, channel = data["workspaceId"], data["channel"]
        phone = self.dnc.phone_or_400(data["phone"], data.get("defaultCountry"))
        adds_dnc = data.get("addToDnc")
        if adds_dnc is None:
            adds_dnc = self.settings(workspace_id)["revokeAddsDnc"]
        entry_id = None
        if data["status"] == "revoked" and adds_dnc:
            entry, _ = self.dnc.add(
                workspace_id,
                phone,
                reason="consent_revoked",
                source="consent_revoked",
                actor=actor,
                channel=channel,
            )
            entry_id = entry["id"]
        event_id = "cons_" + secrets.token_urlsafe(12)
        event = {
            "kind": "event",
            "id": event_id,
            "workspaceId": workspace_id,
            "phone": phone,
            "channel": channel,
            "status": data["status"],
            "source": data.get("source"),
            "evidence": data.get("evidence"),
            "actor": actor or None,
            "eventId": event_id,
            "dncEntryId": entry_id,
            "at": utc_now(),
        }
        current_id = self.current_id(workspace_id, phone, channel)
        result = self.client.bulk(
            index=self.names.write,
            refresh="wait_for",
            body=[
                {"index": {"_id": event_id, "routing": workspace_id}},
                event,
                {
                    "index": {
                        "_id": current_id,
                        "routing": workspace_id,
                        "version": time.time_ns() // 1_000,
                        "version_type": "external",
                    }
                },
                {**event, "kind": "current", "id": current_id},
            ],
        )
        written, current = (item["index"] for item in result["items"])
        if written.get("error") or (current.get("error") and current.get("status") != 409):
            raise ServiceUnavailable("The consent could not be recorded; retry the request.")
        return _view(event), not current.get("error")

    def current(self, workspace_id: str, raw_phone: str, country: str | None = None) -> dict:
        """The current state per channel recorded for a number (real time)."""
        phone = self.dnc.phone_or_400(raw_phone, country)
        ids = [self.current_id(workspace_id, phone, channel) for channel in CHANNELS]
        result = self.client.mget(
            index=self.names.read,
            body={"docs": [{"_id": i, "routing": workspace_id} for i in ids]},
            realtime=True,
        )
        return {"data": [_view(d["_source"]) for d in result["docs"] if d.get("found")]}

    def history_page(self, args: dict) -> dict:
        """Every change recorded for a number, newest first."""
        require_window(args["offset"], args["limit"], cursors_page_deeper=False)
        workspace_id = args["workspaceId"]
        phone = self.dnc.phone_or_400(args["phone"], args.get("defaultCountry"))
        result = self.client.search(
            index=self.names.read,
            routing=workspace_id,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"kind": "event"}},
                            {"term": {"workspaceId": workspace_id}},
                            {"term": {"phone": phone}},
                        ]
                    }
                },
                "sort": [{"at": "desc"}, {"id": "desc"}],
                "from": args["offset"],
                "size": args["limit"],
                "track_total_hits": True,
            },
        )
        hits = [_view(hit["_source"]) for hit in result["hits"]["hits"]]
        total = result["hits"]["total"]["value"]
        has_more = args["offset"] + len(hits) < total
        return {"data": hits, "meta": {"total": total, "hasMore": has_more}}

    def settings(self, workspace_id: str) -> dict:
        try:
            doc = self.client.get(
                index=self.names.read,
                id=f"{workspace_id}:settings",
                routing=workspace_id,
                realtime=True,
            )
        except NotFoundError:
            return {"revokeAddsDnc": self.revoke_adds_dnc}
        return {"revokeAddsDnc": bool(doc["_source"]["revokeAddsDnc"])}

    def save_settings(self, workspace_id: str, settings: dict, actor: str = "") -> dict:
        self.client.index(
            index=self.names.write,
            id=f"{workspace_id}:settings",
            routing=workspace_id,
            refresh="wait_for",
            body={
                "kind": "settings",
                "workspaceId": workspace_id,
                "revokeAddsDnc": settings["revokeAddsDnc"],
                "actor": actor or None,
                "at": utc_now(),
            },
        )
        return {"revokeAddsDnc": settings["revokeAddsDnc"]}
