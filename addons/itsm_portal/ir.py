# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access


def portal_rule_context():
    """Return what the portal's record rules may refer to.

    The portal runs as one technical user for every web user; the web user of
    the request is put in the transaction context by the portal, and the
    record rules of the Portal group narrow what it reads to that web user's
    own records through these keys.
    """
    pool = Pool()
    WebUser = pool.get('web.user')
    web_user_id = Transaction().context.get('web_user')
    if not web_user_id:
        return {'web_user': -1, 'portal_parties': []}
    with without_check_access():
        web_user = WebUser(web_user_id)
        parties = [p.id for p in web_user.portal_parties]
    return {'web_user': web_user.id, 'portal_parties': parties}


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        context.update(portal_rule_context())
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        return (*key, Transaction().context.get('web_user'))
