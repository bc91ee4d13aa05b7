# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Service Desk mailboxes: Tryton's inbound email inboxes that make tickets.

An inbox with a company is a Service Desk mailbox. Its messages arrive by
the inbound_email webhook (an MTA pipe through ``itsm-mailgate``, or a
provider) or by the collector, which polls an IMAP or POP3 mailbox on a
cron. Either way the raw message is stored first; turning it into a ticket
or a reply happens on the queue (``inbound.py``). The rules of the inbox
route messages by sender, recipient and subject to a type, team and
category, or to another action.
"""
import datetime as dt
import logging
import re

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction

from itsm_ticket import workflow

from . import collector
from .mailparse import MAX_SIZE

logger = logging.getLogger(__name__)

REQUESTER_POLICIES = [
    ('create', "Register Unknown Senders"),
    ('domains', "Known Senders and Allowed Domains"),
    ('known', "Known Senders Only"),
    ]
PROTOCOLS = [
    (None, "Webhook Only"),
    ('imap', "IMAP"),
    ('pop3', "POP3"),
    ]
SECURITIES = [
    ('ssl', "SSL/TLS"),
    ('starttls', "STARTTLS"),
    ('none', "None (Plain Text)"),
    ]
COLLECT_BATCH = 100
_ADDRESS = re.compile(r'^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$')
_LABEL = r'[a-z0-9]([a-z0-9-]*[a-z0-9])?'
_DOMAIN = re.compile(rf'^{_LABEL}(\.{_LABEL})+$')


class Inbox(metaclass=PoolMeta):
    __name__ = 'inbound.email.inbox'

    _service_desk = Bool(Eval('company'))
    _collected = Bool(Eval('protocol'))

    company = fields.Many2One(
        'company.company', "Company", ondelete='RESTRICT',
        help="Set for a Service Desk mailbox: its messages become tickets "
        "and replies of this company.")
    address = fields.Char(
        "Address",
        states={
            'required': _service_desk,
            'invisible': ~_service_desk,
            },
        help="The Service Desk's address: the sender of its emails.")
    plus_addressing = fields.Boolean(
        "Plus Addressing",
        states={'invisible': ~_service_desk},
        help="Replies go to the address with the ticket number after a '+' "
        "(servicedesk+TCK-00012@...); the mail server must deliver such "
        "addresses to this mailbox.")
    ticket_type = fields.Selection(
        workflow.TYPES, "Ticket Type", sort=False,
        states={
            'required': _service_desk,
            'invisible': ~_service_desk,
            })
    team = fields.Many2One(
        'itsm.team', "Team", ondelete='SET NULL',
        domain=[('company', '=', Eval('company', -1))],
        states={'invisible': ~_service_desk})
    category = fields.Many2One(
        'itsm.ticket.category', "Category", ondelete='SET NULL',
        domain=[
            ['OR',
                ('types', '=', None),
                ('types', 'in', [Eval('ticket_type')]),
                ],
            ],
        states={'invisible': ~_service_desk})
    requester_policy = fields.Selection(
        REQUESTER_POLICIES, "Senders",
        states={
            'required': _service_desk,
            'invisible': ~_service_desk,
            },
        help="Who may open a ticket by email. Refused messages are kept "
        "for an administrator.")
    allowed_domains = fields.Text(
        "Allowed Domains",
        states={
            'invisible': Eval('requester_policy') != 'domains',
            },
        help="One domain a line: unknown senders of these domains are "
        "registered as requesters.")
    answer_refused = fields.Boolean(
        "Answer Refused Senders",
        states={'invisible': Eval('requester_policy', 'create') == 'create'},
        help="Tell a refused sender politely that the message was not "
        "registered.")
    cc_as_watchers = fields.Boolean(
        "Cc as Watchers",
        states={'invisible': ~_service_desk},
        help="The people in Cc of a message follow the ticket.")
    max_size = fields.Integer(
        "Maximum Size", states={'invisible': ~_service_desk},
        domain=[If(Bool(Eval('max_size')), ('max_size', '>', 0), ())],
        help="In bytes: larger messages are kept, not processed.")
    sender_limit = fields.Integer(
        "Messages per Sender per Hour", states={'invisible': ~_service_desk},
        domain=[If(Bool(Eval('sender_limit')), ('sender_limit', '>', 0), ())],
        help="Beyond this, messages of a sender are kept, not processed. "
        "Empty: no limit.")

    protocol = fields.Selection(
        PROTOCOLS, "Collect From", states={'invisible': ~_service_desk},
        help="Poll an IMAP or POP3 mailbox, besides the webhook.")
    host = fields.Char(
        "Server", states={
            'required': _collected,
            'invisible': ~_collected,
            })
    port = fields.Integer(
        "Port", states={'invisible': ~_collected},
        help="Empty: the protocol's default.")
    security = fields.Selection(
        SECURITIES, "Security", states={
            'required': _collected,
            'invisible': ~_collected,
            })
    username = fields.Char(
        "User Name", states={
            'required': _collected,
            'invisible': ~_collected,
            })
    password = fields.Char(
        "Password", strip=False, states={
            'invisible': ~_collected,
            })
    folder = fields.Char(
        "Folder", states={
            'invisible': Eval('protocol') != 'imap',
            })
    processed_folder = fields.Char(
        "Move To", states={
            'invisible': Eval('protocol') != 'imap',
            },
        help="Where collected messages are moved; empty: they are marked as "
        "read and stay.")
    certificate = fields.Text(
        "Trusted Certificate", states={
            'invisible': ~_collected | (Eval('security') == 'none'),
            },
        help="The PEM certificate (or authority) of a server whose "
        "certificate is not signed by a public authority.")
    collected_at = fields.DateTime(
        "Last Collected", readonly=True, states={'invisible': ~_collected})
    collect_error = fields.Text(
        "Collection Error", readonly=True,
        states={'invisible': ~Eval('collect_error')})
    # Every message is checked against them, to break loops.
    _own_addresses_cache = Cache(
        'inbound.email.inbox.own_addresses', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'collect': {
                    'invisible': ~cls._collected,
                    'depends': ['protocol'],
                    },
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_plus_addressing(cls):
        return True

    @classmethod
    def default_ticket_type(cls):
        return 'incident'

    @classmethod
    def default_requester_policy(cls):
        return 'create'

    @classmethod
    def default_answer_refused(cls):
        return True

    @classmethod
    def default_cc_as_watchers(cls):
        return True

    @classmethod
    def default_max_size(cls):
        return MAX_SIZE

    @classmethod
    def default_sender_limit(cls):
        return 30

    @classmethod
    def default_security(cls):
        return 'ssl'

    @classmethod
    def default_folder(cls):
        return 'INBOX'

    @fields.depends('protocol', 'security', 'port')
    def on_change_protocol(self):
        self.port = None

    @classmethod
    def validate_fields(cls, inboxes, field_names):
        super().validate_fields(inboxes, field_names)
        if field_names & {'address', 'allowed_domains'}:
            for inbox in inboxes:
                inbox.check_addresses()

    def check_addresses(self):
        if self.address and not _ADDRESS.match(self.address):
            raise ValidationError(gettext(
                    'itsm_email.msg_inbox_address_invalid',
                    inbox=self.rec_name, address=self.address))
        for domain in self.allowed_domain_names:
            if not _DOMAIN.match(domain):
                raise ValidationError(gettext(
                        'itsm_email.msg_inbox_domain_invalid',
                        inbox=self.rec_name, domain=domain))

    @property
    def allowed_domain_names(self):
        return [d.strip().lower().lstrip('@')
            for d in (self.allowed_domains or '').splitlines() if d.strip()]

    @property
    def local_part(self):
        return (self.address or '').rpartition('@')[0].lower()

    def process(self, email_):
        if not self.company:
            return super().process(email_)
        super().process(email_)
        rule = getattr(email_, 'rule', None)
        if rule is None:
            # No rule matched: the mailbox's own routing applies.
            email_.rule = None
            email_.state = 'received'
        elif not rule.action:
            email_.state = 'ignored'
            email_.reason = gettext(
                'itsm_email.msg_email_rule_no_action',
                rule=rule.rec_name)

    @classmethod
    def on_modification(cls, mode, inboxes, field_names=None):
        super().on_modification(mode, inboxes, field_names=field_names)
        if mode != 'write' or field_names & {'company', 'address'}:
            cls._own_addresses_cache.clear()

    @classmethod
    def own_addresses(cls, company=None):
        "The addresses of the Service Desk mailboxes, lower-cased"
        key = company.id if company is not None else None
        addresses = cls._own_addresses_cache.get(key)
        if addresses is None:
            domain = [('company', '!=', None), ('address', '!=', None)]
            if company is not None:
                domain.append(('company', '=', company.id))
            addresses = sorted({i.address.lower() for i in cls.search(domain)})
            cls._own_addresses_cache.set(key, addresses)
        return set(addresses)

    def collector_settings(self):
        return collector.Settings(
            protocol=self.protocol, host=self.host, port=self.port,
            security=self.security, username=self.username,
            password=self.password or '', folder=self.folder or 'INBOX',
            processed_folder=self.processed_folder or None,
            certificate=self.certificate or None)

    @classmethod
    @ModelView.button
    def collect(cls, inboxes):
        "Fetch the new messages of the mailboxes now"
        for inbox in inboxes:
            inbox.collect_messages()

    @classmethod
    def collect_mailboxes(cls):
        "Collect every IMAP and POP3 Service Desk mailbox (run by the cron)"
        cls.collect(cls.search([
                    ('company', '!=', None),
                    ('protocol', '!=', None),
                    ]))

    def collect_messages(self, limit=COLLECT_BATCH):
        """Store the messages waiting on the server; they are marked there
        once the transaction commits"""
        pool = Pool()
        Email = pool.get('inbound.email')
        transaction = Transaction()
        settings = self.collector_settings()
        try:
            client = collector.open_client(settings)
        except collector.CollectError as error:
            self._collect_failed(str(error))
            return []
        try:
            fetched = client.fetch(limit)
        except Exception as error:
            client.close()
            self._collect_failed(collector.scrub(
                    f"{settings.protocol.upper()} {settings.host}: "
                    f"{collector._describe(error)}", settings))
            return []
        emails = [Email(inbox=self, data=raw, data_type='raw')
            for _, raw in fetched]
        for email_ in emails:
            self.process(email_)
        Email.save(emails)
        transaction.join(collector.MarkAfterCommit(
                client, [uid for uid, _ in fetched]))
        self.collected_at = dt.datetime.now()
        self.collect_error = None
        self.save()
        logger.info("collected %d messages from %s", len(emails), self.name)
        return emails

    def _collect_failed(self, message):
        logger.warning("cannot collect %s: %s", self.name, message)
        self.collect_error = message
        self.save()


class Rule(metaclass=PoolMeta):
    __name__ = 'inbound.email.rule'

    _ticket = Eval('action') == 'inbound.email|itsm_receive'

    ticket_type = fields.Selection(
        [(None, "")] + workflow.TYPES, "Ticket Type", sort=False,
        states={'invisible': ~_ticket},
        help="Empty: the mailbox's.")
    team = fields.Many2One(
        'itsm.team', "Team", ondelete='SET NULL',
        states={'invisible': ~_ticket},
        help="Empty: the mailbox's.")
    category = fields.Many2One(
        'itsm.ticket.category', "Category", ondelete='SET NULL',
        states={'invisible': ~_ticket},
        help="Empty: the mailbox's.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.action.selection.append(
            ('inbound.email|itsm_receive', "Service Desk Ticket"))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('inbound.email.inbox|collect_mailboxes',
                    "Collect Service Desk Mailboxes"),
                ('inbound.email|itsm_process_stray',
                    "Process Received Emails Left Behind"),
                ])
