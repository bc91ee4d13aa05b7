# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
import datetime as dt

from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.modules.company.model import (
    CompanyMultiValueMixin,
    CompanyValueMixin,
)
from trytond.pool import Pool
from trytond.pyson import Eval, Id

ticket_sequence = fields.Many2One(
    'ir.sequence', "Ticket Sequence", required=True,
    domain=[
        ('company', 'in', [Eval('company', -1), None]),
        ('sequence_type', '=', Id('itsm_ticket', 'sequence_type_ticket')),
        ])


class Configuration(
        ModelSingleton, ModelSQL, ModelView, CompanyMultiValueMixin):
    "The Service Desk's settings"
    __name__ = 'itsm.configuration'
    __string__ = "Service Desk Configuration"

    ticket_sequence = fields.MultiValue(fields.Many2One(
            'ir.sequence', "Ticket Sequence", required=True,
            domain=[
                ('company', 'in',
                    [Eval('context', {}).get('company', -1), None]),
                ('sequence_type', '=',
                    Id('itsm_ticket', 'sequence_type_ticket')),
                ]))
    resolve_with_open_tasks = fields.Boolean(
        "Resolve with Open Tasks",
        help="Allow resolving a ticket while some of its tasks are open.")
    reopen_closed_within = fields.TimeDelta(
        "Reopen Closed Within",
        help="An answer of the requester reopens an incident or a request "
        "closed less than this ago; later answers open a new ticket linked "
        "to it. Empty: closed tickets are never reopened.")
    agents_see_own_teams = fields.Boolean(
        "Agents See Their Teams Only",
        help="Agents see only the tickets of their teams, the tickets "
        "assigned to them and the tickets without a team.")

    @classmethod
    def multivalue_model(cls, field):
        pool = Pool()
        if field == 'ticket_sequence':
            return pool.get('itsm.configuration.sequence')
        return super().multivalue_model(field)

    @classmethod
    def default_ticket_sequence(cls, **pattern):
        return cls.multivalue_model(
            'ticket_sequence').default_ticket_sequence()

    @classmethod
    def default_resolve_with_open_tasks(cls):
        return False

    @classmethod
    def default_reopen_closed_within(cls):
        return dt.timedelta(days=14)

    @classmethod
    def default_agents_see_own_teams(cls):
        return False


class ConfigurationSequence(ModelSQL, CompanyValueMixin):
    "The ticket sequence of a company"
    __name__ = 'itsm.configuration.sequence'
    ticket_sequence = ticket_sequence

    @classmethod
    def default_ticket_sequence(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        try:
            return ModelData.get_id('itsm_ticket', 'sequence_ticket')
        except KeyError:
            return None

