# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.i18n import gettext
from trytond.model import (
    ModelSQL,
    ModelView,
    Workflow,
    fields,
    sequence_ordered,
)
from trytond.model.exceptions import ValidationError
from trytond.pyson import Bool, Eval, If

STATES = [
    ('open', "Open"),
    ('in_progress', "In Progress"),
    ('done', "Done"),
    ('cancelled', "Cancelled"),
    ]


class Task(sequence_ordered(), Workflow, ModelSQL, ModelView):
    "A piece of the work on a ticket, assigned to one person"
    __name__ = 'itsm.ticket.task'
    __string__ = "Ticket Task"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    company = fields.Function(
        fields.Many2One('company.company', "Company"),
        'on_change_with_company', searcher='search_company')
    name = fields.Char("Name", required=True)
    description = fields.Text("Description")
    assignee = fields.Many2One(
        'res.user', "Assignee", ondelete='SET NULL',
        domain=[
            If(Bool(Eval('company')),
                ('companies', 'in', [Eval('company', -1)]),
                ()),
            ])
    planned_start = fields.DateTime(
        "Planned Start",
        domain=[
            If(Bool(Eval('planned_start')) & Bool(Eval('planned_end')),
                ('planned_start', '<=', Eval('planned_end')),
                ()),
            ])
    planned_end = fields.DateTime(
        "Planned End",
        domain=[
            If(Bool(Eval('planned_start')) & Bool(Eval('planned_end')),
                ('planned_end', '>=', Eval('planned_start')),
                ()),
            ])
    state = fields.Selection(
        STATES, "State", required=True, readonly=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        cls._transitions = {
            ('open', 'in_progress'),
            ('open', 'done'),
            ('open', 'cancelled'),
            ('in_progress', 'done'),
            ('in_progress', 'open'),
            ('in_progress', 'cancelled'),
            ('done', 'open'),
            ('cancelled', 'open'),
            }
        cls._buttons.update({
                'reopen': {
                    'invisible': Eval('state').in_(['open', 'in_progress']),
                    'depends': ['state'],
                    },
                'start': {
                    'invisible': Eval('state') != 'open',
                    'depends': ['state'],
                    },
                'do': {
                    'invisible': ~Eval('state').in_(['open', 'in_progress']),
                    'depends': ['state'],
                    },
                'cancel': {
                    'invisible': ~Eval('state').in_(['open', 'in_progress']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'open'

    @fields.depends('ticket', '_parent_ticket.company')
    def on_change_with_company(self, name=None):
        return self.ticket.company if self.ticket else None

    @classmethod
    def search_company(cls, name, clause):
        return [('ticket.' + clause[0], *clause[1:])]

    @classmethod
    def _validate(cls, tasks, field_names=None):
        # The assignee's domain would refuse an outsider with a generic
        # message: say why first.
        if field_names is None or field_names & {'assignee', 'ticket'}:
            cls.check_assignee_company(tasks)
        super()._validate(tasks, field_names=field_names)

    @classmethod
    def check_assignee_company(cls, tasks):
        for task in tasks:
            company = task.ticket.company
            if task.assignee and company not in task.assignee.companies:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_task_assignee_company',
                        task=task.rec_name,
                        user=task.assignee.rec_name,
                        company=company.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('open')
    def reopen(cls, tasks):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def start(cls, tasks):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('done')
    def do(cls, tasks):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('cancelled')
    def cancel(cls, tasks):
        pass
