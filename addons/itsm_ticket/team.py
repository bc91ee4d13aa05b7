# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.model import DeactivableMixin, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction


class Team(DeactivableMixin, ModelSQL, ModelView):
    "A group of agents that takes tickets from a common queue"
    __name__ = 'itsm.team'
    __string__ = "Team"

    name = fields.Char("Name", required=True, translate=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    leader = fields.Many2One(
        'res.user', "Leader", ondelete='SET NULL',
        domain=[('id', 'in', Eval('members', []))])
    members = fields.Many2Many(
        'itsm.team-res.user', 'team', 'user', "Members")
    email = fields.Char(
        "Email", help="Where the team receives its notifications.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def of_user(cls, user_id=None):
        "The ids of the teams the user (by default the current one) is in"
        pool = Pool()
        Member = pool.get('itsm.team-res.user')
        if user_id is None:
            user_id = Transaction().user
        return [m.team.id for m in Member.search([('user', '=', user_id)])]


class TeamMember(ModelSQL):
    __name__ = 'itsm.team-res.user'
    __string__ = "Team Member"

    team = fields.Many2One(
        'itsm.team', "Team", required=True, ondelete='CASCADE')
    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    itsm_teams = fields.Many2Many(
        'itsm.team-res.user', 'user', 'team', "Service Desk Teams")
