"""Import request options and the import record returned by every import endpoint."""

from __future__ import annotations

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from app.errors import ValidationError as RequestError
from app.imports.headers import POLICIES, valid_target
from app.jsonio import strict_loads
from app.schemas.common import WORKSPACE_ID
from app.schemas.contacts import COUNTRY

MAX_MAPPING = 500


class MappingField(fields.Field):
    """`{"CSV column": "contact field"}`, as an object or (in a form) a JSON string.

    Targets: firstName, lastName, fullName, phone, email, company, notes, tags,
    `customFields.<key>`, or `ignore` / null to drop the column.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = strict_loads(value)
            except ValueError as exc:
                raise ValidationError("Must be a JSON object.") from exc
            except RequestError as exc:  # too deep, a huge number, not Unicode
                raise ValidationError(f"Must be a JSON object: {exc.message}") from exc
        if not isinstance(value, dict) or len(value) > MAX_MAPPING:
            raise ValidationError(f"Must be an object of at most {MAX_MAPPING} columns.")
        for column, target in value.items():
            if not isinstance(column, str) or not column or len(column) > 200:
                raise ValidationError("Column names must be 1-200 characters.")
            if not (target is None or isinstance(target, str) and valid_target(target)):
                raise ValidationError(f"{column!r}: {target!r} is not a contact field.")
        return value


class ImportOptionsSchema(Schema):
    """Options, as query parameters or as fields of the multipart form."""

    class Meta:
        unknown = RAISE

    workspaceId = fields.String(required=True, validate=WORKSPACE_ID)
    mapping = MappingField(
        load_default=None, metadata={"type": "string", "description": MappingField.__doc__}
    )
    defaultCountry = fields.String(load_default=None, validate=COUNTRY)
    onDuplicate = fields.String(
        load_default="skip",
        validate=validate.OneOf(POLICIES),
        metadata={"description": "A row whose phone or email is already known."},
    )
    dryRun = fields.Boolean(
        load_default=False, metadata={"description": "Validate and count; write nothing."}
    )
    unmapped = fields.String(
        load_default="customFields",
        validate=validate.OneOf(["customFields", "ignore"]),
        metadata={"description": "Where columns that match no field go."},
    )


class ImportCountsSchema(Schema):
    total = fields.Integer(required=True)
    created = fields.Integer(required=True)
    updated = fields.Integer(required=True)
    skipped = fields.Integer(required=True, metadata={"description": "Skipped as duplicate."})
    invalid = fields.Integer(required=True)


class ImportDuplicateSchema(Schema):
    line = fields.Integer(required=True)
    of = fields.String(
        required=True,
        metadata={"enum": ["inFile", "existing"], "description": "What the row repeats."},
    )
    contactId = fields.String(
        allow_none=True, metadata={"description": "The contact it matched, when known."}
    )
    outcome = fields.String(
        required=True, metadata={"description": "What onDuplicate did: skipped or updated."}
    )


class ImportDuplicatesSchema(Schema):
    inFile = fields.Integer(
        required=True,
        metadata={"description": "Rows sharing a phone or email with an earlier row of the file."},
    )
    existing = fields.Integer(
        required=True,
        metadata={
            "description": "Rows sharing a phone or email with a contact that was there "
            "before the import."
        },
    )
    first = fields.List(
        fields.Nested(ImportDuplicateSchema), metadata={"description": "The first ones."}
    )


class ImportProgressSchema(Schema):
    rowsDone = fields.Integer(required=True)
    rowsTotal = fields.Integer(allow_none=True)
    percent = fields.Float(required=True)


class ImportRowErrorSchema(Schema):
    line = fields.Integer(required=True)
    field = fields.String(required=True)
    message = fields.String(required=True)
    value = fields.String()


class ImportFailureSchema(Schema):
    code = fields.String()
    message = fields.String()


class ImportSchema(Schema):
    id = fields.String(required=True, metadata={"example": "imp_Q2x9c1bV7mTfA0pL"})
    workspaceId = fields.String(required=True)
    status = fields.String(
        required=True, metadata={"enum": ["queued", "running", "completed", "failed"]}
    )
    fileName = fields.String(allow_none=True)
    fileBytes = fields.Integer()
    dryRun = fields.Boolean()
    onDuplicate = fields.String()
    defaultCountry = fields.String(allow_none=True)
    encoding = fields.String(allow_none=True)
    delimiter = fields.String(allow_none=True)
    mapping = fields.Dict(
        keys=fields.String(),
        values=fields.String(allow_none=True),
        metadata={"description": "CSV column -> field it filled (null: ignored)."},
    )
    unmappedColumns = fields.List(fields.String())
    counts = fields.Nested(ImportCountsSchema, required=True)
    progress = fields.Nested(ImportProgressSchema, required=True)
    errors = fields.List(
        fields.Nested(ImportRowErrorSchema), metadata={"description": "The first row errors."}
    )
    errorsUrl = fields.String(allow_none=True)
    duplicates = fields.Nested(
        ImportDuplicatesSchema,
        metadata={"description": "Duplicates found, by every phone and email of a row."},
    )
    warnings = fields.List(fields.String())
    failure = fields.Nested(ImportFailureSchema, allow_none=True)
    attempts = fields.Integer()
    createdAt = fields.String()
    startedAt = fields.String(allow_none=True)
    finishedAt = fields.String(allow_none=True)


class ImportEnvelopeSchema(Schema):
    data = fields.Nested(ImportSchema, required=True)
