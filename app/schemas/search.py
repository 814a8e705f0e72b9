"""Search request and response schemas (POST body, GET query parameters, hits)."""

from __future__ import annotations

from datetime import UTC

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)
from webargs.fields import DelimitedList

from app.schemas.common import WORKSPACE_ID, AsciiInteger, PageMetaSchema, Timestamp
from app.schemas.contacts import MAX_SOURCE, MAX_TAG, ContactSchema, external_id_field
from app.search.readings import MAX_WORDS
from app.search.sorts import SORT_CHOICES

MAX_QUERY = 200
MAX_FILTER_TAGS = 50
LIMIT = AsciiInteger(load_default=10, validate=validate.Range(min=1, max=100))
OFFSET = AsciiInteger(load_default=0, validate=validate.Range(min=0))
SORT = fields.String(
    load_default="relevance",
    validate=validate.OneOf(SORT_CHOICES),
    metadata={"description": "relevance (default), or a field with optional :asc / :desc."},
)
CURSOR = fields.String(
    load_default=None,
    allow_none=True,
    validate=validate.Length(max=4096),
    metadata={"description": "meta.nextCursor of the previous page (same query and filters)."},
)
TAG_LIST = fields.List(
    fields.String(validate=validate.Length(min=1, max=MAX_TAG)),
    validate=validate.Length(max=MAX_FILTER_TAGS),
)


def _iso(value) -> str:
    """A datetime as the API's ISO 8601 UTC form; a naive one is taken as UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _query_text(**kwargs) -> fields.String:
    return fields.String(
        load_default="",
        allow_none=True,
        validate=validate.Length(max=MAX_QUERY),
        metadata={"description": "What the user typed: names, company, email or phone."},
        **kwargs,
    )


def _check_words(text: str | None) -> None:
    if text and len(text.split()) > MAX_WORDS:
        raise ValidationError({"query": [f"At most {MAX_WORDS} words."]})


class DateRangeSchema(Schema):
    class Meta:
        unknown = RAISE

    gte = Timestamp()
    gt = Timestamp()
    lte = Timestamp()
    lt = Timestamp()

    @post_load
    def to_iso(self, data, **kwargs):
        return {op: _iso(value) for op, value in data.items()}


class TagsFilterSchema(Schema):
    class Meta:
        unknown = RAISE

    any = TAG_LIST
    all = TAG_LIST


class SearchFiltersSchema(Schema):
    class Meta:
        unknown = RAISE

    company = fields.String(validate=validate.Length(min=1, max=200))
    tags = fields.Nested(
        TagsFilterSchema,
        metadata={"description": '{"any": [...]} and/or {"all": [...]}; a plain list means any.'},
    )
    createdAt = fields.Nested(DateRangeSchema)
    updatedAt = fields.Nested(DateRangeSchema)
    hasPhone = fields.Boolean()
    hasEmail = fields.Boolean()
    dnc = fields.Boolean(metadata={"description": "Only contacts on (true) or off the DNC list."})
    externalId = external_id_field()
    source = fields.String(
        validate=validate.Length(min=1, max=MAX_SOURCE),
        metadata={"description": "Only contacts of this source (exact)."},
    )

    @pre_load
    def tags_list_means_any(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("tags"), list):
            data = {**data, "tags": {"any": data["tags"]}}
        return data


class SearchRequestSchema(Schema):
    """POST body."""

    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    query = _query_text()
    filters = fields.Nested(SearchFiltersSchema, load_default=dict)
    sort = SORT
    limit = LIMIT
    offset = OFFSET
    cursor = CURSOR

    @validates_schema
    def bounded_words(self, data, **kwargs):
        _check_words(data.get("query"))


class SearchQueryArgsSchema(Schema):
    """GET query parameters: the POST body with the filters flattened."""

    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    query = _query_text()
    sort = SORT
    limit = LIMIT
    offset = OFFSET
    cursor = CURSOR
    company = fields.String(validate=validate.Length(min=1, max=200))
    tags = DelimitedList(
        fields.String(validate=validate.Length(min=1, max=MAX_TAG)),
        metadata={"description": "Comma-separated; contacts with any of them."},
    )
    tagsAll = DelimitedList(
        fields.String(validate=validate.Length(min=1, max=MAX_TAG)),
        metadata={"description": "Comma-separated; contacts with all of them."},
    )
    createdFrom = Timestamp(metadata={"description": "createdAt >= this."})
    createdTo = Timestamp(metadata={"description": "createdAt <= this."})
    updatedFrom = Timestamp(metadata={"description": "updatedAt >= this."})
    updatedTo = Timestamp(metadata={"description": "updatedAt <= this."})
    hasPhone = fields.Boolean()
    hasEmail = fields.Boolean()
    dnc = fields.Boolean()
    externalId = external_id_field()
    source = fields.String(validate=validate.Length(min=1, max=MAX_SOURCE))

    @validates_schema
    def bounded(self, data, **kwargs):
        _check_words(data.get("query"))
        for name in ("tags", "tagsAll"):
            if len(data.get(name) or ()) > MAX_FILTER_TAGS:
                raise ValidationError({name: [f"At most {MAX_FILTER_TAGS} tags."]})

    @post_load
    def nest_filters(self, data, **kwargs):
        """The same shape as the POST body, so one service call serves both verbs."""
        filters: dict = {}
        for key in ("company", "hasPhone", "hasEmail", "dnc", "externalId", "source"):
            if key in data:
                filters[key] = data.pop(key)
        tags = {"any": data.pop("tags", None), "all": data.pop("tagsAll", None)}
        if any(tags.values()):
            filters["tags"] = {k: v for k, v in tags.items() if v}
        for field, low, high in (
            ("createdAt", "createdFrom", "createdTo"),
            ("updatedAt", "updatedFrom", "updatedTo"),
        ):
            bounds = {"gte": data.pop(low, None), "lte": data.pop(high, None)}
            bounds = {op: _iso(v) for op, v in bounds.items() if v is not None}
            if bounds:
                filters[field] = bounds
        data["filters"] = filters
        return data


class SpanSchema(Schema):
    start = fields.Integer(required=True)
    end = fields.Integer(required=True, metadata={"description": "Exclusive."})


class HighlightSchema(Schema):
    field = fields.String(
        required=True,
        metadata={
            "example": "lastName",
            "description": "firstName, lastName, company, email, phone (the primary ones), "
            "or phones / emails: a secondary number or address the query matched.",
        },
    )
    index = fields.Integer(
        metadata={
            "example": 1,
            "description": "For phones / emails: the entry's position in the contact's "
            "phones / emails list.",
        }
    )
    value = fields.String(required=True, metadata={"example": "Smith"})
    spans = fields.List(fields.Nested(SpanSchema), required=True)


class SearchHitSchema(ContactSchema):
    highlights = fields.List(fields.Nested(HighlightSchema), required=True)


class SearchResultSchema(Schema):
    data = fields.List(fields.Nested(SearchHitSchema), required=True)
    meta = fields.Nested(PageMetaSchema, required=True)
