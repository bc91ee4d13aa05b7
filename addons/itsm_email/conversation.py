# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Sending the conversation of a ticket by email.

An agent's reply is written as a draft and sent with *Send*; automatic
emails are sent at once. Either way the SMTP delivery runs on Tryton's
queue, after the transaction, never in the agent's request; its outcome
(sent, failed with the server's answer, bounced later) is kept on the
message for the agent to see.
"""
import contextlib
import contextvars
import datetime as dt
import logging
import secrets
import smtplib
import socket
import ssl
import traceback
from email.utils import getaddresses

from sql import Literal
from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelView, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.sendmail import get_smtp_server
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .autoreply import over_rate_limit
from .outbound import Outgoing, OutgoingAttachment, compose
from .quoting import split_quoted
from .threadmatch import make_message_id, plus_address, subject_with_token

logger = logging.getLogger(__name__)

DELIVERY_STATES = [
    (None, ""),
    ('draft', "Draft"),
    ('queued', "Queued"),
    ('sent', "Sent"),
    ('failed', "Failed"),
    ('bounced', "Bounced"),
    ('suppressed', "Not Sent"),
    ]
RATE_WINDOW = dt.timedelta(hours=1)
MAX_ATTEMPTS = 6
# How many queued messages a delivery task sends (trytond-worker only: as
# shipped the task runs right after the transaction, all in one).
DELIVERY_BATCH = 20
# The fields an agent writes in a draft; once sent they are what was sent.
_DRAFT_FIELDS = ['to_addresses', 'cc_addresses', 'subject', 'body']


class DeliveryError(Exception):
    def __init__(self, message, permanent):
        super().__init__(message)
        self.permanent = permanent


def deliver(message, envelope_from, recipients):
    """Send the MIME message over SMTP; raise DeliveryError with the
    server's answer"""
    try:
        server = get_smtp_server(strict=True)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as error:
        raise DeliveryError(_describe(error), permanent=False)
    try:
        refused = server.send_message(message, envelope_from, recipients)
    except smtplib.SMTPRecipientsRefused as error:
        raise DeliveryError(_refusals(error.recipients), permanent=all(
                code >= 500 for code, _ in error.recipients.values()))
    except smtplib.SMTPResponseException as error:
        raise DeliveryError(_describe(error), permanent=error.smtp_code >= 500)
    except (OSError, smtplib.SMTPException) as error:
        raise DeliveryError(_describe(error), permanent=False)
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            pass
    if refused:
        # Some recipients refused, the others got it.
        logger.warning("recipients refused: %s", _refusals(refused))
    return refused


def _refusals(recipients):
    return '; '.join(
        f'{address}: {code} {_text(answer)}'
        for address, (code, answer) in recipients.items())


def _text(value):
    if isinstance(value, bytes):
        value = value.decode('utf-8', 'replace')
    return ' '.join(str(value).split())


def _describe(error):
    if isinstance(error, smtplib.SMTPResponseException):
        return f'{error.smtp_code} {_text(error.smtp_error)}'
    if isinstance(error, ConnectionRefusedError):
        return gettext('itsm_email.msg_smtp_refused')
    if isinstance(error, (socket.timeout, TimeoutError)):
        return gettext('itsm_email.msg_smtp_timeout')
    return _text(error) or type(error).__name__


_deferred_deliveries = contextvars.ContextVar(
    'itsm_email_deferred_deliveries', default=None)


@contextlib.contextmanager
def delivery_batch():
    """Collect the messages queued for delivery inside, instead of queuing
    them: the caller queues them at once (Message.queue_delivery), as few
    tasks, or drops them with its rollback"""
    messages = []
    token = _deferred_deliveries.set(messages)
    try:
        yield messages
    finally:
        _deferred_deliveries.reset(token)


def forget_deliveries():
    "Drop the messages collected for delivery so far: a rollback undid them"
    messages = _deferred_deliveries.get()
    if messages is not None:
        messages.clear()


class Message(metaclass=PoolMeta):
    __name__ = 'itsm.ticket.message'

    inbound_email = fields.Many2One(
        'inbound.email', "Original Email", readonly=True, ondelete='RESTRICT',
        states={'invisible': ~Eval('inbound_email')},
        help="The email as it was received.")
    automatic = fields.Boolean(
        "Automatic", readonly=True,
        help="Sent or received by a robot, not a person.")
    delivery_state = fields.Selection(
        DELIVERY_STATES, "Delivery", readonly=True,
        states={'invisible': Eval('direction') != 'outbound'})
    delivery_error = fields.Text(
        "Delivery Error", readonly=True,
        states={'invisible': ~Eval('delivery_error')})
    sent_at = fields.DateTime(
        "Sent at", readonly=True,
        states={'invisible': ~Eval('sent_at')})
    delivery_attempts = fields.Integer("Delivery Attempts", readonly=True)
    body_reply = fields.Function(
        fields.Text("Message",
            states={'invisible': Eval('direction') == 'outbound'}),
        'get_body_parts')
    body_quoted = fields.Function(
        fields.Text("Quoted Text",
            help="The history the sender quoted, folded away."),
        'get_body_parts')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        # The look-ups of every email (with_message_ids, _automatic_dates)
        # compare the plain columns: an index on Coalesce(column, '') holds
        # a parameter, which SQLite can neither create nor match.
        cls._sql_indexes.update({
                Index(table, (table.message_id, Index.Equality())),
                # The automatic emails sent to an address lately
                Index(table,
                    (table.to_addresses, Index.Equality()),
                    (table.date, Index.Range())),
                })
        editable = (Eval('id', -1) < 0) | (Eval('delivery_state') == 'draft')
        for name in _DRAFT_FIELDS + ['party']:
            field = getattr(cls, name)
            field.states = dict(field.states or {}, readonly=~editable)
            field.depends = set(field.depends) | {'delivery_state'}
        cls.body.states = dict(cls.body.states or {},
            invisible=Eval('direction') == 'inbound')
        cls.body.depends = set(cls.body.depends) | {'direction'}
        cls._buttons.update({
                'send': {
                    'invisible': (Eval('direction') != 'outbound')
                    | (Eval('delivery_state') != 'draft'),
                    'depends': ['direction', 'delivery_state'],
                    },
                'send_again': {
                    'invisible': ~Eval('delivery_state').in_(
                        ['failed', 'bounced', 'suppressed']),
                    'depends': ['delivery_state'],
                    },
                })

    @classmethod
    def default_automatic(cls):
        return False

    @classmethod
    def default_delivery_attempts(cls):
        return 0

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('//group[@id="quoted"]', 'states', {
                    'invisible': ~Eval('body_quoted'),
                    }),
            ('/tree', 'visual',
                If(Eval('delivery_state').in_(['failed', 'bounced']),
                    'danger',
                    If(Eval('delivery_state') == 'draft', 'muted', ''))),
            ]

    def get_body_parts(self, name):
        reply, quoted = split_quoted(self.body or '')
        return reply if name == 'body_reply' else (quoted or None)

    @fields.depends(
        'ticket', 'direction', 'to_addresses', 'cc_addresses', 'subject',
        '_parent_ticket.requester_email', '_parent_ticket.subject',
        '_parent_ticket.number', '_parent_ticket.watcher_parties')
    def on_change_ticket(self):
        if not self.ticket or self.direction != 'outbound':
            return
        if not self.to_addresses:
            self.to_addresses = self.ticket.requester_email
        if not self.cc_addresses:
            self.cc_addresses = self.ticket.watcher_addresses() or None
        if not self.subject and self.ticket.number:
            self.subject = subject_with_token(
                f'Re: {self.ticket.subject or ""}', self.ticket.number)

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        values = super().preprocess_values(mode, values)
        if (mode == 'create'
                and values.get('direction', cls.default_direction())
                == 'outbound'):
            values.setdefault('delivery_state', 'draft')
            if values.get('ticket'):
                ticket = Ticket(values['ticket'])
                if not values.get('to_addresses'):
                    values['to_addresses'] = ticket.requester_email
                if not values.get('subject') and ticket.number:
                    values['subject'] = subject_with_token(
                        f'Re: {ticket.subject}', ticket.number)
        return values

    @classmethod
    def check_modification(cls, mode, messages, values=None, external=False):
        super().check_modification(
            mode, messages, values=values, external=external)
        if mode == 'write' and external and (
                set(values) & set(_DRAFT_FIELDS + ['party', 'direction'])):
            for message in messages:
                if message.delivery_state != 'draft':
                    raise AccessError(gettext(
                            'itsm_email.msg_message_not_draft',
                            message=message.rec_name))
        if mode == 'delete':
            for message in messages:
                if message.direction == 'inbound' or (
                        message.delivery_state not in {'draft', None}):
                    raise AccessError(gettext(
                            'itsm_email.msg_message_delete',
                            message=message.rec_name))

    def counts_as_response(self):
        return (super().counts_as_response() and not self.automatic
            and self.delivery_state not in {'draft', 'suppressed'})

    @classmethod
    def copy(cls, messages, default=None):
        default = default.copy() if default is not None else {}
        for name in ['inbound_email', 'sent_at', 'delivery_error',
                'message_id']:
            default.setdefault(name, None)
        default.setdefault('delivery_attempts', 0)
        return super().copy(messages, default=default)

    @classmethod
    @ModelView.button
    def send(cls, messages):
        "Send the drafts to their recipients"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        for message in messages:
            if not message.recipients():
                raise ValidationError(gettext(
                        'itsm_email.msg_message_no_recipient',
                        message=message.rec_name))
        cls.write(messages, {
                'delivery_state': 'queued',
                'date': dt.datetime.now(),
                })
        Ticket.record_first_response(
            [m.ticket for m in messages if m.counts_as_response()])
        cls.queue_delivery(messages)

    @classmethod
    @ModelView.button
    def send_again(cls, messages):
        messages = [m for m in messages
            if m.delivery_state in {'failed', 'bounced', 'suppressed'}]
        cls.write(messages, {
                'delivery_state': 'queued',
                'delivery_error': None,
                'delivery_attempts': 0,
                })
        cls.queue_delivery(messages)

    @classmethod
    def queue_delivery(cls, messages):
        "Queue the sending of the queued messages, DELIVERY_BATCH a task"
        messages = [m for m in messages if m.delivery_state == 'queued']
        deferred = _deferred_deliveries.get()
        if deferred is not None:
            deferred.extend(messages)
        elif messages:
            with Transaction().set_context(queue_batch=DELIVERY_BATCH):
                cls.__queue__.deliver(messages)

    @classmethod
    def create_automatics(cls, emails):
        """The automatic emails (ticket, subject, body) to the tickets'
        requesters, not yet queued; those over the hourly limit of their
        address are suppressed"""
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        limit = Configuration.email_settings().email_auto_reply_limit
        now = dt.datetime.now()
        sent = cls._automatic_dates(
            {t.requester_email for t, _, _ in emails}) if limit else {}
        values = []
        for ticket, subject, body in emails:
            address = ticket.requester_email
            state, error = 'queued', None
            if limit and over_rate_limit(
                    sent.get(address, []), now, limit, RATE_WINDOW):
                state, error = 'suppressed', gettext(
                    'itsm_email.msg_message_rate_limited', address=address)
            else:
                sent.setdefault(address, []).append(now)
            values.append({
                    'ticket': ticket.id,
                    'direction': 'outbound',
                    'author': None,
                    'to_addresses': address,
                    'subject': subject,
                    'body': body,
                    'automatic': True,
                    'delivery_state': state,
                    'delivery_error': error,
                    })
        return cls.create(values)

    @classmethod
    def _automatic_dates(cls, addresses):
        "The dates of the automatic emails to each address in the last hour"
        message = cls.__table__()
        cursor = Transaction().connection.cursor()
        since = dt.datetime.now() - RATE_WINDOW
        dates = {}
        # One query on the index of (to_addresses, date), whoever runs it:
        # the limit counts every email to the address.
        for sub in grouped_slice(
                sorted(a for a in addresses if a), count=500):
            cursor.execute(*message.select(
                    message.to_addresses, message.date,
                    where=message.to_addresses.in_(list(sub))
                    & (message.date > since)
                    & (message.direction == 'outbound')
                    & (message.automatic == Literal(True))
                    & message.delivery_state.in_(['queued', 'sent'])))
            for address, date in cursor:
                dates.setdefault(address, []).append(date)
        return dates

    @classmethod
    def with_message_ids(cls, message_ids, company, direction=None):
        "The company's messages of the Message-IDs, the newest first"
        Ticket = Pool().get('itsm.ticket')
        message = cls.__table__()
        ticket = Ticket.__table__()
        where = ticket.company == company.id
        if direction is not None:
            where &= message.direction == direction
        cursor = Transaction().connection.cursor()
        ids = []
        for sub in grouped_slice(
                sorted({i for i in message_ids if i}), count=500):
            cursor.execute(*message.join(ticket,
                    condition=message.ticket == ticket.id).select(
                    message.id,
                    where=message.message_id.in_(list(sub)) & where))
            ids.extend(i for i, in cursor)
        return cls.browse(sorted(ids, reverse=True))

    def recipients(self):
        "The addresses the message goes to"
        return [a.lower() for _, a in getaddresses(
                [self.to_addresses or '', self.cc_addresses or ''])
            if '@' in a]

    @classmethod
    def deliver(cls, messages):
        """Send the queued messages by SMTP and record the outcome of each
        on it (queued, several a task)"""
        for message in messages:
            if message.delivery_state != 'queued':
                continue
            try:
                message._deliver()
            except (backend.DatabaseOperationalError,
                    backend.DatabaseIntegrityError):
                raise
            except Exception as exception:
                # Not the SMTP server's answer (that is a DeliveryError):
                # kept on the message, and the others of the task go on
                # (their outcome would be undone with the task).
                logger.exception("cannot deliver message %s", message.id)
                message._delivery_failed(''.join(
                        traceback.format_exception_only(exception)).strip(),
                    permanent=True)

    def _deliver(self):
        outgoing, envelope_from = self.outgoing()
        mime = compose(outgoing)
        try:
            deliver(mime, envelope_from, self.recipients())
        except DeliveryError as error:
            self._delivery_failed(str(error), error.permanent)
            return
        self.__class__.write([self], {
                'delivery_state': 'sent',
                'delivery_error': None,
                'sent_at': dt.datetime.now(),
                'message_id': outgoing.message_id,
                'delivery_attempts': (self.delivery_attempts or 0) + 1,
                })

    def _delivery_failed(self, error, permanent):
        attempts = (self.delivery_attempts or 0) + 1
        if not permanent and attempts < MAX_ATTEMPTS:
            delay = dt.timedelta(minutes=2 ** attempts)
            self.__class__.write([self], {
                    'delivery_attempts': attempts,
                    'delivery_error': gettext(
                        'itsm_email.msg_delivery_retry',
                        error=error, delay=delay),
                    })
            with Transaction().set_context(queue_scheduled_at=delay):
                self.__class__.__queue__.deliver([self])
            return
        self.__class__.write([self], {
                'delivery_state': 'failed',
                'delivery_attempts': attempts,
                'delivery_error': error,
                })
        self._tell_agents(gettext(
                'itsm_email.msg_delivery_failed_label',
                ticket=self.ticket.rec_name), error)

    @classmethod
    def record_bounce(cls, messages, bounce):
        "The mail servers could not deliver the messages"
        cls.write(messages, {
                'delivery_state': 'bounced',
                'delivery_error': ' '.join(filter(None, [
                            bounce.status, bounce.diagnostic,
                            ', '.join(bounce.recipients)])),
                })
        for message in messages:
            message._tell_agents(gettext(
                    'itsm_email.msg_delivery_bounced_label',
                    ticket=message.ticket.rec_name),
                bounce.diagnostic or bounce.status)

    def _tell_agents(self, label, description):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        users = {u for u in [self.author, self.ticket.assignee] if u}
        for user in sorted(users, key=lambda u: u.id):
            Ticket.notify_user(
                [self.ticket], 'tryton-error', label, description,
                user=user.id)

    def outgoing(self):
        "The email of the message, and the envelope sender"
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        Configuration = pool.get('itsm.configuration')
        ticket = self.ticket
        config = Configuration.email_settings()
        mailbox = ticket.get_mailbox()
        if mailbox:
            from_name, from_address = mailbox.name, mailbox.address
            reply_to = (plus_address(from_address, ticket.number)
                if mailbox.plus_addressing and ticket.number
                else from_address)
        else:
            from_name, from_address = config.email_sender
            reply_to = None
        thread = [m for m in ticket.messages
            if m.id != self.id and m.message_id
            and (m.direction == 'inbound' or m.delivery_state == 'sent')]
        inbound = [m for m in thread if m.direction == 'inbound']
        in_reply_to = (inbound or thread)[-1].message_id if thread else None
        message_id = self.message_id or make_message_id(
            config.message_id_domain_name, ticket.id, self.id,
            secrets.token_hex(4))
        attachments = [
            OutgoingAttachment(a.name, a.data)
            for a in Attachment.search([
                    ('resource', '=', str(self)),
                    ('type', '=', 'data'),
                    ])]
        outgoing = Outgoing(
            from_name=from_name, from_address=from_address,
            to=[a for _, a in getaddresses([self.to_addresses or ''])
                if '@' in a],
            cc=[a for _, a in getaddresses([self.cc_addresses or ''])
                if '@' in a],
            reply_to=reply_to,
            subject=subject_with_token(
                self.subject or f'Re: {ticket.subject}', ticket.number),
            text=self.body,
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=[m.message_id for m in thread],
            automatic=bool(self.automatic),
            language=ticket.requester_language,
            attachments=attachments)
        return outgoing, from_address

    @classmethod
    def send_refusal(cls, email_):
        "Answer a refused sender that the message was not registered"
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        Email = pool.get('inbound.email')
        config = Configuration.email_settings()
        inbox = email_.inbox
        answered = Email.sent_from(email_.from_address, 'refused',
            dt.datetime.now() - RATE_WINDOW, exclude=email_)
        if answered:
            # One answer an hour is enough; the rest are only kept.
            return
        outgoing = Outgoing(
            from_name=inbox.name, from_address=inbox.address,
            to=[email_.from_address],
            subject=f'Re: {email_.subject or ""}'.strip(),
            text=gettext('itsm_email.msg_template_refused_body',
                mailbox=inbox.address, company=inbox.company.rec_name),
            message_id=make_message_id(
                config.message_id_domain_name, 0, email_.id,
                secrets.token_hex(4)),
            in_reply_to=email_.message_id,
            references=[email_.message_id] if email_.message_id else [],
            automatic=True)
        try:
            deliver(compose(outgoing), inbox.address, [email_.from_address])
        except DeliveryError as error:
            logger.warning("cannot answer refused sender %s: %s",
                email_.from_address, error)

