"""The sort orders a contact search offers, and the sort keys of each: pure, no I/O.

The contract: `SORT_CHOICES` lists every accepted `sort` value (a name, or name:asc /
name:desc); `build_sort` always ends in a total order (updatedAt desc, then id), which
search_after paging needs to neither repeat nor skip a row; IMMUTABLE_SORTS names the
orders whose keys never change, which page safely without a point in time.

Why its own module: ordering is independent of scoring and filtering; the request
schema (app/schemas/search.py) and the search service read these names too.
"""

from __future__ import annotations

SORTS = {
    # name -> (primary sort fields, default direction); ties end with updatedAt and id.
    "relevance": ((), "desc"),
    "firstName": (("firstName.sort", "lastName.sort"), "asc"),
    "lastName": (("lastName.sort", "firstName.sort"), "asc"),
    "company": (("company.exact", "lastName.sort", "firstName.sort"), "asc"),
    "createdAt": (("createdAt",), "desc"),
    "updatedAt": (("updatedAt",), "desc"),
}
SORT_CHOICES = tuple(
    [*SORTS] + [f"{name}:{d}" for name in SORTS if name != "relevance" for d in ("asc", "desc")]
)
# Sorts whose keys never change after a contact is created: search_after alone pages them
# without duplicates or misses, so they need no point in time.
IMMUTABLE_SORTS = frozenset({"createdAt"})


def parse_sort(sort: str | None) -> tuple[str, str]:
    """("lastName", "asc") from "lastName" or "lastName:asc"; relevance by default."""
    name, _, direction = (sort or "relevance").partition(":")
    if name not in SORTS:
        raise ValueError(f"unknown sort {sort!r}")
    return name, direction or SORTS[name][1]


def build_sort(sort: str | None, *, has_query: bool) -> list[dict]:
    """A total order: the requested keys, then updatedAt desc, then id (search_after needs it)."""
    name, direction = parse_sort(sort)
    keys: list[dict] = []
    if name == "relevance":
        if has_query:
            keys.append({"_score": {"order": "desc"}})
    else:
        for field in SORTS[name][0]:
            keys.append({field: {"order": direction, "missing": "_last"}})
    if name not in ("updatedAt", "createdAt"):
        keys.append({"updatedAt": {"order": "desc"}})
    keys.append({"id": {"order": "asc"}})
    return keys
