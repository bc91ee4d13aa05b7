# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class User(metaclass=PoolMeta):
    __name__ = 'web.user'

    @property
    def portal_parties(self):
        "The parties whose records this portal user may see"
        parties = list(self.secondary_parties)
        if self.party:
            parties.insert(0, self.party)
        return parties

    @property
    def portal_name(self):
        "How the portal greets the user"
        if self.party:
            return self.party.rec_name
        return self.email

    @classmethod
    def portal_login(cls, email, password):
        """Return a new session key for valid credentials, None otherwise.

        Raises trytond.exceptions.RateLimitException after too many failed
        attempts for the address or from the network.
        """
        user = cls.authenticate(email.strip(), password)
        if user:
            return user.new_session()

    @classmethod
    def portal_logout(cls, key):
        pool = Pool()
        Session = pool.get('web.user.session')
        Session.remove(key)

    @classmethod
    def portal_session_user(cls, key):
        "Return the active web user of the session key, or None"
        if not key:
            return None
        user = cls.get_user(key)
        if user and user.active:
            return user
        return None

    @classmethod
    def portal_technical_user(cls):
        "Return the id of the res.user the portal runs as"
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        with Transaction().set_context(_check_access=False):
            return ModelData.get_id('itsm_portal', 'user_portal')
