# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Tests of the business-time arithmetic of the SLA engine"
import functools
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from time import perf_counter
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from itsm_ticket.businesstime import (
    END_OF_DAY,
    MAX_IDLE_DAYS,
    CalendarError,
    WorkingCalendar,
    add_business_time,
    business_time_between,
    due_date,
    elapsed_business_time,
    local_to_utc,
    public_holidays,
    working_intervals,
)

WARSAW = ZoneInfo('Europe/Warsaw')
SANTIAGO = ZoneInfo('America/Santiago')
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
MICROSECOND = timedelta(microseconds=1)
WEEKDAYS = range(5)
EVERY_DAY = range(7)


def warsaw(*args):
    return datetime(*args, tzinfo=WARSAW)


def weekly(timezone, days, *intervals, days_off=()):
    return WorkingCalendar(
        timezone, {d: list(intervals) for d in days}, frozenset(days_off))


OFFICE = weekly('Europe/Warsaw', WEEKDAYS, (time(8), time(16)))
ALWAYS_WARSAW = weekly('Europe/Warsaw', EVERY_DAY, (time(0), END_OF_DAY))
NIGHT_SHIFT = weekly('Europe/Warsaw', EVERY_DAY, (time(0), time(6)))
# 2026 in Warsaw: summer time from Sunday 29 March 02:00 (clocks jump to
# 03:00), winter time from Sunday 25 October 03:00 (back to 02:00).
SPRING_FORWARD = date(2026, 3, 29)
FALL_BACK = date(2026, 10, 25)


# Worked examples

def test_four_hours_from_friday_afternoon_land_on_monday_morning():
    assert add_business_time(
        OFFICE, warsaw(2026, 5, 8, 14), 4 * HOUR) == warsaw(2026, 5, 11, 10)


def test_result_is_utc_whatever_the_zone_of_start():
    start = datetime(2026, 5, 8, 8, tzinfo=ZoneInfo('America/New_York'))
    result = add_business_time(OFFICE, start, HOUR)
    assert result.tzinfo is UTC
    # 08:00 in New York is 14:00 in Warsaw.
    assert result == warsaw(2026, 5, 8, 15)


def test_holiday_monday_pushes_to_tuesday():
    # Easter Monday
    calendar = weekly(
        'Europe/Warsaw', WEEKDAYS, (time(8), time(16)),
        days_off=public_holidays('PL', [2026]))
    assert add_business_time(
        calendar, warsaw(2026, 4, 3, 14), 4 * HOUR) == warsaw(2026, 4, 7, 10)


def test_start_on_weekend_counts_from_monday_opening():
    assert add_business_time(
        OFFICE, warsaw(2026, 5, 9, 11), 3 * HOUR) == warsaw(2026, 5, 11, 11)


def test_start_before_opening_counts_from_opening():
    assert add_business_time(
        OFFICE, warsaw(2026, 5, 11, 6), HOUR) == warsaw(2026, 5, 11, 9)


def test_start_after_closing_counts_from_next_opening():
    assert add_business_time(
        OFFICE, warsaw(2026, 5, 12, 17), HOUR) == warsaw(2026, 5, 13, 9)


def test_duration_ending_at_closing_time_lands_at_closing_time():
    assert add_business_time(
        OFFICE, warsaw(2026, 5, 8, 14), 2 * HOUR) == warsaw(2026, 5, 8, 16)


def test_lunch_break_is_not_counted():
    calendar = weekly(
        'Europe/Warsaw', WEEKDAYS, (time(8), time(12)), (time(13), time(17)))
    assert add_business_time(
        calendar, warsaw(2026, 5, 11, 11), 2 * HOUR) == warsaw(
        2026, 5, 11, 14)
    assert business_time_between(
        calendar, warsaw(2026, 5, 11, 11), warsaw(2026, 5, 11, 14)) == (
        2 * HOUR)


def test_start_during_lunch_break_counts_from_afternoon():
    calendar = weekly(
        'Europe/Warsaw', WEEKDAYS, (time(8), time(12)), (time(13), time(17)))
    assert add_business_time(
        calendar, warsaw(2026, 5, 11, 12, 30), HOUR) == warsaw(
        2026, 5, 11, 14)


def test_touching_intervals_count_as_one():
    split = weekly(
        'Europe/Warsaw', WEEKDAYS, (time(12), time(16)), (time(8), time(12)))
    start, end = warsaw(2026, 5, 11, 9), warsaw(2026, 5, 12, 9)
    assert business_time_between(split, start, end) == (
        business_time_between(OFFICE, start, end)) == 8 * HOUR


def test_zero_duration_outside_working_hours_is_start_itself():
    start = warsaw(2026, 5, 9, 23, 59)
    assert add_business_time(OFFICE, start, timedelta()) == start


def test_negative_duration_is_refused():
    with pytest.raises(ValueError, match='negative'):
        add_business_time(OFFICE, warsaw(2026, 5, 11, 9), -HOUR)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match='timezone-aware'):
        add_business_time(OFFICE, datetime(2026, 5, 11, 9), HOUR)
    with pytest.raises(ValueError, match='timezone-aware'):
        business_time_between(
            OFFICE, warsaw(2026, 5, 11, 9), datetime(2026, 5, 11, 10))


def test_business_time_between_over_a_week_with_a_holiday():
    calendar = weekly(
        'Europe/Warsaw', WEEKDAYS, (time(8), time(16)),
        days_off={date(2026, 11, 11)})
    assert business_time_between(
        calendar, warsaw(2026, 11, 9), warsaw(2026, 11, 16)) == 32 * HOUR


def test_business_time_between_reversed_span_is_negative():
    start, end = warsaw(2026, 5, 8, 14), warsaw(2026, 5, 11, 10)
    assert business_time_between(OFFICE, start, end) == 4 * HOUR
    assert business_time_between(OFFICE, end, start) == -4 * HOUR


def test_business_time_between_same_instant_is_zero():
    now = warsaw(2026, 5, 11, 10)
    assert business_time_between(OFFICE, now, now) == timedelta()


def test_24x7_calendar_counts_wall_clock_across_dst():
    # The day of the change to summer time lasts 23 hours, the day of the
    # change to winter time 25.
    assert add_business_time(
        ALWAYS_WARSAW, warsaw(2026, 3, 28, 12), 24 * HOUR) == warsaw(
        2026, 3, 29, 13)
    assert business_time_between(
        ALWAYS_WARSAW, warsaw(2026, 10, 24, 12), warsaw(2026, 10, 25, 12)) == (
        25 * HOUR)


def test_day_shift_keeps_local_hours_across_spring_forward_weekend():
    assert add_business_time(
        OFFICE, warsaw(2026, 3, 27, 14), 4 * HOUR) == warsaw(2026, 3, 30, 10)


def test_day_shift_keeps_local_hours_across_fall_back_weekend():
    assert add_business_time(
        OFFICE, warsaw(2026, 10, 23, 14), 4 * HOUR) == warsaw(
        2026, 10, 26, 10)


def test_night_shift_on_spring_forward_night_has_five_hours():
    midnight = warsaw(2026, 3, 29)
    assert business_time_between(
        NIGHT_SHIFT, midnight, warsaw(2026, 3, 29, 12)) == 5 * HOUR
    assert add_business_time(NIGHT_SHIFT, midnight, 5 * HOUR) == warsaw(
        2026, 3, 29, 6)


def test_night_shift_skips_the_hour_that_does_not_exist():
    # 01:30 CET plus one hour is 03:30 CEST: 02:00-03:00 never happens.
    start = warsaw(2026, 3, 29, 1, 30)
    assert add_business_time(NIGHT_SHIFT, start, HOUR) == datetime(
        2026, 3, 29, 1, 30, tzinfo=UTC)
    assert add_business_time(NIGHT_SHIFT, start, HOUR) == warsaw(
        2026, 3, 29, 3, 30)


def test_night_shift_on_fall_back_night_has_seven_hours():
    assert business_time_between(
        NIGHT_SHIFT, warsaw(2026, 10, 25), warsaw(2026, 10, 25, 12)) == (
        7 * HOUR)


def test_night_shift_counts_the_repeated_hour_twice():
    first = datetime(2026, 10, 25, 2, 30, tzinfo=WARSAW)  # CEST, 00:30 UTC
    result = add_business_time(NIGHT_SHIFT, first, HOUR)
    assert result == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    local = result.astimezone(WARSAW)
    assert (local.hour, local.minute, local.fold) == (2, 30, 1)


def test_interval_starting_in_skipped_hour_starts_when_clock_jumps():
    calendar = weekly('Europe/Warsaw', [6], (time(2, 30), time(4)))
    assert list(working_intervals(
        calendar, warsaw(2026, 3, 29), warsaw(2026, 3, 30))) == [
        (datetime(2026, 3, 29, 1, tzinfo=UTC),
            datetime(2026, 3, 29, 2, tzinfo=UTC))]


def test_interval_ending_in_skipped_hour_ends_when_clock_jumps():
    calendar = weekly('Europe/Warsaw', [6], (time(1), time(2, 30)))
    assert list(working_intervals(
        calendar, warsaw(2026, 3, 29), warsaw(2026, 3, 30))) == [
        (datetime(2026, 3, 29, 0, tzinfo=UTC),
            datetime(2026, 3, 29, 1, tzinfo=UTC))]


def test_interval_inside_skipped_hour_has_no_working_time():
    calendar = weekly('Europe/Warsaw', [6], (time(2, 10), time(2, 50)))
    assert business_time_between(
        calendar, warsaw(2026, 3, 29), warsaw(2026, 3, 30)) == timedelta()
    assert business_time_between(
        calendar, warsaw(2026, 3, 22), warsaw(2026, 3, 23)) == 40 * MINUTE


def test_interval_boundaries_in_repeated_hour_are_first_occurrences():
    ends_in_it = weekly('Europe/Warsaw', [6], (time(1), time(2, 30)))
    starts_in_it = weekly('Europe/Warsaw', [6], (time(2, 30), time(4)))
    day = (warsaw(2026, 10, 25), warsaw(2026, 10, 26))
    assert business_time_between(ends_in_it, *day) == 90 * MINUTE
    assert business_time_between(starts_in_it, *day) == 150 * MINUTE


def test_24x7_calendar_over_midnight_change_to_summer_time():
    # Chile moves its clocks from Saturday 24:00 to Sunday 01:00.
    calendar = weekly('America/Santiago', EVERY_DAY, (time(0), END_OF_DAY))
    assert business_time_between(
        calendar, datetime(2026, 9, 5, 12, tzinfo=SANTIAGO),
        datetime(2026, 9, 6, 12, tzinfo=SANTIAGO)) == 23 * HOUR


def test_sunday_starting_at_skipped_midnight_starts_at_one():
    calendar = weekly('America/Santiago', [6], (time(0), time(8)))
    assert list(working_intervals(
        calendar, datetime(2026, 9, 5, tzinfo=UTC),
        datetime(2026, 9, 8, tzinfo=UTC))) == [
        (datetime(2026, 9, 6, 4, tzinfo=UTC),
            datetime(2026, 9, 6, 11, tzinfo=UTC))]


def test_span_ending_in_minutes_repeated_across_midnight():
    # Goose Bay turned its clocks back from Sunday 00:01 to Saturday 23:01:
    # at 03:30 UTC they showed Saturday 23:30 again, but Sunday's working
    # time had begun at the first 00:00 (03:00 UTC).
    calendar = weekly('America/Goose_Bay', [6], (time(0), time(8)))
    assert business_time_between(
        calendar, datetime(2009, 10, 31, 12, tzinfo=UTC),
        datetime(2009, 11, 1, 3, 30, tzinfo=UTC)) == 30 * MINUTE
    assert business_time_between(
        calendar, datetime(2009, 11, 1, 3, 30, tzinfo=UTC),
        datetime(2009, 11, 2, tzinfo=UTC)) == 8 * HOUR + 30 * MINUTE


def test_local_to_utc_of_existing_time_is_its_instant():
    assert local_to_utc(WARSAW, datetime(2026, 7, 1, 9)) == datetime(
        2026, 7, 1, 7, tzinfo=UTC)


def test_local_to_utc_of_skipped_time_is_the_instant_of_the_change():
    assert local_to_utc(WARSAW, datetime(2026, 3, 29, 2, 30)) == datetime(
        2026, 3, 29, 1, tzinfo=UTC)
    assert local_to_utc(SANTIAGO, datetime(2026, 9, 6)) == datetime(
        2026, 9, 6, 4, tzinfo=UTC)


def test_local_to_utc_of_repeated_time_is_its_first_occurrence():
    assert local_to_utc(WARSAW, datetime(2026, 10, 25, 2, 30)) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC)


def test_local_to_utc_refuses_aware_datetimes():
    with pytest.raises(ValueError, match='naive'):
        local_to_utc(WARSAW, warsaw(2026, 7, 1, 9))


def test_polish_public_holidays_include_independence_day():
    days = public_holidays('PL', [2026])
    assert date(2026, 11, 11) in days
    assert date(2026, 11, 12) not in days


def test_public_holidays_cover_every_year_asked():
    days = public_holidays('PL', range(2026, 2029))
    assert {date(year, 11, 11) for year in range(2026, 2029)} <= days
    assert date(2029, 11, 11) not in days


def test_public_holidays_of_a_subdivision():
    # Epiphany is a holiday in Bavaria, not in Berlin.
    assert date(2026, 1, 6) in public_holidays('DE', [2026], 'BY')
    assert date(2026, 1, 6) not in public_holidays('DE', [2026], 'BE')


def test_public_holidays_of_unknown_country_raise_calendar_error():
    with pytest.raises(CalendarError, match="country 'XX'"):
        public_holidays('XX', [2026])


def test_public_holidays_of_unknown_subdivision_raise_calendar_error():
    with pytest.raises(CalendarError, match="subdivision 'ZZ'"):
        public_holidays('PL', [2026], 'ZZ')


# Calendar checks

@pytest.mark.parametrize('hours', [{}, {0: [], 3: ()}])
def test_check_refuses_calendar_without_working_hours(hours):
    with pytest.raises(CalendarError, match='no working hours'):
        WorkingCalendar('Europe/Warsaw', hours).check()


@pytest.mark.parametrize('interval', [
    (time(16), time(8)), (time(8), time(8))])
def test_check_refuses_interval_not_starting_before_its_end(interval):
    calendar = weekly('Europe/Warsaw', [2], interval)
    with pytest.raises(
            CalendarError, match='on Wednesday must start before it ends'):
        calendar.check()


def test_check_refuses_overlapping_intervals():
    calendar = weekly(
        'Europe/Warsaw', [0], (time(11), time(16)), (time(8), time(12)))
    with pytest.raises(
            CalendarError,
            match='08:00-12:00 and 11:00-16:00 on Monday overlap'):
        calendar.check()


@pytest.mark.parametrize('timezone', [
    'Mars/Olympus_Mons', 'europe/warsaw', '', '../etc/passwd', 'Europe'])
def test_check_refuses_unknown_timezone(timezone):
    calendar = weekly(timezone, WEEKDAYS, (time(8), time(16)))
    with pytest.raises(CalendarError, match='Unknown timezone'):
        calendar.check()


def test_check_refuses_unknown_weekday():
    calendar = WorkingCalendar('UTC', {7: [(time(8), time(16))]})
    with pytest.raises(CalendarError, match='Unknown weekday 7'):
        calendar.check()


def test_check_refuses_intervals_that_are_not_pairs_of_times():
    calendar = WorkingCalendar('UTC', {0: [(8, 16)]})
    with pytest.raises(CalendarError, match='pairs of times'):
        calendar.check()


def test_check_refuses_datetimes_as_days_off():
    calendar = weekly(
        'UTC', WEEKDAYS, (time(8), time(16)),
        days_off=[datetime(2026, 11, 11)])
    with pytest.raises(CalendarError, match='must be dates'):
        calendar.check()


def test_check_accepts_24x7_and_touching_intervals():
    ALWAYS_WARSAW.check()
    weekly('UTC', WEEKDAYS, (time(8), time(12)), (time(12), time(16))).check()


def test_computations_refuse_an_invalid_calendar():
    calendar = weekly('Nowhere/Else', WEEKDAYS, (time(8), time(16)))
    with pytest.raises(CalendarError, match='Unknown timezone'):
        add_business_time(calendar, warsaw(2026, 5, 11, 9), HOUR)


def test_all_working_days_off_raises_instead_of_looping():
    mondays = [date(2026, 1, 5) + timedelta(weeks=k) for k in range(600)]
    calendar = weekly('UTC', [0], (time(8), time(9)), days_off=mondays)
    started = perf_counter()
    with pytest.raises(CalendarError, match='no working time in the 3653'):
        add_business_time(calendar, warsaw(2026, 1, 1), HOUR)
    assert perf_counter() - started < 1


def test_work_resuming_within_the_horizon_is_found():
    weeks = (MAX_IDLE_DAYS - 30) // 7
    mondays = [date(2026, 1, 5) + timedelta(weeks=k) for k in range(weeks)]
    calendar = weekly('UTC', [0], (time(8), time(9)), days_off=mondays)
    first_monday = date(2026, 1, 5) + timedelta(weeks=weeks)
    assert add_business_time(
        calendar, datetime(2026, 1, 1, tzinfo=UTC), HOUR) == datetime.combine(
        first_monday, time(9), UTC)


def test_one_year_duration_computes_in_under_50_ms():
    calendar = weekly(
        'Europe/Warsaw', WEEKDAYS, (time(8), time(12)), (time(13), time(17)),
        days_off=public_holidays('PL', range(2026, 2032)))
    start = warsaw(2026, 5, 8, 14)
    timings = []
    for _ in range(3):
        started = perf_counter()
        result = add_business_time(calendar, start, timedelta(days=365))
        timings.append(perf_counter() - started)
    assert business_time_between(calendar, start, result) == timedelta(
        days=365)
    assert min(timings) < 0.05


# The SLA clock

def test_elapsed_counts_running_periods_and_skips_pauses():
    running = [
        (warsaw(2026, 5, 11, 9), warsaw(2026, 5, 11, 11)),
        # waiting for the customer until Tuesday 10:00
        (warsaw(2026, 5, 12, 10), None),
    ]
    assert elapsed_business_time(
        OFFICE, running, warsaw(2026, 5, 12, 12)) == 4 * HOUR


def test_elapsed_clips_periods_to_now():
    running = [(warsaw(2026, 5, 11, 9), warsaw(2026, 5, 11, 15))]
    assert elapsed_business_time(
        OFFICE, running, warsaw(2026, 5, 11, 10)) == HOUR


def test_elapsed_of_periods_in_any_order_is_the_same():
    running = [
        (warsaw(2026, 5, 12, 10), None),
        (warsaw(2026, 5, 11, 9), warsaw(2026, 5, 11, 11)),
    ]
    assert elapsed_business_time(
        OFFICE, running, warsaw(2026, 5, 12, 12)) == 4 * HOUR


def test_elapsed_without_periods_is_zero():
    assert elapsed_business_time(
        OFFICE, [], warsaw(2026, 5, 12, 12)) == timedelta()


def test_overlapping_periods_are_refused():
    running = [
        (warsaw(2026, 5, 11, 9), warsaw(2026, 5, 11, 11)),
        (warsaw(2026, 5, 11, 10), None),
    ]
    with pytest.raises(ValueError, match='overlap'):
        elapsed_business_time(OFFICE, running, warsaw(2026, 5, 12, 12))


def test_open_period_before_another_is_refused():
    running = [
        (warsaw(2026, 5, 11, 9), None),
        (warsaw(2026, 5, 11, 10), warsaw(2026, 5, 11, 11)),
    ]
    with pytest.raises(ValueError, match='Only the last'):
        due_date(OFFICE, running, HOUR, warsaw(2026, 5, 12, 12))


def test_period_ending_before_it_starts_is_refused():
    running = [(warsaw(2026, 5, 11, 11), warsaw(2026, 5, 11, 9))]
    with pytest.raises(ValueError, match='ends before it starts'):
        elapsed_business_time(OFFICE, running, warsaw(2026, 5, 12, 12))


def test_due_date_of_running_clock_adds_what_remains():
    running = [
        (warsaw(2026, 5, 11, 9), warsaw(2026, 5, 11, 11)),
        (warsaw(2026, 5, 12, 10), None),
    ]
    # 4 hours counted by Tuesday 12:00, 6 remain: 4 on Tuesday, 2 on
    # Wednesday.
    assert due_date(
        OFFICE, running, 10 * HOUR, warsaw(2026, 5, 12, 12)) == warsaw(
        2026, 5, 13, 10)


def test_due_date_of_running_clock_does_not_depend_on_now():
    running = [(warsaw(2026, 5, 11, 9), None)]
    nows = [
        warsaw(2026, 5, 11, 9), warsaw(2026, 5, 11, 12),
        warsaw(2026, 5, 11, 17), warsaw(2026, 5, 12, 8, 30),
        # after the breach
        warsaw(2026, 5, 12, 15)]
    dues = {due_date(OFFICE, running, 8 * HOUR, now) for now in nows}
    assert dues == {warsaw(2026, 5, 12, 9)}


def test_due_date_of_paused_clock_is_none():
    running = [(warsaw(2026, 5, 11, 9), warsaw(2026, 5, 11, 11))]
    assert due_date(
        OFFICE, running, 8 * HOUR, warsaw(2026, 5, 12, 12)) is None


def test_due_date_reached_before_pause_is_the_breach_instant():
    running = [(warsaw(2026, 5, 11, 9), warsaw(2026, 5, 12, 11))]
    assert due_date(
        OFFICE, running, 8 * HOUR, warsaw(2026, 5, 13, 12)) == warsaw(
        2026, 5, 12, 9)


def test_due_date_reached_by_running_clock_is_the_past_breach_instant():
    running = [(warsaw(2026, 5, 11, 9), None)]
    # Reached at 16:00, when the office closed, not at now (20:00).
    assert due_date(
        OFFICE, running, 7 * HOUR, warsaw(2026, 5, 11, 20)) == warsaw(
        2026, 5, 11, 16)


def test_priority_change_mid_way_moves_due_date_by_same_clock():
    running = [
        (warsaw(2026, 5, 11, 9), warsaw(2026, 5, 11, 12)),
        (warsaw(2026, 5, 12, 8), None),
    ]
    now = warsaw(2026, 5, 12, 9)
    # 4 hours elapsed: a P3 (16 h) has 12 left; raised to P1 (2 h) it was
    # breached on Monday 11:00; raised to P2 (8 h) it is due at 13:00.
    assert due_date(OFFICE, running, 16 * HOUR, now) == warsaw(
        2026, 5, 13, 13)
    assert due_date(OFFICE, running, 2 * HOUR, now) == warsaw(
        2026, 5, 11, 11)
    assert due_date(OFFICE, running, 8 * HOUR, now) == warsaw(
        2026, 5, 12, 13)


def test_due_date_of_zero_target_is_when_the_clock_started():
    running = [(warsaw(2026, 5, 9, 9), None)]
    assert due_date(
        OFFICE, running, timedelta(), warsaw(2026, 5, 11, 9)) == warsaw(
        2026, 5, 9, 9)


def test_due_date_of_clock_never_started_is_none():
    assert due_date(OFFICE, [], HOUR, warsaw(2026, 5, 11, 9)) is None


def test_due_date_refuses_negative_target():
    with pytest.raises(ValueError, match='negative'):
        due_date(OFFICE, [], -HOUR, warsaw(2026, 5, 11, 9))


# Properties

ZONES = (
    'UTC', 'Europe/Warsaw', 'America/New_York', 'America/Santiago',
    'Australia/Lord_Howe', 'Asia/Kolkata', 'America/St_Johns')
PROPERTY = settings(max_examples=200, deadline=None)


@functools.cache
def offset_changes(name):
    "The instants at which the zone changes its offset in 2020-2030"
    zone = ZoneInfo(name)

    def offset(instant):
        return instant.astimezone(zone).utcoffset()

    changes = []
    day = datetime(2019, 12, 1, tzinfo=UTC)
    while day.year < 2031:
        following = day + timedelta(days=1)
        if offset(day) != offset(following):
            # These zones change at whole minutes.
            low, high = 0, 24 * 60
            while high - low > 1:
                middle = (low + high) // 2
                if offset(day + middle * MINUTE) == offset(day):
                    low = middle
                else:
                    high = middle
            changes.append(day + high * MINUTE)
        day = following
    return changes


def wall_clock(instant, zone):
    return instant.astimezone(zone).replace(tzinfo=None)


@st.composite
def instants(draw, name):
    "UTC instants in 2020-2030, half of them close to an offset change"
    changes = offset_changes(name)
    if changes and draw(st.booleans()):
        instant = draw(st.sampled_from(changes)) + MINUTE * draw(
            st.integers(-30 * 60, 30 * 60))
    else:
        instant = draw(st.datetimes(
            min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31),
            timezones=st.just(UTC)))
        instant = instant.replace(second=0, microsecond=0)
    if draw(st.booleans()):
        instant += draw(st.timedeltas(min_value=timedelta(), max_value=MINUTE))
    return instant


def any_zone(instant, draw):
    return instant.astimezone(ZoneInfo(draw(st.sampled_from(ZONES))))


def later(moment, delta):
    # Arithmetic on aware datetimes of a zone is wall-clock arithmetic.
    return moment.astimezone(UTC) + delta


def minute_to_time(minute):
    if minute == 24 * 60:
        return END_OF_DAY
    return time(minute // 60, minute % 60)


# Around 02:00, where summer time usually starts and ends
MINUTES_OF_DAY = st.one_of(
    st.integers(0, 24 * 60), st.sampled_from([0, 90, 120, 150, 180, 24 * 60]))


@st.composite
def weekly_hours(draw):
    hours = {}
    for weekday in draw(st.sets(st.integers(0, 6), min_size=1)):
        count = draw(st.integers(1, 3))
        minutes = sorted(draw(st.lists(
            MINUTES_OF_DAY, min_size=2 * count, max_size=2 * count,
            unique=True)))
        hours[weekday] = [
            (minute_to_time(start), minute_to_time(end))
            for start, end in zip(minutes[::2], minutes[1::2], strict=True)]
    return hours


@st.composite
def scenarios(draw):
    "A working calendar and an instant, with days off around it"
    name = draw(st.sampled_from(ZONES))
    start = draw(instants(name))
    first_day = start.astimezone(ZoneInfo(name)).date()
    days_off = frozenset(
        first_day + timedelta(days=offset)
        for offset in draw(st.sets(st.integers(-3, 80), max_size=20)))
    calendar = WorkingCalendar(name, draw(weekly_hours()), days_off)
    return calendar, any_zone(start, draw)


def weekly_capacity(calendar):
    total = timedelta()
    for intervals in calendar.hours.values():
        for start, end in intervals:
            end = datetime.max.time() if end == END_OF_DAY else end
            total += (
                datetime.combine(date.min, end)
                - datetime.combine(date.min, start))
    return total


@st.composite
def durations(draw, calendar, positive=False):
    "Up to 60 days, and up to half a year of the calendar's working time"
    minimum = MICROSECOND if positive else timedelta()
    duration = draw(st.timedeltas(
        min_value=minimum, max_value=timedelta(days=60)))
    limit = 26 * weekly_capacity(calendar)
    if duration > limit:
        duration = max(duration % limit, minimum)
    return duration


ALWAYS = {
    name: weekly(name, EVERY_DAY, (time(0), END_OF_DAY)) for name in ZONES}


@PROPERTY
@given(st.data())
def test_add_then_between_gives_the_duration_back(data):
    calendar, start = data.draw(scenarios())
    duration = data.draw(durations(calendar))
    end = add_business_time(calendar, start, duration)
    assert end >= start
    assert business_time_between(calendar, start, end) == duration


@PROPERTY
@given(st.data())
def test_add_is_monotonic_in_duration(data):
    calendar, start = data.draw(scenarios())
    shorter, longer = sorted(
        (data.draw(durations(calendar)), data.draw(durations(calendar))))
    assert add_business_time(calendar, start, shorter) <= add_business_time(
        calendar, start, longer)


@PROPERTY
@given(st.data())
def test_between_is_additive_in_any_order(data):
    calendar, start = data.draw(scenarios())
    offsets = st.timedeltas(
        min_value=timedelta(days=-20), max_value=timedelta(days=20))
    a, b, c = (later(start, data.draw(offsets)) for _ in range(3))
    assert business_time_between(calendar, a, b) + business_time_between(
        calendar, b, c) == business_time_between(calendar, a, c)


@PROPERTY
@given(st.data())
def test_between_is_antisymmetric_and_positive_forwards(data):
    calendar, start = data.draw(scenarios())
    end = later(start, data.draw(st.timedeltas(
        min_value=timedelta(), max_value=timedelta(days=30))))
    forwards = business_time_between(calendar, start, end)
    assert timedelta() <= forwards <= end - start
    assert business_time_between(calendar, end, start) == -forwards


@PROPERTY
@given(st.data())
def test_add_lands_in_working_time_or_at_end_of_interval(data):
    calendar, start = data.draw(scenarios())
    result = add_business_time(
        calendar, start, data.draw(durations(calendar, positive=True)))
    assert any(
        begin < result <= finish for begin, finish in working_intervals(
            calendar, result - timedelta(days=2), result + timedelta(days=2)))
    # Away from offset changes, the wall clock just before the result must
    # read a working time.
    zone = calendar.zone
    offsets = {
        (result + shift).astimezone(zone).utcoffset()
        for shift in (timedelta(days=-2), timedelta(), timedelta(days=2))}
    if len(offsets) == 1:
        local = wall_clock(result - MICROSECOND, zone)
        assert local.date() not in calendar.days_off
        assert any(
            start <= local.time() and (
                end == END_OF_DAY or local.time() < end)
            for start, end in calendar.hours.get(local.weekday(), ()))


@PROPERTY
@given(st.data())
def test_24x7_add_and_between_are_wall_clock(data):
    name = data.draw(st.sampled_from(ZONES))
    start = any_zone(data.draw(instants(name)), data.draw)
    duration = data.draw(st.timedeltas(
        min_value=timedelta(), max_value=timedelta(days=60)))
    end = later(start, duration)
    assert add_business_time(ALWAYS[name], start, duration) == end
    assert business_time_between(ALWAYS[name], start, end) == end - start


@PROPERTY
@given(st.data())
def test_working_intervals_follow_wall_clock_away_from_dst(data):
    calendar, start = data.draw(scenarios())
    zone = calendar.zone
    day = start.astimezone(zone).date() + timedelta(
        days=data.draw(st.integers(-2, 10)))
    midnight, next_midnight = (
        datetime.combine(day + timedelta(days=n), time(), zone)
        for n in (0, 1))
    assume(len({
        datetime.combine(day + timedelta(days=n), time(12), zone).utcoffset()
        for n in (-1, 0, 1)} | {
        midnight.utcoffset(), next_midnight.utcoffset()}) == 1)
    expected = []
    if day not in calendar.days_off:
        for begin, finish in sorted(calendar.hours.get(day.weekday(), ())):
            if finish == END_OF_DAY:
                finish = next_midnight
            else:
                finish = datetime.combine(day, finish, zone)
            expected.append((datetime.combine(day, begin, zone), finish))
    assert list(working_intervals(calendar, midnight, next_midnight)) == (
        expected)


@PROPERTY
@given(st.data())
def test_working_intervals_are_ordered_disjoint_and_not_empty(data):
    calendar, start = data.draw(scenarios())
    end = later(start, data.draw(st.timedeltas(
        min_value=timedelta(), max_value=timedelta(days=30))))
    intervals = list(working_intervals(calendar, start, end))
    assert all(start <= b < f <= end for b, f in intervals)
    assert all(f1 <= b2 for (_, f1), (b2, _) in pairwise(intervals))


@PROPERTY
@given(st.data())
def test_local_to_utc_is_first_instant_showing_that_time(data):
    name = data.draw(st.sampled_from(ZONES))
    zone = ZoneInfo(name)
    local = wall_clock(data.draw(instants(name)), zone) + MINUTE * (
        data.draw(st.integers(-90, 90)))
    instant = local_to_utc(zone, local)
    assert wall_clock(instant, zone) >= local
    earlier = [instant - MICROSECOND] + [
        instant - n * MINUTE for n in range(1, 4 * 60)]
    assert all(wall_clock(e, zone) < local for e in earlier)


@st.composite
def clocks(draw, start, open_):
    "Running periods of an SLA clock from start, the last one maybe open"
    spans = st.timedeltas(min_value=timedelta(), max_value=timedelta(days=5))
    running = []
    moment = start.astimezone(UTC)
    for _ in range(draw(st.integers(1, 4))):
        begin = moment + draw(spans)
        moment = begin + draw(spans)
        running.append((begin, moment))
    if open_:
        running[-1] = (running[-1][0], None)
    return running


def after_last_change(running, draw):
    "A now at which the clock is in its last state, running or paused"
    begin, finish = running[-1]
    return later(finish or begin, draw(st.timedeltas(
        min_value=timedelta(), max_value=timedelta(days=10))))


@PROPERTY
@given(st.data())
def test_elapsed_is_sum_of_between_over_periods_clipped_to_now(data):
    calendar, start = data.draw(scenarios())
    running = data.draw(clocks(start, open_=data.draw(st.booleans())))
    now = later(start, data.draw(st.timedeltas(
        min_value=timedelta(days=-1), max_value=timedelta(days=50))))
    expected = timedelta()
    for begin, finish in running:
        finish = now if finish is None else min(finish, now)
        if begin < finish:
            expected += business_time_between(calendar, begin, finish)
    assert elapsed_business_time(calendar, running, now) == expected


@PROPERTY
@given(st.data())
def test_elapsed_is_business_time_since_first_start_less_pauses(data):
    calendar, start = data.draw(scenarios())
    running = data.draw(clocks(start, open_=data.draw(st.booleans())))
    now = after_last_change(running, data.draw)
    pauses = [
        (finish, begin)
        for (_, finish), (begin, _) in pairwise(running + [(now, None)])
        if finish is not None]
    paused = sum(
        (business_time_between(calendar, *pause) for pause in pauses),
        timedelta())
    assert elapsed_business_time(calendar, running, now) == (
        business_time_between(calendar, running[0][0], now) - paused)


@PROPERTY
@given(st.data())
def test_running_clock_reaches_target_exactly_at_due_date(data):
    calendar, start = data.draw(scenarios())
    running = data.draw(clocks(start, open_=True))
    now = after_last_change(running, data.draw)
    target = data.draw(durations(calendar))
    due = due_date(calendar, running, target, now)
    assert due is not None
    assert elapsed_business_time(calendar, running, due) == target
    if target:
        assert elapsed_business_time(
            calendar, running, due - MICROSECOND) < target


@PROPERTY
@given(st.data())
def test_paused_clock_has_due_date_only_once_reached(data):
    calendar, start = data.draw(scenarios())
    running = data.draw(clocks(start, open_=False))
    now = after_last_change(running, data.draw)
    target = data.draw(durations(calendar))
    due = due_date(calendar, running, target, now)
    if elapsed_business_time(calendar, running, now) < target:
        assert due is None
    else:
        assert due <= now
        assert elapsed_business_time(calendar, running, due) == target


@PROPERTY
@given(st.data())
def test_longer_target_never_gives_earlier_due_date(data):
    calendar, start = data.draw(scenarios())
    running = data.draw(clocks(start, open_=True))
    now = after_last_change(running, data.draw)
    shorter, longer = sorted(
        (data.draw(durations(calendar)), data.draw(durations(calendar))))
    assert due_date(calendar, running, shorter, now) <= due_date(
        calendar, running, longer, now)
