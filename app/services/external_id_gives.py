"""GiveClaims: the external-id claims one multi-contact write (a batch call, an import
chunk) holds on the ids it is about to give.

A PATCH giving a contact an external id, and a single create under one, hold a claim on
(workspace, external id) across the check, the write and its refresh
(app/services/external_ids.py). A write of many contacts must hold the same claims or
race them: a batch create checking at the same moment as such a PATCH would find the id
free and write it too, two holders.

Which ids: only those the write is about to GIVE, i.e. an item that creates a contact
under an external id, or one that moves an id onto a contact that does not hold it now.
An item that keeps its contact's current external id takes no claim, so writes that only
update the holders of the same ids (a CRM sync running twice) never wait on each other;
claiming every id a call names serialized exactly those.

The contract of `take`:
- The ids this write does not hold yet are claimed in ONE Redis round trip
  (`ExternalIdClaims.claim_many`, which waits up to CLAIM_WAIT_SECONDS for ids another
  request holds). An id about to be created under its own chain slot is claimed shared:
  batches creating the same new ids (a retried sync, overlapping workers) proceed side
  by side and the slot decides, while a PATCH giving the id waits for all of them.
- The caller decided what to give from a read made BEFORE the claim, so the holders of
  the ids just claimed are read again (one `ContactKeys.resolve`, only
  when something was claimed) and returned: a PATCH that landed in between is seen, and
  the item answers what it would have answered had it read after it.
- An id not obtained is in `refused`, with the error its item answers (409
  `being_assigned()`, or 503 when Redis cannot be reached); the caller writes nothing for
  it and goes on with the others.
- Claims are held until `close()` (the `with` block's end), which the caller reaches
  after the write that gives them is visible to the PATCH path's check: a create under
  the id's slot at once (a real-time read), an id given outside its chain after the
  bulk's refresh. They lapse after CLAIM_SECONDS if the process dies.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import ExitStack

from app.errors import ApiError, ServiceUnavailable
from app.services.external_ids import ExternalIdClaims, being_assigned
from app.services.keys import ContactKeys, Resolution


class GiveClaims:
    def __init__(self, claims: ExternalIdClaims, keys: ContactKeys, workspace_id: str) -> None:
        self.claims = claims
        self.keys = keys
        self.workspace_id = workspace_id
        self.held: set[str] = set()
        self.refused: dict[str, ApiError] = {}
        self._stack = ExitStack()

    def take(
        self, external_ids: Iterable[str], chained: Iterable[str] = ()
    ) -> dict[str, Resolution]:
        """Claim the ids not held yet; the holders of those claimed, read again.

        `chained`: ids about to be created under their own slot in the key chain, which
        are claimed shared (ExternalIdClaims.claim_many), so racing creates of one id
        (two upserts of one CRM record) do not wait for each other: the slot lets one
        win. One whose slots are all taken by the time it is read again would be
        created under a random id, outside the chain, which a shared claim does not
        cover: it is refused like an id claimed elsewhere (409, retry)."""
        wanted = {x for x in external_ids if x not in self.held and x not in self.refused}
        if not wanted:
            return {}
        shared = wanted & set(chained)
        try:
            got = self._stack.enter_context(
                self.claims.claim_many(self.workspace_id, wanted, shared=shared)
            )
        except ServiceUnavailable as exc:
            self.refused.update(dict.fromkeys(wanted, exc))
            return {}
        self.held |= got
        self.refused.update(dict.fromkeys(wanted - got, being_assigned()))
        if not got:
            return {}
        resolved = self.keys.resolve(self.workspace_id, "externalId", list(got))
        for x in got & shared:
            if resolved[x].holder is None and resolved[x].free_id is None:
                self.refused[x] = being_assigned()
        return resolved

    def take_free(self, resolved: dict[str, Resolution]) -> dict[str, Resolution]:
        """`take` the ids nobody holds in `resolved` (a creating batch's first read),
        shared where the id's chain slot is free (the create goes there)."""
        free = [x for x, where in resolved.items() if where.holder is None]
        return self.take(free, chained=[x for x in free if resolved[x].free_id])

    def close(self) -> None:
        """Free every claim taken (after the write that gives them is visible)."""
        self._stack.close()

    def __enter__(self) -> GiveClaims:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
