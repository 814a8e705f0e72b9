"""The HTTP API: one blueprint per resource, documented by flask-smorest."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api as SmorestApi
from flask_smorest import Blueprint

from app.jsonio import StrictFlaskParser
from app.schemas.batch import items_property
from app.schemas.common import ErrorSchema
from app.schemas.phones import PhoneInfoSchema, one_or_many_property


class Api(SmorestApi):
    # Every documented error response uses the one error shape.
    ERROR_SCHEMA = ErrorSchema


api = Api()
# Bodies are read by the strict parser (app/jsonio.py); bad input is a 400 in this API
# (webargs' default is 422), and the OpenAPI document says so too.
Blueprint.ARGUMENTS_PARSER = StrictFlaskParser()
Blueprint.ARGUMENTS_PARSER.DEFAULT_VALIDATION_STATUS = 400


def register_blueprints(app: Flask) -> None:
    from app.api import (
        batch,
        calling_window,
        console,
        contacts,
        dnc,
        export,
        health,
        imports,
        phones,
        search,
    )

    api.init_app(app)
    if "PhoneInfo" not in api.spec.components.schemas:
        api.spec.components.schema("PhoneInfo", schema=PhoneInfoSchema)
    api.ma_plugin.converter.add_attribute_function(one_or_many_property)
    api.ma_plugin.converter.add_attribute_function(items_property)
    for module in (health, phones, search, batch, contacts, dnc, imports, export):
        api.register_blueprint(module.blp)
    api.register_blueprint(calling_window.blp)
    from app.api import changes, webhooks

    api.register_blueprint(changes.blp)
    api.register_blueprint(webhooks.blp)
    from app.api import merges

    api.register_blueprint(merges.blp)
    from app.api import consent

    api.register_blueprint(consent.blp)
    # The console is static pages, not API: a plain blueprint, left out of the OpenAPI document.
    app.register_blueprint(console.blp)
