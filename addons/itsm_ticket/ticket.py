# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
import datetime as dt
from functools import wraps

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool
from trytond.pyson import And, Bool, Eval, If, Or
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from . import workflow
from .priority import IMPACTS, PRIORITIES, URGENCIES, matrix_priority
from .search import rec_name_domain

CHANNELS = [
    ('backend', "Backend"),
    ('email', "Email"),
    ('portal', "Portal"),
    ('phone', "Phone"),
    ]
PENDING_REASONS = [
    (None, ""),
    ('requester', "Waiting on the requester"),
    ('third_party', "Waiting on a third party"),
    ]
RISKS = [
    (None, ""),
    ('low', "Low"),
    ('medium', "Medium"),
    ('high', "High"),
    ]


class TransitionError(ValidationError):
    pass


def transition(state):
    """Move the tickets to state, refusing the move for the whole batch if
    one ticket's type does not allow it (Tryton's own decorator would skip
    it silently)."""
    def decorator(func):
        moved = Workflow.transition(state)(func)

        @wraps(func)
        def wrapper(cls, tickets, *args, **kwargs):
            for ticket in tickets:
                if ticket.state != state and not workflow.may_go(
                        ticket.type, ticket.state, state):
                    raise TransitionError(gettext(
                            'itsm_ticket.msg_ticket_transition',
                            ticket=ticket.rec_name,
                            type=ticket.type_string,
                            state=ticket.state_string,
                            to=dict(workflow.STATES)[state]))
            return moved(cls, tickets, *args, **kwargs)
        return wrapper
    return decorator


def button_states(state):
    "Show the button only where the ticket's type may go to state"
    conditions = [
        And(Eval('type') == type_, Eval('state').in_(froms))
        for type_, froms in workflow.sources(state).items()]
    condition = Or(*conditions) if len(conditions) > 1 else conditions[0]
    return {
        'invisible': ~condition,
        'depends': ['type', 'state'],
        }


class Ticket(Workflow, ModelSQL, ModelView):
    "A request to the service desk: an incident, a service request, " \
        "a problem, a change or a release"
    __name__ = 'itsm.ticket'
    __string__ = "Ticket"
    _history = True
    _rec_name = 'number'

    number = fields.Char("Number", readonly=True)
    type = fields.Selection(
        workflow.TYPES, "Type", required=True, sort=False,
        states={
            'readonly': Eval('id', -1) >= 0,
            })
    type_string = type.translated('type')
    subject = fields.Char("Subject", required=True)
    description = fields.Text("Description")
    channel = fields.Selection(CHANNELS, "Channel", required=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='RESTRICT',
        states={
            'readonly': Eval('id', -1) >= 0,
            })
    state = fields.Selection(
        workflow.STATES, "State", required=True, readonly=True, sort=False)
    state_string = state.translated('state')

    # Basic
    category = fields.Many2One(
        'itsm.ticket.category', "Category", ondelete='RESTRICT',
        domain=[
            ['OR',
                ('types', '=', None),
                ('types', 'in', [Eval('type')]),
                ],
            ])
    impact = fields.Selection(IMPACTS, "Impact", required=True, sort=False)
    urgency = fields.Selection(
        URGENCIES, "Urgency", required=True, sort=False)
    priority = fields.Selection(
        PRIORITIES, "Priority", required=True, sort=False,
        states={
            'readonly': ~Eval('priority_manual', False),
            },
        help="Computed from impact and urgency unless a manager sets it.")
    priority_string = priority.translated('priority')
    priority_manual = fields.Boolean(
        "Manual Priority",
        help="A manager sets the priority by hand, with a reason.")
    priority_reason = fields.Char(
        "Priority Reason",
        states={
            'invisible': ~Eval('priority_manual', False),
            'required': Eval('priority_manual', False),
            })
    requester = fields.Many2One(
        'party.party', "Requester", ondelete='RESTRICT',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    requester_email = fields.Char(
        "Requester Email",
        help="The address the requester wrote from and is answered at.")
    customer = fields.Many2One(
        'party.party', "Customer", ondelete='RESTRICT',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="The client organisation, for service providers.")
    team = fields.Many2One(
        'itsm.team', "Team", ondelete='SET NULL',
        domain=[('company', '=', Eval('company', -1))])
    assignee = fields.Many2One(
        'res.user', "Assignee", ondelete='SET NULL',
        domain=[
            ('companies', 'in', [Eval('company', -1)]),
            If(Bool(Eval('team')),
                ('itsm_teams', 'in', [Eval('team', -1)]),
                ()),
            ])
    watchers = fields.Many2Many(
        'itsm.ticket-res.user.watcher', 'ticket', 'user', "Watching Users")
    watcher_parties = fields.Many2Many(
        'itsm.ticket-party.party.watcher', 'ticket', 'party',
        "Watching Parties",
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    location = fields.Many2One(
        'itsm.location', "Location", ondelete='SET NULL',
        domain=[('company', '=', Eval('company', -1))])
    pending_reason = fields.Selection(
        PENDING_REASONS, "Pending Reason", readonly=True,
        states={
            'invisible': Eval('state') != 'pending',
            })
    escalation_level = fields.Integer("Escalation Level", readonly=True)
    resolution = fields.Text(
        "Resolution",
        states={
            'invisible': ~Eval('type').in_(['incident', 'request', 'problem']),
            })
    assigned_at = fields.DateTime("Assigned at", readonly=True)
    resolved_at = fields.DateTime("Resolved at", readonly=True)
    closed_at = fields.DateTime("Closed at", readonly=True)

    # Problems
    root_cause = fields.Text(
        "Root Cause",
        states={
            'invisible': Eval('type') != 'problem',
            })
    workaround = fields.Text(
        "Workaround",
        states={
            'invisible': Eval('type') != 'problem',
            },
        help="How to get the service back while the cause remains.")

    # Changes and releases
    risk = fields.Selection(
        RISKS, "Risk",
        states={
            'invisible': Eval('type') != 'change',
            })
    implementation_plan = fields.Text(
        "Implementation Plan",
        states={
            'invisible': ~Eval('type').in_(['change', 'release']),
            })
    backout_plan = fields.Text(
        "Back-out Plan",
        states={
            'invisible': ~Eval('type').in_(['change', 'release']),
            })
    window_start = fields.DateTime(
        "Window Start",
        domain=[
            If(Bool(Eval('window_start')) & Bool(Eval('window_end')),
                ('window_start', '<=', Eval('window_end')),
                ()),
            ],
        states={
            'invisible': ~Eval('type').in_(['change', 'release']),
            },
        help="When the change or the release may be carried out.")
    window_end = fields.DateTime(
        "Window End",
        domain=[
            If(Bool(Eval('window_start')) & Bool(Eval('window_end')),
                ('window_end', '>=', Eval('window_start')),
                ()),
            ],
        states={
            'invisible': ~Eval('type').in_(['change', 'release']),
            })

    # Notes and tasks
    notes = fields.One2Many('itsm.ticket.note', 'ticket', "Notes")
    tasks = fields.One2Many('itsm.ticket.task', 'ticket', "Tasks")
    messages = fields.One2Many(
        'itsm.ticket.message', 'ticket', "Conversation")
    mine = fields.Function(
        fields.Boolean("Assigned to Me"), 'get_mine', searcher='search_mine')
    in_my_teams = fields.Function(
        fields.Boolean("In My Teams"),
        'get_in_my_teams', searcher='search_in_my_teams')
    progress = fields.Function(
        fields.Float("Progress", digits=(1, 2),
            help="The share of the tasks that are done."),
        'get_progress')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('priority', 'ASC'),
            ('create_date', 'DESC'),
            ('id', 'DESC'),
            ]
        table = cls.__table__()
        # What the agents' lists filter and sort on: open tickets by
        # priority, newest first, overall, per assignee and per team.
        open_ = ~table.state.in_(sorted(workflow.DONE_STATES))
        newest = (
            (table.priority, Index.Range()),
            (table.create_date, Index.Range(order='DESC')),
            (table.id, Index.Range(order='DESC')))
        cls._sql_indexes.update({
                Index(table, *newest, where=open_),
                # Searches over every ticket (a word of one ticket in five)
                # walk the list's order and stop at the page.
                Index(table, *newest),
                Index(table, (table.assignee, Index.Equality()), *newest,
                    where=open_),
                Index(table, (table.team, Index.Equality()), *newest,
                    where=open_),
                Index(table,
                    (table.state, Index.Equality()),
                    (table.create_date, Index.Range())),
                Index(table, (table.requester, Index.Range())),
                Index(table, (table.customer, Index.Range())),
                Index(table, (table.type, Index.Equality())),
                # The ticket of a number (with_numbers)
                Index(table, (table.number, Index.Equality())),
                # Searching a ticket by a word of its subject; a trigram
                # index when PostgreSQL has pg_trgm.
                Index(table, (table.subject, Index.Similarity())),
                })
        cls._transitions = workflow.all_transitions()
        target = {
            'assign': 'assigned',
            'start': 'in_progress',
            'wait_requester': 'pending',
            'wait_third_party': 'pending',
            'resolve': 'resolved',
            'close': 'closed',
            'cancel': 'cancelled',
            'reopen': 'in_progress',
            'analyse': 'analysis',
            'declare_known_error': 'known_error',
            'draft': 'draft',
            'assess': 'assessment',
            'request_approval': 'awaiting_approval',
            'approve': 'approved',
            'reject': 'rejected',
            'schedule': 'scheduled',
            'implement': 'implemented',
            'review': 'reviewed',
            'build': 'build',
            'test': 'test',
            'deploy': 'deploy',
            }
        cls._buttons.update({
                name: button_states(state)
                for name, state in target.items()})
        # A resolved ticket goes back to work with Reopen, not Start.
        cls._buttons['start']['invisible'] |= Eval('state') == 'resolved'
        cls._buttons['reopen']['invisible'] |= Eval('state') != 'resolved'
        cls._buttons['reopen']['depends'] = ['state', 'type']
        cls._buttons['analyse']['invisible'] |= Eval('type') != 'problem'
        cls._buttons.update({
                'take': {
                    'invisible': _done_or_closed(),
                    'depends': ['state'],
                    },
                'escalate': {
                    'invisible': _done_or_closed(),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_type(cls):
        return 'incident'

    @classmethod
    def default_state(cls):
        return 'new'

    @classmethod
    def default_channel(cls):
        return 'backend'

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_impact(cls):
        return '2'

    @classmethod
    def default_urgency(cls):
        return '2'

    @classmethod
    def default_priority(cls):
        return '3'

    @classmethod
    def default_priority_manual(cls):
        return False

    @classmethod
    def default_escalation_level(cls):
        return 0

    def get_rec_name(self, name):
        if self.number:
            return f'{self.number}: {self.subject}'
        return self.subject

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, 'number', 'subject')

    @classmethod
    def with_numbers(cls, numbers, company):
        """The company's tickets of the numbers, on the index of the
        column (a search compares Coalesce(number, ''), which has none)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = []
        for sub in grouped_slice(
                sorted({n for n in numbers if n}), count=500):
            cursor.execute(*table.select(table.id,
                    where=table.number.in_(list(sub))
                    & (table.company == company.id)))
            ids.extend(i for i, in cursor)
        return cls.browse(sorted(ids))

    @staticmethod
    def order_priority(tables):
        # The codes sort as the priorities do; ordering on the column
        # itself, not on a CASE of it, lets the lists use their indexes.
        table, _ = tables[None]
        return [table.priority]

    @fields.depends('type', 'state', 'id')
    def on_change_type(self):
        if (self.id is None or self.id < 0) and self.type:
            self.state = workflow.INITIAL_STATE[self.type]

    @fields.depends('impact', 'urgency', 'priority_manual')
    def on_change_with_priority(self, name=None):
        if self.priority_manual:
            return getattr(self, 'priority', None)
        if self.impact and self.urgency:
            return self.computed_priority(self.impact, self.urgency)

    @fields.depends('requester', 'requester_email')
    def on_change_requester(self):
        if self.requester and not self.requester_email:
            self.requester_email = self.requester.email

    @fields.depends('category', 'team')
    def on_change_category(self):
        if self.category and self.category.team and not self.team:
            self.team = self.category.team

    @staticmethod
    def computed_priority(impact, urgency):
        pool = Pool()
        Matrix = pool.get('itsm.priority.matrix')
        return matrix_priority(Matrix.as_dict(), impact, urgency)

    def get_mine(self, name):
        return self.assignee and self.assignee.id == Transaction().user

    @classmethod
    def search_mine(cls, name, clause):
        _, operator, value = clause
        if (operator == '=') == bool(value):
            return [('assignee', '=', Transaction().user)]
        return ['OR',
            ('assignee', '=', None),
            ('assignee', '!=', Transaction().user),
            ]

    def get_in_my_teams(self, name):
        pool = Pool()
        Team = pool.get('itsm.team')
        return bool(self.team and self.team.id in Team.of_user())

    @classmethod
    def search_in_my_teams(cls, name, clause):
        pool = Pool()
        Team = pool.get('itsm.team')
        _, operator, value = clause
        if (operator == '=') == bool(value):
            return [('team', 'in', Team.of_user())]
        return ['OR',
            ('team', '=', None),
            ('team', 'not in', Team.of_user()),
            ]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('//group[@id="problem"]', 'states', {
                    'invisible': Eval('type') != 'problem',
                    }),
            ('//group[@id="change"]', 'states', {
                    'invisible': ~Eval('type').in_(['change', 'release']),
                    }),
            ('//group[@id="resolution"]', 'states', {
                    'invisible': ~Eval('type').in_(
                        ['incident', 'request', 'problem']),
                    }),
            ('/tree', 'visual',
                If(Eval('state').in_(sorted(workflow.DONE_STATES)), 'muted',
                    If(Eval('priority') == '1', 'danger',
                        If(Eval('priority') == '2', 'warning', '')))),
            ('/tree/field[@name="priority"]', 'visual',
                If(Eval('priority') == '1', 'danger',
                    If(Eval('priority') == '2', 'warning', ''))),
            ]

    def get_progress(self, name):
        tasks = [t for t in self.tasks if t.state != 'cancelled']
        if not tasks:
            return None
        return sum(t.state == 'done' for t in tasks) / len(tasks)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        values = super().preprocess_values(mode, values)
        if mode == 'create':
            type_ = values.get('type', cls.default_type())
            if values.get('state', 'new') == 'new':
                values['state'] = workflow.INITIAL_STATE[type_]
            if not values.get('number'):
                company = values.get('company', cls.default_company())
                config = Configuration(1)
                sequence = config.get_multivalue(
                    'ticket_sequence', company=company)
                values['number'] = sequence.get()
            cls._set_priority(values)
        return values

    @classmethod
    def _set_priority(cls, values, ticket=None):
        "Give values the priority of the matrix, unless it is set by hand"
        def value(name):
            if name in values:
                return values[name]
            if ticket:
                return getattr(ticket, name)
            return getattr(cls, f'default_{name}')()
        if not value('priority_manual'):
            values['priority'] = cls.computed_priority(
                value('impact'), value('urgency'))
        return values

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        args = []
        priority_fields = {'impact', 'urgency', 'priority', 'priority_manual'}
        for tickets, values in zip(actions, actions, strict=True):
            if not tickets:
                # The transitions write whatever moved, often nothing: an
                # empty write still costs a few queries.
                continue
            if priority_fields & values.keys():
                for ticket in tickets:
                    args.extend([
                            [ticket], cls._set_priority(dict(values), ticket)])
            else:
                args.extend([tickets, values])
        if args:
            super().write(*args)

    @classmethod
    def check_modification(cls, mode, tickets, values=None, external=False):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        super().check_modification(
            mode, tickets, values=values, external=external)
        if mode == 'write' and external and any(
                name in values and values[name] != getattr(ticket, name)
                for ticket in tickets
                for name in ['priority_manual', 'priority_reason']
                + (['priority'] if ticket.priority_manual else [])):
            manager = ModelData.get_id('itsm_ticket', 'group_manager')
            if manager not in User.get_groups():
                raise AccessError(gettext(
                        'itsm_ticket.msg_ticket_priority_manager'))
        if mode == 'delete':
            for ticket in tickets:
                if ticket.state not in {
                        workflow.INITIAL_STATE[ticket.type], 'cancelled'}:
                    raise AccessError(gettext(
                            'itsm_ticket.msg_ticket_delete',
                            ticket=ticket.rec_name))

    @classmethod
    def _validate(cls, tickets, field_names=None):
        # The category's domain would refuse a category of another type with
        # a generic message: say why first.
        if field_names is None or field_names & {'category', 'type'}:
            cls.check_category_type(tickets)
        super()._validate(tickets, field_names=field_names)

    @classmethod
    def check_category_type(cls, tickets):
        for ticket in tickets:
            if ticket.category and not ticket.category.applies_to(
                    ticket.type):
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_category_type',
                        ticket=ticket.rec_name,
                        category=ticket.category.rec_name,
                        type=ticket.type_string))

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default is not None else {}
        for name in ['number', 'assigned_at', 'resolved_at', 'closed_at',
                'messages', 'pending_reason', 'escalation_level']:
            default.setdefault(name, None)
        default.setdefault('state', 'new')
        return super().copy(tickets, default=default)

    # Transitions

    @classmethod
    @ModelView.button
    @transition('assigned')
    def assign(cls, tickets):
        for ticket in tickets:
            if not ticket.assignee and not ticket.team:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_assign_nobody',
                        ticket=ticket.rec_name))
        cls.write([t for t in tickets if not t.assigned_at], {
                'assigned_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    def take(cls, tickets):
        "The current user becomes the assignee"
        user = Transaction().user
        cls.write(tickets, {'assignee': user})
        cls.assign([t for t in tickets if workflow.may_go(
                        t.type, t.state, 'assigned')])

    @classmethod
    @ModelView.button
    def escalate(cls, tickets):
        "Raise the escalation level and hand the ticket to the team leader"
        for ticket in tickets:
            values = {'escalation_level': (ticket.escalation_level or 0) + 1}
            if ticket.team and ticket.team.leader:
                values['assignee'] = ticket.team.leader.id
            cls.write([ticket], values)

    @classmethod
    @ModelView.button
    @transition('in_progress')
    def start(cls, tickets):
        cls.write([t for t in tickets if t.pending_reason], {
                'pending_reason': None})

    @classmethod
    @ModelView.button
    @transition('pending')
    def wait_requester(cls, tickets):
        cls.write(tickets, {'pending_reason': 'requester'})

    @classmethod
    @ModelView.button
    @transition('pending')
    def wait_third_party(cls, tickets):
        cls.write(tickets, {'pending_reason': 'third_party'})

    @classmethod
    @ModelView.button
    @transition('resolved')
    def resolve(cls, tickets):
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        config = Configuration(1)
        for ticket in tickets:
            if (ticket.type in {'incident', 'request', 'problem'}
                    and not ticket.resolution):
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_resolution_required',
                        ticket=ticket.rec_name))
            open_tasks = [t for t in ticket.tasks
                if t.state in {'open', 'in_progress'}]
            if open_tasks and not config.resolve_with_open_tasks:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_open_tasks',
                        ticket=ticket.rec_name,
                        tasks=", ".join(t.rec_name for t in open_tasks)))
        cls.write(tickets, {
                'resolved_at': dt.datetime.now(),
                'pending_reason': None,
                })

    @classmethod
    @ModelView.button
    @transition('in_progress')
    def reopen(cls, tickets):
        cls.write(tickets, {'resolved_at': None})

    @classmethod
    def reopen_by_requester(cls, tickets):
        """The requester answered: a resolved ticket goes back to work, a
        pending one is taken up again, a ticket closed less than the
        configured delay ago is reopened.

        Return the tickets that stay closed or cancelled: the answer belongs
        to a new ticket."""
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        resolved = [t for t in tickets if t.state == 'resolved']
        waiting = [t for t in tickets
            if t.state == 'pending' and t.pending_reason == 'requester']
        problems = [t for t in resolved if t.type == 'problem']
        if problems:
            cls.analyse(problems)
        cls.reopen([t for t in resolved if t.type != 'problem'])
        cls.start(waiting)
        closed = [t for t in tickets
            if t.state == 'closed' and t.closed_at
            and t.type in workflow.REOPENED_BY_REQUESTER]
        delay = Configuration(1).reopen_closed_within if closed else None
        now = dt.datetime.now()
        cls._reopen_closed([t for t in closed
                if delay is not None and now - t.closed_at <= delay])
        return [t for t in tickets if t.state in {'closed', 'cancelled'}]

    @classmethod
    @Workflow.transition('in_progress')
    def _reopen_closed(cls, tickets):
        # Not a button: only the requester's answer reopens a closed ticket.
        cls.write(tickets, {'resolved_at': None, 'closed_at': None})

    @classmethod
    @ModelView.button
    @transition('closed')
    def close(cls, tickets):
        cls.write(tickets, {'closed_at': dt.datetime.now()})

    @classmethod
    @ModelView.button
    @transition('cancelled')
    def cancel(cls, tickets):
        cls.write(tickets, {'pending_reason': None})

    @classmethod
    @ModelView.button
    @transition('analysis')
    def analyse(cls, tickets):
        cls.write([t for t in tickets if t.resolved_at], {
                'resolved_at': None})

    @classmethod
    @ModelView.button
    @transition('known_error')
    def declare_known_error(cls, tickets):
        for ticket in tickets:
            if not ticket.workaround:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_workaround_required',
                        ticket=ticket.rec_name))

    @classmethod
    @ModelView.button
    @transition('draft')
    def draft(cls, tickets):
        pass

    @classmethod
    @ModelView.button
    @transition('assessment')
    def assess(cls, tickets):
        pass

    @classmethod
    @ModelView.button
    @transition('awaiting_approval')
    def request_approval(cls, tickets):
        for ticket in tickets:
            if not ticket.risk or not ticket.implementation_plan:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_change_assessment',
                        ticket=ticket.rec_name))

    @classmethod
    @ModelView.button
    @transition('approved')
    def approve(cls, tickets):
        pass

    @classmethod
    @ModelView.button
    @transition('rejected')
    def reject(cls, tickets):
        pass

    @classmethod
    @ModelView.button
    @transition('scheduled')
    def schedule(cls, tickets):
        for ticket in tickets:
            if not ticket.window_start or not ticket.window_end:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_window_required',
                        ticket=ticket.rec_name))

    @classmethod
    @ModelView.button
    @transition('implemented')
    def implement(cls, tickets):
        pass

    @classmethod
    @ModelView.button
    @transition('reviewed')
    def review(cls, tickets):
        pass

    @classmethod
    @ModelView.button
    @transition('build')
    def build(cls, tickets):
        pass

    @classmethod
    @ModelView.button
    @transition('test')
    def test(cls, tickets):
        pass

    @classmethod
    @ModelView.button
    @transition('deploy')
    def deploy(cls, tickets):
        for ticket in tickets:
            if not ticket.window_start or not ticket.window_end:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_window_required',
                        ticket=ticket.rec_name))


def _done_or_closed():
    return Eval('state').in_(sorted(workflow.DONE_STATES))


class TicketWatcher(ModelSQL):
    __name__ = 'itsm.ticket-res.user.watcher'
    __string__ = "Ticket Watching User"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')


class TicketWatcherParty(ModelSQL):
    __name__ = 'itsm.ticket-party.party.watcher'
    __string__ = "Ticket Watching Party"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='CASCADE')
