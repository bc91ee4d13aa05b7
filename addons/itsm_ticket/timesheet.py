# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Work Hours: the time spent on tickets and their tasks, on Tryton's
timesheet.

Each ticket and each task has its own timesheet work (origin: the ticket or
the task; company: the ticket's), created the first time somebody logs time
on it rather than with the ticket: most tickets never get time logged, and a
work per ticket and per task made up front would double the rows written
at the busiest moment, the creation of tickets from email and the portal.

A line logged on a ticket names the ticket (and the task, if any), so that
the ticket lists and sums its time with one indexed query, and records the
stage: the state the ticket was in when the time was logged.
"""
import datetime as dt
from collections import defaultdict
from itertools import groupby

from sql import Null
from sql.aggregate import Min, Sum
from trytond.backend import MAX_QUERY_PARAMS
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from . import workflow


def _sum_durations(Line, column, ids):
    "{id: total duration} of the lines whose column is in ids"
    cursor = Transaction().connection.cursor()
    line = Line.__table__()
    durations = defaultdict(lambda: None)
    for sub_ids in grouped_slice(ids, MAX_QUERY_PARAMS):
        cursor.execute(*line.select(
                column(line), Sum(line.duration),
                where=fields.SQL_OPERATORS['in'](column(line), sub_ids),
                group_by=[column(line)]))
        for id_, duration in cursor:
            # SQLite sums intervals as seconds
            if duration is not None and not isinstance(
                    duration, dt.timedelta):
                duration = dt.timedelta(seconds=duration)
            durations[id_] = duration
    return durations


class Work(metaclass=PoolMeta):
    __name__ = 'timesheet.work'

    @classmethod
    def _get_origin(cls):
        return super()._get_origin() + ['itsm.ticket', 'itsm.ticket.task']

    def _validate_company(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Task = pool.get('itsm.ticket.task')
        valid = super()._validate_company()
        if isinstance(self.origin, Ticket):
            valid &= self.origin.company == self.company
        elif isinstance(self.origin, Task):
            valid &= self.origin.ticket.company == self.company
        return valid

    @classmethod
    def of_tickets(cls, origins):
        """The works of the tickets and tasks as {origin: work}, the missing
        ones created"""
        pool = Pool()
        Task = pool.get('itsm.ticket.task')

        def company(origin):
            if isinstance(origin, Task):
                return origin.ticket.company
            return origin.company

        origins = set(origins)
        works = {}
        with without_check_access():
            for sub_origins in grouped_slice(
                    sorted(map(str, origins)), MAX_QUERY_PARAMS):
                for work in cls.search([
                            ('origin', 'in', list(sub_origins)),
                            ], order=[('id', 'ASC')]):
                    if company(work.origin) == work.company:
                        works.setdefault(work.origin, work)
            missing = sorted(
                (o for o in origins if o not in works), key=str)
            if missing:
                # Two agents logging time for the first time on the same
                # ticket would both create its work, and (origin, company)
                # is unique: the second waits for the first instead.
                for _, records in groupby(
                        missing, key=lambda o: o.__name__):
                    records = list(records)
                    records[0].__class__.lock(records)
                created = cls.create([{
                            'origin': str(origin),
                            'company': company(origin).id,
                            } for origin in missing])
                works.update(zip(missing, created, strict=True))
        return works


class Line(metaclass=PoolMeta):
    __name__ = 'timesheet.line'

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        states={
            'readonly': Eval('id', -1) >= 0,
            },
        help="The ticket the time was spent on.")
    ticket_task = fields.Many2One(
        'itsm.ticket.task', "Task", ondelete='RESTRICT',
        domain=[
            ('ticket', '=', Eval('ticket', -1)),
            ],
        states={
            'invisible': ~Eval('ticket'),
            },
        help="The task of the ticket the time was spent on, if any.")
    ticket_stage = fields.Selection(
        [(None, "")] + workflow.STATES, "Stage", readonly=True, sort=False,
        states={
            'invisible': ~Eval('ticket'),
            },
        help="The state of the ticket when the time was logged.")
    ticket_stage_string = ticket_stage.translated('ticket_stage')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        # On a ticket the work follows from the ticket and the task, and is
        # created with the first line: the agent never chooses it.
        cls.work.required = False
        cls.work.states = cls.work.states.copy()
        cls.work.states['required'] = ~Eval('ticket')
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.ticket, Index.Range()), where=t.ticket != Null),
                Index(
                    t, (t.ticket_task, Index.Range()),
                    where=t.ticket_task != Null),
                })

    @classmethod
    def _ticket_values(cls, work):
        "The ticket and the task of the lines of the work"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Task = pool.get('itsm.ticket.task')
        origin = work.origin if work else None
        if isinstance(origin, Task) and origin.id >= 0:
            return {'ticket': origin.ticket.id, 'ticket_task': origin.id}
        elif isinstance(origin, Ticket) and origin.id >= 0:
            return {'ticket': origin.id, 'ticket_task': None}
        return {'ticket': None, 'ticket_task': None}

    @classmethod
    def _link_works(cls, vlist, lines=None):
        """Set the work of the values from their ticket and task, or the
        ticket and the task from the work when only the work is given"""
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Task = pool.get('itsm.ticket.task')
        Work = pool.get('timesheet.work')
        lines = lines or [None] * len(vlist)

        def by_work(values):
            return 'work' in values and not (
                values.keys() & {'ticket', 'ticket_task'})

        # Browsed together, they are read in one query each.
        works = Work.browse(list({
                    v['work'] for v in vlist if by_work(v) and v['work']}))
        works = {w.id: w for w in works}
        origins = []
        for values, line in zip(vlist, lines, strict=True):
            if by_work(values):
                values.update(cls._ticket_values(works.get(values['work'])))
                origins.append(None)
                continue
            ticket = values.get('ticket', line.ticket.id
                if line and line.ticket else None)
            task = values.get('ticket_task', line.ticket_task.id
                if line and line.ticket_task else None)
            if not ticket:
                origins.append(None)
            else:
                origins.append(('task', task) if task else ('ticket', ticket))
        tickets = {t.id: t for t in Ticket.browse(list({
                        id_ for kind, id_ in filter(None, origins)
                        if kind == 'ticket'}))}
        tasks = {t.id: t for t in Task.browse(list({
                        id_ for kind, id_ in filter(None, origins)
                        if kind == 'task'}))}
        origins = [
            (tickets if origin[0] == 'ticket' else tasks)[origin[1]]
            if origin else None
            for origin in origins]
        of_origins = Work.of_tickets(filter(None, origins))
        for values, origin in zip(vlist, origins, strict=True):
            if origin:
                values['work'] = of_origins[origin].id

    @classmethod
    def create(cls, vlist):
        """Link the lines to their works; a line on a ticket records the
        state of the ticket, unless it is given (imports, the demo)"""
        vlist = [v.copy() for v in vlist]
        cls._link_works(vlist)
        cls._set_stage(vlist)
        return super().create(vlist)

    @classmethod
    def _set_stage(cls, vlist, lines=None):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        lines = lines or [None] * len(vlist)
        tickets = Ticket.browse(
            list({v['ticket'] for v in vlist if v.get('ticket')}))
        tickets = {t.id: t for t in tickets}
        for values, line in zip(vlist, lines, strict=True):
            ticket = tickets.get(values.get('ticket'))
            if not ticket:
                if line and 'ticket' in values:
                    # The line left the tickets.
                    values['ticket_stage'] = None
                continue
            # The time of a ticket belongs to the ticket's company.
            values['company'] = ticket.company.id
            if not (line and line.ticket_stage):
                values.setdefault('ticket_stage', ticket.state)

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        args = []
        for lines, values in zip(actions, actions, strict=True):
            if values.keys() & {'work', 'ticket', 'ticket_task'}:
                # Without a task, the work is each line's ticket's.
                vlist = [values.copy() for _ in lines]
                cls._link_works(vlist, lines)
                cls._set_stage(vlist, lines)
                for line, line_values in zip(lines, vlist, strict=True):
                    args.extend([[line], line_values])
            else:
                args.extend([lines, values])
        super().write(*args)

    @classmethod
    def _validate(cls, lines, field_names=None):
        # The duration's domain would refuse a negative duration with a
        # generic message, and lets no time at all through: on a ticket,
        # say why first.
        if field_names is None or field_names & {'duration', 'ticket'}:
            cls.check_ticket_duration(lines)
        super()._validate(lines, field_names=field_names)

    @classmethod
    def check_ticket_duration(cls, lines):
        for line in lines:
            if (line.ticket and line.duration is not None
                    and line.duration <= dt.timedelta()):
                raise ValidationError(gettext(
                        'itsm_ticket.msg_timesheet_line_duration',
                        ticket=line.ticket.rec_name))


class Ticket(metaclass=PoolMeta):
    __name__ = 'itsm.ticket'

    timesheet_lines = fields.One2Many(
        'timesheet.line', 'ticket', "Time Logged",
        help="The time spent on the ticket and its tasks.")
    time_spent = fields.Function(fields.TimeDelta(
            "Time Spent", 'company_work_time',
            help="The time logged on the ticket and its tasks."),
        'get_time_spent')
    time_by_stage = fields.One2Many(
        'itsm.ticket.time_by_stage', 'ticket', "Time per Stage",
        readonly=True)

    @classmethod
    def get_time_spent(cls, tickets, name):
        pool = Pool()
        Line = pool.get('timesheet.line')
        return _sum_durations(
            Line, lambda line: line.ticket, list(map(int, tickets)))

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('timesheet_lines', None)
        return super().copy(tickets, default=default)

    @classmethod
    def check_modification(cls, mode, tickets, values=None, external=False):
        pool = Pool()
        Line = pool.get('timesheet.line')
        super().check_modification(
            mode, tickets, values=values, external=external)
        if mode == 'delete':
            for sub_tickets in grouped_slice(tickets, MAX_QUERY_PARAMS):
                lines = Line.search([
                        ('ticket', 'in', [t.id for t in sub_tickets]),
                        ], limit=1)
                if lines:
                    line, = lines
                    raise AccessError(gettext(
                            'itsm_ticket.msg_ticket_delete_time',
                            ticket=line.ticket.rec_name))

    @classmethod
    def on_delete(cls, tickets):
        callbacks = super().on_delete(tickets)
        callbacks.extend(_delete_works(tickets))
        return callbacks


class Task(metaclass=PoolMeta):
    __name__ = 'itsm.ticket.task'

    time_spent = fields.Function(fields.TimeDelta(
            "Time Spent", 'company_work_time',
            help="The time logged on the task."),
        'get_time_spent')

    @classmethod
    def get_time_spent(cls, tasks, name):
        pool = Pool()
        Line = pool.get('timesheet.line')
        return _sum_durations(
            Line, lambda line: line.ticket_task, list(map(int, tasks)))

    @classmethod
    def check_modification(cls, mode, tasks, values=None, external=False):
        pool = Pool()
        Line = pool.get('timesheet.line')
        super().check_modification(
            mode, tasks, values=values, external=external)
        if mode == 'delete':
            for sub_tasks in grouped_slice(tasks, MAX_QUERY_PARAMS):
                lines = Line.search([
                        ('ticket_task', 'in', [t.id for t in sub_tasks]),
                        ], limit=1)
                if lines:
                    line, = lines
                    raise AccessError(gettext(
                            'itsm_ticket.msg_task_delete_time',
                            task=line.ticket_task.rec_name))

    @classmethod
    def on_delete(cls, tasks):
        callbacks = super().on_delete(tasks)
        callbacks.extend(_delete_works(tasks))
        return callbacks


def _delete_works(records):
    "The callbacks that delete the works of the records once they are gone"
    pool = Pool()
    Work = pool.get('timesheet.work')
    with without_check_access():
        works = []
        for sub_records in grouped_slice(records, MAX_QUERY_PARAMS):
            works.extend(Work.search([
                        ('origin', 'in', [str(r) for r in sub_records]),
                        ]))
    if not works:
        return []

    def delete():
        with without_check_access():
            Work.delete(Work.browse(works))
    return [delete]


class TicketTimeByStage(ModelSQL, ModelView):
    "The time logged on a ticket, per state the ticket was in"
    __name__ = 'itsm.ticket.time_by_stage'
    __string__ = "Ticket Time per Stage"

    ticket = fields.Many2One('itsm.ticket', "Ticket", required=True)
    stage = fields.Selection(
        [(None, "")] + workflow.STATES, "Stage", sort=False)
    duration = fields.TimeDelta("Duration", 'company_work_time')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        cls._order = [('stage', 'ASC'), ('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Line = pool.get('timesheet.line')
        line = Line.__table__()
        # The groups never share a line: the first line's id is theirs.
        return line.select(
            Min(line.id).as_('id'),
            line.ticket.as_('ticket'),
            line.ticket_stage.as_('stage'),
            Sum(line.duration).as_('duration'),
            where=line.ticket != Null,
            group_by=[line.ticket, line.ticket_stage])
