# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The Activity Log of a ticket: who did what and when, newest first.

Nothing is stored twice: the log is a view (``table_query``) over what
Tryton and the ticket's parts already keep:

- the ticket's history table (``_history``): one entry per revision, the
  first one being the creation; what changed (old and new values) is the
  difference with the revision before;
- the notes, the messages of the conversation, the time logged and the
  tasks, by their creation;
- ``ir.model.log``: the transitions of the tasks (started, done...).

The ticket's own entries of ``ir.model.log`` (buttons, transitions) are not
read: every button writes the ticket, so its history already tells who
changed what, with the values before and after.

Searching the log of one ticket runs one query, whose filter on the ticket
reaches each source's index; the text of the entries read takes a few more
(the revisions of the tickets, the names of the records they point to, the
notes, messages, lines and tasks). Nothing is computed for other tickets.
"""
import datetime as dt
from collections import defaultdict
from zoneinfo import ZoneInfo

from sql import Cast, Column, Literal, Null, Union
from sql.aggregate import Max
from sql.conditionals import Case, Coalesce
from sql.operators import Concat, Or
from trytond.backend import MAX_QUERY_PARAMS
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import (
    Transaction,
    inactive_records,
    without_check_access,
)

from . import timeline

# The sources of the entries, each with its place in the entries' ids.
REVISION, NOTE, MESSAGE, TIME, TASK, TASK_STATE = range(6)

KINDS = [
    ('created', "Created"),
    ('transition', "State"),
    ('assignment', "Assignment"),
    ('change', "Change"),
    ('note', "Note"),
    ('message', "Message"),
    ('time', "Time Logged"),
    ('task', "Task Added"),
    ('task_state', "Task State"),
    ]

# The ticket's fields a requester may read in the log: the entries that
# change them are public, and they are all a requester sees of them.
PUBLIC_FIELDS = {'state'}
# What the creation of a ticket tells a requester.
PUBLIC_CREATION_FIELDS = {'type', 'subject', 'state', 'channel'}
# The order of the fields in an entry; the others follow by label.
FIRST_FIELDS = [
    'type', 'number', 'subject', 'state', 'pending_reason', 'priority',
    'impact', 'urgency', 'category', 'channel', 'requester',
    'requester_email', 'customer', 'team', 'assignee', 'location',
    ]
# Kept up to date by the SLA engine from other fields: their changes say
# nothing that the log does not tell otherwise (breaches and the policy
# stay in it).
DERIVED_FIELDS = {
    'response_target', 'resolution_target', 'response_due',
    'resolution_due', 'sla_next_due', 'sla_next_warning', 'sla_warned',
    'first_response_at',
    }
_CONTEXT_KEY = '_itsm_activity_sources'


class Activity(ModelSQL, ModelView):
    "An entry of the activity log of a ticket"
    __name__ = 'itsm.ticket.activity'
    __string__ = "Ticket Activity"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, readonly=True)
    date = fields.DateTime("Date", readonly=True)
    user = fields.Many2One('res.user', "User", readonly=True)
    kind = fields.Selection(KINDS, "Kind", readonly=True, sort=False)
    public = fields.Boolean(
        "Public", readonly=True,
        help="The requester may see the entry.")
    description = fields.Function(
        fields.Char("Description"), 'get_description')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # Whoever may not see a ticket may not see its log.
        cls.__access__.add('ticket')
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def order_date(cls, tables):
        # What one transaction writes has one date: a ticket created with
        # its first message (from an email) shows its creation first.
        table, _ = tables[None]
        return [table.date, Case((table.kind == 'created', 0), else_=1)]

    @classmethod
    def read(cls, ids, fields_names):
        # An entry's id is computed from its source row's: filtering the
        # view by it would read every source whole. Give each source the
        # rows to read instead, through their indexes.
        sources = defaultdict(list)
        for id_ in ids:
            source_id, arm = timeline.split_activity_id(int(id_))
            sources[arm].append(source_id)
        with Transaction().set_context(
                {_CONTEXT_KEY: {a: tuple(s) for a, s in sources.items()}}):
            return super().read(ids, fields_names)

    @classmethod
    def table_query(cls):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Note = pool.get('itsm.ticket.note')
        Message = pool.get('itsm.ticket.message')
        Line = pool.get('timesheet.line')
        Task = pool.get('itsm.ticket.task')
        Log = pool.get('ir.model.log')
        sources = Transaction().context.get(_CONTEXT_KEY)

        def only(arm, column):
            if sources is None:
                return Literal(True)
            ids = sources.get(arm)
            if not ids:
                return Literal(False)
            return fields.SQL_OPERATORS['in'](column, list(ids))

        def id_(column, arm):
            return (Cast(column, 'BIGINT') * timeline.ARMS + arm).as_('id')

        history = Ticket.__table_history__()
        previous = Ticket.__table_history__()
        before = Ticket.__table_history__()
        revision = Column(history, '__id')
        last_before = before.select(
            Max(Column(before, '__id')),
            where=(before.id == history.id)
            & (Column(before, '__id') < revision))
        created = Column(previous, '__id') == Null
        transition = history.state != previous.state
        assignment = (
            (Coalesce(history.assignee, 0) != Coalesce(previous.assignee, 0))
            | (Coalesce(history.team, 0) != Coalesce(previous.team, 0)))
        revisions = history.join(
            previous, 'LEFT',
            condition=Column(previous, '__id') == last_before,
            ).select(
            id_(revision, REVISION),
            history.id.as_('ticket'),
            Coalesce(history.write_date, history.create_date).as_('date'),
            Coalesce(history.write_uid, history.create_uid).as_('user'),
            Case(
                (created, 'created'),
                (transition, 'transition'),
                (assignment, 'assignment'),
                else_='change').as_('kind'),
            Case(
                (created | transition, Literal(True)),
                else_=Literal(False)).as_('public'),
            # The deletion of a ticket leaves a row without creation; a
            # ticket saved for its notes, tasks or time alone is unchanged.
            where=(history.create_date != Null)
            & (created | cls._changed(Ticket, history, previous))
            & only(REVISION, revision))

        note = Note.__table__()
        notes = note.select(
            id_(note.id, NOTE),
            note.ticket.as_('ticket'),
            note.create_date.as_('date'),
            Coalesce(note.author, note.create_uid).as_('user'),
            Literal('note').as_('kind'),
            Case(
                (note.visibility == 'public', Literal(True)),
                else_=Literal(False)).as_('public'),
            where=only(NOTE, note.id))

        message = Message.__table__()
        messages = message.select(
            id_(message.id, MESSAGE),
            message.ticket.as_('ticket'),
            message.date.as_('date'),
            message.author.as_('user'),
            Literal('message').as_('kind'),
            # The conversation is with the requester.
            Literal(True).as_('public'),
            where=only(MESSAGE, message.id))

        line = Line.__table__()
        lines = line.select(
            id_(line.id, TIME),
            line.ticket.as_('ticket'),
            line.create_date.as_('date'),
            line.create_uid.as_('user'),
            Literal('time').as_('kind'),
            Literal(False).as_('public'),
            where=(line.ticket != Null) & only(TIME, line.id))

        task = Task.__table__()
        tasks = task.select(
            id_(task.id, TASK),
            task.ticket.as_('ticket'),
            task.create_date.as_('date'),
            task.create_uid.as_('user'),
            Literal('task').as_('kind'),
            Literal(False).as_('public'),
            where=only(TASK, task.id))

        log = Log.__table__()
        task_of_log = Task.__table__()
        task_states = log.join(
            task_of_log,
            condition=log.resource == Concat(
                Task.__name__ + ',', Cast(task_of_log.id, 'VARCHAR')),
            ).select(
            id_(log.id, TASK_STATE),
            task_of_log.ticket.as_('ticket'),
            log.create_date.as_('date'),
            log.user.as_('user'),
            Literal('task_state').as_('kind'),
            Literal(False).as_('public'),
            where=(log.event == 'transition')
            & only(TASK_STATE, log.id))

        return Union(
            revisions, notes, messages, lines, tasks, task_states,
            all_=True)

    @classmethod
    def _changed(cls, Model, new, old):
        "SQL: whether a column of the model differs from new to old"
        changed = []
        for name, field in Model._fields.items():
            if (not field.sql_type() or isinstance(field, fields.Function)
                    or name in timeline.BOOKKEEPING
                    or name in DERIVED_FIELDS):
                continue
            new_value, old_value = Column(new, name), Column(old, name)
            # Empty is no change, as in timeline.diff_revisions
            if field._type in {'char', 'text', 'selection'}:
                new_value = Coalesce(new_value, '')
                old_value = Coalesce(old_value, '')
            elif field._type == 'boolean':
                new_value = Coalesce(new_value, False)
                old_value = Coalesce(old_value, False)
            else:
                changed.append(Case(
                        ((new_value == Null) & (old_value == Null),
                            Literal(False)),
                        ((new_value == Null) | (old_value == Null),
                            Literal(True)),
                        else_=new_value != old_value))
                continue
            changed.append(new_value != old_value)
        return Or(changed)

    @classmethod
    def get_description(cls, activities, name):
        by_arm = defaultdict(list)
        for activity in activities:
            source_id, arm = timeline.split_activity_id(activity.id)
            by_arm[arm].append(source_id)
        public_only = not cls._reader_is_agent()
        describers = {
            REVISION: cls._describe_revisions,
            NOTE: cls._describe_notes,
            MESSAGE: cls._describe_messages,
            TIME: cls._describe_lines,
            TASK: cls._describe_tasks,
            TASK_STATE: cls._describe_task_states,
            }
        descriptions = {}
        with without_check_access(), inactive_records():
            for arm, source_ids in by_arm.items():
                for source_id, text in describers[arm](
                        source_ids, public_only).items():
                    descriptions[timeline.activity_id(source_id, arm)] = text
        return {a.id: descriptions.get(a.id, '') for a in activities}

    @classmethod
    def _reader_is_agent(cls):
        "Whether who reads may see everything, private notes included"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        if not Transaction().user:
            return True
        return ModelData.get_id('itsm_ticket', 'group_agent') in (
            User.get_groups())

    @classmethod
    def _formats(cls):
        "How the reader writes instants and days"
        pool = Pool()
        Lang = pool.get('ir.lang')
        lang = Lang.get()
        zone = Transaction().context.get('timezone')
        try:
            zone = ZoneInfo(zone) if zone else None
        except (KeyError, ValueError):
            zone = None

        def format_datetime(value):
            if zone:
                value = value.replace(tzinfo=dt.UTC).astimezone(zone)
            return lang.strftime(value, lang.date + ' %H:%M')

        def format_date(value):
            return lang.strftime(value)
        return {
            'format_datetime': format_datetime,
            'format_date': format_date,
            }

    @classmethod
    def _names(cls, references):
        "{(model, id): name} of the records, '#id' for the deleted ones"
        pool = Pool()
        by_model = defaultdict(set)
        for model, id_ in references:
            by_model[model].add(id_)
        names = {}
        for model, ids in by_model.items():
            Model = pool.get(model)
            for sub_ids in grouped_slice(sorted(ids), MAX_QUERY_PARAMS):
                records = Model.search(
                    [('id', 'in', list(sub_ids))], order=[])
                names.update(((model, r.id), r.rec_name) for r in records)
        return names

    @classmethod
    def _describe_revisions(cls, revision_ids, public_only):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        cursor = Transaction().connection.cursor()
        names = [n for n, f in Ticket._fields.items()
            if f.sql_type() and not isinstance(f, fields.Function)
            and n not in timeline.BOOKKEEPING
            and n not in DERIVED_FIELDS]
        fields_ = Ticket.fields_get(names)
        names = timeline.order_fields(
            [n for n in names if n in fields_], fields_, FIRST_FIELDS)

        history = Ticket.__table_history__()
        wanted = Ticket.__table_history__()
        rows = defaultdict(list)
        for sub_ids in grouped_slice(revision_ids, MAX_QUERY_PARAMS):
            tickets = wanted.select(
                wanted.id,
                where=fields.SQL_OPERATORS['in'](
                    Column(wanted, '__id'), list(sub_ids)))
            cursor.execute(*history.select(
                    Column(history, '__id'), history.id,
                    history.create_date,
                    *(Column(history, n) for n in names),
                    where=history.id.in_(tickets),
                    order_by=[history.id, Column(history, '__id')]))
            columns = [c[0] for c in cursor.description]
            for row in cursor:
                row = dict(zip(columns, row, strict=True))
                rows[row['id']].append(row)

        wanted_ids = set(revision_ids)
        changes = {}
        for revisions in rows.values():
            previous = None
            for revision in revisions:
                if revision['create_date'] is None:
                    # The row of the ticket's deletion
                    continue
                if revision['__id'] in wanted_ids:
                    shown = names
                    if public_only:
                        shown = [n for n in names if n in (
                                PUBLIC_CREATION_FIELDS if previous is None
                                else PUBLIC_FIELDS)]
                    changes[revision['__id']] = (
                        previous is None,
                        timeline.diff_revisions(previous, revision, shown))
                previous = revision

        references = {
            (fields_[n]['relation'], v)
            for _, diff in changes.values()
            for n, old, new in diff
            if fields_[n]['type'] == 'many2one'
            for v in (old, new) if v is not None}
        record_names = cls._names(references)
        formats = cls._formats()
        descriptions = {}
        for revision_id, (created, diff) in changes.items():
            describe = (timeline.describe_values if created
                else timeline.describe_changes)
            descriptions[revision_id] = describe(
                diff, fields_, record_names, **formats)
        return descriptions

    @classmethod
    def _describe_notes(cls, note_ids, public_only):
        pool = Pool()
        Note = pool.get('itsm.ticket.note')
        visibilities = dict(
            Note.fields_get(['visibility'])['visibility']['selection'])
        descriptions = {}
        for note in Note.browse(note_ids):
            if public_only and note.visibility != 'public':
                continue
            descriptions[note.id] = timeline.join_parts(
                visibilities.get(note.visibility, note.visibility),
                timeline.shorten(note.body or ''))
        return descriptions

    @classmethod
    def _describe_messages(cls, message_ids, public_only):
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        directions = dict(
            Message.fields_get(['direction'])['direction']['selection'])
        descriptions = {}
        for message in Message.browse(message_ids):
            if message.direction == 'inbound':
                who = (message.party.rec_name if message.party
                    else message.from_address)
            else:
                who = message.to_addresses
            descriptions[message.id] = timeline.join_parts(
                directions.get(message.direction, message.direction), who,
                timeline.shorten(message.subject or message.body or ''))
        return descriptions

    @classmethod
    def _describe_lines(cls, line_ids, public_only):
        pool = Pool()
        Line = pool.get('timesheet.line')
        descriptions = {}
        for line in Line.browse(line_ids):
            descriptions[line.id] = timeline.join_parts(
                timeline.format_duration(line.duration),
                line.employee.rec_name if line.employee else None,
                line.ticket_stage_string,
                line.ticket_task.rec_name if line.ticket_task else None,
                timeline.shorten(line.description or ''))
        return descriptions

    @classmethod
    def _describe_tasks(cls, task_ids, public_only):
        pool = Pool()
        Task = pool.get('itsm.ticket.task')
        return {
            task.id: timeline.join_parts(
                task.name,
                task.assignee.rec_name if task.assignee else None)
            for task in Task.browse(task_ids)}

    @classmethod
    def _describe_task_states(cls, log_ids, public_only):
        pool = Pool()
        Log = pool.get('ir.model.log')
        Task = pool.get('itsm.ticket.task')
        states = dict(Task.fields_get(['state'])['state']['selection'])
        descriptions = {}
        for log in Log.browse(log_ids):
            _, _, state = (log.target or '').partition(':')
            task = log.resource
            name = task.rec_name if isinstance(task, Task) else None
            descriptions[log.id] = timeline.join_parts(
                name, states.get(state, state))
        return descriptions


class Ticket(metaclass=PoolMeta):
    __name__ = 'itsm.ticket'

    activities = fields.One2Many(
        'itsm.ticket.activity', 'ticket', "Activity Log", readonly=True,
        help="Who did what and when, newest first.")
