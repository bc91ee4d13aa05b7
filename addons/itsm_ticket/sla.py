# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Service level agreements: business calendars, policies, and the clock of
each ticket.

The arithmetic is in businesstime.py; here the records become a
WorkingCalendar and the periods during which a ticket's clock ran. The clock
runs while the ticket is worked on and stops while it waits on somebody else
or is done; the elapsed business time depends only on those periods, so a
change of priority or policy mid-way changes the targets and the due dates,
never the time already spent.
"""
import contextvars
import datetime as dt
import zoneinfo
from dataclasses import dataclass

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin,
    Index,
    ModelSQL,
    ModelView,
    fields,
    sequence_ordered,
)
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, DateTime, Eval, If
from trytond.transaction import Transaction, without_check_access

from . import businesstime, workflow
from .priority import PRIORITIES

WEEKDAYS = [
    ('0', "Monday"),
    ('1', "Tuesday"),
    ('2', "Wednesday"),
    ('3', "Thursday"),
    ('4', "Friday"),
    ('5', "Saturday"),
    ('6', "Sunday"),
    ]
UTC = dt.UTC
MIDNIGHT = dt.time(0, 0)
# The instant the tickets being created open at: their clock starts then,
# and their due dates are computed from it before their insert.
_creation_instant = contextvars.ContextVar('itsm_sla_creation_instant')


def aware(value):
    "Tryton keeps naive UTC datetimes; the arithmetic wants aware ones"
    return value.replace(tzinfo=UTC) if value else value


def naive(value):
    return value.astimezone(UTC).replace(tzinfo=None) if value else value


def now():
    "The current time, naive UTC like Tryton's; tests replace it"
    return dt.datetime.now()


def clock_runs(state):
    return state not in workflow.WAITING_STATES | workflow.DONE_STATES


def holiday_years():
    "The years whose public holidays a working calendar knows"
    today = dt.date.today()
    return range(today.year - 1, today.year + 3)


@dataclass(frozen=True)
class PolicyTerms:
    """A policy as the SLA engine reads it for each ticket it computes: whom
    it covers and what it promises"""
    id: int
    types: frozenset
    categories: frozenset
    customers: frozenset
    calendar: int
    warn_before: dt.timedelta
    # (priority, response time, resolution time) in the policy's order
    targets: tuple

    def applies_to(self, ticket):
        if self.types and ticket.type not in self.types:
            return False
        if self.categories:
            category = ticket.category
            while category and category.id not in self.categories:
                category = category.parent
            if not category:
                return False
        if self.customers and (
                not ticket.customer
                or ticket.customer.id not in self.customers):
            return False
        return True

    def target_for(self, priority):
        "The response and resolution times of the priority, or None"
        for target_priority, response, resolution in self.targets:
            if target_priority == priority:
                return response, resolution


class Calendar(ModelSQL, ModelView):
    "When the service desk works: weekly hours, time zone and days off"
    __name__ = 'itsm.sla.calendar'
    __string__ = "Business Calendar"

    name = fields.Char("Name", required=True, translate=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    timezone = fields.Selection(
        'get_timezones', "Time Zone", required=True)
    holiday_country = fields.Char(
        "Public Holidays of", size=2,
        help="The country (ISO code, e.g. PL) whose public holidays are "
        "days off.")
    holiday_subdivision = fields.Char(
        "Subdivision",
        states={
            'invisible': ~Eval('holiday_country'),
            },
        help="The state or region, where holidays differ within the "
        "country.")
    hours = fields.One2Many(
        'itsm.sla.calendar.hours', 'calendar', "Working Hours")
    days_off = fields.One2Many(
        'itsm.sla.calendar.day_off', 'calendar', "Days Off")
    # Every ticket's SLA needs it, and the holidays take a while to compute.
    _working_calendar_cache = Cache(
        'itsm.sla.calendar.working_calendar', context=False)

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_timezone(cls):
        pool = Pool()
        Company = pool.get('company.company')
        company_id = Transaction().context.get('company')
        if company_id:
            company = Company(company_id)
            if company.timezone:
                return company.timezone
        return 'UTC'

    @classmethod
    def get_timezones(cls):
        return [(z, z) for z in sorted(zoneinfo.available_timezones())]

    def working_calendar(self, years=None):
        "The calendar for the arithmetic, with the holidays of the years"
        years = tuple(holiday_years() if years is None else years)
        if self.id is None or self.id < 0:
            return self._working_calendar(years)
        key = (self.id, years)
        calendar = self._working_calendar_cache.get(key)
        if calendar is None:
            calendar = self._working_calendar(years)
            self._working_calendar_cache.set(key, calendar)
        return calendar

    def _working_calendar(self, years):
        days_off = {d.date for d in self.days_off}
        if self.holiday_country:
            days_off |= businesstime.public_holidays(
                self.holiday_country.upper(), years,
                subdivision=self.holiday_subdivision or None)
        hours = {}
        for line in self.hours:
            end = line.end_time
            if end == MIDNIGHT:
                end = businesstime.END_OF_DAY
            hours.setdefault(int(line.weekday), []).append(
                (line.start_time, end))
        return businesstime.WorkingCalendar(
            timezone=self.timezone, hours=hours,
            days_off=frozenset(days_off))

    @classmethod
    def on_modification(cls, mode, calendars, field_names=None):
        super().on_modification(mode, calendars, field_names=field_names)
        cls._working_calendar_cache.clear()

    @classmethod
    def validate(cls, calendars):
        super().validate(calendars)
        for calendar in calendars:
            calendar.check_usable()

    def check_usable(self):
        if not self.hours:
            raise ValidationError(gettext(
                    'itsm_ticket.msg_sla_calendar_no_hours',
                    calendar=self.rec_name))
        try:
            self._working_calendar(holiday_years()).check()
        except businesstime.CalendarError as error:
            raise ValidationError(gettext(
                    'itsm_ticket.msg_sla_calendar_invalid',
                    calendar=self.rec_name, reason=str(error))) from error


class CalendarHours(ModelSQL, ModelView):
    "One stretch of working time on a weekday"
    __name__ = 'itsm.sla.calendar.hours'
    __string__ = "Business Calendar Hours"

    calendar = fields.Many2One(
        'itsm.sla.calendar', "Calendar", required=True, ondelete='CASCADE')
    weekday = fields.Selection(WEEKDAYS, "Weekday", required=True, sort=False)
    start_time = fields.Time("From", required=True)
    end_time = fields.Time(
        "To", required=True,
        help="00:00 means midnight at the end of the day.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('calendar')
        cls._order = [
            ('weekday', 'ASC'), ('start_time', 'ASC'), ('id', 'ASC')]

    @classmethod
    def on_modification(cls, mode, lines, field_names=None):
        pool = Pool()
        Calendar = pool.get('itsm.sla.calendar')
        super().on_modification(mode, lines, field_names=field_names)
        Calendar._working_calendar_cache.clear()

    @classmethod
    def validate(cls, lines):
        super().validate(lines)
        cls.check_order(lines)

    @classmethod
    def check_order(cls, lines):
        for line in lines:
            if line.end_time != MIDNIGHT and line.end_time <= line.start_time:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_sla_hours_order',
                        calendar=line.calendar.rec_name,
                        weekday=dict(WEEKDAYS)[line.weekday],
                        start=line.start_time.strftime('%H:%M'),
                        end=line.end_time.strftime('%H:%M')))


class CalendarDayOff(ModelSQL, ModelView):
    "A day without working time, besides the public holidays"
    __name__ = 'itsm.sla.calendar.day_off'
    __string__ = "Business Calendar Day Off"

    calendar = fields.Many2One(
        'itsm.sla.calendar', "Calendar", required=True, ondelete='CASCADE')
    date = fields.Date("Date", required=True)
    name = fields.Char("Reason")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('calendar')
        cls._order = [('date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def on_modification(cls, mode, days, field_names=None):
        pool = Pool()
        Calendar = pool.get('itsm.sla.calendar')
        super().on_modification(mode, days, field_names=field_names)
        Calendar._working_calendar_cache.clear()


class Policy(DeactivableMixin, sequence_ordered(), ModelSQL, ModelView):
    """Which tickets an agreement covers and the times it promises: the first
    policy, in sequence order, whose criteria all match applies"""
    __name__ = 'itsm.sla.policy'
    __string__ = "SLA Policy"

    name = fields.Char("Name", required=True, translate=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    types = fields.MultiSelection(
        workflow.TYPES, "Ticket Types", sort=False,
        help="Leave empty for every type.")
    categories = fields.Many2Many(
        'itsm.sla.policy-itsm.ticket.category', 'policy', 'category',
        "Categories",
        help="Leave empty for every category; a category covers its "
        "sub-categories.")
    customers = fields.Many2Many(
        'itsm.sla.policy-party.party', 'policy', 'party', "Customers",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="Leave empty for every customer.")
    calendar = fields.Many2One(
        'itsm.sla.calendar', "Calendar", required=True, ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))])
    targets = fields.One2Many(
        'itsm.sla.policy.target', 'policy', "Targets")
    warn_before = fields.TimeDelta(
        "Warn Before", required=True,
        help="How long before a due date the assignee and the team are "
        "warned.")
    # Every new ticket and every change of state or priority looks for its
    # policy and reads its targets.
    _terms_cache = Cache('itsm.sla.policy.terms', context=False)

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_warn_before(cls):
        return dt.timedelta(hours=1)

    @classmethod
    def on_modification(cls, mode, policies, field_names=None):
        super().on_modification(mode, policies, field_names=field_names)
        cls._terms_cache.clear()

    @classmethod
    def find(cls, ticket):
        "The terms of the policy that applies to the ticket, or None"
        for terms in cls.terms_of(ticket.company.id):
            if terms.applies_to(ticket):
                return terms

    @classmethod
    def terms_of(cls, company_id):
        "The terms of the active policies of the company, in their order"
        terms = cls._terms_cache.get(company_id)
        if terms is None:
            with without_check_access():
                # A policy without a sequence comes last: the catch-all.
                policies = cls.search([
                        ('company', '=', company_id),
                        ('active', '=', True),
                        ],
                    order=[('sequence', 'ASC NULLS LAST'), ('id', 'ASC')])
                terms = cls._terms_cache.set(
                    company_id, [p.terms() for p in policies])
        return terms

    def terms(self):
        "The terms of the policy, as plain data"
        return PolicyTerms(
            id=self.id,
            types=frozenset(self.types or ()),
            categories=frozenset(c.id for c in self.categories),
            customers=frozenset(p.id for p in self.customers),
            calendar=self.calendar.id,
            warn_before=self.warn_before,
            targets=tuple(
                (t.priority, t.response_time, t.resolution_time)
                for t in self.targets))


class PolicyCategory(ModelSQL):
    __name__ = 'itsm.sla.policy-itsm.ticket.category'
    __string__ = "SLA Policy Category"

    policy = fields.Many2One(
        'itsm.sla.policy', "Policy", required=True, ondelete='CASCADE')
    category = fields.Many2One(
        'itsm.ticket.category', "Category", required=True,
        ondelete='CASCADE')

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        pool = Pool()
        Policy = pool.get('itsm.sla.policy')
        super().on_modification(mode, records, field_names=field_names)
        Policy._terms_cache.clear()


class PolicyCustomer(ModelSQL):
    __name__ = 'itsm.sla.policy-party.party'
    __string__ = "SLA Policy Customer"

    policy = fields.Many2One(
        'itsm.sla.policy', "Policy", required=True, ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE')

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        pool = Pool()
        Policy = pool.get('itsm.sla.policy')
        super().on_modification(mode, records, field_names=field_names)
        Policy._terms_cache.clear()


class PolicyTarget(ModelSQL, ModelView):
    "The promised times for the tickets of one priority"
    __name__ = 'itsm.sla.policy.target'
    __string__ = "SLA Target"

    policy = fields.Many2One(
        'itsm.sla.policy', "Policy", required=True, ondelete='CASCADE')
    priority = fields.Selection(
        PRIORITIES, "Priority", required=True, sort=False)
    response_time = fields.TimeDelta(
        "First Response", help="Business time until the first answer.")
    resolution_time = fields.TimeDelta(
        "Resolution", help="Business time until the ticket is resolved.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('policy')
        cls._order = [('priority', 'ASC'), ('id', 'ASC')]

    @classmethod
    def on_modification(cls, mode, targets, field_names=None):
        pool = Pool()
        Policy = pool.get('itsm.sla.policy')
        super().on_modification(mode, targets, field_names=field_names)
        Policy._terms_cache.clear()

    @classmethod
    def validate(cls, targets):
        super().validate(targets)
        for target in targets:
            for value in [target.response_time, target.resolution_time]:
                if value is not None and value <= dt.timedelta():
                    raise ValidationError(gettext(
                            'itsm_ticket.msg_sla_target_positive',
                            policy=target.policy.rec_name))


class ClockPeriod(ModelSQL, ModelView):
    "A stretch of time during which a ticket's SLA clock ran"
    __name__ = 'itsm.ticket.sla.period'
    __string__ = "SLA Clock Period"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    start = fields.DateTime("Start", required=True, readonly=True)
    end = fields.DateTime("End", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        cls._order = [('start', 'ASC'), ('id', 'ASC')]


SLA_STATUSES = [
    (None, ""),
    ('running', "Running"),
    ('paused', "Paused"),
    ('warning', "Due Soon"),
    ('breached', "Breached"),
    ('met', "Met"),
    ]


class Ticket(metaclass=PoolMeta):
    __name__ = 'itsm.ticket'

    sla_policy = fields.Many2One(
        'itsm.sla.policy', "SLA Policy", readonly=True, ondelete='SET NULL')
    response_target = fields.TimeDelta("Response Target", readonly=True)
    resolution_target = fields.TimeDelta("Resolution Target", readonly=True)
    first_response_at = fields.DateTime("First Response at", readonly=True)
    response_due = fields.DateTime("Response Due", readonly=True)
    resolution_due = fields.DateTime("Resolution Due", readonly=True)
    response_breached = fields.Boolean(
        "Response Breached", readonly=True,
        help="The first response came, or is still to come, after its due "
        "date.")
    resolution_breached = fields.Boolean(
        "Resolution Breached", readonly=True,
        help="The resolution came, or is still to come, after its due date.")
    sla_next_due = fields.DateTime(
        "Next Due", readonly=True,
        help="The nearest due date still open: the response, then the "
        "resolution.")
    sla_next_warning = fields.DateTime("Warn at", readonly=True)
    sla_warned = fields.Boolean("Warned", readonly=True)
    sla_periods = fields.One2Many(
        'itsm.ticket.sla.period', 'ticket', "Clock", readonly=True)
    sla_elapsed = fields.Function(
        fields.TimeDelta("Business Time Elapsed"), 'get_sla_elapsed')
    sla_status = fields.Function(
        fields.Selection(SLA_STATUSES, "SLA"), 'get_sla_status')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        cls._sql_indexes.add(
            Index(table, (table.sla_next_warning, Index.Range())))

    @classmethod
    def default_sla_warned(cls):
        return False

    @classmethod
    def view_attributes(cls):
        # The default gives the comparisons their type; the far future
        # stands for "nothing due".
        never = DateTime(2999, 12, 31)
        due = Eval('sla_next_due', never)
        warning = Eval('sla_next_warning', never)
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state').in_(sorted(workflow.DONE_STATES)), 'muted',
                    If(Bool(due) & (due < DateTime()), 'danger',
                        If(Bool(warning) & (warning < DateTime()),
                            'warning', '')))),
            ]

    def get_sla_elapsed(self, name):
        if not self.sla_policy:
            return None
        calendar = self.sla_policy.calendar.working_calendar()
        return businesstime.elapsed_business_time(
            calendar, self._sla_running(), aware(now()))

    def get_sla_status(self, name):
        if not self.sla_policy:
            return None
        current = now()
        if self.response_breached or self.resolution_breached:
            return 'breached'
        if self.state in workflow.DONE_STATES:
            if self.state != 'cancelled' and self.resolution_target:
                return 'met'
            return None
        if self.sla_next_due and self.sla_next_due < current:
            return 'breached'
        if self.sla_next_warning and self.sla_next_warning < current:
            return 'warning'
        return 'running' if clock_runs(self.state) else 'paused'

    def _sla_running(self):
        return [(aware(p.start), aware(p.end)) for p in self.sla_periods]

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default is not None else {}
        for name in ['sla_policy', 'response_target', 'resolution_target',
                'first_response_at', 'response_due', 'resolution_due',
                'response_breached', 'resolution_breached', 'sla_next_due',
                'sla_next_warning', 'sla_periods']:
            default.setdefault(name, None)
        default.setdefault('sla_warned', False)
        return super().copy(tickets, default=default)

    @classmethod
    def create(cls, vlist):
        # The due dates of the new tickets go in with them, computed for the
        # clock that starts with them: not written again right after.
        token = _creation_instant.set(now())
        try:
            return super().create(vlist)
        finally:
            _creation_instant.reset(token)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Policy = pool.get('itsm.sla.policy')
        Period = pool.get('itsm.ticket.sla.period')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            current = _creation_instant.get(None) or now()
            ticket = cls._sla_draft(values)
            ticket.sla_periods = []
            if clock_runs(ticket.state):
                # The period on_modification starts, as stored: to the second
                ticket.sla_periods = [Period(
                        start=current.replace(microsecond=0), end=None)]
            terms = Policy.find(ticket) if ticket.company else None
            values.update(ticket._sla_fields(terms, current))
        return values

    @classmethod
    def _sla_draft(cls, values):
        "The ticket the values create, as far as its SLA depends on them"
        def value(name):
            if name in values:
                return values[name]
            default = getattr(cls, f'default_{name}', None)
            return default() if default else None
        return cls(**{name: value(name) for name in [
                    'company', 'type', 'state', 'priority', 'category',
                    'customer', 'first_response_at', 'resolved_at',
                    'sla_next_warning']})

    @classmethod
    def on_modification(cls, mode, tickets, field_names=None):
        pool = Pool()
        Period = pool.get('itsm.ticket.sla.period')
        super().on_modification(mode, tickets, field_names=field_names)
        if mode == 'create':
            current = _creation_instant.get(None) or now()
            to_create = [{'ticket': t.id, 'start': current}
                for t in tickets if clock_runs(t.state)]
            if to_create:
                Period.create(to_create)
        elif field_names and field_names & {
                'state', 'priority', 'type', 'category', 'customer',
                'company'}:
            cls.update_sla(tickets)

    @classmethod
    def update_sla(cls, tickets):
        """Bring the clock, the policy, the targets, the due dates and the
        achievements of the tickets up to date"""
        pool = Pool()
        Policy = pool.get('itsm.sla.policy')
        Period = pool.get('itsm.ticket.sla.period')
        current = now()
        to_create, to_close = [], []
        for ticket in tickets:
            running = ticket.sla_periods and ticket.sla_periods[-1].end is None
            if clock_runs(ticket.state) and not running:
                to_create.append({'ticket': ticket.id, 'start': current})
            elif running and not clock_runs(ticket.state):
                to_close.append(ticket.sla_periods[-1])
        if to_create:
            Period.create(to_create)
        if to_close:
            Period.write(to_close, {'end': current})

        for ticket in cls.browse([t.id for t in tickets]):
            values = ticket._sla_fields(Policy.find(ticket), current)
            stored = {k: getattr(ticket, k) for k in values}
            stored['sla_policy'] = (
                ticket.sla_policy.id if ticket.sla_policy else None)
            changed = {k: v for k, v in values.items() if stored[k] != v}
            if changed:
                cls.write([ticket], changed)

    def _sla_fields(self, terms, current):
        "The values of the SLA fields under the policy terms (or None)"
        values = {
            'sla_policy': terms.id if terms else None,
            'response_target': None, 'resolution_target': None,
            'response_due': None, 'resolution_due': None,
            'response_breached': None, 'resolution_breached': None,
            'sla_next_due': None, 'sla_next_warning': None,
            }
        if terms:
            values.update(self._sla_values(terms, current))
        if values['sla_next_warning'] != self.sla_next_warning:
            values['sla_warned'] = False
        return values

    def _sla_values(self, terms, current):
        pool = Pool()
        Calendar = pool.get('itsm.sla.calendar')
        target = terms.target_for(self.priority)
        if not target:
            return {}
        response_time, resolution_time = target
        calendar = Calendar(terms.calendar).working_calendar()
        running = self._sla_running()
        current = aware(current)

        def deadline(target_time):
            if target_time is None:
                return None
            return naive(businesstime.due_date(
                    calendar, running, target_time, current))

        def breached(target_time, at):
            # The time that counts is the clock's, not the wall's: once
            # resolved the clock is stopped, so elapsed up to now is final.
            if target_time is None or at is None:
                return None
            elapsed = businesstime.elapsed_business_time(
                calendar, running, aware(at))
            return elapsed > target_time

        values = {
            'response_target': response_time,
            'resolution_target': resolution_time,
            'response_due': deadline(response_time),
            'resolution_due': deadline(resolution_time),
            }
        values['response_breached'] = breached(
            response_time, self.first_response_at)
        if self.state == 'cancelled':
            values['resolution_breached'] = None
        elif self.state in workflow.DONE_STATES:
            values['resolution_breached'] = breached(
                resolution_time, naive(current))
        # Past due and undecided: breached already, whatever happens next.
        for kind, done_at in [
                ('response', self.first_response_at),
                ('resolution', self.resolved_at)]:
            due = values[f'{kind}_due']
            if (values.get(f'{kind}_breached') is None and not done_at
                    and due and due < naive(current)
                    and self.state not in workflow.DONE_STATES):
                values[f'{kind}_breached'] = True

        next_due = None
        if not self.first_response_at:
            next_due = values['response_due']
        if self.state not in workflow.DONE_STATES:
            next_due = min(
                filter(None, [next_due, values['resolution_due']]),
                default=None)
        values['sla_next_due'] = next_due
        values['sla_next_warning'] = (
            next_due - terms.warn_before if next_due else None)
        return values

    @classmethod
    def record_first_response(cls, tickets):
        "The requester got a first answer: the response target is decided"
        tickets = [t for t in tickets if not t.first_response_at]
        if tickets:
            cls.write(tickets, {'first_response_at': now()})
            cls.update_sla(tickets)

    @classmethod
    def check_sla(cls):
        """Warn before a due date and escalate after it (run by the cron)"""
        current = now()
        open_states = ('state', 'not in', sorted(workflow.DONE_STATES))
        to_warn = cls.search([
                open_states,
                ('sla_next_warning', '<=', current),
                ('sla_next_due', '>', current),
                ('sla_warned', '=', False),
                ])
        for ticket in to_warn:
            for user in ticket._sla_recipients():
                cls.notify_user(
                    [ticket], 'tryton-warning',
                    gettext('itsm_ticket.msg_sla_warning_label',
                        ticket=ticket.rec_name),
                    gettext('itsm_ticket.msg_sla_warning_description',
                        due=ticket.sla_next_due),
                    user=user.id)
        if to_warn:
            cls.write(to_warn, {'sla_warned': True})

        overdue = cls.search([
                open_states,
                ('sla_next_due', '<=', current),
                ])
        newly = [t for t in overdue if not (
                t.response_breached if not t.first_response_at
                else t.resolution_breached)]
        if newly:
            cls.update_sla(newly)
            cls.escalate(newly)
            for ticket in newly:
                for user in ticket._sla_recipients():
                    cls.notify_user(
                        [ticket], 'tryton-error',
                        gettext('itsm_ticket.msg_sla_breach_label',
                            ticket=ticket.rec_name),
                        gettext('itsm_ticket.msg_sla_breach_description',
                            level=ticket.escalation_level),
                        user=user.id)

    def _sla_recipients(self):
        "The assignee, else the team's members; and the team leader"
        users = set()
        if self.assignee:
            users.add(self.assignee)
        elif self.team:
            users.update(self.team.members)
        if self.team and self.team.leader:
            users.add(self.team.leader)
        return sorted(users, key=lambda u: u.id)


class Note(metaclass=PoolMeta):
    __name__ = 'itsm.ticket.note'

    @classmethod
    def on_modification(cls, mode, notes, field_names=None):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        super().on_modification(mode, notes, field_names=field_names)
        if mode == 'create':
            Ticket.record_first_response(
                [n.ticket for n in notes if n.visibility == 'public'])


class Message(metaclass=PoolMeta):
    __name__ = 'itsm.ticket.message'

    @classmethod
    def on_modification(cls, mode, messages, field_names=None):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        super().on_modification(mode, messages, field_names=field_names)
        if mode == 'create':
            Ticket.record_first_response(
                [m.ticket for m in messages if m.counts_as_response()])

    def counts_as_response(self):
        "Whether the message answers the requester"
        return self.direction == 'outbound'


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('itsm.ticket|check_sla', "Check Service Level Agreements"))
