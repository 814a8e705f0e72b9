"""The calling-window arithmetic (app/calling): pure functions, no servers.

Every expected instant below was worked out by hand from the zone's offsets, and the
random cases compare the candidate search with a minute-by-minute walk of the clock.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.calling.regions import candidate_zones, country_zones, locate, subdivisions_of
from app.calling.rules import (
    HOLIDAY,
    NO_CALL_DAY,
    OUTSIDE_WINDOW,
    TCPA_WINDOW,
    build_rule,
    default_policy,
    intersect,
    parse_clock,
    parse_date,
    rules_for,
)
from app.calling.windows import allowed_until, next_allowed, refusal, transitions, verdict

TWO_WEEKS = timedelta(days=14)
NEW_YORK, KOLKATA, LORD_HOWE = (
    ZoneInfo("America/New_York"),
    ZoneInfo("Asia/Kolkata"),
    ZoneInfo("Australia/Lord_Howe"),
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rule(start="08:00", end="21:00", **fields):
    return build_rule("test", [{"window": {"start": start, "end": end}, **fields}])


TCPA = rule()


def answer(at: str, zones, rules=(TCPA,)):
    pairs = [(zone, r) for zone in zones for r in rules]
    return verdict(utc(at), pairs, TWO_WEEKS)


# --- America/New_York: spring forward (2026-03-08, 02:00 EST -> 03:00 EDT at 07:00Z) -----


def test_the_morning_after_spring_forward_opens_at_eight_daylight_time_not_standard_time():
    # 01:30 EST; 08:00 that morning is EDT (UTC-4): 12:00Z, not the 13:00Z of UTC-5.
    result = answer("2026-03-08T06:30:00Z", [NEW_YORK])
    assert (result.allowed, result.reason) == (False, OUTSIDE_WINDOW)
    assert result.next_allowed_at == utc("2026-03-08T12:00:00Z")


def test_a_window_starting_inside_the_spring_forward_gap_opens_at_the_transition():
    # 02:30 does not exist that night; the first instant past it is 03:00 EDT = 07:00Z.
    result = answer("2026-03-08T05:00:00Z", [NEW_YORK], [rule("02:30", "05:00")])
    assert result.next_allowed_at == utc("2026-03-08T07:00:00Z")
    assert result.next_allowed_at.astimezone(NEW_YORK).strftime("%H:%M") == "03:00"


def test_a_window_wholly_inside_the_gap_has_no_time_that_day_and_opens_the_next():
    result = answer("2026-03-08T05:00:00Z", [NEW_YORK], [rule("02:00", "02:45")])
    assert result.next_allowed_at == utc("2026-03-09T06:00:00Z")  # 02:00 EDT on the 9th


# --- America/New_York: fall back (2026-11-01, 02:00 EDT -> 01:00 EST at 06:00Z) -------


def test_the_morning_after_fall_back_opens_at_eight_standard_time():
    result = answer("2026-11-01T05:00:00Z", [NEW_YORK])
    assert result.next_allowed_at == utc("2026-11-01T13:00:00Z")


def test_a_window_in_the_repeated_hour_opens_again_at_its_second_occurrence():
    # 01:30-01:45 happens twice: 05:30Z (EDT) and 06:30Z (EST). At 05:50Z the first is over.
    window = [rule("01:30", "01:45")]
    assert answer("2026-11-01T05:35:00Z", [NEW_YORK], window).allowed
    result = answer("2026-11-01T05:50:00Z", [NEW_YORK], window)
    assert result.next_allowed_at == utc("2026-11-01T06:30:00Z")


def test_falling_back_into_a_window_reopens_it_at_the_transition():
    # 00:00-01:30: at 01:40 EDT the window is over, but at 06:00Z the clock reads 01:00 EST.
    result = answer("2026-11-01T05:40:00Z", [NEW_YORK], [rule("00:00", "01:30")])
    assert result.next_allowed_at == utc("2026-11-01T06:00:00Z")


def test_transitions_are_found_to_the_second():
    found = list(transitions(NEW_YORK, utc("2026-03-01T00:00:00Z"), utc("2026-11-30T00:00:00Z")))
    assert found == [utc("2026-03-08T07:00:00Z"), utc("2026-11-01T06:00:00Z")]


# --- Midnight and the window's edges --------------------------------------------------


def test_the_end_of_the_window_is_exclusive_and_the_next_start_is_the_next_morning():
    assert answer("2026-06-16T00:59:59Z", [NEW_YORK]).allowed  # 20:59:59 EDT
    result = answer("2026-06-16T01:00:00Z", [NEW_YORK])  # 21:00:00 EDT
    assert result.reason == OUTSIDE_WINDOW
    assert result.next_allowed_at == utc("2026-06-16T12:00:00Z")


def test_a_whole_day_window_runs_to_midnight_and_a_no_call_day_starts_at_midnight():
    sundays_off = rule("00:00", "24:00", noCallDays=["sunday"])
    assert answer("2026-06-14T03:59:59Z", [NEW_YORK], [sundays_off]).allowed  # Sat 23:59:59
    result = answer("2026-06-14T04:00:00Z", [NEW_YORK], [sundays_off])  # Sun 00:00
    assert result.reason == NO_CALL_DAY
    assert result.next_allowed_at == utc("2026-06-15T04:00:00Z")  # Mon 00:00 EDT


def test_a_holiday_is_the_callee_local_date_not_the_utc_date():
    christmas = rule(holidays=["2026-12-25"])
    # 2026-12-25T02:00Z is still the 24th (21:00 EST) in New York: outside, not a holiday.
    assert answer("2026-12-25T02:00:00Z", [NEW_YORK], [christmas]).reason == OUTSIDE_WINDOW
    result = answer("2026-12-25T15:00:00Z", [NEW_YORK], [christmas])
    assert result.reason == HOLIDAY
    assert result.next_allowed_at == utc("2026-12-26T13:00:00Z")


# --- Zones east of UTC ----------------------------------------------------------------


def test_kolkata_opens_at_half_past_two_utc_and_crosses_the_utc_date():
    # 2026-01-01T20:00Z is 01:30 on the 2nd in Kolkata (UTC+5:30).
    result = answer("2026-01-01T20:00:00Z", [KOLKATA])
    assert result.next_allowed_at == utc("2026-01-02T02:30:00Z")
    assert answer("2026-01-02T15:29:59Z", [KOLKATA]).allowed  # 20:59:59 IST
    assert answer("2026-01-02T15:30:00Z", [KOLKATA]).next_allowed_at == utc("2026-01-03T02:30:00Z")


def test_lord_howe_half_hour_standard_time_and_its_half_hour_daylight_saving():
    # June: UTC+10:30, 08:00 is 21:30Z the day before. January: UTC+11, 21:00Z.
    assert answer("2026-06-15T12:00:00Z", [LORD_HOWE]).next_allowed_at == utc(
        "2026-06-15T21:30:00Z"
    )
    assert answer("2026-01-15T12:00:00Z", [LORD_HOWE]).next_allowed_at == utc(
        "2026-01-15T21:00:00Z"
    )


def test_lord_howe_thirty_minute_spring_gap_opens_a_window_at_the_transition():
    # 2026-10-04 02:00 LHST (15:30Z on the 3rd) jumps to 02:30: a 02:10 start opens at 15:30Z.
    result = answer("2026-10-03T14:00:00Z", [LORD_HOWE], [rule("02:10", "06:00")])
    assert result.next_allowed_at == utc("2026-10-03T15:30:00Z")
    assert result.next_allowed_at.astimezone(LORD_HOWE).strftime("%H:%M") == "02:30"


# --- How long a call may still start ------------------------------------------------


def test_an_open_window_says_when_it_closes_across_dst_and_midnight():
    assert answer("2026-06-16T00:00:00Z", [NEW_YORK]).allowed_until == utc("2026-06-16T01:00:00Z")
    # Fall back: 00:00-01:30 closes at 01:30 EDT, reopens at 01:00 EST, closes at 01:30 EST.
    night = [rule("00:00", "01:30")]
    assert answer("2026-11-01T05:10:00Z", [NEW_YORK], night).allowed_until == utc(
        "2026-11-01T05:30:00Z"
    )
    assert answer("2026-11-01T06:00:00Z", [NEW_YORK], night).allowed_until == utc(
        "2026-11-01T06:30:00Z"
    )
    # Spring forward: a window ending at 02:30 ends when the clock jumps to 03:00.
    early = [rule("00:00", "02:30")]
    assert answer("2026-03-08T06:30:00Z", [NEW_YORK], early).allowed_until == utc(
        "2026-03-08T07:00:00Z"
    )
    # A whole-day window runs to the midnight that starts a no-call Sunday, and with no
    # exclusions it never closes within the horizon.
    weekdays = [rule("00:00", "24:00", noCallDays=["sunday"])]
    assert answer("2026-06-13T16:00:00Z", [NEW_YORK], weekdays).allowed_until == utc(
        "2026-06-14T04:00:00Z"
    )
    assert (
        answer("2026-06-13T16:00:00Z", [NEW_YORK], [rule("00:00", "24:00")]).allowed_until is None
    )
    assert answer("2026-06-16T02:00:00Z", [NEW_YORK]).allowed_until is None  # not allowed


# --- Several zones: the most restrictive -----------------------------------------------


def test_a_us_toll_free_number_is_judged_in_every_north_american_zone():
    where = locate("+18005550100")
    assert len(where.zones) > 30 and where.subdivisions == ()
    zones = [ZoneInfo(name) for name in where.zones]
    # 15:00Z in January: New York is at 10:00, but Guam (UTC+10) at 01:00.
    result = answer("2026-01-15T15:00:00Z", zones)
    assert not result.allowed
    # Guam opens at 22:00Z; Pago Pago (UTC-11) is then 11:00, St. John's (-3:30) 18:30.
    assert result.next_allowed_at == utc("2026-01-15T22:00:00Z")
    assert answer("2026-01-16T00:29:59Z", zones).allowed  # St. John's 20:59:59
    assert answer("2026-01-15T22:30:00Z", zones).allowed_until == utc("2026-01-16T00:30:00Z")
    assert not answer("2026-01-16T00:30:00Z", zones).allowed


def test_a_russian_mobile_number_waits_for_the_three_hours_every_zone_shares():
    where = locate("+79161234567")
    zones = [ZoneInfo(name) for name in where.zones]
    assert {"Europe/Moscow", "Asia/Kamchatka"} <= set(where.zones)
    # Kaliningrad-side Bucharest (UTC+2) opens 06:00Z; Anadyr (UTC+12) closes 09:00Z.
    result = answer("2026-01-15T10:00:00Z", zones)
    assert result.next_allowed_at == utc("2026-01-16T06:00:00Z")


def test_a_pair_set_with_no_common_time_answers_none_within_the_horizon():
    result = answer("2026-01-15T10:00:00Z", [NEW_YORK], [rule(noCallDays=list(_all_days()))])
    assert (result.allowed, result.next_allowed_at) == (False, None)


def test_no_candidate_zone_is_never_allowed():
    assert verdict(utc("2026-01-15T15:00:00Z"), [], TWO_WEEKS).allowed is False


def _all_days():
    return ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _walk_to_refusal(instant, pairs, horizon):
    """The reference: the first whole minute after `instant` that some pair refuses."""
    step = instant.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while step <= instant + horizon:
        if refusal(step, pairs) is not None:
            return step
        step += timedelta(minutes=1)
    return None


def _walk(instant, pairs, horizon):
    """The reference: the first whole minute (or the instant itself) every pair allows."""
    if refusal(instant, pairs) is None:
        return instant
    step = instant.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while step <= instant + horizon:
        if refusal(step, pairs) is None:
            return step
        step += timedelta(minutes=1)
    return None


ZONES = [
    "America/New_York",
    "America/St_Johns",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/Santiago",
    "Europe/London",
    "Pacific/Apia",
]


def test_the_candidate_search_agrees_with_walking_the_clock_minute_by_minute():
    rng = random.Random(17)
    horizon = timedelta(days=3)
    year = (utc("2026-01-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
    for case in range(60):
        zones = [ZoneInfo(z) for z in rng.sample(ZONES, rng.randint(1, 3))]
        start = year[0] + timedelta(seconds=rng.randrange(365 * 86400))
        shifts = [t for zone in zones for t in transitions(zone, *year)]
        if case % 2 and shifts:
            # Half the cases start up to two days before one of the zones' DST changes.
            start = rng.choice(shifts) - timedelta(seconds=rng.randrange(2 * 86400))
        begin = rng.randrange(0, 23 * 60)
        end = rng.randrange(begin + 1, 24 * 60 + 1)
        clock = f"{begin // 60:02d}:{begin % 60:02d}"
        close = "24:00" if end == 1440 else f"{end // 60:02d}:{end % 60:02d}"
        off = rng.sample(_all_days(), rng.randint(0, 2))
        pairs = [(zone, rule(clock, close, noCallDays=off)) for zone in zones]
        if refusal(start, pairs) is None:
            until = allowed_until(start, pairs, horizon)
            assert until == _walk_to_refusal(start, pairs, horizon), (start, clock, close, off)
        assert next_allowed(start, pairs, horizon) == _walk(start, pairs, horizon), (
            start,
            [str(z) for z in zones],
            clock,
            close,
            off,
        )


def test_several_rules_in_one_zone_judge_as_their_intersection():
    rng = random.Random(4)
    for _ in range(30):
        rules = []
        for _ in range(rng.randint(2, 5)):
            begin = rng.randrange(0, 20 * 60)
            end = rng.randrange(begin + 1, 24 * 60)
            rules.append(
                rule(
                    f"{begin // 60:02d}:{begin % 60:02d}",
                    f"{end // 60:02d}:{end % 60:02d}",
                    noCallDays=rng.sample(_all_days(), rng.randint(0, 1)),
                )
            )
        zone = ZoneInfo(rng.choice(ZONES))
        start = utc("2026-01-01T00:00:00Z") + timedelta(seconds=rng.randrange(365 * 86400))
        every = [(zone, r) for r in rules]
        merged = [(zone, intersect(rules))]
        assert next_allowed(start, every, TWO_WEEKS) == next_allowed(start, merged, TWO_WEEKS)


def test_rules_whose_windows_never_overlap_leave_no_time_to_call():
    morning, evening = rule("08:00", "12:00"), rule("13:00", "21:00")
    result = answer("2026-06-15T14:00:00Z", [NEW_YORK], [intersect([morning, evening])])
    assert (result.allowed, result.reason, result.next_allowed_at) == (
        False,
        OUTSIDE_WINDOW,
        None,
    )


# --- Rules: layers and parsing ---------------------------------------------------------


def test_a_subdivision_override_replaces_only_the_fields_it_sets():
    policy = {
        **default_policy(),
        "noCallDays": ["sunday"],
        "regions": {"US-FL": {"window": {"start": "08:00", "end": "20:00"}}},
    }
    (florida,) = rules_for(policy, "US", ["US-FL"])
    assert florida.name == "US-FL" and florida.windows[0].end == 20 * 60
    assert florida.no_call_days == {6}  # inherited from the default


def test_a_layer_that_sets_a_window_drops_the_weekday_windows_it_inherits():
    policy = {
        **default_policy(),
        "dayWindows": {"sunday": {"start": "12:00", "end": "21:00"}},
        "regions": {"US": {"window": {"start": "09:00", "end": "20:00"}}},
    }
    (country,) = rules_for(policy, "US", [])
    assert country.windows[6].start == 9 * 60


def test_an_unknown_subdivision_answers_to_its_country_and_every_state_override():
    policy = {
        **default_policy(),
        "regions": {
            "US-FL": {"window": {"start": "08:00", "end": "20:00"}},
            "US-TX": {"dayWindows": {"sunday": {"start": "12:00", "end": "21:00"}}},
            "CA-QC": {"noCallDays": ["sunday"]},
        },
    }
    assert [r.name for r in rules_for(policy, "US", [])] == ["default", "US-FL", "US-TX"]
    assert [r.name for r in rules_for(policy, "US", ["US-NY"])] == ["default"]
    assert [r.name for r in rules_for(policy, None, [])] == ["default"]


def test_clock_and_date_parsing_refuse_what_is_not_exactly_hh_mm_or_an_iso_date():
    assert parse_clock("00:00") == 0 and parse_clock("24:00", end=True) == 1440
    for bad in ("8:00", "24:00", "23:60", "０８:００", "08:00:00", "", "x" * 10_000, None):
        with pytest.raises(ValueError):
            parse_clock(bad)
    for bad in ("2026-02-30", "2026-W01-1", "２０２６-01-01", "2026-1-1", "20261225"):
        with pytest.raises(ValueError):
            parse_date(bad)
    assert TCPA.windows[0].start == parse_clock(TCPA_WINDOW["start"])


# --- Regions ---------------------------------------------------------------------------


def test_the_state_comes_from_the_geocoders_description():
    assert locate("+12125550100").subdivisions == ("US-NY",)  # "New York, NY"
    assert locate("+13055550100").subdivisions == ("US-FL",)  # "Florida"
    assert subdivisions_of("CA", "Nova Scotia/Prince Edward Island") == ("CA-NS", "CA-PE")
    assert subdivisions_of("US", "Springfield, ZZ") == ()
    assert subdivisions_of("GB", "Leeds") == ()


def test_an_unknown_zone_falls_back_to_the_countrys_zones_and_else_to_none():
    assert candidate_zones(["Etc/Unknown"], "AU") == (country_zones("AU"), "country")
    assert "Australia/Lord_Howe" in country_zones("AU")
    assert candidate_zones(["Etc/Unknown"], None) == ((), "none")
    assert candidate_zones(["Mars/Olympus_Mons"], "US") == ((), "none")
    assert locate("+80012345678").zone_source == "none"  # international freephone


@pytest.mark.parametrize(
    "settings",
    [
        {"horizon_days": 0},
        {"horizon_days": 10_000},
        {"default_window": {"start": "21:00", "end": "08:00"}},
        {"default_window": {"start": "8am", "end": "9pm"}},
    ],
)
def test_a_bad_calling_window_setting_stops_the_service_from_starting(settings):
    from app.services.calling_window import CallingWindowService

    with pytest.raises(ValueError):
        CallingWindowService(None, "test-", None, dnc_listed=lambda ws, phones: [], **settings)
