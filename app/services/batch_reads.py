"""BatchReads: the batch read call and the references (by id or external id) that read
and delete resolve. BatchService inherits it (its methods use the service's `keys`,
`contacts` and the item loaders); kept apart so the write paths in app/services/batch.py
read alone.
"""

from __future__ import annotations

from app.schemas.batch import RefItemSchema
from app.schemas.loaders import compile_loader
from app.services.batch_results import Batch
from app.services.contacts import ContactService
from app.services.keys import ContactKeys, Stored

LOAD_REF = compile_loader(RefItemSchema)


class BatchReads:
    keys: ContactKeys
    contacts: ContactService

    def read(self, workspace_id: str, items: list) -> dict:
        batch = Batch(items)
        refs = self._refs(batch)
        found = self._find(workspace_id, refs)
        contacts = []
        for index, ref in refs.items():
            stored = found.get(index)
            if stored is None:
                batch.done(index, "not_found", id_=ref.get("id"))
            else:
                contacts.append(stored.contact)
                batch.done(index, "found", stored.contact)
        self.contacts.annotate(workspace_id, contacts)
        return batch.response()

    def _refs(self, batch: Batch) -> dict[int, dict]:
        refs = {}
        for index in range(len(batch.items)):
            ref = batch.load(index, LOAD_REF)
            if ref is not None:
                refs[index] = ref
        keyed = batch.first_of_each(
            {
                i: ("id:" + r["id"]) if "id" in r else ("x:" + r["externalId"])
                for i, r in refs.items()
            }
        )
        return {i: r for i, r in refs.items() if i in keyed}

    def _find(self, workspace_id: str, refs: dict[int, dict]) -> dict[int, Stored]:
        """The stored contact of each reference (by id or by external id), real-time."""
        by_id = self.keys.read(workspace_id, [r["id"] for r in refs.values() if "id" in r])
        external = [r["externalId"] for r in refs.values() if "externalId" in r]
        held = self.keys.resolve(workspace_id, "externalId", external) if external else {}
        found = {}
        for index, ref in refs.items():
            stored = by_id.get(ref["id"]) if "id" in ref else held[ref["externalId"]].holder
            if stored is not None:
                found[index] = stored
        return found
