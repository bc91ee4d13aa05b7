# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from email.utils import parseaddr
from types import SimpleNamespace

import trytond.config as config
from trytond.cache import Cache
from trytond.model import fields
from trytond.pool import PoolMeta
from trytond.pyson import Bool, Eval, If

# What the email channel reads of the configuration for every message
EMAIL_SETTINGS = [
    'email_acknowledge', 'email_on_assignment', 'email_on_pending',
    'email_on_resolution', 'email_auto_reply_limit', 'message_id_domain']


def _email_sender():
    name, address = parseaddr(config.get('email', 'from', default='') or '')
    return name, address or 'servicedesk@localhost'


def _message_id_domain_name(message_id_domain):
    if message_id_domain:
        return message_id_domain.strip().lower()
    _, address = _email_sender()
    return 'itsm.' + (address.rpartition('@')[2] or 'localhost').lower()


class Configuration(metaclass=PoolMeta):
    __name__ = 'itsm.configuration'

    email_acknowledge = fields.Boolean(
        "Acknowledge New Tickets",
        help="Email the requester the number of a new ticket.")
    email_on_assignment = fields.Boolean(
        "Email on Assignment",
        help="Tell the requester who handles the ticket.")
    email_on_pending = fields.Boolean(
        "Email When Waiting on the Requester",
        help="Ask the requester to answer when the ticket waits on them.")
    email_on_resolution = fields.Boolean(
        "Email on Resolution",
        help="Send the requester the resolution.")
    email_auto_reply_limit = fields.Integer(
        "Automatic Emails per Address per Hour",
        domain=[If(Bool(Eval('email_auto_reply_limit')),
                ('email_auto_reply_limit', '>', 0), ())],
        help="Beyond this, automatic emails to an address are not sent: "
        "the last guard against a loop with a robot. Empty: no limit.")
    message_id_domain = fields.Char(
        "Message-ID Domain",
        help="The domain of the Message-IDs of the emails sent, which names "
        "them as ours; no one must send email from it. "
        "Empty: 'itsm.' and the domain of the [email] from address.")
    # Read for every message received and sent: a singleton costs two
    # queries at the first read of each transaction.
    _email_settings_cache = Cache(
        'itsm.configuration.email_settings', context=False)

    @classmethod
    def default_email_acknowledge(cls):
        return True

    @classmethod
    def default_email_on_assignment(cls):
        return False

    @classmethod
    def default_email_on_pending(cls):
        return False

    @classmethod
    def default_email_on_resolution(cls):
        return True

    @classmethod
    def default_email_auto_reply_limit(cls):
        return 10

    @property
    def email_sender(self):
        "The name and address of [email] from"
        return _email_sender()

    @property
    def message_id_domain_name(self):
        return _message_id_domain_name(self.message_id_domain)

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        cls._email_settings_cache.clear()

    @classmethod
    def email_settings(cls):
        """The settings of the email channel, as attributes; cached between
        transactions until the configuration is modified"""
        values = cls._email_settings_cache.get(None)
        if values is None:
            config_ = cls(1)
            values = {n: getattr(config_, n) for n in EMAIL_SETTINGS}
            cls._email_settings_cache.set(None, values)
        return SimpleNamespace(**values,
            email_sender=_email_sender(),
            message_id_domain_name=_message_id_domain_name(
                values['message_id_domain']))
