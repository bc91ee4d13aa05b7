# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The Service Desk's reports: backlog, volume, time to resolve and SLA
compliance, as graphs and lists.

Each report is a model on a table_query that aggregates the tickets in SQL
(GROUP BY), as Tryton's purchase reporting does: no Python loop over the
tickets, so that the reports stay fast on hundreds of thousands of them.
The context form narrows them to a company, a team and dates, and a report
only counts the tickets its user may read (the record rules of tickets).
"""
import datetime as dt

from dateutil.relativedelta import relativedelta
from sql import Cast, Literal, Null
from sql.aggregate import Avg, Count, Min, Sum
from sql.conditionals import Case, NullIf
from sql.functions import DateTrunc, Extract, Function
from sql.operators import Not
from trytond import backend
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from . import workflow
from .priority import PRIORITIES

PERIODS = [
    ('year', "Year"),
    ('month', "Month"),
    ('week', "Week"),
    ('day', "Day"),
    ]


class _SQLiteDate(Function):
    __slots__ = ()
    _function = 'DATE'


class _JulianDay(Function):
    __slots__ = ()
    _function = 'JULIANDAY'


# SQLite's date() modifiers that give the first day of the period; a week
# starts on Monday, as PostgreSQL's date_trunc('week', …) and ISO 8601 say.
_SQLITE_PERIOD_MODIFIERS = {
    'year': ('start of year',),
    'month': ('start of month',),
    'week': ('-6 days', 'weekday 1'),
    'day': (),
    }


def period_start(period, timestamp, backend_name=None):
    """The SQL expression of the first day of the period ('year', 'month',
    'week' or 'day') that holds the timestamp, as a date.

    SQLite's date() is native where trytond's date_trunc is a Python
    function called for each row."""
    if period not in _SQLITE_PERIOD_MODIFIERS:
        raise ValueError(f"unknown period: {period!r}")
    if (backend_name or backend.name) == 'sqlite':
        return _SQLiteDate(timestamp, *_SQLITE_PERIOD_MODIFIERS[period])
    return Cast(DateTrunc(period, timestamp), 'DATE')


def hours_between(start, end, backend_name=None):
    "The SQL expression of the hours from start to end (timestamps)"
    if (backend_name or backend.name) == 'sqlite':
        return (_JulianDay(end) - _JulianDay(start)) * 24
    return Extract('EPOCH', end - start) / 3600


def ticket_series(field, selection):
    """The view attributes that give each graph series <y><field key="…"/>
    of a report the rows of one value of the field: key="incident" sums the
    rows of the incidents"""
    return [
        (f'/graph/y/field[@key="{value}"]', 'domain',
            Eval(field) == value, [field])
        for value, _ in selection]


class Abstract(ModelSQL):
    "What every report shares: one row per group of the company's tickets"

    company = fields.Many2One('company.company', "Company", readonly=True)
    number = fields.Integer(
        "Tickets", readonly=True, help="The number of tickets.")

    @classmethod
    def table_query(cls):
        from_item, tables = cls._joins()
        return from_item.select(*cls._columns(tables),
            where=cls._where(tables),
            group_by=cls._group_by(tables))

    @classmethod
    def _joins(cls):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        tables = {'ticket': Ticket.__table__()}
        return tables['ticket'], tables

    @classmethod
    def _columns(cls, tables):
        ticket = tables['ticket']
        return [
            # Each ticket is in one group: the smallest id of the group is
            # unique among the rows and stays the same while the group keeps
            # its first ticket.
            Min(ticket.id).as_('id'),
            ticket.company.as_('company'),
            Count(ticket.id).as_('number'),
            ]

    @classmethod
    def _group_by(cls, tables):
        ticket = tables['ticket']
        return [ticket.company]

    @classmethod
    def _where(cls, tables):
        context = Transaction().context
        ticket = tables['ticket']

        where = ticket.company == context.get('company')
        if context.get('team'):
            where &= ticket.team == context['team']
        readable = cls._where_readable(tables)
        if readable is not None:
            where &= readable
        return where

    @classmethod
    def _where_readable(cls, tables):
        """The condition of the record rules on the tickets the user may
        read, or None when they do not apply"""
        pool = Pool()
        Rule = pool.get('ir.rule')
        Ticket = pool.get('itsm.ticket')
        ticket = tables['ticket']

        domain = Rule.domain_get(Ticket.__name__, mode='read')
        if not domain:
            return None
        # On the report's own table of tickets, as ModelSQL.read does: a
        # subquery would scan them again.
        rule_tables = {None: (ticket, None)}
        rule_tables, expression = Ticket.search_domain(
            domain, active_test=False, tables=rule_tables)
        if len(rule_tables) > 1:
            # The rules need joins
            expression = ticket.id.in_(
                Rule.query_get(Ticket.__name__, mode='read'))
        return expression


class AbstractTimeseries(Abstract):
    """A report per period (from the context) of a timestamp of the tickets,
    between the dates of the context"""

    date = fields.Date("Date", readonly=True, help="The start of the period.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('date', 'ASC'))

    @classmethod
    def _timestamp(cls, tables):
        "The timestamp of the ticket that puts it in a period"
        raise NotImplementedError

    @classmethod
    def _period(cls):
        period = Transaction().context.get('period')
        return period if period in dict(PERIODS) else 'month'

    @classmethod
    def _column_date(cls, tables):
        return period_start(
            cls._period(), cls._timestamp(tables)).as_('date')

    @classmethod
    def _columns(cls, tables):
        return super()._columns(tables) + [cls._column_date(tables)]

    @classmethod
    def _group_by(cls, tables):
        # By its name: PostgreSQL would not match the expression of the
        # column with that of the GROUP BY, their parameters being different.
        return super()._group_by(tables) + [cls._column_date(tables)]

    @classmethod
    def _where(cls, tables):
        context = Transaction().context
        timestamp = cls._timestamp(tables)
        where = super()._where(tables)
        where &= timestamp != Null
        if from_date := context.get('from_date'):
            where &= timestamp >= dt.datetime.combine(from_date, dt.time())
        if to_date := context.get('to_date'):
            where &= timestamp < dt.datetime.combine(
                to_date + dt.timedelta(days=1), dt.time())
        return where


class TypeMixin:
    __slots__ = ()

    type = fields.Selection(
        workflow.TYPES, "Type", sort=False, readonly=True)

    @classmethod
    def _columns(cls, tables):
        ticket = tables['ticket']
        return super()._columns(tables) + [ticket.type.as_('type')]

    @classmethod
    def _group_by(cls, tables):
        ticket = tables['ticket']
        return super()._group_by(tables) + [ticket.type]


class PriorityMixin:
    __slots__ = ()

    priority = fields.Selection(
        PRIORITIES, "Priority", sort=False, readonly=True)

    @classmethod
    def _columns(cls, tables):
        ticket = tables['ticket']
        return super()._columns(tables) + [ticket.priority.as_('priority')]

    @classmethod
    def _group_by(cls, tables):
        ticket = tables['ticket']
        return super()._group_by(tables) + [ticket.priority]


class BacklogMixin:
    "The tickets still open: not in a done state"
    __slots__ = ()

    @classmethod
    def _where(cls, tables):
        ticket = tables['ticket']
        return super()._where(tables) & Not(
            ticket.state.in_(sorted(workflow.DONE_STATES)))


class BacklogState(TypeMixin, BacklogMixin, Abstract, ModelView):
    "The open tickets per type and state"
    __name__ = 'itsm.ticket.reporting.backlog.state'
    __string__ = "Ticket Backlog per State"

    state = fields.Selection(
        workflow.STATES, "State", sort=False, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order[:0] = [('state', 'ASC'), ('type', 'ASC')]

    @classmethod
    def _columns(cls, tables):
        ticket = tables['ticket']
        return super()._columns(tables) + [ticket.state.as_('state')]

    @classmethod
    def _group_by(cls, tables):
        ticket = tables['ticket']
        return super()._group_by(tables) + [ticket.state]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + ticket_series(
            'type', workflow.TYPES)


class BacklogPriority(
        TypeMixin, PriorityMixin, BacklogMixin, Abstract, ModelView):
    "The open tickets per type and priority"
    __name__ = 'itsm.ticket.reporting.backlog.priority'
    __string__ = "Ticket Backlog per Priority"

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order[:0] = [('priority', 'ASC'), ('type', 'ASC')]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + ticket_series(
            'type', workflow.TYPES)


class Volume(TypeMixin, AbstractTimeseries, ModelView):
    "The tickets opened per period, type and category"
    __name__ = 'itsm.ticket.reporting.volume'
    __string__ = "Ticket Volume"

    category = fields.Many2One(
        'itsm.ticket.category', "Category", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.number.string = "Opened"
        cls.number.help = "The number of tickets opened."
        cls._order[1:1] = [('type', 'ASC'), ('category', 'ASC')]

    @classmethod
    def _timestamp(cls, tables):
        return tables['ticket'].create_date

    @classmethod
    def _columns(cls, tables):
        ticket = tables['ticket']
        return super()._columns(tables) + [ticket.category.as_('category')]

    @classmethod
    def _group_by(cls, tables):
        ticket = tables['ticket']
        return super()._group_by(tables) + [ticket.category]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + ticket_series(
            'type', workflow.TYPES)


class ResolutionTimeMixin:
    """The tickets resolved per period of their resolution, with the mean
    time from their opening to their resolution"""
    __slots__ = ()

    mean_hours = fields.Float(
        "Mean Time to Resolve", digits=(16, 1), readonly=True,
        help="In hours, from the opening of the tickets to their "
        "resolution.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.number.string = "Resolved"
        cls.number.help = "The number of tickets resolved."

    @classmethod
    def _timestamp(cls, tables):
        return tables['ticket'].resolved_at

    @classmethod
    def _columns(cls, tables):
        ticket = tables['ticket']
        hours = hours_between(ticket.create_date, ticket.resolved_at)
        return super()._columns(tables) + [
            cls.mean_hours.sql_cast(Avg(hours)).as_('mean_hours'),
            ]


class ResolutionTime(
        ResolutionTimeMixin, TypeMixin, AbstractTimeseries, ModelView):
    "The mean time to resolve tickets per period and type"
    __name__ = 'itsm.ticket.reporting.resolution_time'
    __string__ = "Ticket Time to Resolve per Type"

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(1, ('type', 'ASC'))

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + ticket_series(
            'type', workflow.TYPES)


class ResolutionTimePriority(
        ResolutionTimeMixin, PriorityMixin, AbstractTimeseries, ModelView):
    "The mean time to resolve tickets per period and priority"
    __name__ = 'itsm.ticket.reporting.resolution_time.priority'
    __string__ = "Ticket Time to Resolve per Priority"

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(1, ('priority', 'ASC'))

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + ticket_series(
            'priority', PRIORITIES)


class SLACompliance(AbstractTimeseries, ModelView):
    """The share of the tickets with an SLA that met their response and
    resolution targets, per period of their opening"""
    __name__ = 'itsm.ticket.reporting.sla'
    __string__ = "SLA Compliance"

    response_number = fields.Integer(
        "Response Targets", readonly=True,
        help="The tickets whose response target is met or missed.")
    response_met = fields.Integer(
        "Responses in Time", readonly=True,
        help="The tickets that met their response target.")
    response_rate = fields.Float(
        "Response Compliance (%)", digits=(5, 1), readonly=True,
        help="The share of the response targets met.")
    resolution_number = fields.Integer(
        "Resolution Targets", readonly=True,
        help="The tickets whose resolution target is met or missed.")
    resolution_met = fields.Integer(
        "Resolutions in Time", readonly=True,
        help="The tickets that met their resolution target.")
    resolution_rate = fields.Float(
        "Resolution Compliance (%)", digits=(5, 1), readonly=True,
        help="The share of the resolution targets met.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.number.string = "Tickets with an SLA"
        cls.number.help = "The number of tickets opened with an SLA."

    @classmethod
    def _timestamp(cls, tables):
        return tables['ticket'].create_date

    @classmethod
    def _where(cls, tables):
        ticket = tables['ticket']
        return super()._where(tables) & (ticket.sla_policy != Null)

    @classmethod
    def _columns(cls, tables):
        ticket = tables['ticket']
        columns = super()._columns(tables)
        for name in ['response', 'resolution']:
            breached = getattr(ticket, f'{name}_breached')
            decided, met = cls._target_outcome(tables, breached)
            decided = Sum(Case((decided, 1), else_=0))
            met = Sum(Case((met, 1), else_=0))
            rate = getattr(cls, f'{name}_rate').sql_cast(
                Literal(100.0) * met / NullIf(decided, 0))
            columns += [
                decided.as_(f'{name}_number'),
                met.as_(f'{name}_met'),
                rate.as_(f'{name}_rate'),
                ]
        return columns

    @classmethod
    def _target_outcome(cls, tables, breached):
        """The conditions for a target (by the column saying whether it is
        breached) to be decided and to be met.

        The SLA engine leaves the column NULL while the target is undecided
        (or absent, or the ticket cancelled), sets it True as soon as the
        due date passes, and False when the first answer or the resolution
        came in time."""
        met = breached == Literal(False)
        decided = breached != Null
        return decided, met


class ContextMixin:
    "The company and the team a report is about"
    __slots__ = ()

    company = fields.Many2One('company.company', "Company", required=True)
    team = fields.Many2One(
        'itsm.team', "Team",
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        help="Leave empty for the tickets of every team and without team.")

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_team(cls):
        return Transaction().context.get('team')


class BacklogContext(ContextMixin, ModelView):
    "The company and the team of the backlog reports"
    __name__ = 'itsm.ticket.reporting.backlog.context'
    __string__ = "Ticket Backlog Context"


class Context(ContextMixin, ModelView):
    "The company, the team, the dates and the period of the reports"
    __name__ = 'itsm.ticket.reporting.context'
    __string__ = "Ticket Reporting Context"

    from_date = fields.Date(
        "From Date",
        domain=[
            If(Eval('to_date') & Eval('from_date'),
                ('from_date', '<=', Eval('to_date')),
                ()),
            ])
    to_date = fields.Date(
        "To Date",
        domain=[
            If(Eval('from_date') & Eval('to_date'),
                ('to_date', '>=', Eval('from_date')),
                ()),
            ])
    period = fields.Selection(PERIODS, "Period", required=True, sort=False)

    @classmethod
    def default_from_date(cls):
        "The first day of the month, eleven months ago: a year of months"
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'from_date' in context:
            return context['from_date']
        return Date.today().replace(day=1) - relativedelta(months=11)

    @classmethod
    def default_to_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        context = Transaction().context
        if 'to_date' in context:
            return context['to_date']
        return Date.today()

    @classmethod
    def default_period(cls):
        period = Transaction().context.get('period')
        return period if period in dict(PERIODS) else 'month'
