"""The external-id claims of one import chunk: an import gives external ids as a batch
does, so it holds the same claims (app/services/external_id_gives.py), at chunk
granularity.

- Which ids: those of the chunk's rows that nobody holds (the chunk's real-time lookup,
  app/services/import_runs.py) and no earlier row of this run wrote (`recent`; claiming
  those would wait on the run's own chunk in flight). Such a row is about to create a
  contact under its id. A row that updates a contact never gives one (an import's merge
  keeps the contact's external id), so runs that only update holders claim nothing. A
  row matched by its phone or email under `skip`/`update` is claimed too, though it will
  give nothing: knowing that needs the whole dedupe pass, and the claim only costs a
  wait if a PATCH is giving that very id.
- One `claim_many` per chunk, then the holders of the ids claimed are read again (one
  resolve) and folded into the chunk's lookup: a PATCH that gave one of them since the
  lookup makes its row a duplicate of that contact, as if it had been there before.
- A row whose id stays claimed elsewhere past the wait is an invalid row (the 409's
  message, "retry"): nothing is written for it, the rest of the chunk goes on.
- The claims are held until the chunk's bulk has landed (ImportRun._settle): its creates
  sit in their ids' slots, which the PATCH path's check reads in real time.

Left open, as for a single create: an id whose slot chain is used up (MAX_SLOTS contacts
that held it and let it go) is created under the row's own id, which search sees only
after the run's next refresh, after the claim is freed.
"""

from __future__ import annotations

from app.imports import RowProblem
from app.services.external_id_gives import GiveClaims
from app.services.keys import Resolution, Stored


def hit_of(holder: Stored) -> dict:
    """A holder in the shape of a search hit (what the chunk's dedupe reads)."""
    return {
        "_id": holder.id,
        "_source": holder.contact,
        "_seq_no": holder.seq_no,
        "_primary_term": holder.primary_term,
    }


def fold_resolved(
    resolved: dict[str, Resolution], existing: dict[str, dict], free_slots: dict
) -> None:
    """Each external id's holder into `existing` ("x:" keys), its free slot into `free_slots`."""
    for value, where in resolved.items():
        free_slots[value] = where.free_id
        if where.holder is not None:
            existing["x:" + value] = hit_of(where.holder)


def claim_chunk_gives(
    claims: GiveClaims,
    rows: list,
    existing: dict[str, dict],
    recent: dict[str, str],
    free_slots: dict,
) -> list:
    """Claim the ids `rows` may give; returns the rows refused (made invalid)."""
    giving = {
        x
        for row in rows
        if (x := row.contact.get("externalId"))
        and "x:" + x not in existing
        and "x:" + x not in recent
    }
    fold_resolved(claims.take(giving), existing, free_slots)
    refused = []
    for row in rows:
        error = claims.refused.get(row.contact.get("externalId"))
        if error is not None:
            row.problems = [RowProblem("externalId", error.message, row.contact["externalId"])]
            refused.append(row)
    return refused
