"""A short randomized run with faults: no listed number is ever answered callable, and
once the faults stop the Redis cache equals the OpenSearch record.

CHAOS_SECONDS (default 30, at most 60 here) and CHAOS_SEED pick the run; `make chaos`
runs a long one. A failure names the seed to rerun it with.
"""

from __future__ import annotations

import json
import os
import random

import pytest

from tests.chaos.runner import format_report, run

SECONDS = min(float(os.environ.get("CHAOS_SECONDS", "30")), 60.0)


@pytest.fixture
def seed() -> int:
    return int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(10**9))


# A schedule whose Redis faults catch most writes of a 30 s run may land no prefix rule:
# the invariant is still checked in that run, and then another seed runs. (Seed
# 315325997 was such a run only because a cut left the flags lock behind for 30 s, which
# app/locks.py now frees as soon as Redis answers; it lands prefix rules on its first run.)
ATTEMPTS = 3


def exercised(result: dict) -> bool:
    """Non-vacuous: faults happened, reads were answered, some were held to an add,
    rules were in play and dialers asked for the calling window too."""
    return (
        sum(result["faults"].values()) >= 3
        and result["reads"].get("listed", 0) + result["reads"].get("callable", 0) > 50
        and result["obliged_reads"] > 0
        and result["history"].get("dnc.prefix_add ok", 0) > 0
        and result["requests"].get("calling.window", 0) > 0
    )


def test_no_listed_number_is_answered_callable_under_faults(seed):
    summaries = []
    for attempt in range(ATTEMPTS):
        result = run(seed + attempt, SECONDS, clients=6)
        summary = f"seed {seed + attempt} (rerun: CHAOS_SEED={seed + attempt})\n"
        summary += format_report(result)
        summaries.append(summary)
        # Every run, whatever its schedule, holds the invariant.
        shown = result["violation_examples"] or result["violation_bounded_examples"]
        examples = json.dumps(shown[:3], ensure_ascii=False, indent=1)
        assert result["violations"] == 0, f"{summary}\n{examples}"
        assert result["violations_bounded"] == 0, f"{summary}\n{examples}"
        assert result["cache_equals_record"], summary
        if exercised(result):
            return
    pytest.fail(f"no run of {ATTEMPTS} exercised the invariant:\n" + "\n".join(summaries))
