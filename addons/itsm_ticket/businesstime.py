# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Business-time arithmetic of the SLA engine.

Plain functions without database: the models turn their records into a
:class:`WorkingCalendar` and the periods the SLA clock ran, and ask here
when a target falls due or how much working time has elapsed.

Instants given to the functions must be timezone-aware, in any zone;
instants returned are in UTC. Durations are exact to the microsecond.

Working hours are local wall-clock times in the calendar's zone. Around a
daylight saving time change, a boundary at local time ``w`` of day ``D``
is the first instant at which the zone's clock shows ``D w`` or later
(:func:`local_to_utc`), so that:

- a boundary in the hour skipped in spring (02:30 in Warsaw) is the
  instant the clock jumps: the skipped minutes do not exist, so nobody
  works them; a night shift 00:00-06:00 has 5 hours on that night;
- a boundary in the hour repeated in autumn is its first occurrence, and
  the repeated hour is worked when an interval covers it: a night shift
  00:00-06:00 has 7 hours on that night, an interval 01:00-02:30 ends at
  the first 02:30.
"""
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    'END_OF_DAY', 'MAX_IDLE_DAYS', 'CalendarError', 'WorkingCalendar',
    'public_holidays', 'local_to_utc', 'working_intervals',
    'add_business_time', 'business_time_between', 'elapsed_business_time',
    'due_date',
]

# A datetime.time cannot say 24:00, and an interval ending at 00:00 would
# read as ending before it starts.
END_OF_DAY = time.max
"""Ends an interval at midnight (24:00), so that 24x7 is expressible."""

# Weekly hours guarantee working time within a week unless days off cover
# it; so long a stretch without any means the days off are wrong, and
# going on would only loop until the end of the date range.
MAX_IDLE_DAYS = 3653
"""Days without working time after which a search gives up (10 years)."""

_WEEKDAY_NAMES = (
    'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday',
    'Sunday')
_ONE_DAY = timedelta(days=1)
_ONE_SECOND = timedelta(seconds=1)
_ZERO = timedelta()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CalendarError(ValueError):
    "A working calendar that business time cannot be computed with"


def _format_time(value):
    if value == END_OF_DAY:
        return '24:00'
    if value.second or value.microsecond:
        return value.isoformat()
    return value.isoformat(timespec='minutes')


def _format_interval(interval):
    start, end = interval
    return f'{_format_time(start)}-{_format_time(end)}'


def _load_zone(key):
    try:
        return ZoneInfo(key)
    # ZoneInfo raises KeyError for an unknown key, ValueError for a
    # malformed one, TypeError for a non-string and OSError when the key
    # names a directory on some platforms.
    except (KeyError, ValueError, TypeError, OSError) as error:
        raise CalendarError(
            f'Unknown timezone {key!r} in the working calendar.') from error


@dataclass(frozen=True)
class WorkingCalendar:
    """When work happens: weekly hours in a zone, less the days off.

    ``hours`` maps a weekday (0 is Monday) to its working intervals as
    ``(start, end)`` local times, ``start < end``, not overlapping; an
    interval may end at :data:`END_OF_DAY`. A weekday missing or mapped to
    nothing has no working time. ``days_off`` are local dates without any
    working time (public holidays, company days off).
    """
    timezone: str
    hours: Mapping[int, Sequence[tuple[time, time]]]
    days_off: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return _load_zone(self.timezone)

    def check(self) -> None:
        "Raise CalendarError with the reason if the calendar is unusable"
        _load_zone(self.timezone)
        if not any(self.hours.values()):
            raise CalendarError('The working calendar has no working hours.')
        for weekday, intervals in self.hours.items():
            if not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise CalendarError(
                    f'Unknown weekday {weekday!r} in the working hours '
                    '(0 is Monday, 6 is Sunday).')
            name = _WEEKDAY_NAMES[weekday]
            for interval in intervals:
                if (len(interval) != 2
                        or not all(isinstance(t, time) for t in interval)):
                    raise CalendarError(
                        f'The working hours on {name} must be pairs of '
                        f'times (start, end), not {interval!r}.')
                if any(t.tzinfo is not None for t in interval):
                    raise CalendarError(
                        f'The working hours on {name} must be local times '
                        'without a timezone (the calendar has one).')
                start, end = interval
                if start >= end:
                    raise CalendarError(
                        f'The working interval {_format_interval(interval)} '
                        f'on {name} must start before it ends.')
            ordered = sorted(intervals)
            for before, after in pairwise(ordered):
                if after[0] < before[1]:
                    raise CalendarError(
                        f'The working intervals {_format_interval(before)} '
                        f'and {_format_interval(after)} on {name} overlap.')
        for day in self.days_off:
            # A datetime is a date but never equals one, so it would
            # silently not be a day off.
            if not isinstance(day, date) or isinstance(day, datetime):
                raise CalendarError(
                    f'The days off must be dates, not {day!r}.')


def public_holidays(
        country: str, years: Iterable[int],
        subdivision: str | None = None) -> frozenset[date]:
    """The public holidays of a country (ISO 3166-1 alpha-2 code) in years.

    ``subdivision`` is the region code for countries whose holidays differ
    by region (e.g. a state of the US); the dates are local dates.
    """
    try:
        calendar = holidays.country_holidays(
            country, subdiv=subdivision, years=tuple(years))
    except NotImplementedError as error:
        if subdivision is None:
            message = f'No public holidays are known for country {country!r}.'
        else:
            message = (
                f'No public holidays are known for subdivision '
                f'{subdivision!r} of country {country!r}.')
        raise CalendarError(message) from error
    return frozenset(calendar)


def _as_utc(moment, name):
    if not isinstance(moment, datetime):
        raise TypeError(f'{name} must be a datetime, not {moment!r}')
    if moment.utcoffset() is None:
        raise ValueError(f'{name} must be timezone-aware: {moment!r}')
    return moment.astimezone(UTC)


def _wall_clock(instant, zone):
    return instant.astimezone(zone).replace(tzinfo=None)


def local_to_utc(zone: tzinfo, local: datetime) -> datetime:
    """The first instant at which the clock of ``zone`` shows ``local``.

    ``local`` is a naive wall-clock time. When it does not exist (skipped
    by a change to summer time) the result is the instant of the change,
    the first one at which the clock shows a later time. When it exists
    twice (repeated by a change to winter time) it is its first occurrence.
    """
    if local.tzinfo is not None:
        raise ValueError(f'local must be a naive wall-clock time: {local!r}')
    local = local.replace(fold=0)
    # PEP 495: fold=0 reads an ambiguous time as its first occurrence and a
    # skipped time with the offset before the change, i.e. past the gap.
    instant = local.replace(tzinfo=zone).astimezone(UTC)
    if _wall_clock(instant, zone) == local:
        return instant
    # In a gap: the change happened between the two readings of local.
    before = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low = (before - _EPOCH) // _ONE_SECOND
    high = -((_EPOCH - instant) // _ONE_SECOND)
    # zoneinfo changes offsets at whole seconds, so bisecting seconds finds
    # the change exactly.
    while high - low > 1:
        middle = (low + high) // 2
        if _wall_clock(_EPOCH + middle * _ONE_SECOND, zone) >= local:
            high = middle
        else:
            low = middle
    return _EPOCH + high * _ONE_SECOND


def _day_intervals(calendar, zone, day):
    if day in calendar.days_off:
        return []
    intervals = []
    for start, end in sorted(calendar.hours.get(day.weekday(), ())):
        begin = local_to_utc(zone, datetime.combine(day, start))
        if end == END_OF_DAY:
            end = datetime.combine(day + _ONE_DAY, time())
        else:
            end = datetime.combine(day, end)
        finish = local_to_utc(zone, end)
        # A change to summer time may swallow an interval.
        if begin < finish:
            intervals.append((begin, finish))
    return intervals


def _intervals(calendar, start, end):
    zone = calendar.zone
    # No interval of an earlier day ends after start: they end at the
    # latest when the clock first shows the day of start.
    day = start.astimezone(zone).date()
    if end is None:
        last_day = None
    else:
        # A change to winter time that repeats the minutes around midnight
        # shows the day before again after the next day began.
        last_day = end.astimezone(zone).date() + _ONE_DAY
    idle_since = None
    while last_day is None or day <= last_day:
        try:
            intervals = _day_intervals(calendar, zone, day)
            next_day = day + _ONE_DAY
        except OverflowError as error:
            raise CalendarError(
                'The working calendar has no working time before the end of '
                'the supported dates.') from error
        if intervals:
            idle_since = None
        elif end is None:
            if idle_since is None:
                idle_since = day
            elif (day - idle_since).days >= MAX_IDLE_DAYS:
                raise CalendarError(
                    'The working calendar has no working time in the '
                    f'{MAX_IDLE_DAYS} days from {idle_since:%Y-%m-%d} '
                    '(are all the working days off?).')
        for begin, finish in intervals:
            if end is not None and begin >= end:
                return
            if finish <= start:
                continue
            if end is not None:
                finish = min(finish, end)
            yield max(begin, start), finish
        day = next_day


def working_intervals(
        calendar: WorkingCalendar, start: datetime,
        end: datetime | None = None) -> Iterator[tuple[datetime, datetime]]:
    """The working time from ``start`` (until ``end``) as UTC intervals.

    Yields ``(begin, finish)`` pairs in order, clipped to ``[start, end)``,
    one per working interval of a day (intervals touching at midnight are
    not merged). Without ``end`` it goes on forever, and raises
    CalendarError after :data:`MAX_IDLE_DAYS` days without working time.
    """
    calendar.check()
    start = _as_utc(start, 'start')
    if end is not None:
        end = _as_utc(end, 'end')
        if end <= start:
            return iter(())
    return _intervals(calendar, start, end)


def add_business_time(
        calendar: WorkingCalendar, start: datetime,
        duration: timedelta) -> datetime:
    """When ``duration`` of working time after ``start`` has elapsed.

    The earliest such instant: the end of an interval rather than the
    start of the next one. A zero duration gives ``start`` itself, even
    outside working hours. Raises CalendarError when the calendar has no
    working time for :data:`MAX_IDLE_DAYS` days.
    """
    if duration < _ZERO:
        raise ValueError(f'The duration must not be negative: {duration}')
    calendar.check()
    start = _as_utc(start, 'start')
    if not duration:
        return start
    remaining = duration
    for begin, finish in _intervals(calendar, start, None):
        available = finish - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise AssertionError('the walk without end stopped')


def business_time_between(
        calendar: WorkingCalendar, start: datetime,
        end: datetime) -> timedelta:
    """The working time in ``[start, end)``.

    When ``end`` is before ``start`` it is the negative of the working time
    in ``[end, start)``, so that spans add up in any order.
    """
    calendar.check()
    start = _as_utc(start, 'start')
    end = _as_utc(end, 'end')
    if end < start:
        return -business_time_between(calendar, end, start)
    return sum(
        (finish - begin for begin, finish in _intervals(calendar, start, end)),
        _ZERO)


def _running_periods(running):
    periods = []
    for begin, finish in running:
        begin = _as_utc(begin, 'the start of a running period')
        if finish is not None:
            finish = _as_utc(finish, 'the end of a running period')
            if finish < begin:
                raise ValueError(
                    f'A running period ends before it starts: {begin} to '
                    f'{finish}')
        periods.append((begin, finish))
    periods.sort(key=lambda period: period[0])
    for (_, finish), (begin, _) in pairwise(periods):
        if finish is None:
            raise ValueError('Only the last running period may be open.')
        if finish > begin:
            raise ValueError(
                f'Running periods overlap: one ends at {finish}, the next '
                f'starts at {begin}.')
    return periods


def elapsed_business_time(
        calendar: WorkingCalendar,
        running: Sequence[tuple[datetime, datetime | None]],
        now: datetime) -> timedelta:
    """The working time the SLA clock has counted by ``now``.

    ``running`` are the periods the clock ran, in any order and not
    overlapping; the last one may end with None: it runs until ``now``.
    Periods are clipped to ``now``. The gaps between them are pauses.
    """
    calendar.check()
    now = _as_utc(now, 'now')
    elapsed = _ZERO
    for begin, finish in _running_periods(running):
        finish = now if finish is None else min(finish, now)
        if begin < finish:
            elapsed += business_time_between(calendar, begin, finish)
    return elapsed


def due_date(
        calendar: WorkingCalendar,
        running: Sequence[tuple[datetime, datetime | None]],
        target: timedelta, now: datetime) -> datetime | None:
    """The instant at which the SLA clock reaches ``target``.

    ``running`` and ``now`` are as for :func:`elapsed_business_time`. When
    the target was reached by ``now`` this is the exact past instant (the
    breach); when the clock runs it is the future instant it will be
    reached, which does not depend on ``now``; when the clock is paused and
    has not reached it, None. The clock never depends on the target, so a
    new target (a new priority) just gives a new due date.
    """
    if target < _ZERO:
        raise ValueError(f'The target must not be negative: {target}')
    calendar.check()
    now = _as_utc(now, 'now')
    elapsed = _ZERO
    for begin, finish in _running_periods(running):
        if finish is None:
            return add_business_time(calendar, begin, target - elapsed)
        finish = min(finish, now)
        if begin < finish:
            span = business_time_between(calendar, begin, finish)
        else:
            span = _ZERO
        if elapsed + span >= target:
            return add_business_time(calendar, begin, target - elapsed)
        elapsed += span
    return None
