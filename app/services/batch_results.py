"""The results of one batch call: one entry per item in input order, and the summary.

Items are validated here one by one (a bad item is `invalid`, never the call's failure),
and a key repeated within the call keeps its first item (the later ones are `invalid`
with code `duplicate_item`; app/services/batch.py says why).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from marshmallow import ValidationError as SchemaValidationError

from app.errors import ApiError, NotFound, ValidationError

# Fields that never count as a change (derived, or set by the write itself).
NOT_COMPARED = ("updatedAt", "dnc")


class DuplicateItem(ApiError):
    status, code = 409, "duplicate_item"
    message = "An earlier item of this call has the same key; only the first one is applied."


@dataclass
class Write:
    """One planned bulk action and what it means for its item."""

    index: int
    status: str  # created | updated | deleted
    action: dict
    contact: dict | None = None  # the contact written (None for a delete)
    gone: dict | None = None  # the contact a delete removes


def bulk_lines(workspace_id: str, writes: list[Write]) -> list[dict]:
    """The action and source lines of the call's one bulk request, in write order."""
    body = []
    for write in writes:
        action = write.action
        meta = {"_index": action["_index"], "_id": action["_id"], "routing": workspace_id}
        for name in ("if_seq_no", "if_primary_term"):
            if name in action:
                meta[name] = action[name]
        body.append({action["_op_type"]: meta})
        if action["_op_type"] != "delete":
            body.append(action["_source"])
    return body


def refresh_for_external_ids(changes, refresh: str | None) -> str | None:
    # An external id set outside its slot chain is found by search only: the call
    # answers once it is searchable, as a PATCH does (app/services/keys.py).
    if any(c.get("externalId") for c in changes):
        return "true" if refresh == "true" else "wait_for"
    return refresh


def error_body(error: ApiError) -> dict:
    body = {"code": error.code, "message": error.message}
    if error.details:
        body["details"] = error.details
    return body


def changed(current: dict, merged: dict) -> bool:
    return any(merged.get(name) != current.get(name) for name in merged if name not in NOT_COMPARED)


class Batch:
    """The results of one call, filled item by item."""

    def __init__(self, items: list) -> None:
        self.items = items
        self.results: list[dict | None] = [None] * len(items)

    def done(self, index: int, status: str, contact: dict | None = None, id_=None) -> None:
        self.results[index] = {
            "index": index,
            "status": status,
            "id": contact["id"] if contact else id_,
            "contact": contact,
        }

    def invalid(self, index: int, error: ApiError, id_: str | None = None) -> None:
        self.results[index] = {
            "index": index,
            "status": "invalid",
            "id": id_,
            "contact": None,
            "error": error_body(error),
        }

    def load(self, index: int, load: Callable[[dict], dict]) -> dict | None:
        """The item validated by `load` (a schema's load), or None (and the item is
        `invalid`)."""
        raw = self.items[index]
        if not isinstance(raw, dict):
            message = "Each item must be a JSON object."
            self.invalid(index, ValidationError(message, [{"field": "body", "message": message}]))
            return None
        try:
            return load(raw)
        except SchemaValidationError as exc:
            self.invalid(index, ValidationError.from_messages(exc.messages))
            return None

    def attempt(self, index: int, into: dict | None, build: Callable[[], dict]) -> dict | None:
        """build(), or None with the item `invalid` when a domain rule refuses it; the
        value is also stored under `index` in `into`."""
        try:
            value = build()
        except ApiError as exc:
            self.invalid(index, exc)
            return None
        if into is not None:
            into[index] = value
        return value

    def first_of_each(self, keyed: dict[int, str]) -> dict[int, str]:
        """Items whose key no earlier item had; later repeats become `invalid`."""
        seen: set[str] = set()
        first = {}
        for index, key in keyed.items():
            if key in seen:
                self.invalid(index, DuplicateItem())
            else:
                seen.add(key)
                first[index] = key
        return first

    def response(self) -> dict:
        counts = Counter(result["status"] for result in self.results)
        summary = {
            status: counts[status]
            for status in ("created", "updated", "unchanged", "found", "deleted", "invalid")
        }
        summary.update(total=len(self.results), notFound=counts["not_found"])
        return {"results": self.results, "summary": summary}


def refused(info: dict) -> ApiError:
    """The error of a bulk item the engine refused for a reason a retry cannot fix."""
    if info.get("status") == 404:
        return NotFound()
    error = info.get("error") or {}
    reason = error.get("type") if isinstance(error, dict) else None
    return ValidationError(f"The contact could not be stored ({reason or 'refused'}).")
