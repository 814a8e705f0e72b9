"""The filter clauses of a contact search or export: pure, no I/O, and no scoring.

The contract: `build_filters` turns the search `filters` object into engine filter
clauses, the workspace clause always first, so no filter can widen a request beyond its
workspace; matching follows each field's mapping (company through its normalizer, tags
lowercased, externalId and source as the exact keywords the caller stored).

Why its own module: filters narrow, never score; the search, the export and the contact
listing (app/services/contacts.py) all use them, apart from the scored text query in
app/search/queries.py.
"""

from __future__ import annotations


def build_filters(workspace_id: str, filters: dict | None) -> list[dict]:
    """Filter clauses (no scoring) for the search filters object; reused by export.

    filters: company, tags {any, all}, createdAt / updatedAt {gte, gt, lte, lt},
    hasPhone, hasEmail, dnc, externalId, source. The workspace clause always comes first.
    """
    filters = filters or {}
    clauses: list[dict] = [{"term": {"workspaceId": workspace_id}}]
    if filters.get("company"):
        # A match on the keyword subfield runs the lowercase/folding normalizer on the
        # input, so "ACME inc" equals "Acme Inc" and nothing else.
        clauses.append({"match": {"company.exact": filters["company"]}})
    tags = filters.get("tags") or {}
    if tags.get("any"):
        clauses.append({"terms": {"tags": [t.lower() for t in tags["any"]]}})
    for tag in tags.get("all") or ():
        clauses.append({"match": {"tags": tag}})
    for field in ("createdAt", "updatedAt"):
        bounds = {op: v for op, v in (filters.get(field) or {}).items() if v is not None}
        if bounds:
            clauses.append({"range": {field: bounds}})
    for flag, field in (("hasPhone", "phone"), ("hasEmail", "email")):
        if filters.get(flag) is True:
            clauses.append({"exists": {"field": field}})
        elif filters.get(flag) is False:
            clauses.append({"bool": {"must_not": [{"exists": {"field": field}}]}})
    if filters.get("dnc") is not None:
        clauses.append({"term": {"dnc": bool(filters["dnc"])}})
    for field in ("externalId", "source"):  # exact keywords: what the caller stored
        if filters.get(field):
            clauses.append({"term": {field: filters[field]}})
    return clauses
