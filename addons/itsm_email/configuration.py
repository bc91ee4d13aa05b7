# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from email.utils import parseaddr

import trytond.config as config
from trytond.model import fields
from trytond.pool import PoolMeta
from trytond.pyson import Bool, Eval, If


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
        name, address = parseaddr(
            config.get('email', 'from', default='') or '')
        return name, address or 'servicedesk@localhost'

    @property
    def message_id_domain_name(self):
        if self.message_id_domain:
            return self.message_id_domain.strip().lower()
        _, address = self.email_sender
        return 'itsm.' + (address.rpartition('@')[2] or 'localhost').lower()
