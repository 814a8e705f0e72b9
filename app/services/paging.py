"""Paging shared by every paged read (contacts list, search, DNC list and history): the
engine's result window, the probe row that says whether a next page exists, and the
decoding of opaque cursors into 400s that name the `cursor` field."""

from __future__ import annotations

from app.errors import ValidationError
from app.search import cursors

# OpenSearch refuses from + size past index.max_result_window (10,000 by default).
MAX_OFFSET_WINDOW = 10_000


def probe_size(limit: int, offset: int) -> int:
    """Rows to ask for: one more than the page says whether a next page exists, except at
    the edge of the engine's result window, which refuses from + size past it."""
    return limit + 1 if offset + limit < MAX_OFFSET_WINDOW else limit


def more_after(hits: list, limit: int, offset: int, total: dict) -> bool:
    """Whether rows follow this page (read from the probe row, or from the total at the edge)."""
    if len(hits) > limit:
        return True
    at_edge = probe_size(limit, offset) == limit
    return at_edge and (total["relation"] == "gte" or total["value"] > offset + len(hits))


def cursor_error(message: str) -> ValidationError:
    return ValidationError(message, details=[{"field": "cursor", "message": message}])


def require_window(offset: int, limit: int, *, cursors_page_deeper: bool = True) -> None:
    """Offset paging stays inside the engine's result window (400 past it)."""
    if offset + limit <= MAX_OFFSET_WINDOW:
        return
    if cursors_page_deeper:
        raise ValidationError(
            f"offset + limit may not exceed {MAX_OFFSET_WINDOW}; page deeper with `cursor`.",
            details=[{"field": "offset", "message": "Use cursor paging past 10,000 rows."}],
        )
    raise ValidationError(
        f"offset + limit may not exceed {MAX_OFFSET_WINDOW}.",
        details=[{"field": "offset", "message": "Narrow the filters to page deeper."}],
    )


def decode_cursor(
    codec: cursors.CursorCodec,
    cursor: str,
    workspace_id: str,
    mark: str,
    *,
    offset: int,
    sort_keys: int | None,
) -> cursors.Cursor:
    """A cursor of this workspace and query, or a 400 naming the `cursor` field.

    `sort_keys`: how many sort values a cursor of this query carries (None: checked by
    the caller once its sort is built)."""
    if offset:
        raise cursor_error("Give either offset or cursor, not both.")
    try:
        decoded = codec.decode(cursor, workspace_id, mark)
    except cursors.CursorError as exc:
        raise cursor_error(str(exc)) from exc
    if sort_keys is not None and len(decoded.after) != sort_keys:
        raise cursor_error("The cursor is not valid.")
    return decoded
