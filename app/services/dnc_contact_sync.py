"""DncContactSync: the contacts' indexed `dnc` flag for numbers' own entries, for DncService.

The flag is the search and export `dnc` filter; it means "listed for calls
workspace-wide". `sync_contacts` sets or clears it on every contact holding the given
numbers before the write is acknowledged, under the workspace's flags lock
(`flags_lock`), which every flag writer holds (app/services/dnc_flags.py, for the rule
entries, too): a removal's decision and its clear are one step, so an add's update never
lands between them and is undone. A contact stays flagged while another of its numbers
is listed.

Separate from app/services/dnc.py because it writes the contacts index, not the DNC
record or its cache. DncService inherits it; its methods use the service's `client`,
`cache`, `contacts` and `contains`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from opensearchpy.helpers import scan

from app.contact_methods import numbers_of
from app.errors import ServiceUnavailable
from app.locks import RenewableLock
from app.services.dnc_builds import BUILD_BATCH

# One writer of a workspace's indexed flags at a time (DncService.flags_lock). The lock
# is renewed every quarter of its lifetime while its holder lives, so its lifetime only
# bounds how long a holder that died keeps every DNC write of the workspace waiting:
# shorter than the wait, so those writes are taken once it lapses, not refused.
# DncService takes the lifetime from DNC_FLAGS_LOCK_SECONDS (app/config.py).
FLAGS_LOCK_SECONDS = 10.0
FLAGS_LOCK_WAIT_SECONDS = 20
FLAGS_BUSY = "Another change of this DNC list is updating its contacts; retry the request."


class DncContactSync:
    """The contacts' flag writes of DncService (mixed into it)."""

    @contextmanager
    def flags_lock(self, workspace_id: str) -> Iterator[None]:
        """Hold the workspace's flag writers to one at a time.

        A removal decides which numbers no entry lists any more and clears their flags;
        an add writes its entry, then sets its flags. Were the add's flag update to land
        between the removal's decision (taken before the entry existed) and its clear,
        the clear would undo it and a `dnc: true` search would miss a number whose add
        was acknowledged. Under this lock the decision and the clear are one step: an
        add's update runs wholly before it (and the decision sees the entry) or after it.
        """
        key = self.cache.lock_key(workspace_id) + ":flags"
        lock = RenewableLock(self.cache.client, key, self.flags_lock_seconds)
        deadline = time.monotonic() + FLAGS_LOCK_WAIT_SECONDS
        while not lock.acquire():
            if time.monotonic() > deadline:
                raise ServiceUnavailable(FLAGS_BUSY)
            time.sleep(0.01)
        try:
            yield
        finally:
            lock.release()

    def sync_contacts(self, workspace_id: str, phones: list[str], listed: bool) -> int:
        """sync_contacts_held under the workspace's flags lock."""
        with self.flags_lock(workspace_id):
            return self.sync_contacts_held(workspace_id, phones, listed)

    def sync_contacts_held(self, workspace_id: str, phones: list[str], listed: bool) -> int:
        """Set the contacts' indexed `dnc` flag (the search and export filter) for these
        numbers; returns how many contacts changed. The caller holds flags_lock.

        The refresh first makes every contact written before this point visible to the
        update; a contact written after it re-reads the list itself once written
        (ContactService.settle_dnc_flags), and a version conflict here means exactly
        such a write. Together no contact keeps a stale flag.
        """
        self.client.indices.refresh(index=self.contacts.write)
        changed = 0
        for start in range(0, len(phones), 1_000):
            chunk = phones[start : start + 1_000]
            # A contact is listed while any of its numbers is: a removal clears the flag
            # only of contacts whose other numbers are all unlisted.
            keep = [] if listed else self._listed_beside(workspace_id, chunk)
            result = self.client.update_by_query(
                index=self.contacts.read,
                routing=workspace_id,
                conflicts="proceed",
                # Searchable before the write is acknowledged: a `dnc` filter that begins
                # after the acknowledgement must see the new flag.
                refresh=True,
                body={
                    "query": {
                        "bool": {
                            "filter": [
                                {"term": {"workspaceId": workspace_id}},
                                holding_numbers(chunk),
                            ],
                            "must_not": [
                                {"term": {"dnc": listed}},
                                {"terms": {"phones.number": keep}},
                            ],
                        }
                    },
                    "script": {
                        "source": "ctx._source.dnc = params.dnc",
                        "lang": "painless",
                        "params": {"dnc": listed},
                    },
                },
            )
            changed += result.get("updated", 0)
            if result.get("failures"):
                raise ServiceUnavailable("The contacts' DNC flags could not be updated.")
            if not listed:
                # Another number of those contacts listed meanwhile, its own sync maybe
                # run before this one cleared the flag: flag them again.
                again = sorted(set(self._listed_beside(workspace_id, chunk)) - set(keep))
                if again:
                    changed += self.sync_contacts_held(workspace_id, again, True)
        return changed

    def _listed_beside(self, workspace_id: str, phones: list[str]) -> list[str]:
        """The listed numbers, other than `phones`, of the contacts holding any of them."""
        hits = scan(
            self.client,
            index=self.contacts.read,
            routing=workspace_id,
            query={
                "query": {
                    "bool": {
                        "filter": [{"term": {"workspaceId": workspace_id}}, holding_numbers(phones)]
                    }
                },
                "_source": ["phone", "phones.number"],
            },
            size=BUILD_BATCH,
            preserve_order=False,
        )
        others = sorted({n for h in hits for n in numbers_of(h["_source"])} - set(phones))
        flags, _ = self.contains(workspace_id, others) if others else ([], "cache")
        return [phone for phone, flag in zip(others, flags, strict=True) if flag]


def holding_numbers(phones: list[str]) -> dict:
    """Contacts holding any of these numbers (`phone` too: a document not yet reindexed
    has no `phones`)."""
    return {
        "bool": {
            "should": [{"terms": {"phones.number": phones}}, {"terms": {"phone": phones}}],
            "minimum_should_match": 1,
        }
    }
