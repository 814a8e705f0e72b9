"""An import chunk's plan keeps a created row's dedupe keys (computed from the row's
contact before its document exists) as the keys of the document it writes, instead of
computing them again from the document (app/services/import_runs.py, `created_keys`).
That holds only if the two are always equal: compared here on generated and hostile
contacts, with the DNC annotation the document is built after (each number's `dnc`, the
lists copied) in between, as in the plan."""

from __future__ import annotations

import random

from app.contact_methods import flag_numbers
from app.imports.dedupe import dedupe_keys
from app.search.documents import to_document
from app.services.contact_rules import prepare_fields
from app.services.contacts import ContactService
from devtools.fakedata import contacts
from tests.unit.test_documents_equivalence import _contacts, _outcome


def _created(rng: random.Random) -> list[dict]:
    found = []
    for n, person in enumerate(contacts(300, seed=33)):
        item = {**person, "externalId": rng.choice([None, f"crm-{n}", "李-x" * 60])}
        if n % 3 == 0:
            item["phones"] = [
                {"number": f"+1415555{n:04d}", "type": "mobile"},
                {"number": f"+44 20 7946 {n:04d}", "type": "work", "primary": rng.random() < 0.5},
            ]
            item["emails"] = [{"address": f"Ü{n}@Example.com"}, {"address": f"b{n}@x.io"}]
            item.pop("phone", None)
            item.pop("email", None)
        prepared = {**prepare_fields(item, "US"), "workspaceId": "ws_1"}
        found.append(ContactService.new_contact(None, prepared))
    return found


def test_a_created_rows_keys_are_the_keys_of_the_document_it_writes():
    rng = random.Random(33)
    compared = 0
    for contact in [*_created(rng), *_contacts(rng)]:
        before = _outcome(dedupe_keys, contact)
        numbers = [e.get("number") for e in contact.get("phones") or []]
        listed = rng.choice([None, set(), set(numbers[:1])])
        if _outcome(flag_numbers, contact, listed)[0] != "ok":
            continue
        document = _outcome(to_document, contact)
        if document[0] != "ok":
            continue  # a contact no document is built of never reaches the keys
        assert _outcome(dedupe_keys, document[1]) == before, contact
        compared += 1
    assert compared > 700
