# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Both ways in, with real transactions and the real queue: Tryton's
inbound_email webhook, and the collector against a real Dovecot."""
import datetime as dt
import logging
import tempfile
from unittest import mock

import trytond.config as config
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction
from trytond.worker import run_task

from itsm_tools import mailservers
from itsm_tools.queue_runner import QueueRunner
from itsm_tools.testing import SMTPSink, missing

from .tools import create_mailbox, email_message


def committed(func, *args, user=0):
    """Run func in a transaction that commits, then run the tasks it queued
    as the server does after a request; return func's result"""
    with Transaction().start(DB_NAME, user) as transaction:
        result = func(*args)
        transaction.commit()
    while transaction.tasks:
        run_task(DB_NAME, transaction.tasks.pop())
    return result


def read(func, *args):
    with Transaction().start(DB_NAME, 0, readonly=True):
        return func(*args)


class _ChannelTestCase(RouteTestCase):
    module = 'itsm_email'

    @classmethod
    def setUpClass(cls):
        cls.sink = SMTPSink()
        cls.addClassCleanup(cls.sink.stop)
        old = config.get('email', 'uri')
        config.set('email', 'uri', cls.sink.uri)
        cls.addClassCleanup(config.set, 'email', 'uri', old)
        super().setUpClass()

    @classmethod
    def setUpDatabase(cls):
        company = create_company()
        cls.company_id = company.id
        with set_company(company):
            cls.inbox_id = cls.create_inbox(company).id

    @classmethod
    def create_inbox(cls, company):
        return create_mailbox(company)

    def emails(self, **domain):
        Email = Pool(DB_NAME).get('inbound.email')
        return read(lambda: [
                (e.state, e.subject, e.ticket and e.ticket.number, e.reason)
                for e in Email.search(
                    [(k, '=', v) for k, v in domain.items()],
                    order=[('id', 'ASC')])])


class WebhookTestCase(_ChannelTestCase):
    "Messages posted to the inbound_email webhook, as itsm-mailgate does"

    @classmethod
    def setUpDatabase(cls):
        super().setUpDatabase()
        Inbox = Pool(DB_NAME).get('inbound.email.inbox')
        inbox = Inbox(cls.inbox_id)
        Inbox.new_identifier([inbox])
        cls.url = f'/{DB_NAME}/inbound_email/inbox/{inbox.identifier}'

    def post(self, raw):
        return self.client().post(self.url, data=raw,
            headers={'Content-Type': 'message/rfc822'})

    def test_message_becomes_ticket(self):
        "The webhook stores the message and the queue makes the ticket"
        response = self.post(email_message(subject="Webhook ticket"))
        self.assertEqual(response.status_code, 204)
        [(state, subject, number, _)] = self.emails(subject="Webhook ticket")
        self.assertEqual((state, subject), ('done', "Webhook ticket"))
        self.assertTrue(number)

    def test_unknown_inbox_is_not_found(self):
        "A wrong identifier answers 404: the mail gate bounces the message"
        response = self.client().post(
            f'/{DB_NAME}/inbound_email/inbox/wrong', data=email_message(),
            headers={'Content-Type': 'message/rfc822'})
        self.assertEqual(response.status_code, 404)

    def test_unexpected_error_keeps_message_and_nothing_else(self):
        "A crash while processing leaves the message failed, nothing half-made"
        pool = Pool(DB_NAME)
        Ticket = pool.get('itsm.ticket')
        Party = pool.get('party.party')
        count = read(lambda: (Ticket.search_count([]), Party.search_count([])))

        def broken(cls, *args, **kwargs):
            raise RuntimeError("disk on fire")
        with mock.patch.object(
                Ticket, '_add_email_messages', classmethod(broken),
                create=False):
            response = self.post(email_message(
                    subject="Crashing", sender='newcomer@client.example'))
        self.assertEqual(response.status_code, 204)
        [(state, _, number, reason)] = self.emails(subject="Crashing")
        self.assertEqual((state, number), ('failed', None))
        self.assertIn('disk on fire', reason)
        self.assertEqual(read(lambda: (
                    Ticket.search_count([]), Party.search_count([]))), count)

        # Once fixed, the administrator processes it again.
        Email = pool.get('inbound.email')

        def retry():
            Email.retry(Email.search([('subject', '=', "Crashing")]))
        committed(retry)
        [(state, _, number, _)] = self.emails(subject="Crashing")
        self.assertEqual(state, 'done')
        self.assertTrue(number)

    def store(self, subjects):
        "Store the messages in one committed transaction, not processed"
        return self.store_raw([email_message(
                    subject=s, sender=f'{s.split()[-1]}@client.example')
                for s in subjects])

    def store_raw(self, messages):
        "Store the raw messages in one committed transaction, not processed"
        pool = Pool(DB_NAME)
        Email = pool.get('inbound.email')
        Inbox = pool.get('inbound.email.inbox')
        with Transaction().start(DB_NAME, 0) as transaction:
            inbox = Inbox(self.inbox_id)
            emails = [Email(inbox=inbox, data_type='raw', data=raw)
                for raw in messages]
            for email_ in emails:
                inbox.process(email_)
            Email.save(emails)
            ids = [e.id for e in emails]
            transaction.commit()
        return ids

    def test_one_failure_in_a_batch_keeps_only_itself(self):
        "A crash fails its message; the others of the batch are done"
        pool = Pool(DB_NAME)
        Ticket = pool.get('itsm.ticket')
        original = Ticket._add_email_messages

        @classmethod
        def broken(cls, items):
            if any('Crash' in (e.subject or '') for _, e, _, _ in items):
                raise RuntimeError("disk on fire")
            return original(items)

        def process():
            Company = pool.get('company.company')
            Company.itsm_process_emails([Company(self.company_id)])
        self.store(["Batch fine one", "Batch Crash two", "Batch fine three"])
        with mock.patch.object(Ticket, '_add_email_messages', broken):
            committed(process)
        states = [(state, subject, bool(number), reason and 'fire' in reason)
            for state, subject, number, reason in self.emails()
            if subject and subject.startswith("Batch")]
        self.assertEqual(states, [
                ('done', "Batch fine one", True, None),
                ('failed', "Batch Crash two", False, True),
                ('done', "Batch fine three", True, None),
                ])

    def test_batch_opens_tickets_together_in_order(self):
        """A batch opens its new tickets in one go, yet a copy or an answer
        of a new message in the same batch finds its ticket"""
        pool = Pool(DB_NAME)
        Company = pool.get('company.company')
        Email = pool.get('inbound.email')
        Attachment = pool.get('ir.attachment')
        first = '<together-1@client.example>'
        earlier = '<together-0@client.example>'
        [before] = self.store_raw([email_message(
                    subject="Together before", message_id=earlier,
                    sender='emil@client.example')])
        committed(lambda: Company.itsm_process_emails(
                [Company(self.company_id)]))
        ids = self.store_raw([
                email_message(subject="Together first", message_id=first,
                    sender='anna@client.example',
                    attachments=[('log.txt', b'alpha')]),
                email_message(subject="Together first", message_id=first,
                    sender='anna@client.example'),
                email_message(subject="Re: Together first",
                    sender='bob@client.example', in_reply_to=first),
                email_message(subject="Together second",
                    sender='carl@client.example'),
                email_message(subject="Together third",
                    sender='dora@client.example'),
                email_message(subject="Re: Together before",
                    sender='emil@client.example', in_reply_to=earlier),
                ])
        committed(lambda: Company.itsm_process_emails(
                [Company(self.company_id)]))

        def outcome():
            emails = Email.browse(ids)
            return [(e.state, e.ticket.id if e.ticket else None)
                for e in emails], str(emails[0].ticket_message)
        states, message = read(outcome)
        self.assertEqual([s for s, _ in states],
            ['done', 'duplicate', 'done', 'done', 'done', 'done'])
        # The reply to a ticket of an earlier batch joins it, with its
        # message linked to the email.
        self.assertEqual(states[-1][1], read(lambda: Email(before).ticket.id))
        self.assertEqual(read(lambda: [
                    (m.direction, m.inbound_email.id if m.inbound_email
                        else None)
                    for m in Email(ids[-1]).ticket.messages
                    if m.direction == 'inbound']),
            [('inbound', before), ('inbound', ids[-1])])
        states = states[:-1]
        tickets = [t for _, t in states]
        ticket = f'itsm.ticket,{tickets[0]}'
        self.assertEqual(tickets[:3], [tickets[0]] * 3)
        # Opened in the order the messages came.
        self.assertEqual(tickets[2:], sorted(tickets[2:]))
        self.assertEqual(len(set(tickets)), 3)
        self.assertEqual(read(lambda: sorted(
                    (a.resource.__name__, a.name, a.data)
                    for a in Attachment.search([
                            ('resource', 'in', [ticket, message]),
                            ]))), [
                ('itsm.ticket', 'log.txt', b'alpha'),
                ('itsm.ticket.message', 'log.txt', b'alpha'),
                ])
        Ticket = pool.get('itsm.ticket')
        self.assertEqual(read(lambda: [(m.direction, m.automatic)
                    for m in Ticket(tickets[0]).messages]), [
                ('inbound', False), ('outbound', True), ('inbound', False),
                ])

    def test_task_taken_before_commit_is_replaced(self):
        """With trytond-worker, a message stored while its company's task
        waits, which a worker takes before the commit, queues another"""
        pool = Pool(DB_NAME)
        Email = pool.get('inbound.email')
        Inbox = pool.get('inbound.email.inbox')
        Queue = pool.get('ir.queue')
        old = config.get('queue', 'worker', default=None)
        config.set('queue', 'worker', 'True')
        self.addCleanup(config.set, 'queue', 'worker', old or 'False')

        def waiting():
            return Queue.search([
                    ('name', '=', 'itsm_email'),
                    ('dequeued_at', '=', None),
                    ])
        committed(lambda: Email.queue_pending([self.company_id]))
        self.assertEqual(len(read(waiting)), 1)

        def store_while_taken():
            inbox = Inbox(self.inbox_id)
            email_ = Email(inbox=inbox, data_type='raw',
                data=email_message(subject="Raced"))
            inbox.process(email_)
            Email.save([email_])
            # It counted on the waiting task, that a worker takes now.
            self.assertEqual(len(waiting()), 1)
            Queue.write(waiting(), {'dequeued_at': dt.datetime.now()})
        committed(store_while_taken)
        self.assertEqual(len(read(waiting)), 1)
        committed(lambda: Email.process_pending([self.company_id]))
        self.assertEqual(
            [s for s, *_ in self.emails(subject="Raced")], ['done'])

    def test_queue_run_by_the_server_takes_messages_together(self):
        """On SQLite with [queue] worker = True the server runs the queue
        in a thread: the webhook answers once the message is stored, and
        one task processes the messages stored meanwhile"""
        pool = Pool(DB_NAME)
        Queue = pool.get('ir.queue')
        old = config.get('queue', 'worker', default=None)
        config.set('queue', 'worker', 'True')
        self.addCleanup(config.set, 'queue', 'worker', old or 'False')
        last_task = read(lambda: max(
                [t.id for t in Queue.search([])], default=0))
        sent = len(self.sink.messages)
        subjects = [f"Together {n}" for n in range(3)]
        for subject in subjects:
            response = self.post(email_message(subject=subject))
            self.assertEqual(response.status_code, 204)
        self.assertEqual(
            [s for s, *_ in self.emails(state='received')],
            ['received'] * 3)

        # The thread's loop, in this thread: the test database may be
        # SQLite's in memory, which only this thread sees.
        runner = QueueRunner(DB_NAME)
        ran = 0
        while runner.run_one():
            ran += 1
        self.assertFalse(read(lambda: Queue.search([
                        ('id', '>', last_task),
                        ('finished_at', '=', None),
                        ])))
        for subject in subjects:
            [(state, _, number, _)] = self.emails(subject=subject)
            self.assertEqual(state, 'done')
            self.assertTrue(number)
        processing = read(lambda: Queue.search([
                    ('id', '>', last_task),
                    ('name', '=', 'itsm_email'),
                    ]))
        self.assertEqual(len(processing), 1)
        self.assertEqual(ran, len(read(lambda: Queue.search([
                            ('id', '>', last_task)]))))
        # The acknowledgements' delivery was queued, and run too.
        acknowledgements = [raw for _, _, raw in self.sink.messages[sent:]]
        self.assertEqual(len(acknowledgements), 3)
        for subject in subjects:
            self.assertTrue(any(subject.encode() in raw
                    for raw in acknowledgements))

    def test_failure_in_one_request_keeps_only_itself(self):
        "As shipped, a crash among messages stored together fails only it"
        pool = Pool(DB_NAME)
        Email = pool.get('inbound.email')
        Inbox = pool.get('inbound.email.inbox')
        Ticket = pool.get('itsm.ticket')
        original = Ticket._add_email_messages

        @classmethod
        def broken(cls, items):
            if any('Crash' in (e.subject or '') for _, e, _, _ in items):
                raise RuntimeError("disk on fire")
            return original(items)

        def store():
            # As the collector does: one transaction, one task after it.
            inbox = Inbox(self.inbox_id)
            emails = [Email(inbox=inbox, data_type='raw', data=email_message(
                        subject=s, sender=f'{s.split()[-1]}@client.example'))
                for s in ["Shipped one", "Shipped Crash two",
                    "Shipped three"]]
            for email_ in emails:
                inbox.process(email_)
            Email.save(emails)
        with mock.patch.object(Ticket, '_add_email_messages', broken):
            committed(store)
        self.assertEqual([(state, subject, bool(number))
                for state, subject, number, _ in self.emails()
                if subject and subject.startswith("Shipped")], [
                ('done', "Shipped one", True),
                ('failed', "Shipped Crash two", False),
                ('done', "Shipped three", True),
                ])

    def test_concurrent_claims_are_disjoint(self):
        "On PostgreSQL two tasks claim different messages (SKIP LOCKED)"
        pool = Pool(DB_NAME)
        Email = pool.get('inbound.email')
        with Transaction().start(DB_NAME, 0) as transaction:
            skip = not transaction.database.has_select_for()
        if skip:
            self.skipTest("SQLite has a single writer")
        ids = self.store([f"Claim {n}" for n in range(4)])
        with Transaction().start(DB_NAME, 0) as first:
            mine = [e.id for e in Email._claim([self.company_id], 2)]
            with Transaction().new_transaction() as second:
                theirs = [e.id for e in Email._claim([self.company_id], 4)]
                second.rollback()
            first.rollback()
        self.assertEqual(mine, ids[:2])
        self.assertEqual(theirs, ids[2:])

        def process():
            Email.process_pending([self.company_id])
        committed(process)
        self.assertEqual(
            {e[0] for e in self.emails() if e[1].startswith("Claim")},
            {'done'})

    def test_acknowledgement_goes_out_after_commit(self):
        "The acknowledgement is sent by the queue to the requester"
        self.sink.messages.clear()
        self.post(email_message(
                subject="Please acknowledge", sender='ack@client.example'))
        [(_, rcpt_tos, raw)] = self.sink.wait_for()
        self.assertEqual(rcpt_tos, ['ack@client.example'])
        self.assertIn(b'Auto-Submitted: auto-replied', raw)


class CollectorTestCase(_ChannelTestCase):
    "The collector empties IMAP and POP3 mailboxes of a real Dovecot"

    @classmethod
    def setUpClass(cls):
        cls.directory = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.directory.cleanup)
        try:
            cls.dovecot = mailservers.dovecot(
                cls.directory.name, {
                    'helpdesk': 'imap-secret', 'other': 'pop-secret'},
                mailservers.free_port(), mailservers.free_port(), ssl=True)
        except mailservers.MissingProgram as error:
            cls.unavailable = error.reason
        else:
            cls.unavailable = None
            cls.addClassCleanup(cls.dovecot.stop)
        super().setUpClass()

    def setUp(self):
        super().setUp()
        if self.unavailable:
            missing(self.unavailable)

    def configure(self, **values):
        Inbox = Pool(DB_NAME).get('inbound.email.inbox')
        values = {
            'protocol': 'imap', 'host': '127.0.0.1',
            'port': self.dovecot.imap_port, 'security': 'none',
            'username': 'helpdesk', 'password': 'imap-secret',
            'folder': 'INBOX', 'processed_folder': None,
            'certificate': None, **values}

        def write():
            Inbox.write([Inbox(self.inbox_id)], values)
        committed(write)

    def collect(self):
        Inbox = Pool(DB_NAME).get('inbound.email.inbox')

        def collect():
            Inbox.collect([Inbox(self.inbox_id)])
        committed(collect)
        return read(lambda: Inbox(self.inbox_id).collect_error)

    def unseen(self, user='helpdesk', folder='INBOX'):
        connection = self.dovecot.imap(user)
        try:
            connection.select(folder)
            return len(connection.uid('SEARCH', None, 'UNSEEN')[1][0].split())
        finally:
            connection.logout()

    def count(self, user='helpdesk', folder='INBOX'):
        connection = self.dovecot.imap(user)
        try:
            status, data = connection.select(folder)
            return int(data[0]) if status == 'OK' else None
        finally:
            connection.logout()

    def test_imap_marks_seen_only_after_commit(self):
        "Messages become tickets and are marked seen once stored"
        self.configure()
        first = email_message(subject="IMAP one",
            message_id='<imap-1@client.example>')
        self.dovecot.deliver('helpdesk', first)
        self.dovecot.deliver('helpdesk', email_message(
                subject="Re: IMAP one", in_reply_to='<imap-1@client.example>'))
        # The same message twice on the server: one ticket message.
        self.dovecot.deliver('helpdesk', first)

        # A transaction that does not commit marks nothing.
        Inbox = Pool(DB_NAME).get('inbound.email.inbox')
        with Transaction().start(DB_NAME, 0) as transaction:
            Inbox.collect([Inbox(self.inbox_id)])
            transaction.rollback()
        self.assertEqual(self.unseen(), 3)

        self.assertIsNone(self.collect())
        self.assertEqual(self.unseen(), 0)
        self.assertEqual(self.count(), 3)
        emails = self.emails(message_id='<imap-1@client.example>')
        self.assertEqual(
            sorted(state for state, *_ in emails), ['done', 'duplicate'])
        numbers = {n for _, subject, n, _ in self.emails()
            if subject and 'IMAP one' in subject}
        self.assertEqual(len(numbers), 1)

        # Nothing new: nothing collected.
        before = len(self.emails())
        self.collect()
        self.assertEqual(len(self.emails()), before)

    def test_imap_moves_to_folder_over_starttls(self):
        "STARTTLS with the server's own certificate; stored ones are moved"
        self.configure(security='starttls', processed_folder='Processed',
            certificate=self.dovecot.cert.read_text())
        self.dovecot.deliver('helpdesk', email_message(subject="Move me"))
        in_inbox = self.count()
        self.assertIsNone(self.collect())
        self.assertEqual(self.count(), in_inbox - 1)
        self.assertEqual(self.count(folder='Processed'), 1)
        [(state, *_)] = self.emails(subject="Move me")
        self.assertEqual(state, 'done')

    def test_imaps_refuses_an_untrusted_certificate(self):
        "A self-signed certificate not given as trusted stops the collector"
        self.configure(port=self.dovecot.imaps_port, security='ssl')
        self.dovecot.deliver('helpdesk', email_message(subject="Untrusted"))
        error = self.collect()
        self.assertIn('certificate', error)
        self.assertEqual(self.emails(subject="Untrusted"), [])
        self.configure(port=self.dovecot.imaps_port, security='ssl',
            certificate=self.dovecot.cert.read_text())
        self.assertIsNone(self.collect())
        [(state, *_)] = self.emails(subject="Untrusted")
        self.assertEqual(state, 'done')

    def test_pop3_deletes_after_commit(self):
        "POP3 (SSL, then STLS): stored messages are deleted from the server"
        self.dovecot.deliver('other', email_message(subject="POP one"))
        self.configure(protocol='pop3', port=self.dovecot.pop3s_port,
            security='ssl', username='other', password='pop-secret',
            certificate=self.dovecot.cert.read_text())
        self.assertIsNone(self.collect())
        self.assertEqual(self.count('other'), 0)
        self.dovecot.deliver('other', email_message(subject="POP two"))
        self.configure(protocol='pop3', port=self.dovecot.pop3_port,
            security='starttls', username='other', password='pop-secret',
            certificate=self.dovecot.cert.read_text())
        self.assertIsNone(self.collect())
        self.assertEqual(self.count('other'), 0)
        self.assertEqual(
            [s for s, *_ in self.emails(subject="POP one")
                + self.emails(subject="POP two")], ['done', 'done'])

    def test_wrong_password_is_reported_without_it(self):
        "A refused login is shown to the admin; the password is never logged"
        self.configure(password='not-the-password-42')
        with self.assertLogs('itsm_email', logging.WARNING) as logs:
            error = self.collect()
        self.assertIn('127.0.0.1', error)
        self.assertNotIn('not-the-password-42', error)
        self.assertNotIn('not-the-password-42', '\n'.join(logs.output))
        self.assertNotIn(
            'not-the-password-42', self.dovecot.log().split('auth:')[-1])

    def test_unreachable_server_is_reported(self):
        "A server that does not answer leaves a clear error"
        self.configure(port=mailservers.free_port())
        self.assertIn('refused', self.collect())


del RouteTestCase

