# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The activity log of a ticket, as plain functions without database.

Tryton keeps every revision of a ticket in its history table (``_history``):
full rows, in the order they were written. The activity log shows, for each
revision, what changed since the one before, in words a person reads: field
labels, selection labels and record names instead of codes and ids. The
model (activity.py) reads the rows, the labels and the names in a few
queries and asks here for the text.

Fields are described as ``fields_get`` describes them (``string``, ``type``,
``selection``, ``relation``), so that the labels come translated.
"""
import datetime as dt
from decimal import Decimal

__all__ = [
    'ARMS', 'BOOKKEEPING', 'EMPTY', 'activity_id', 'split_activity_id',
    'diff_revisions', 'order_fields', 'shorten', 'format_duration',
    'format_value', 'describe_changes', 'describe_values', 'join_parts',
    ]

EMPTY = "—"
ARROW = "→"
CHECKED, UNCHECKED = "☑", "☐"
SEPARATOR = "; "
PART_SEPARATOR = " · "
WIDTH = 80

# What Tryton writes on every row: it tells who and when, not what changed.
BOOKKEEPING = frozenset({
        '__id', 'id', 'create_uid', 'create_date', 'write_uid', 'write_date'})

# An activity is one row of one of several sources (a revision, a note, a
# message...): its id is the id of its row in its source and the source.
ARMS = 8


def activity_id(source_id, arm):
    "The id of the activity of the row source_id of the source arm"
    assert 0 <= arm < ARMS
    return source_id * ARMS + arm


def split_activity_id(id_):
    "The (row id, source) of an activity id"
    return divmod(id_, ARMS)


def _blank(value):
    return value is None or value == '' or value is False


def _same(old, new):
    # A column added later is None in the older revisions: None and an
    # empty value are no change.
    if _blank(old) and _blank(new):
        return True
    return old == new


def _nothing(value):
    "A value a new record holds when nobody set it"
    if _blank(value):
        return True
    return (isinstance(value, (int, float, Decimal))
        and not isinstance(value, bool) and value == 0)


def diff_revisions(previous, current, names):
    """The changes from one revision of a record to the next.

    Revisions are mappings of field names to values; names tells which
    fields to compare and in which order. Returns [(name, old, new)]. For
    the revision that created the record, previous is None and the changes
    are the fields that were given a value.
    """
    changes = []
    for name in names:
        if name in BOOKKEEPING:
            continue
        new = current.get(name)
        if previous is None:
            if not _nothing(new):
                changes.append((name, None, new))
            continue
        old = previous.get(name)
        if not _same(old, new):
            changes.append((name, old, new))
    return changes


def order_fields(names, fields, first=()):
    "The names in first's order, then the others by label"
    rank = {name: i for i, name in enumerate(first)}
    return sorted(names, key=lambda n: (
            rank.get(n, len(rank)),
            (fields.get(n) or {}).get('string') or n,
            n))


def shorten(text, width=WIDTH):
    "The text on one line, cut at width with an ellipsis"
    text = ' '.join(str(text).split())
    if len(text) <= width:
        return text
    return text[:width - 1].rstrip() + "…"


def format_duration(duration):
    "A duration as hours and minutes, 1:05; rounded to the minute"
    if duration is None:
        return EMPTY
    if not isinstance(duration, dt.timedelta):
        duration = dt.timedelta(seconds=float(duration))
    minutes = round(duration.total_seconds() / 60)
    sign = "-" if minutes < 0 else ""
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours}:{minutes:02d}"


def format_value(
        value, field, names=None, format_datetime=None, format_date=None,
        width=WIDTH):
    """A value of the field as a person reads it.

    names maps (model, id) to the name of a record; format_datetime and
    format_date format instants and days in the reader's language and
    zone (ISO-like by default).
    """
    type_ = field.get('type')
    if type_ == 'boolean':
        return CHECKED if value else UNCHECKED
    if value is None or value == '':
        return EMPTY
    if type_ == 'selection':
        selection = field.get('selection')
        if isinstance(selection, (list, tuple)):
            return str(dict(selection).get(value, value))
        return str(value)
    if type_ in {'many2one', 'one2one'}:
        return (names or {}).get(
            (field.get('relation'), value), f"#{value}")
    if type_ == 'reference':
        model, _, id_ = str(value).partition(',')
        try:
            id_ = int(id_)
        except ValueError:
            return str(value)
        return (names or {}).get((model, id_), f"{model} #{id_}")
    if type_ in {'datetime', 'timestamp'} and isinstance(
            value, dt.datetime):
        if format_datetime:
            return format_datetime(value)
        return value.strftime('%Y-%m-%d %H:%M')
    if type_ == 'date' and isinstance(value, dt.date):
        if format_date:
            return format_date(value)
        return value.isoformat()
    if type_ == 'timedelta':
        return format_duration(value)
    if type_ in {'char', 'text'}:
        return shorten(value, width)
    return shorten(value, width)


def _label(name, fields):
    return (fields.get(name) or {}).get('string') or name


def describe_changes(changes, fields, names=None, **formats):
    "Changes as 'Label: old → new; Label: old → new'"
    return SEPARATOR.join(
        f"{_label(name, fields)}: "
        f"{format_value(old, fields.get(name) or {}, names, **formats)} "
        f"{ARROW} "
        f"{format_value(new, fields.get(name) or {}, names, **formats)}"
        for name, old, new in changes)


def describe_values(changes, fields, names=None, **formats):
    "The values a record was created with, as 'Label: value; Label: value'"
    return SEPARATOR.join(
        f"{_label(name, fields)}: "
        f"{format_value(new, fields.get(name) or {}, names, **formats)}"
        for name, _, new in changes)


def join_parts(*parts):
    "The parts that have something to say, as 'a · b · c'"
    return PART_SEPARATOR.join(str(p) for p in parts if p not in {None, ''})
