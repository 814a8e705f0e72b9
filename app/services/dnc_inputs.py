"""DncInputs: a DNC request's raw number, rule and expiry, checked, for DncService.

A number is normalized by the project's normalizer (app/phones.py) against the request's
default country; a prefix must be an E.164 prefix; an expiry must lie in the future. Each
names its field in the 400 when it is not valid, before anything is written, so an add
and a consent change (app/services/consent.py) turn the same bad input into the same
error. `doc_id` is the id of a number's own entry, `<ws>:<e164>`.

Separate from app/services/dnc.py because these are pure checks of the input, with no
I/O: a write runs them before its first step. DncService inherits it; `phone_or_400`
uses the service's `default_country`.
"""

from __future__ import annotations

import time
from datetime import datetime

from app.dnc.rules import Rule
from app.errors import ValidationError
from app.phones import canonical, e164_prefix, normalize


class DncInputs:
    """The input checks of DncService (mixed into it)."""

    def phone_or_400(self, raw: str, country: str | None = None) -> str:
        phone = canonical(raw, (country or self.default_country).upper())
        if phone is None:
            reasons = ", ".join(normalize(raw, country or self.default_country).validationErrors)
            raise ValidationError(
                details=[{"field": "phone", "message": f"Not a valid phone number ({reasons})."}]
            )
        return phone

    @staticmethod
    def doc_id(workspace_id: str, phone: str) -> str:
        return f"{workspace_id}:{phone}"

    @staticmethod
    def expiry_or_400(expires_at: datetime | None) -> int:
        """An expiry as epoch ms (0: none); it must lie in the future."""
        if expires_at is None:
            return 0
        expires_ms = int(expires_at.timestamp() * 1000)
        if expires_ms <= int(time.time() * 1000):
            message = "Must be in the future (ISO 8601 UTC)."
            raise ValidationError(details=[{"field": "expiresAt", "message": message}])
        return expires_ms

    def rule_or_400(
        self,
        raw: str,
        kind: str = "exact",
        scope: str | None = None,
        channel: str | None = None,
        expires_ms: int = 0,
        country: str | None = None,
    ) -> Rule:
        """The rule an add or a removal names (app/dnc/rules.py); 400 when it names none."""
        if kind == "prefix":
            value = e164_prefix(raw)
            if value is None:
                message = "Not an E.164 prefix: '+', a known country code, 1-14 digits in all."
                raise ValidationError(details=[{"field": "prefix", "message": message}])
        else:
            value = self.phone_or_400(raw, country)
        return Rule(kind, value, scope or "", channel or "all", expires_ms)
