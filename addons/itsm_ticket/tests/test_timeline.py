# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"The activity log's diffing and formatting, as pure functions"
import datetime as dt
from decimal import Decimal

import pytest

from itsm_ticket import timeline

FIELDS = {
    'subject': {'string': "Subject", 'type': 'char'},
    'description': {'string': "Description", 'type': 'text'},
    'state': {'string': "State", 'type': 'selection', 'selection': [
            ('new', "New"), ('assigned', "Assigned")]},
    'priority': {'string': "Priority", 'type': 'selection', 'selection': [
            ('2', "High"), ('3', "Medium")]},
    'assignee': {
        'string': "Assignee", 'type': 'many2one', 'relation': 'res.user'},
    'priority_manual': {'string': "Manual Priority", 'type': 'boolean'},
    'escalation_level': {'string': "Escalation Level", 'type': 'integer'},
    'window_start': {'string': "Window Start", 'type': 'datetime'},
    }
NAMES = {('res.user', 7): "Adam Nowicki", ('res.user', 8): "Marta"}


def revision(**values):
    base = {
        '__id': 1, 'id': 12, 'create_uid': 1, 'write_uid': None,
        'create_date': dt.datetime(2026, 3, 2, 9), 'write_date': None,
        'subject': "Printer", 'description': None, 'state': 'new',
        'priority': '3', 'assignee': None, 'priority_manual': False,
        'escalation_level': 0, 'window_start': None,
        }
    base.update(values)
    return base


def test_activity_ids_split_back():
    for source_id in [1, 2, 10**12]:
        for arm in range(timeline.ARMS):
            assert timeline.split_activity_id(
                timeline.activity_id(source_id, arm)) == (source_id, arm)


def test_ids_of_two_sources_never_meet():
    ids = {timeline.activity_id(s, a)
        for s in range(1, 200) for a in range(timeline.ARMS)}
    assert len(ids) == 199 * timeline.ARMS


def test_diff_gives_the_changed_fields_in_order():
    before = revision()
    after = revision(
        __id=2, write_uid=7, write_date=dt.datetime(2026, 3, 2, 10),
        state='assigned', assignee=7, subject="Printer")
    assert timeline.diff_revisions(
        before, after, ['assignee', 'state', 'subject']) == [
        ('assignee', None, 7), ('state', 'new', 'assigned')]


def test_diff_ignores_bookkeeping():
    before = revision()
    after = revision(__id=2, write_uid=7, write_date=dt.datetime.now())
    assert timeline.diff_revisions(before, after, list(after)) == []


def test_empty_values_are_no_change():
    "A column added later is None in older revisions, '' or False later"
    before = revision(description=None, priority_manual=None)
    after = revision(description='', priority_manual=False)
    assert timeline.diff_revisions(
        before, after, ['description', 'priority_manual']) == []


def test_a_field_emptied_is_a_change():
    before = revision(assignee=7)
    after = revision(assignee=None)
    assert timeline.diff_revisions(before, after, ['assignee']) == [
        ('assignee', 7, None)]


def test_creation_lists_what_was_set():
    created = revision()
    assert timeline.diff_revisions(None, created, list(FIELDS)) == [
        ('subject', None, "Printer"), ('state', None, 'new'),
        ('priority', None, '3')]


@pytest.mark.parametrize('value, field, text', [
        (None, FIELDS['assignee'], timeline.EMPTY),
        ('', FIELDS['subject'], timeline.EMPTY),
        (7, FIELDS['assignee'], "Adam Nowicki"),
        (9, FIELDS['assignee'], "#9"),
        ('assigned', FIELDS['state'], "Assigned"),
        ('gone', FIELDS['state'], "gone"),
        (True, FIELDS['priority_manual'], timeline.CHECKED),
        (0, FIELDS['priority_manual'], timeline.UNCHECKED),
        (None, FIELDS['priority_manual'], timeline.UNCHECKED),
        (2, FIELDS['escalation_level'], "2"),
        (Decimal('1.50'), {'type': 'numeric'}, "1.50"),
        (dt.datetime(2026, 3, 2, 22, 5, 7), FIELDS['window_start'],
            "2026-03-02 22:05"),
        (dt.date(2026, 3, 2), {'type': 'date'}, "2026-03-02"),
        (dt.timedelta(minutes=95), {'type': 'timedelta'}, "1:35"),
        ('res.user,8', {'type': 'reference'}, "Marta"),
        ('res.user,x', {'type': 'reference'}, "res.user,x"),
        ("two\nlines", FIELDS['description'], "two lines"),
        ])
def test_format_value(value, field, text):
    assert timeline.format_value(value, field, NAMES) == text


def test_format_value_in_the_readers_format():
    assert timeline.format_value(
        dt.datetime(2026, 3, 2, 22, 5), FIELDS['window_start'],
        format_datetime=lambda v: v.strftime('%d.%m.%Y %H:%M')) == (
        "02.03.2026 22:05")
    assert timeline.format_value(
        dt.date(2026, 3, 2), {'type': 'date'},
        format_date=lambda v: v.strftime('%d.%m.%Y')) == "02.03.2026"


@pytest.mark.parametrize('minutes, text', [
        (0, "0:00"), (5, "0:05"), (60, "1:00"), (90, "1:30"),
        (25 * 60 + 1, "25:01"), (-30, "-0:30")])
def test_format_duration(minutes, text):
    assert timeline.format_duration(dt.timedelta(minutes=minutes)) == text


def test_format_duration_rounds_to_the_minute():
    assert timeline.format_duration(dt.timedelta(seconds=89)) == "0:01"
    assert timeline.format_duration(dt.timedelta(seconds=91)) == "0:02"
    # SQLite sums intervals as seconds
    assert timeline.format_duration(5400.0) == "1:30"


def test_shorten():
    assert timeline.shorten("  a\n b  ") == "a b"
    text = timeline.shorten("word " * 40, width=20)
    assert len(text) == 20 and text.endswith("…")


def test_describe_changes():
    changes = [('assignee', None, 7), ('state', 'new', 'assigned')]
    assert timeline.describe_changes(changes, FIELDS, NAMES) == (
        "Assignee: — → Adam Nowicki; State: New → Assigned")


def test_describe_values_of_a_creation():
    changes = timeline.diff_revisions(
        None, revision(assignee=8), ['subject', 'assignee', 'state'])
    assert timeline.describe_values(changes, FIELDS, NAMES) == (
        "Subject: Printer; Assignee: Marta; State: New")


def test_unknown_fields_show_their_name():
    assert timeline.describe_changes([('risk', None, 'low')], {}) == (
        "risk: — → low")


def test_order_fields():
    names = ['subject', 'assignee', 'state', 'description']
    assert timeline.order_fields(names, FIELDS, first=['state']) == [
        'state', 'assignee', 'description', 'subject']


def test_join_parts_skips_the_empty_ones():
    assert timeline.join_parts("1:30", None, "", "Laptop") == "1:30 · Laptop"
