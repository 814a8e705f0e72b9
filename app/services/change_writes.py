"""NewRecordWriter: new records and their change documents stored in one `_bulk`.

The change feed's rule (app/services/changes.py) is that a write takes its numbers after
its records are stored and records the state read back after that: whatever order two
writers of one record interleave in, the higher number carries the later state. For a
single write that is three engine calls (the write, a real-time read of versions, the
change documents) and three Redis calls (begin, commit, finish).

A record created under a **new random id** needs none of that ordering work. Nothing can
write a record before it exists, and no one can name it before this write stores it
(128 random bits, answered only after): every other write of it lands after this one and,
taking its number after its own write, takes a higher number. So the numbers are taken
*before* the write, in the same Redis call that announces it (ChangeLog.begin_numbered),
each change document is the document written (the state at its number), and both go to
the engine in one `_bulk`. A reader never passes an in-flight member, so nothing stored
under its numbers is seen before the member leaves. Then, by the bulk's answer:

- every item stored: leave the in-flight set. One engine call, two Redis calls.
- anything refused (a change document, or a record: its change document is a phantom):
  the write is recorded the usual way under the numbers already taken (ChangeLog.commit:
  versions read back, the state of what is stored, a create that is not stored deletes
  its number's document; retried, then 503), and a refused record's error is raised as
  the client would raise it. A `create` answering 409 counts as stored: the id is new, so
  only this bulk's own first attempt (a transport retry) can hold it.
- no answer (a timeout, a lost connection): the member stays, and a reader settles it
  after CHANGES_SETTLE_SECONDS from what the store holds, deleting the document of a
  create that never landed.

Not for ids another writer can name before the write: a contact created under an
externalId gets the key's id, which a concurrent upsert may create, delete and create
again around this write; it takes the usual path.
"""

from __future__ import annotations

from opensearchpy import OpenSearch, TransportError
from opensearchpy.exceptions import HTTP_EXCEPTIONS

from app.search.documents import utc_now
from app.services.change_records import Written, change_data, contact_change
from app.services.changes import ChangeLog


class NewRecordWriter:
    def __init__(self, client: OpenSearch, changes: object) -> None:
        self.client = client
        # A service built without a feed (scripts, baselines) gets NO_CHANGES: plain bulk.
        self.changes = changes if isinstance(changes, ChangeLog) else None

    def write(
        self,
        workspace_id: str,
        entries: list[list],
        actions: list[dict],
        documents: dict[str, dict],
        *,
        refresh: str = "false",
    ) -> list[dict]:
        """Store `actions` (a `create` action line and its document per new record, ids
        new and random, `entries` the records' "created" entries in the same order) with
        their change documents; the records' bulk items, in order."""
        if self.changes is None:
            writes = self._items(self.client.bulk(body=actions, refresh=refresh))
            raise_refused(writes)
            return writes
        token, first = self.changes.begin_numbered(workspace_id, entries)
        now = utc_now()
        docs = [
            (first + k, contact_change(contact_id, op, change_data(documents[contact_id]), now))
            for k, (contact_id, op, _) in enumerate(entries)
        ]
        # No answer: the member stays for a reader to settle (see the module docstring).
        result = self.client.bulk(
            body=actions + self.changes.lines(workspace_id, docs), refresh=refresh
        )
        items = self._items(result)
        writes, records = items[: len(entries)], items[len(entries) :]
        if any(refused(item) for item in writes) or any("error" in item for item in records):
            written: Written = {
                item["_id"]: (
                    item["_index"],
                    item["_seq_no"],
                    item["_primary_term"],
                    documents[item["_id"]],
                )
                for item in writes
                if "error" not in item
            }
            self.changes.commit(workspace_id, token, entries, written=written)
        else:
            self.changes.finish(workspace_id, token)
        raise_refused(writes)
        return writes

    @staticmethod
    def _items(result: dict) -> list[dict]:
        return [next(iter(item.values())) for item in result["items"]]


def refused(item: dict) -> bool:
    """A record the bulk did not store (a create's 409 is this bulk's own retry: stored)."""
    return "error" in item and item.get("status") != 409


def raise_refused(writes: list[dict]) -> None:
    """Raise a refused record's error as the client raises a single write's."""
    for item in writes:
        if refused(item):
            status, error = item.get("status", 500), item["error"]
            kind = error.get("type", "bulk_item_error") if isinstance(error, dict) else error
            raise HTTP_EXCEPTIONS.get(status, TransportError)(status, kind, {"error": error})
