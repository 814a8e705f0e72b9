"""DuplicateService: the likely duplicates of one contact, scored, with their reasons.

`GET /v1/contacts/{id}/duplicates` looks in the contact's own workspace (the contact is
read with the token's workspaces first, so another workspace's id is a 404) for
contacts that share a normalized number (any of either's `phones`), an address (any of
`emails`), or have a close name at the same company. One search; each way of matching is
a named clause, and the engine says which ones each hit matched.

Score: a duplicate is a guess, so each reason is the chance it alone means "the same
person", and reasons combine as independent evidence: 1 - prod(1 - weight). A shared
mobile number is the strongest sign (people rarely share one; a shared office line is
the common exception), an address nearly as strong (team inboxes share), and a similar
name at the same company the weakest (two Jon Smiths at one company happen).
"""

from __future__ import annotations

from app.contact_methods import addresses_of, numbers_of
from app.search.documents import from_source
from app.search.indices import IndexNames
from app.services.contacts import ContactService

WEIGHTS = {"samePhone": 0.9, "sameEmail": 0.8, "similarName+sameCompany": 0.6}
# Candidates read per request; the answer is the best `limit` of them.
MAX_CANDIDATES = 100
# A name that differs by this many edits per word is still "close" (Jon / John, Smith /
# Smyth); the company must be the same once case and accents are folded.
NAME_FUZZINESS = "AUTO"


def score_of(reasons: list[str]) -> float:
    remaining = 1.0
    for reason in reasons:
        remaining *= 1.0 - WEIGHTS[reason]
    return round(1.0 - remaining, 4)


def build_duplicates_query(contact: dict) -> dict | None:
    """The bool query of the candidates, each way of matching a named clause; None when
    the contact has nothing to match on. Pure (no I/O)."""
    should = []
    numbers = numbers_of(contact)
    if numbers:
        should.append(
            {
                "bool": {
                    "should": [
                        {"terms": {"phones.number": numbers}},
                        {"terms": {"phone": numbers}},
                    ],
                    "_name": "samePhone",
                }
            }
        )
    addresses = addresses_of(contact)
    if addresses:
        should.append(
            {
                "bool": {
                    "should": [
                        {"terms": {"emailAddresses": addresses}},
                        {"terms": {"email": addresses}},
                    ],
                    "_name": "sameEmail",
                }
            }
        )
    name = " ".join(filter(None, (contact.get("firstName"), contact.get("lastName"))))
    if name and contact.get("company"):
        should.append(
            {
                "bool": {
                    "filter": [{"match": {"company.exact": contact["company"]}}],
                    "must": [
                        {
                            "match": {
                                "fullName": {
                                    "query": name,
                                    "operator": "and",
                                    "fuzziness": NAME_FUZZINESS,
                                    "prefix_length": 1,
                                }
                            }
                        }
                    ],
                    "_name": "similarName+sameCompany",
                }
            }
        )
    if not should:
        return None
    return {
        "bool": {
            "filter": [{"term": {"workspaceId": contact["workspaceId"]}}],
            "must_not": [{"ids": {"values": [contact["id"]]}}],
            "should": should,
            "minimum_should_match": 1,
        }
    }


class DuplicateService:
    def __init__(self, contacts: ContactService, index_prefix: str) -> None:
        self.contacts = contacts
        self.client = contacts.client
        self.names = IndexNames(index_prefix, "contacts")

    def find(self, contact_id: str, workspaces, limit: int) -> dict:
        contact = self.contacts.get(contact_id, workspaces, annotate=False).contact
        query = build_duplicates_query(contact)
        if query is None:
            return {"data": [], "meta": {"total": 0, "contactId": contact_id}}
        result = self.client.search(
            index=self.names.read,
            routing=contact["workspaceId"],
            body={
                "query": query,
                "size": MAX_CANDIDATES,
                "track_total_hits": MAX_CANDIDATES,
                "_source": {"excludes": ["phoneDigits", "emailAddresses", "fullNameExact"]},
            },
        )
        found = []
        for hit in result["hits"]["hits"]:
            reasons = [r for r in WEIGHTS if r in (hit.get("matched_queries") or [])]
            found.append((score_of(reasons), hit["_source"]["id"], reasons, hit["_source"]))
        found.sort(key=lambda item: (-item[0], item[1]))
        candidates = [from_source(source) for *_, source in found[:limit]]
        self.contacts.annotate(contact["workspaceId"], candidates)
        data = [
            {"contact": candidate, "score": score, "reasons": reasons}
            for candidate, (score, _, reasons, _) in zip(candidates, found, strict=False)
        ]
        return {"data": data, "meta": {"total": len(found), "contactId": contact_id}}
