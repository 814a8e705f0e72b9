"""Hostile inputs cost about what normal ones do: highlighting and tag splitting.

Budgets are relative to a normal input of the same size measured in the same run (the
machine's speed and load cancel out): hostile <= 20 x normal + a small constant.
"""

from __future__ import annotations

import time

from app.search import highlights
from tests.api.test_imports import upload

FACTOR, SLACK = 20, 0.5


def timed(call) -> tuple[float, object]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def memo_entries() -> tuple[int, int]:
    return (
        highlights._fold_memo.cache_info().currsize,
        highlights._fuzzy_span.cache_info().currsize,
    )


def within_budget(hostile: float, normal: float) -> bool:
    return hostile <= FACTOR * normal + SLACK


def import_rows(client, auth, workspace, names: list[str]) -> None:
    csv_text = "firstName,lastName\n" + "".join(f"{name},Row\n" for name in names)
    response = upload(client, auth, workspace, csv_text.encode())
    assert response.status_code == 200, response.json
    assert response.json["data"]["counts"]["created"] == len(names)


def search(client, auth, workspace, query: str) -> list[dict]:
    body = {"workspaceId": workspace, "query": query, "limit": 50}
    response = client.post("/v1/contacts/search", json=body, headers=auth)
    assert response.status_code == 200, response.json
    return response.json["data"]


def test_highlighting_long_names_against_a_long_query_stays_within_budget(client, workspace, auth):
    # 50 distinct 200-letter names one typo from a 200-letter query: every hit needs its
    # own distance table, and no memo entry can be shared.
    long_names = ["b" * p + "c" + "b" * (199 - p) for p in range(1, 51)]
    import_rows(client, auth, workspace, long_names)
    import_rows(client, auth, workspace, [f"Johnathan{chr(97 + i % 26)}" for i in range(50)])
    normal_time, normal_hits = min(
        timed(lambda: search(client, auth, workspace, "Johnathen")) for _ in range(2)
    )
    memo_sizes = memo_entries()
    hostile_time, hostile_hits = timed(lambda: search(client, auth, workspace, "b" * 200))
    # The memos kept no 200-character keys (and are bounded in entries).
    assert memo_entries() == memo_sizes

    assert len(normal_hits) >= 26 and len(hostile_hits) == 50
    assert within_budget(hostile_time, normal_time), (hostile_time, normal_time)
    # Exact matches are still highlighted whatever their length.
    exact = search(client, auth, workspace, long_names[0])
    assert exact[0]["highlights"][0]["spans"] == [{"start": 0, "end": 200}]
    assert highlights._fold_memo.cache_info().maxsize <= 16_384
    assert highlights._fuzzy_span.cache_info().maxsize <= 32_768


def test_highlight_work_per_field_is_bounded_for_many_tiny_tokens(client, workspace, auth):
    spaced = " ".join("a" for _ in range(95))  # a name of 96 tokens
    import_rows(client, auth, workspace, [spaced + f" Zed{i}" for i in range(40)])
    normal_time, _ = min(timed(lambda: search(client, auth, workspace, "zed")) for _ in range(2))
    hostile_query = " ".join("a_a_a_a_a_a_a_a_a_a" for _ in range(10))  # 10 words, 100 parts
    hostile_time, hits = timed(lambda: search(client, auth, workspace, hostile_query))
    assert within_budget(hostile_time, normal_time), (hostile_time, normal_time)
    assert all(h["highlights"] for h in hits)


def test_tag_cells_of_spaces_import_within_budget(client, workspace, auth):
    def tags_file(cell: str) -> bytes:
        rows = "".join(f"N{i},L,{cell}\n" for i in range(24))
        return ("firstName,lastName,tags\n" + rows).encode()

    normal = tags_file("vip; lead | b2b," + "x" * 9_000)
    hostile = tags_file("a" + " " * 9_000 + "b")  # backtracks at every space in \s*[;,|]
    normal_time, _ = min(
        timed(lambda: upload(client, auth, workspace, normal, onDuplicate="create"))
        for _ in range(2)
    )
    hostile_time, response = timed(lambda: upload(client, auth, workspace, hostile))
    assert response.status_code == 200, response.json
    assert within_budget(hostile_time, normal_time), (hostile_time, normal_time)
