# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""What becomes of each message a Service Desk mailbox receives.

Every message is first stored as it came (``inbound.email``, Tryton's own
record of a received email, with its raw bytes in the filestore) in the
state *received*; a queued task then reads it and either threads it into
its ticket, opens a new ticket, records a delivery failure, or keeps it
with the reason it was not used: a duplicate, a loop, a refused sender, a
message that cannot be read. Nothing is dropped: a kept message is listed
for the administrators and can be processed again after a fix.
"""
import contextlib
import contextvars
import datetime as dt
import hashlib
import json
import logging
import time
import traceback

import trytond.config as config
from sql import Literal, Null, Select
from sql.aggregate import Count
from sql.functions import Lower
from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import Index, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from itsm_ticket import workflow

from .aftercommit import AfterCommit
from .autoreply import automatic_reason, is_bounce, parse_bounce
from .conversation import delivery_batch, forget_deliveries
from .mailparse import MailParseError, parse_message, read_summary
from .threadmatch import (
    plus_address_numbers,
    strip_reply_prefixes,
    thread_candidates,
    ticket_id_from_message_id,
    ticket_numbers_in_subject,
)

logger = logging.getLogger(__name__)

STATES = [
    (None, ""),
    ('received', "Received"),
    ('done', "Processed"),
    ('duplicate', "Duplicate"),
    ('ignored', "Ignored"),
    ('refused', "Refused"),
    ('failed', "Failed"),
    ]
KEPT_STATES = {'ignored', 'refused', 'failed'}
RATE_WINDOW = dt.timedelta(hours=1)
# How recent a ticket must be for a reply without any identifier to join it
# by its subject.
SUBJECT_MATCH_WINDOW = dt.timedelta(days=30)
# The answers of robots that are not worth a ticket of their own.
_AUTO_REPLY_KEYWORDS = ('auto-replied', 'autoreply', 'oof', 'x-autorespond',
    'x-autoreply', 'x-autoresponder', 'x-mail-autoreply')
# The queue (ir.queue name) of the processing tasks: a task waiting there
# for a company is found by the requests that store its messages.
QUEUE_NAME = 'itsm_email'
# How many received messages a processing task claims at a time, and how
# long it goes on claiming before it queues itself again.
PROCESS_BATCH = 50
PROCESS_BUDGET = 10
# How old a received message must be for the cron to see it as left behind.
STRAY_AFTER = dt.timedelta(minutes=1)


def message_key(parsed, raw):
    "The identity of a message: its Message-ID, else a digest of its content"
    if parsed.message_id:
        return parsed.message_id[:500]
    # Relays add their own headers on the way: keep what the sender wrote.
    digest = hashlib.sha256()
    for name in ('from', 'date', 'subject', 'to'):
        digest.update(repr(parsed.headers.get(name)).encode())
    _, _, body = bytes(raw).partition(b'\n\n')
    if not body:
        _, _, body = bytes(raw).partition(b'\r\n\r\n')
    digest.update(body)
    return f'<sha256.{digest.hexdigest()}@itsm.invalid>'


def base_address(address):
    "The address without its plus detail, lower-cased"
    local, at, domain = (address or '').lower().rpartition('@')
    return f'{local.partition("+")[0]}@{domain}' if at else domain


class _Pending:
    """What a batch of messages leaves to do together: the new tickets to
    open, the replies to add and the messages to save, done when the batch
    ends or before a message that may depend on them"""

    def __init__(self):
        self.openings = []
        self.replies = []
        self.kept = []
        self.keys = set()
        self.senders = set()
        self.message_ids = set()

    def _remember(self, email_, sender, message_id=None):
        # A later message with the same key, the same sender (rate limit,
        # threading by subject) or answering it must see it done.
        self.keys.add(email_.message_key)
        if sender:
            self.senders.add(sender)
        if message_id:
            self.message_ids.add(message_id)

    def open(self, email_, parsed, requester):
        self.openings.append((email_, parsed, requester))
        self._remember(email_, parsed.from_address, parsed.message_id)

    def reply(self, ticket, email_, parsed, party):
        self.replies.append((ticket, email_, parsed, party))
        self._remember(email_, parsed.from_address, parsed.message_id)

    def keep(self, email_):
        self.kept.append(email_)
        self._remember(email_, email_.from_address)

    def take(self):
        "What is pending, which no longer is"
        taken = self.openings, self.replies, self.kept
        self.openings, self.replies, self.kept = [], [], []
        for identifiers in [self.keys, self.senders, self.message_ids]:
            identifiers.clear()
        return taken

    def related(self, key, parsed=None):
        """Whether the message may be a copy of a pending one, answer it, or
        count with it (same sender: rate limit, threading by subject)"""
        if key in self.keys:
            return True
        if parsed is None:
            return False
        return parsed.from_address in self.senders or any(
            i in self.message_ids for i in thread_candidates(
                parsed.in_reply_to, parsed.references))


_pending = contextvars.ContextVar('itsm_email_pending', default=None)


@contextlib.contextmanager
def batch_together():
    """Open the tickets, add the replies and save the messages processed
    inside in one go"""
    token = _pending.set(_Pending())
    try:
        yield
    finally:
        _pending.reset(token)


class BatchFailed(Exception):
    "Doing the pending work of a batch together failed: which message's?"


class _WaitingTaskCheck(AfterCommit):
    """Joined to a transaction that relies on the waiting processing task of
    companies: after its commit, queue another for those whose task a
    worker took in the meantime (it may have claimed before the commit)"""

    def __init__(self):
        self.company_ids = set()

    def __eq__(self, other):
        if not isinstance(other, _WaitingTaskCheck):
            return NotImplemented
        return True

    __hash__ = object.__hash__

    def finish(self, transaction):
        company_ids = sorted(self.company_ids)
        self.company_ids.clear()
        if not company_ids:
            return
        try:
            with transaction.new_transaction() as checking:
                Pool().get('inbound.email').queue_pending(
                    company_ids, committed=True)
                checking.commit()
        except Exception:
            # The cron takes the messages left behind.
            logger.warning("cannot check the email processing tasks of "
                "companies %s", company_ids, exc_info=True)

    def discard(self, transaction):
        self.company_ids.clear()


def _lock_key(key):
    "A 63-bit integer for PostgreSQL's advisory lock on key"
    return int.from_bytes(
        hashlib.sha256(key.encode()).digest()[:8], 'big') >> 1


class Email(metaclass=PoolMeta):
    __name__ = 'inbound.email'

    state = fields.Selection(STATES, "State", readonly=True)
    reason = fields.Text(
        "Reason", readonly=True,
        states={'invisible': ~Eval('reason')})
    message_key = fields.Char("Message Key", readonly=True, strip=False)
    message_id = fields.Char("Message-ID", readonly=True, strip=False)
    from_address = fields.Char("From", readonly=True)
    subject = fields.Char("Subject", readonly=True)
    size = fields.Integer("Size", readonly=True)
    defects = fields.Text(
        "Repairs", readonly=True,
        states={'invisible': ~Eval('defects')},
        help="What was wrong with the message and how it was read anyway.")
    automatic = fields.Char(
        "Automatic", readonly=True,
        states={'invisible': ~Eval('automatic')},
        help="Why the message got no automatic answer.")
    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", readonly=True, ondelete='SET NULL')
    ticket_message = fields.Many2One(
        'itsm.ticket.message', "Ticket Message", readonly=True,
        ondelete='SET NULL')
    original = fields.Many2One(
        'inbound.email', "Original", readonly=True, ondelete='SET NULL',
        states={'invisible': Eval('state') != 'duplicate'})
    processed_at = fields.DateTime("Processed at", readonly=True)
    data_filename = fields.Function(
        fields.Char("File Name"), 'get_data_filename')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.data.filename = 'data_filename'
        table = cls.__table__()
        # The look-ups of every message (_original, sent_from) compare the
        # plain columns: an index on Coalesce(column, '') holds a parameter,
        # which SQLite can neither create nor match.
        cls._sql_indexes.update({
                Index(table, (table.message_key, Index.Equality())),
                Index(table,
                    (table.from_address, Index.Equality()),
                    (table.create_date, Index.Range())),
                })
        if backend.name == 'sqlite':
            # The claim of the received messages; SQLite cannot create the
            # partial index, its condition holding parameters.
            cls._sql_indexes.add(
                Index(table, (table.state, Index.Equality())))
        else:
            cls._sql_indexes.add(
                Index(table, (table.state, Index.Equality()),
                    where=table.state.in_(sorted(KEPT_STATES | {'received'}))))
        cls._buttons.update({
                'retry': {
                    'invisible': ~Eval('state').in_(sorted(KEPT_STATES)),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state').in_(['failed', 'refused']), 'danger',
                    If(Eval('state') == 'ignored', 'warning', ''))),
            ]

    def get_data_filename(self, name):
        return f'email-{self.id}.eml'

    def get_rec_name(self, name):
        if self.subject or self.from_address:
            return f'{self.from_address or "?"}: {self.subject or ""}'
        return super().get_rec_name(name)

    def as_dict(self):
        "The message for the inbox's rules; read leniently, never raising"
        if self.data_type == 'postmark':
            return super().as_dict()
        try:
            parsed = parse_message(self.raw_message(), max_size=None)
        except (MailParseError, ValueError, KeyError, TypeError):
            return {}
        return {
            'from': parsed.from_address,
            'to': [a for _, a in parsed.to],
            'cc': [a for _, a in parsed.cc],
            'bcc': [],
            'subject': parsed.subject,
            'text': parsed.text,
            'html': parsed.html,
            'attachments': [{
                    'filename': a.filename,
                    'type': a.content_type,
                    'data': a.data,
                    } for a in parsed.attachments],
            'headers': {k: v[0] for k, v in parsed.headers.items()},
            }

    def raw_message(self):
        "The bytes of the message, whatever the webhook that brought it"
        data = self.data
        if data is None:
            raise ValueError("no data")
        if self.data_type == 'raw':
            return bytes(data)
        payload = json.loads(data)
        raw = {
            'mailchimp': lambda: payload['raw_msg'],
            'mailpace': lambda: payload['raw'],
            'sendgrid': lambda: payload['email'],
            }[self.data_type]()
        return raw.encode('utf-8', 'surrogateescape') if isinstance(
            raw, str) else bytes(raw)

    @classmethod
    def itsm_receive(cls, email_, rule):
        "The rule action: keep the message for the Service Desk's queue"
        email_.state = 'received'

    @classmethod
    def on_modification(cls, mode, emails, field_names=None):
        super().on_modification(mode, emails, field_names=field_names)
        if mode == 'create' or (field_names and 'state' in field_names):
            cls.queue_processing([e for e in emails if e.state == 'received'])

    @classmethod
    def queue_processing(cls, emails):
        """Have the received messages processed: by a task that claims the
        messages waiting in their company, in the order they came (see
        process_pending)"""
        emails = sorted(emails, key=lambda e: e.id)
        loose = [e for e in emails if not e.inbox.company]
        if loose:
            # Kept as failed at once: nothing to thread them in.
            cls.__queue__.process_queued(loose)
        cls.queue_pending(
            sorted({e.inbox.company.id for e in emails if e.inbox.company}))

    @classmethod
    def queue_pending(cls, company_ids, force=False, committed=False):
        """Queue the task that processes the received messages of the
        companies, unless one is already waiting for a worker: a task that
        has started has claimed its messages and does not count. Without
        trytond-worker ([queue] worker = False) a task runs right after the
        transaction that queued it, and looks as waiting until it ends:
        every transaction queues its own.

        The task seen waiting may be taken by a worker before this
        transaction commits, and claim without its messages: unless they
        are committed already, the look is taken again after the commit."""
        Company = Pool().get('company.company')
        if not company_ids:
            return
        if not force and config.getboolean('queue', 'worker', default=False):
            waiting = cls._waiting_companies()
            relied = [c for c in company_ids if c in waiting]
            if relied and not committed:
                check = Transaction().join(_WaitingTaskCheck())
                check.company_ids.update(relied)
            company_ids = [c for c in company_ids if c not in waiting]
        if company_ids:
            # The task takes whatever its company received, from any
            # request: the context of the one that queued it (a demo
            # without notifications) must not decide for the others.
            with Transaction().set_context(
                    queue_name=QUEUE_NAME, itsm_notify=True):
                Company.__queue__.itsm_process_emails(
                    [Company(c) for c in company_ids])

    @classmethod
    def _waiting_companies(cls):
        "The companies whose processing task waits for a worker"
        Queue = Pool().get('ir.queue')
        queue = Queue.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*queue.select(queue.data,
                where=(queue.name == QUEUE_NAME)
                & (queue.dequeued_at == Null)))
        waiting = set()
        for data, in cursor:
            if isinstance(data, (str, bytes)):
                data = json.loads(data)
            if (data.get('model') == 'company.company'
                    and data.get('method') == 'itsm_process_emails'):
                waiting.update(data.get('instances') or [])
        return waiting

    @classmethod
    def itsm_process_stray(cls):
        """Queue the processing of the messages left received (a task lost
        or stored in a race with the task it counted on): run by the cron"""
        Inbox = Pool().get('inbound.email.inbox')
        email = cls.__table__()
        inbox = Inbox.__table__()
        cursor = Transaction().connection.cursor()
        since = dt.datetime.now() - STRAY_AFTER
        cursor.execute(*email.join(inbox,
                condition=email.inbox == inbox.id).select(
                inbox.company,
                where=(email.state == 'received')
                & (inbox.company != Null)
                & (email.create_date < since),
                group_by=[inbox.company]))
        cls.queue_pending(sorted(c for c, in cursor))

    @classmethod
    @ModelView.button
    def retry(cls, emails):
        "Process the kept messages again, after a fix"
        cls.write([e for e in emails if e.state in KEPT_STATES], {
                'state': 'received',
                'reason': None,
                })

    @classmethod
    def process_received(cls, emails):
        "Turn the received messages into tickets and replies"
        for email_ in emails:
            if email_.state == 'received':
                email_.process_for_service_desk()

    @classmethod
    def _claim(cls, company_ids, limit):
        """The next received messages of the companies, in id order, locked
        for this transaction: on PostgreSQL concurrent tasks skip those
        another one holds; SQLite has a single writer"""
        Inbox = Pool().get('inbound.email.inbox')
        transaction = Transaction()
        database = transaction.database
        email = cls.__table__()
        inbox = Inbox.__table__()
        # One table in the query: the lock is on the messages only.
        query = email.select(email.id,
            where=(email.state == 'received')
            & email.inbox.in_(inbox.select(inbox.id,
                    where=inbox.company.in_(list(company_ids)))),
            order_by=[email.id.asc], limit=limit)
        cursor = transaction.connection.cursor()
        if database.has_select_for():
            For = database.get_select_for_skip_locked()
            query.for_ = For('UPDATE')
        else:
            # SQLite: take the write lock first (a write begins the
            # transaction IMMEDIATE), so that concurrent tasks claim one
            # after the other, each seeing what the one before processed.
            cursor.execute(*email.update(
                    [email.state], [email.state], where=Literal(False)))
        cursor.execute(*query)
        return cls.browse([i for i, in cursor])

    @classmethod
    def process_pending(cls, company_ids, batch=PROCESS_BATCH,
            budget=PROCESS_BUDGET):
        """Process the received messages of the companies as a task of the
        queue: batches of the oldest first, each in one transaction and in
        id order, so that a reply stored with its original comes after it,
        and the acknowledgements of a batch queued as few delivery tasks.

        An unexpected error undoes its batch, keeps that message as failed
        with the error, for an administrator, and the others go again.
        Errors of concurrent writers go up: the queue runs the task again.
        After budget seconds of full batches, with trytond-worker, the task
        queues itself again and ends, for the other tasks' sake."""
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        transaction = Transaction()
        has_worker = config.getboolean('queue', 'worker', default=False)
        started = time.monotonic()
        while True:
            emails = cls._claim(company_ids, batch)
            if not emails:
                return
            with delivery_batch() as acknowledgements:
                failed = cls._process_batch(emails)
            if failed is None:
                Message.queue_delivery(acknowledgements)
                if len(emails) < batch:
                    return
            else:
                cls._record_failure(*failed)
            if has_worker and time.monotonic() - started > budget:
                cls.queue_pending(company_ids, force=True)
                return
            # The next batch sees the messages stored in the meantime.
            transaction.commit()

    @classmethod
    def _process_batch(cls, emails, together=True):
        """Process the emails in order; return the one that failed and why
        (its batch rolled back), or None.

        The new tickets are opened together (a set-based create costs a
        fraction of one create a ticket); if that fails, the batch is rolled
        back and processed again one message at a time, to find the one."""
        transaction = Transaction()
        ids = [e.id for e in emails]
        with (batch_together() if together
                else contextlib.nullcontext()):
            try:
                for email_ in emails:
                    failed = cls._process_one(email_)
                    if failed:
                        return failed
                cls.save_pending()
                return None
            except BatchFailed:
                logger.info("the inbound emails %s failed together: one "
                    "at a time", ids, exc_info=True)
        transaction.rollback()
        forget_deliveries()
        return cls._process_batch(cls.browse(ids), together=False)

    @classmethod
    def _process_one(cls, email_):
        "Process the email; return its id and why it failed, or None"
        try:
            email_.process_for_service_desk()
        except (backend.DatabaseOperationalError,
                backend.DatabaseIntegrityError, BatchFailed):
            # Concurrent writers: the queue runs the task again; the batch
            # failed together: it goes again one message at a time.
            raise
        except Exception as exception:
            if isinstance(exception, UserError):
                reason = exception.message
            else:
                logger.exception(
                    "cannot process inbound email %s", email_.id)
                reason = ''.join(traceback.format_exception_only(
                        exception)).strip()
            Transaction().rollback()
            forget_deliveries()
            return email_.id, reason
        return None

    @classmethod
    def save_pending(cls):
        """Open the tickets of the messages waiting for theirs and add the
        replies waiting, each kind together, and save the messages"""
        Ticket = Pool().get('itsm.ticket')
        pending = _pending.get()
        if pending is None:
            return
        openings, replies, kept = pending.take()
        try:
            emails = list(kept)
            if openings:
                messages = Ticket.open_from_emails(
                    [(e, parsed, requester, e.rule)
                        for e, parsed, requester in openings])
                for (email_, _, _), message in zip(
                        openings, messages, strict=True):
                    email_._outcome('done', None, **_used(message))
                    emails.append(email_)
            if replies:
                messages = Ticket.add_email_messages(replies)
                for (_, email_, _, _), message in zip(
                        replies, messages, strict=True):
                    email_._outcome('done', None, **_used(message))
                    emails.append(email_)
            cls.save(emails)
        except (backend.DatabaseOperationalError,
                backend.DatabaseIntegrityError):
            raise
        except Exception as exception:
            raise BatchFailed from exception

    @classmethod
    def _record_failure(cls, email_id, reason):
        email_ = cls(email_id)
        cls.write([email_], {
                **email_._failure_summary(),
                'state': 'failed',
                'reason': gettext(
                    'itsm_email.msg_email_failed', error=reason),
                'processed_at': dt.datetime.now(),
                })

    @classmethod
    def process_queued(cls, emails):
        """Process these messages of mailboxes without company in order as a
        task of the queue: they are kept as failed"""
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        transaction = Transaction()
        ids = [e.id for e in emails]
        while True:
            emails = [e for e in cls.browse(ids) if e.state == 'received']
            with delivery_batch() as acknowledgements:
                failed = cls._process_batch(emails)
            if failed is None:
                Message.queue_delivery(acknowledgements)
                return
            cls._record_failure(*failed)
            # The rollback undid the ones before: they go again.
            transaction.commit()
            ids.remove(failed[0])

    def _keep(self, state, reason, **values):
        "Record the outcome: now, or with the batch's others"
        self._outcome(state, reason, **values)
        pending = _pending.get()
        if pending is None:
            self.save()
        else:
            pending.keep(self)

    def _outcome(self, state, reason, **values):
        self.state = state
        self.reason = reason
        self.processed_at = dt.datetime.now()
        for name, value in values.items():
            setattr(self, name, value)

    def process_for_service_desk(self):
        "Read the message and act on it; the email ends up done or kept"
        pool = Pool()
        Inbox = pool.get('inbound.email.inbox')
        Configuration = pool.get('itsm.configuration')
        inbox = self.inbox
        if not inbox.company:
            self._keep('failed', gettext(
                    'itsm_email.msg_email_no_company', inbox=inbox.rec_name))
            return
        try:
            raw = self.raw_message()
        except (ValueError, KeyError, TypeError) as exception:
            self._keep('failed', gettext(
                    'itsm_email.msg_email_no_raw',
                    type=self.data_type, error=str(exception)))
            return
        try:
            parsed = parse_message(raw, max_size=inbox.max_size or None)
        except MailParseError as error:
            for name, value in self._unreadable_summary(raw).items():
                setattr(self, name, value)
            self._save_pending_if_related(None)
            original = self._original(states=('done', 'failed'))
            if original:
                self._keep('duplicate', gettext(
                        'itsm_email.msg_email_duplicate',
                        key=self.message_key), original=original,
                    ticket=original.ticket)
            else:
                self._keep('failed', gettext(
                        'itsm_email.msg_email_unreadable',
                        reason=error.message))
            return
        for name, value in self._summary(parsed, raw).items():
            setattr(self, name, value)
        self._save_pending_if_related(parsed)

        self._lock()
        original = self._original()
        if original:
            self._keep('duplicate', gettext(
                    'itsm_email.msg_email_duplicate',
                    key=self.message_key), original=original,
                ticket=original.ticket)
            return

        config = Configuration.email_settings()
        own_addresses = Inbox.own_addresses()
        own_domains = {config.message_id_domain_name}
        if is_bounce(parsed):
            self._record_bounce(raw, own_domains)
            return
        if base_address(parsed.from_address) in own_addresses or (
                parsed.message_id and ticket_id_from_message_id(
                    parsed.message_id, own_domains)):
            self._keep('ignored', gettext(
                    'itsm_email.msg_email_loop',
                    sender=parsed.from_address))
            return
        automatic = automatic_reason(
            parsed.headers, parsed.from_address, own_addresses, own_domains)
        self.automatic = automatic

        limit = inbox.sender_limit
        if limit and self._recent_from_sender() >= limit:
            self._keep('ignored', gettext(
                    'itsm_email.msg_email_rate_limited',
                    sender=parsed.from_address, limit=limit))
            return

        ticket = self._thread(parsed, own_domains)
        if ticket is not None:
            message = self._reply(ticket, parsed)
            if message is None:
                return
        else:
            if automatic and any(
                    k in automatic.lower() for k in _AUTO_REPLY_KEYWORDS):
                self._keep('ignored', gettext(
                        'itsm_email.msg_email_auto_reply_no_ticket',
                        reason=automatic))
                return
            message = self._open_ticket(parsed)
            if message is None:
                return
        self._keep('done', None, **_used(message))

    def _save_pending_if_related(self, parsed):
        "Do the batch's pending work first if this message may depend on it"
        pending = _pending.get()
        if pending is not None and pending.related(self.message_key, parsed):
            self.save_pending()

    @staticmethod
    def _summary(parsed, raw):
        "What the list of received emails shows of a message"
        return {
            'message_key': message_key(parsed, raw),
            'message_id': parsed.message_id,
            'from_address': parsed.from_address,
            'subject': parsed.subject[:500],
            'size': parsed.size,
            'defects': '\n'.join(parsed.defects) or None,
            }

    @staticmethod
    def _unreadable_summary(raw):
        "What the list shows of a message that cannot be parsed"
        summary = read_summary(raw)
        summary['size'] = len(raw)
        # Its copies are duplicates of it, like those of a readable one.
        summary['message_key'] = summary['message_id'] or (
            '<sha256.' + hashlib.sha256(raw).hexdigest() + '@itsm.invalid>')
        return summary

    def _failure_summary(self):
        "The summary of a message whose processing failed, if it reads"
        try:
            raw = self.raw_message()
        except Exception:
            return {}
        try:
            return self._summary(parse_message(raw, max_size=None), raw)
        except Exception:
            return self._unreadable_summary(raw)

    def _lock(self):
        "Process one copy of a message at a time (PostgreSQL)"
        transaction = Transaction()
        database = transaction.database
        if database.has_select_for():
            cursor = transaction.connection.cursor()
            cursor.execute(*Select([database.lock_id(
                            _lock_key(self.message_key), timeout=60)]))

    def _original(self, states=('done',)):
        "The processed copy of this message, if any"
        Inbox = Pool().get('inbound.email.inbox')
        if not self.message_key:
            return None
        email = self.__table__()
        inbox = Inbox.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*email.join(inbox,
                condition=email.inbox == inbox.id).select(
                email.id,
                where=(email.message_key == self.message_key)
                & email.state.in_(list(states))
                & (email.id != self.id)
                & (inbox.company == self.inbox.company.id),
                order_by=[email.id.asc], limit=1))
        row = cursor.fetchone()
        return self.__class__(row[0]) if row else None

    def _recent_from_sender(self):
        "How many messages of the sender were used in the last hour"
        return self.sent_from(self.from_address, 'done',
            dt.datetime.now() - RATE_WINDOW, company=self.inbox.company)

    @classmethod
    def sent_from(cls, address, state, since, company=None, exclude=None):
        """How many messages of the address in the state were received since
        the date (to the company's mailboxes), but the one excluded"""
        Inbox = Pool().get('inbound.email.inbox')
        if not address:
            return 0
        email = cls.__table__()
        where = ((email.from_address == address)
            & (email.create_date >= since)
            & (email.state == state))
        if company is not None:
            inbox = Inbox.__table__()
            where &= email.inbox.in_(inbox.select(inbox.id,
                    where=inbox.company == company.id))
        if exclude is not None:
            where &= email.id != exclude.id
        cursor = Transaction().connection.cursor()
        cursor.execute(*email.select(Count(email.id), where=where))
        return cursor.fetchone()[0]

    def _record_bounce(self, raw, own_domains):
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        bounce = parse_bounce(raw)
        messages = []
        if bounce and bounce.original_message_ids:
            messages = Message.with_message_ids(
                bounce.original_message_ids, self.inbox.company,
                direction='outbound')
        if not messages:
            self._keep('ignored', gettext(
                    'itsm_email.msg_email_bounce_unknown'))
            return
        Message.record_bounce(messages, bounce)
        self._keep('done', gettext(
                'itsm_email.msg_email_bounce',
                messages=', '.join(m.rec_name for m in messages),
                diagnostic=bounce.diagnostic or bounce.status),
            ticket=messages[0].ticket, ticket_message=messages[0],
            result=messages[0])

    def _thread(self, parsed, own_domains):
        """The ticket the message answers, by the most reliable evidence:
        the Message-IDs it answers, the plus address it was sent to, the
        ticket token of its subject, and, for a reply of the requester
        without any of them, the subject of a recent ticket"""
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Message = pool.get('itsm.ticket.message')
        Inbox = pool.get('inbound.email.inbox')
        company = self.inbox.company
        candidates = thread_candidates(parsed.in_reply_to, parsed.references)
        for message_id in candidates:
            ticket_id = ticket_id_from_message_id(message_id, own_domains)
            if ticket_id is not None:
                tickets = Ticket.search([
                        ('id', '=', ticket_id),
                        ('company', '=', company.id),
                        ])
                if tickets:
                    return tickets[0]
        messages = Message.with_message_ids(candidates, company)
        if messages:
            return messages[0].ticket
        local_parts = {a.rpartition('@')[0]
            for a in Inbox.own_addresses(company)}
        numbers = plus_address_numbers(parsed.recipients, local_parts)
        numbers += [n for n in ticket_numbers_in_subject(parsed.subject)
            if n not in numbers]
        if numbers:
            by_number = {t.number.upper(): t
                for t in Ticket.with_numbers(numbers, company)}
            for number in numbers:
                if number in by_number:
                    return by_number[number]
        return self._thread_by_subject(parsed)

    def _thread_by_subject(self, parsed):
        Ticket = Pool().get('itsm.ticket')
        subject = ' '.join(parsed.subject.split())
        stripped = strip_reply_prefixes(subject)
        if not stripped or stripped == subject:
            # Not a reply: a new message may well share a subject.
            return None
        since = dt.datetime.now() - SUBJECT_MATCH_WINDOW
        tickets = Ticket.search([
                ('company', '=', self.inbox.company.id),
                ('requester_email', 'ilike', _escape_like(
                        parsed.from_address)),
                ('state', 'not in', sorted(workflow.DONE_STATES)),
                ('create_date', '>=', since),
                ], order=[('id', 'DESC')], limit=20)
        for ticket in tickets:
            if strip_reply_prefixes(ticket.subject).casefold() == (
                    stripped.casefold()):
                return ticket
        return None

    def _reply(self, ticket, parsed):
        """Add the message to the ticket's conversation; return the message,
        or None if left to add with the batch's others"""
        pool = Pool()
        Party = pool.get('party.party')
        party = Party.find_by_email([parsed.from_address]).get(
            parsed.from_address)
        follow_up = ticket.take_up_by_email(self, parsed, party)
        if follow_up:
            return follow_up
        pending = _pending.get()
        if pending is not None:
            pending.reply(ticket, self, parsed, party)
            return None
        message, = ticket.add_email_messages(
            [(ticket, self, parsed, party)])
        return message

    def _open_ticket(self, parsed):
        """Open a ticket for the message, if the sender may; return the
        message, or None if kept or left to open with the batch's others"""
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Party = pool.get('party.party')
        inbox = self.inbox
        requester = Party.find_by_email([parsed.from_address]).get(
            parsed.from_address)
        if requester is None:
            policy = inbox.requester_policy
            domain = parsed.from_address.rpartition('@')[2]
            if policy == 'known' or (
                    policy == 'domains'
                    and domain not in inbox.allowed_domain_names):
                self._keep('refused', gettext(
                        'itsm_email.msg_email_refused',
                        sender=parsed.from_address, inbox=inbox.rec_name))
                if (inbox.answer_refused and not self.automatic
                        and Transaction().context.get('itsm_notify', True)):
                    self.__class__.__queue__.answer_refused([self])
                return None
            requester = Party.from_email(
                parsed.from_address, parsed.from_name)
        pending = _pending.get()
        if pending is not None:
            pending.open(self, parsed, requester)
            return None
        return Ticket.open_from_email(self, parsed, requester, self.rule)

    @classmethod
    def answer_refused(cls, emails):
        "Tell the refused senders politely (queued)"
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        for email_ in emails:
            if email_.state == 'refused':
                Message.send_refusal(email_)

    @classmethod
    def copy(cls, emails, default=None):
        default = default.copy() if default is not None else {}
        for name in ['ticket', 'ticket_message', 'original', 'processed_at',
                'reason']:
            default.setdefault(name, None)
        return super().copy(emails, default=default)


def _used(message):
    "The outcome of a message that is now the ticket message"
    return {
        'ticket': message.ticket,
        'ticket_message': message,
        'result': message,
        }


def _escape_like(value):
    return (value.replace('\\', '\\\\').replace('%', '\\%')
        .replace('_', '\\_'))


class Party(metaclass=PoolMeta):
    __name__ = 'party.party'

    @classmethod
    def find_by_email(cls, addresses):
        "Map each address (lower case) to the active party that has it"
        pool = Pool()
        ContactMechanism = pool.get('party.contact_mechanism')
        mechanism = ContactMechanism.__table__()
        party = cls.__table__()
        cursor = Transaction().connection.cursor()
        addresses = sorted({a.lower() for a in addresses if a})
        found = {}
        for sub in grouped_slice(addresses, count=500):
            cursor.execute(*mechanism.join(
                    party, condition=mechanism.party == party.id).select(
                    Lower(mechanism.value), mechanism.party,
                    where=(mechanism.type == 'email')
                    & Lower(mechanism.value).in_(list(sub))
                    & (mechanism.active == Literal(True))
                    & (party.active == Literal(True)),
                    order_by=[mechanism.party.asc]))
            for address, party_id in cursor:
                found.setdefault(address, party_id)
        return {a: cls(p) for a, p in found.items()}

    @classmethod
    def from_email(cls, address, name=None):
        "Register the sender of an email as a party"
        party, = cls.create([{
                    'name': (name or '').strip() or address,
                    'contact_mechanisms': [('create', [{
                                    'type': 'email',
                                    'value': address,
                                    }])],
                    }])
        return party


class ContactMechanism(metaclass=PoolMeta):
    __name__ = 'party.contact_mechanism'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        # Party.find_by_email looks every sender up by the address.
        cls._sql_indexes.add(
            Index(table, (Lower(table.value), Index.Equality())))


class Company(metaclass=PoolMeta):
    __name__ = 'company.company'

    @classmethod
    def itsm_process_emails(cls, companies):
        "Process the received messages of the companies (queued)"
        Email = Pool().get('inbound.email')
        Email.process_pending([c.id for c in companies])


class Queue(metaclass=PoolMeta):
    __name__ = 'ir.queue'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        # Every stored message looks for the waiting processing task of
        # its company (Email.queue_pending).
        cls._sql_indexes.add(
            Index(table, (table.name, Index.Equality()),
                where=table.dequeued_at == Null))
