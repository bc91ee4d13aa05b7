# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

_TEAM_RULE_MODELS = {
    'itsm.ticket', 'itsm.ticket.note', 'itsm.ticket.task',
    'itsm.ticket.message',
    'timesheet.line',
    }


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name in _TEAM_RULE_MODELS:
            context.update(_team_context())
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if model_names & _TEAM_RULE_MODELS:
            context = _team_context()
            key = (*key, context['itsm_own_teams_only'],
                tuple(context['itsm_teams']), context['itsm_user'])
        return key


def _team_context():
    "What the agents' record rule on tickets reads"
    pool = Pool()
    Configuration = pool.get('itsm.configuration')
    Team = pool.get('itsm.team')
    with without_check_access():
        return {
            'itsm_own_teams_only': bool(
                Configuration(1).agents_see_own_teams),
            'itsm_teams': Team.of_user(),
            'itsm_user': Transaction().user,
            }
