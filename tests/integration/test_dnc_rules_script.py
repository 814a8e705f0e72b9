"""The check script's rule walk (app/dnc/cache_scripts.py) agrees with app/dnc/rules.py `matches`
on random rules, numbers, campaigns, channels and expiries, on the real Redis."""

from __future__ import annotations

import random
import time
import uuid

from app import services
from app.dnc.rules import Rule, matches

CAMPAIGNS = ("", "spring", "autumn")
CHANNELS = ("calls", "sms", "all")


def random_rules(rng: random.Random, now_ms: int) -> list[Rule]:
    rules = []
    for _ in range(120):
        digits = f"1201{rng.randrange(10**7):07d}"
        kind = rng.choice(("exact", "prefix", "prefix"))
        value = "+" + (digits if kind == "exact" else digits[: rng.randint(5, 9)])
        expiry = rng.choice((0, 0, now_ms - 60_000, now_ms + 600_000))
        scope = rng.choice(CAMPAIGNS)
        rules.append(Rule(kind, value, scope, rng.choice(CHANNELS), expiry))
    return rules


def test_the_check_script_and_matches_agree_on_random_rules(app):
    workspace = f"ws_{uuid.uuid4().hex[:12]}"
    rng = random.Random(20261129)
    with app.app_context():
        cache = services.dnc().cache
        cache.finish_build(workspace, cache.begin_build(workspace, 0))
        now_ms = int(time.time() * 1000)
        rules = random_rules(rng, now_ms)
        # Adding a rule again replaces it (its expiry too): the last add of each stands.
        latest = {(r.kind, r.value, r.scope, r.channel): r for r in rules}
        kept = [r for r in latest.values() if not r.in_intsets]  # intsets: the numbers' tests
        for rule in kept:
            mark = cache.mark_rule(workspace, rule.match_key, rule.identity)
            cache.finish_rule(
                "add", workspace, rule.match_key, rule.identity, rule.descriptor, mark
            )
        numbers = [r.value for r in rules if r.kind == "exact"]
        numbers += [f"+1201{rng.randrange(10**7):07d}" for _ in range(200)]
        compared = listed = 0
        for campaign in CAMPAIGNS:
            for channel in ("calls", "sms"):
                answer = cache.check_many(workspace, numbers, campaign, channel)
                assert answer is not None and answer.rules
                for number, flag in zip(numbers, answer.flags, strict=True):
                    expected = any(
                        matches(r, number, campaign, channel, answer.now_ms) for r in kept
                    )
                    assert flag == int(expected), (number, campaign, channel)
                    compared += 1
                    listed += expected
        cache.drop(workspace)
    assert compared == len(numbers) * 6 and 0 < listed < compared  # both answers occurred
