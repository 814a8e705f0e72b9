"""DncFlags: the contacts' indexed `dnc` flag under rule entries, for DncService.

The flag means "listed for calls workspace-wide" (the search and export `dnc` filter).
A number's own entry sets it through DncService.sync_contacts; this module covers what
one number's terms cannot:

- `flag_rule`: an entry that blocks calls workspace-wide (a prefix, or an exact entry
  with an expiry) sets the flag on every contact it covers, before the write is
  acknowledged, like a number's add.
- `clear` (a number's removal) and `unflag` (a rule's removal or expiry): the numbers
  that no entry lists any more are cleared, the decision and the clear in one step
  under the workspace's flags lock (DncService.flags_lock), which every flag writer
  holds: an add's flag update can never land between them and be undone.
- In detail, after a removal or an expiry, the covered numbers that no other entry lists
  any more (a prefix rule, their own entry) go through DncService.sync_contacts, which
  keeps a contact flagged while another of its numbers is listed and flags back one
  whose number was listed meanwhile.
- `repair` (the reconciler): contacts covered by listed rule entries are flagged, and
  flagged contacts that no entry covers any more are cleared, by the same re-check.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from opensearchpy.helpers import scan

from app.dnc.rules import Rule
from app.errors import ServiceUnavailable

if TYPE_CHECKING:
    from app.services.dnc import DncService

SCAN_BATCH = 1_000
# The contact fields that hold a phone number (the primary one and the list of phones).
PHONE_FIELDS = ("phone", "phones.number")


def covering(rule: Rule) -> dict:
    """Contacts with any phone the rule covers."""
    kind = "term" if rule.kind == "exact" else "prefix"
    return {
        "bool": {
            "should": [{kind: {field: rule.value}} for field in PHONE_FIELDS],
            "minimum_should_match": 1,
        }
    }


def phones_of(contact: dict) -> set[str]:
    found = {contact.get("phone")}
    found.update(p.get("number") for p in contact.get("phones") or [] if isinstance(p, dict))
    return {p for p in found if p}


class DncFlags:
    def __init__(self, dnc: DncService) -> None:
        self.dnc = dnc

    def _set(self, workspace_id: str, query: dict, listed: bool) -> int:
        client, contacts = self.dnc.client, self.dnc.contacts
        with self.dnc.flags_lock(workspace_id):
            result = self._update(client, contacts, workspace_id, query, listed)
        if result.get("failures"):
            raise ServiceUnavailable("The contacts' DNC flags could not be updated.")
        return result.get("updated", 0)

    @staticmethod
    def _update(client, contacts, workspace_id: str, query: dict, listed: bool) -> dict:
        return client.update_by_query(
            index=contacts.read,
            routing=workspace_id,
            conflicts="proceed",
            refresh=True,  # a `dnc` filter that begins after the acknowledgement sees it
            body={
                "query": {
                    "bool": {
                        "filter": [{"term": {"workspaceId": workspace_id}}, query],
                        "must_not": [{"term": {"dnc": listed}}],
                    }
                },
                "script": {
                    "source": "ctx._source.dnc = params.dnc",
                    "lang": "painless",
                    "params": {"dnc": listed},
                },
            },
        )

    def flag_rule(self, workspace_id: str, rule: Rule) -> int:
        """Flag every contact the rule covers (the write is acknowledged after)."""
        if not rule.blocks_calls_workspace_wide:
            return 0
        self.dnc.client.indices.refresh(index=self.dnc.contacts.write)
        return self._set(workspace_id, covering(rule), True)

    def unflag(self, workspace_id: str, rule: Rule) -> int:
        """After a removal or an expiry: clear the flag of the contacts the rule covered
        whose numbers are no longer listed (DncService.sync_contacts keeps a contact
        flagged while another of its numbers is listed)."""
        if not rule.blocks_calls_workspace_wide:
            return 0
        self.dnc.client.indices.refresh(index=self.dnc.contacts.write)
        return self._recheck(workspace_id, covering(rule), rule)

    def _recheck(self, workspace_id: str, query: dict, rule: Rule | None = None) -> int:
        phones = self._flagged_phones(workspace_id, query)
        if rule is not None:  # the contacts' other numbers are sync_contacts' business
            phones = {
                p
                for p in phones
                if (p.startswith(rule.value) if rule.kind == "prefix" else p == rule.value)
            }
        return self.clear(workspace_id, sorted(phones))

    def clear(self, workspace_id: str, phones: list[str]) -> int:
        """Clear the flag for the numbers among `phones` no entry lists any more (a number
        removal, or what a removed rule covered); returns how many contacts changed."""
        # The decision and the clear under one flags lock (DncService.flags_lock): an
        # add's flag update runs before the decision (which then sees its entry) or
        # after the clear, never between them.
        with self.dnc.flags_lock(workspace_id):
            gone = self.dnc.not_listed(workspace_id, phones)
            if not gone:
                return 0
            return self.dnc.sync_contacts_held(workspace_id, gone, False)

    def _flagged_phones(self, workspace_id: str, query: dict) -> set[str]:
        hits = scan(
            self.dnc.client,
            index=self.dnc.contacts.read,
            routing=workspace_id,
            query={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"workspaceId": workspace_id}},
                            {"term": {"dnc": True}},
                            query,
                        ]
                    }
                },
                "_source": ["phone", "phones"],
            },
            size=SCAN_BATCH,
            preserve_order=False,
        )
        return {p for hit in hits for p in phones_of(hit["_source"])}

    def repair(self, workspace_id: str, rules: Iterable[Rule]) -> int:
        """The reconciler's pass over rule entries and stale flags; returns the changes."""
        fixed = sum(self.flag_rule(workspace_id, rule) for rule in rules)
        self.dnc.client.indices.refresh(index=self.dnc.contacts.write)
        return fixed + self._recheck(workspace_id, {"match_all": {}})
