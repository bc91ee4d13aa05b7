# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The ticket's side of the email channel: tickets opened and answered by
email, and the automatic emails of its events."""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction

from .inbound import base_address
from .outbound import format_address
from .threadmatch import strip_reply_prefixes, subject_with_token

# event -> the configuration field that enables it
EVENTS = {
    'created': 'email_acknowledge',
    'assigned': 'email_on_assignment',
    'pending': 'email_on_pending',
    'resolved': 'email_on_resolution',
    }


class Ticket(metaclass=PoolMeta):
    __name__ = 'itsm.ticket'

    mailbox = fields.Many2One(
        'inbound.email.inbox', "Mailbox", ondelete='SET NULL',
        domain=[('company', '=', Eval('company', -1))],
        help="The Service Desk mailbox the ticket's emails are sent from; "
        "empty: the first mailbox of the company.")
    no_automatic_email = fields.Char(
        "No Automatic Emails", readonly=True,
        states={'invisible': ~Eval('no_automatic_email')},
        help="Why the requester gets no automatic email: the ticket was "
        "opened by an automatic message.")

    def get_mailbox(self):
        Inbox = Pool().get('inbound.email.inbox')
        if self.mailbox:
            return self.mailbox
        mailboxes = Inbox.search([
                ('company', '=', self.company.id),
                ('address', '!=', None),
                ], order=[('id', 'ASC')], limit=1)
        return mailboxes[0] if mailboxes else None

    def watcher_addresses(self):
        "The addresses of the watching parties, for the Cc of replies"
        return ', '.join(sorted({p.email for p in self.watcher_parties
                    if p.email and p.email.lower() != (
                        self.requester_email or '').lower()}))

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('no_automatic_email', None)
        return super().copy(tickets, default=default)

    @classmethod
    def open_from_email(cls, email_, parsed, requester, rule=None):
        "Open a ticket for the email; return its first message"
        message, = cls.open_from_emails([(email_, parsed, requester, rule)])
        return message

    @classmethod
    def open_from_emails(cls, openings):
        """Open a ticket for each (email, parsed, requester, rule), in one
        go: return their first messages, in the same order"""
        values = [cls._values_from_email(*o) for o in openings]
        tickets = [None] * len(values)
        for company in sorted({v['company'] for v in values}):
            positions = [n for n, v in enumerate(values)
                if v['company'] == company]
            # The company of the context decides defaults and sequences.
            with Transaction().set_context(company=company):
                created = cls.create([values[n] for n in positions])
            for n, ticket in zip(positions, created, strict=True):
                tickets[n] = ticket
        messages = cls.add_email_messages([
                (ticket, email_, parsed, requester)
                for ticket, (email_, parsed, requester, _) in zip(
                    tickets, openings, strict=True)])
        cls.notify_requester(tickets, 'created')
        return messages

    @classmethod
    def _values_from_email(cls, email_, parsed, requester, rule):
        Inbox = Pool().get('inbound.email.inbox')
        inbox = email_.inbox
        type_ = (rule and rule.ticket_type) or inbox.ticket_type
        team = (rule and rule.team) or inbox.team
        category = (rule and rule.category) or inbox.category
        if category and not category.applies_to(type_):
            category = None
        if category and category.team and not team:
            team = category.team
        return {
            'company': inbox.company.id,
            'type': type_,
            'channel': 'email',
            'subject': parsed.subject[:250] or gettext(
                'itsm_email.msg_email_no_subject'),
            'description': parsed.text or None,
            'requester': requester.id if requester else None,
            'requester_email': parsed.from_address,
            'team': team.id if team else None,
            'category': category.id if category else None,
            'mailbox': inbox.id if isinstance(inbox, Inbox) else None,
            'no_automatic_email': email_.automatic,
            }

    def take_up_by_email(self, email_, parsed, party):
        """The requester answered by email: take the ticket up again; return
        the first message of a follow-up ticket when this one is over, else
        None"""
        Relation = Pool().get('itsm.ticket.relation')
        if email_.automatic or not self.reopen_by_requester([self]):
            return None
        follow_up = self.open_from_email(
            email_, parsed, party or self.requester, email_.rule)
        Relation.create([{
                    'from_ticket': follow_up.ticket.id,
                    'to_ticket': self.id,
                    'type': 'relates_to',
                    }])
        return follow_up

    @classmethod
    def add_email_messages(cls, items):
        """Add each (ticket, email, parsed, party) to its ticket's
        conversation, the people in copy to its watchers; return the
        messages"""
        messages = cls._add_email_messages(items)
        for ticket, email_, parsed, _ in items:
            ticket._add_cc_watchers(email_, parsed)
        return messages

    @classmethod
    def _add_email_messages(cls, items):
        """The messages of the emails, with their attachments on the message
        and the ticket"""
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        Attachment = pool.get('ir.attachment')
        now = dt.datetime.now()
        messages = Message.create([{
                    'ticket': ticket.id,
                    'direction': 'inbound',
                    'date': now,
                    'author': None,
                    'party': party.id if party else None,
                    'from_address': format_address(
                        parsed.from_name, parsed.from_address),
                    'to_addresses': ', '.join(a for _, a in parsed.to) or None,
                    'cc_addresses': ', '.join(a for _, a in parsed.cc) or None,
                    'subject': parsed.subject or None,
                    'body': parsed.text if parsed.text.strip() else gettext(
                        'itsm_email.msg_email_empty_body'),
                    'body_html': parsed.html,
                    'message_id': parsed.message_id,
                    'in_reply_to': ' '.join(parsed.in_reply_to) or None,
                    'references': ' '.join(parsed.references) or None,
                    'inbound_email': email_.id,
                    'automatic': bool(email_.automatic),
                    } for ticket, email_, parsed, party in items])
        attachments = []
        for message, (ticket, _, parsed, _) in zip(
                messages, items, strict=True):
            names = set()
            for attachment in parsed.attachments:
                name = _unique_name(attachment.filename, names)
                for resource in [ticket, message]:
                    attachments.append({
                            'resource': str(resource),
                            'name': name,
                            'type': 'data',
                            'data': attachment.data,
                            })
        if attachments:
            Attachment.create(attachments)
        return messages

    def _add_cc_watchers(self, email_, parsed):
        "The people in copy of the email follow the ticket"
        pool = Pool()
        Party = pool.get('party.party')
        Inbox = pool.get('inbound.email.inbox')
        inbox = email_.inbox
        if not inbox.cc_as_watchers or not parsed.cc:
            return
        own = Inbox.own_addresses()
        requester = (self.requester_email or '').lower()
        addresses = {}
        for name, address in parsed.cc:
            if address != requester and base_address(address) not in own:
                addresses.setdefault(address, name)
        if not addresses:
            return
        found = Party.find_by_email(addresses)
        if inbox.requester_policy == 'create':
            for address, name in addresses.items():
                if address not in found:
                    found[address] = Party.from_email(address, name)
        watching = set(self.watcher_parties)
        new = [p for p in found.values()
            if p not in watching and p != self.requester]
        if new:
            self.__class__.write([self], {
                    'watcher_parties': [('add', [p.id for p in new])],
                    })

    # Automatic emails of the ticket's events

    @classmethod
    def on_modification(cls, mode, tickets, field_names=None):
        super().on_modification(mode, tickets, field_names=field_names)
        if mode == 'create':
            # Those opened by email are acknowledged once their first
            # message is in.
            cls.notify_requester(
                [t for t in tickets if t.channel != 'email'], 'created')

    @classmethod
    def assign(cls, tickets):
        before = {t.id: t.state for t in tickets}
        super().assign(tickets)
        cls.notify_requester(
            [t for t in tickets if before[t.id] != t.state], 'assigned')

    @classmethod
    def wait_requester(cls, tickets):
        super().wait_requester(tickets)
        cls.notify_requester(tickets, 'pending')

    @classmethod
    def resolve(cls, tickets):
        super().resolve(tickets)
        cls.notify_requester(tickets, 'resolved')

    @classmethod
    def notify_requester(cls, tickets, event):
        """Send the requesters the automatic email of the event, if enabled
        and unless the context says itsm_notify=False (imports, demo)"""
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        Message = pool.get('itsm.ticket.message')
        if not tickets:
            return
        config = Configuration.email_settings()
        if (not getattr(config, EVENTS[event])
                or not Transaction().context.get('itsm_notify', True)):
            return
        emails = [(ticket, *ticket.event_email(event))
            for ticket in tickets
            if ticket.requester_email and not ticket.no_automatic_email]
        if emails:
            Message.queue_delivery(Message.create_automatics(emails))

    @property
    def requester_language(self):
        if self.requester and self.requester.lang:
            return self.requester.lang.code
        return None

    def event_email(self, event):
        "The subject and text of the event's email, in the requester's tongue"
        values = {
            'number': self.number,
            'subject': self.subject,
            'name': self.requester.rec_name if self.requester else '',
            'agent': self.assignee.rec_name if self.assignee else '',
            'team': self.team.rec_name if self.team else '',
            'resolution': self.resolution or '',
            'company': self.company.rec_name,
            }
        # The subject line without the reply prefixes and ticket tokens of
        # the email that opened the ticket: no "Re: Re:", and no token of
        # the ticket a follow-up was opened after.
        subject_values = dict(
            values, subject=strip_reply_prefixes(self.subject) or self.subject)
        language = self.requester_language
        context = {'language': language} if language else {}
        with Transaction().set_context(**context):
            subject = gettext(
                f'itsm_email.msg_template_{event}_subject', **subject_values)
            body = gettext(f'itsm_email.msg_template_{event}_body', **values)
            body += '\n\n' + gettext(
                'itsm_email.msg_template_signature', **values)
        return subject_with_token(subject, self.number), body


def _unique_name(name, names):
    "name, or 'name (2).ext' if taken"
    candidate = name
    stem, dot, extension = name.rpartition('.')
    if not dot:
        stem, extension = name, ''
    count = 1
    while candidate.lower() in names:
        count += 1
        candidate = f'{stem} ({count}){dot}{extension}'
    names.add(candidate.lower())
    return candidate
