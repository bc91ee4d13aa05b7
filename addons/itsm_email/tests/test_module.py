# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
import datetime as dt
import email
import re
from email import policy
from unittest import mock

import trytond.config as config
from trytond import backend
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import (
    CompanyTestMixin,
    create_company,
    set_company,
)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction

from itsm_tools.testing import SMTPSink

from .tools import HELPDESK, create_mailbox, email_message, receive


def create_agent(company, login='agent', group='group_agent'):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'login': login, 'name': login.title(),
                'companies': [('add', [company.id])],
                'company': company.id,
                'groups': [('add', [ModelData.get_id('itsm_ticket', group)])],
                }])
    return user


def parse(raw):
    return email.message_from_bytes(raw, policy=policy.default)


class ItsmEmailTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the email channel module"
    module = 'itsm_email'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sink = SMTPSink()
        cls.addClassCleanup(cls.sink.stop)
        for option, value in [
                ('uri', cls.sink.uri),
                ('from', 'Oriale <servicedesk@oriale.example>')]:
            old = config.get('email', option)
            config.set('email', option, value)
            cls.addClassCleanup(config.set, 'email', option, old)

    def setUp(self):
        super().setUp()
        self.sink.messages.clear()
        self.sink.answer = None

    @property
    def _skip_company_rule(self):
        # Inboxes without a company are Tryton's own, not the Service
        # Desk's: their rule lets them through.
        return super()._skip_company_rule | {
            ('inbound.email.inbox', 'company')}

    def deliver_queued(self):
        "Run the queued deliveries as the worker would; return the sent"
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        queued = Message.search([('delivery_state', '=', 'queued')])
        Message.deliver(queued)
        return [parse(raw) for _, _, raw in self.sink.messages]

    @with_transaction()
    def test_new_ticket_from_email(self):
        "An email opens a ticket: requester, message, attachments, Cc, ack"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Attachment = pool.get('ir.attachment')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            raw = email_message(
                sender='Ewa Kowalska <Ewa@Client.example>',
                cc='boss@client.example, servicedesk@oriale.example',
                html='<p>On <b>fire</b></p><script>alert(1)</script>',
                attachments=[('photo.jpg', b'JPEG'), ('photo.jpg', b'JPG2')],
                message_id='<first@client.example>')

            email_ = receive(inbox, raw)

            self.assertEqual(email_.state, 'done')
            ticket = email_.ticket
            self.assertEqual(ticket.channel, 'email')
            self.assertEqual(ticket.subject, "Printer on fire")
            self.assertEqual(ticket.requester.name, "Ewa Kowalska")
            self.assertEqual(ticket.requester.email, 'ewa@client.example')
            self.assertEqual(ticket.requester_email, 'ewa@client.example')
            self.assertEqual(ticket.mailbox, inbox)
            self.assertEqual(
                [p.email for p in ticket.watcher_parties],
                ['boss@client.example'])
            inbound, ack = ticket.messages
            self.assertEqual(inbound, email_.ticket_message)
            self.assertEqual(inbound.direction, 'inbound')
            self.assertEqual(inbound.message_id, '<first@client.example>')
            self.assertEqual(inbound.inbound_email, email_)
            self.assertIn('<b>fire</b>', inbound.body_html)
            self.assertNotIn('script', inbound.body_html)
            names = sorted(a.name for a in Attachment.search([
                        ('resource', '=', str(inbound))]))
            self.assertEqual(names, ['photo (2).jpg', 'photo.jpg'])
            self.assertEqual(len(Attachment.search([
                            ('resource', '=', str(ticket))])), 2)
            self.assertEqual(
                (ack.direction, ack.automatic, ack.delivery_state),
                ('outbound', True, 'queued'))
            self.assertEqual(Ticket.search([]), [ticket])

            [sent] = self.deliver_queued()
            self.assertEqual(sent['To'], 'ewa@client.example')
            self.assertEqual(sent['Auto-Submitted'], 'auto-replied')
            self.assertEqual(sent['In-Reply-To'], '<first@client.example>')
            self.assertIn(f'[{ticket.number}]', sent['Subject'])
            self.assertEqual(
                sent['Reply-To'].addresses[0].addr_spec,
                f'servicedesk+{ticket.number}@oriale.example')
            self.assertIn(ticket.number, sent.get_content())
            ack = ack.__class__(ack.id)
            self.assertEqual(ack.delivery_state, 'sent')
            self.assertEqual(ack.message_id, sent['Message-ID'])

    @with_transaction()
    def test_reply_threads_by_every_identifier(self):
        "Replies join their ticket by Message-ID, plus address and token"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            first = receive(inbox, email_message(
                    message_id='<first@client.example>'))
            ticket = first.ticket
            [ack] = self.deliver_queued()

            replies = [
                # To our acknowledgement.
                email_message(subject="Re: anything",
                    in_reply_to=ack['Message-ID']),
                # To the original, by a colleague in copy.
                email_message(subject="Re: Printer",
                    sender='boss@client.example',
                    references='<first@client.example>'),
                # To the plus address only.
                email_message(subject="Another subject",
                    to=f'servicedesk+{ticket.number}@oriale.example'),
                # With the token only.
                email_message(subject=f"Fwd: [{ticket.number}] more"),
                # A reply of the requester that lost every identifier.
                email_message(subject="RE: Printer on fire"),
                ]
            for raw in replies:
                email_ = receive(inbox, raw)
                self.assertEqual(
                    (email_.state, email_.ticket), ('done', ticket))
            self.assertEqual(len(ticket.messages), 2 + len(replies))

            # Same subject without a reply prefix: a new request.
            other = receive(inbox, email_message())
            self.assertNotEqual(other.ticket, ticket)
            self.assertEqual(len(Ticket.search([])), 2)

    @with_transaction()
    def test_foreign_identifiers_do_not_thread(self):
        "A token or Message-ID of another company opens a new ticket"
        company = create_company()
        other_company = create_company("Other")
        with set_company(other_company):
            other_inbox = create_mailbox(
                other_company, address='help@other.example')
            theirs = receive(other_inbox, email_message()).ticket
        with set_company(company):
            inbox = create_mailbox(company)
            email_ = receive(inbox, email_message(
                    subject=f"Re: [{theirs.number}] Printer on fire",
                    sender='someone@else.example',
                    in_reply_to=theirs.messages[0].message_id))
            self.assertNotEqual(email_.ticket, theirs)
            self.assertEqual(email_.ticket.company, company)

    @with_transaction()
    def test_duplicate_is_imported_once(self):
        "The same Message-ID delivered twice makes one message"
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            raw = email_message(message_id='<same@client.example>')
            first = receive(inbox, raw)
            # The copy to the plus address of another Service Desk mailbox.
            second = receive(inbox, raw.replace(
                    b'To: servicedesk@', b'To: it@'))
            self.assertEqual(
                (second.state, second.original), ('duplicate', first))
            self.assertEqual(
                len([m for m in first.ticket.messages
                        if m.direction == 'inbound']), 1)

    @with_transaction()
    def test_lookups_of_a_message_use_indexes(self):
        "Deduplicating, rate limiting and threading scan no whole table"
        if backend.name != 'sqlite':
            self.skipTest("the query plans read are SQLite's")
        transaction = Transaction()
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            first = receive(inbox, email_message(
                    message_id='<first@client.example>'))
            [ack] = self.deliver_queued()
            statements = []
            connection = transaction.connection
            connection.set_trace_callback(statements.append)
            try:
                receive(inbox, email_message(subject="Re: anything",
                        in_reply_to=ack['Message-ID']))
                receive(inbox, email_message(
                        subject=f"Fwd: [{first.ticket.number}] more"))
                receive(inbox, email_message(subject="Another request"))
            finally:
                connection.set_trace_callback(None)
            selects = [s for s in statements
                if s.lstrip().upper().startswith('SELECT')]
            self.assertTrue(any('"inbound_email"' in s for s in selects))
            # The statements come with their parameters written in:
            # their plans read the tables by alias.
            tables = {'inbound_email', 'itsm_ticket', 'itsm_ticket_message',
                'party_contact_mechanism'}
            cursor = connection.cursor()
            scans = set()
            for statement in selects:
                aliases = {alias: table for table, alias in re.findall(
                        r'"(\w+)" AS "(\w+)"', statement)}
                cursor.execute('EXPLAIN QUERY PLAN ' + statement)
                for *_, detail in cursor.fetchall():
                    words = detail.split()
                    if words[0] == 'SCAN' and aliases.get(
                            words[1], words[1]) in tables:
                        scans.add((detail, statement))
            self.assertFalse(scans)

    @with_transaction()
    def test_messages_stored_together_are_processed_in_order(self):
        "A reply collected with the message it answers joins its ticket"
        pool = Pool()
        Email = pool.get('inbound.email')
        Queue = pool.get('ir.queue')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            raws = [
                email_message(message_id='<batch-1@client.example>'),
                email_message(subject="Re: Printer on fire",
                    body="It smokes now.",
                    in_reply_to='<batch-1@client.example>'),
                ]
            emails = [Email(inbox=inbox, data=r, data_type='raw')
                for r in raws]
            for email_ in emails:
                inbox.process(email_)
            transaction = Transaction()
            before = len(transaction.tasks)
            Email.save(emails)
            tasks = Queue.browse(transaction.tasks[before:])

            # The in-process runner takes the last task first, and a
            # worker takes them in any order: one task keeps their order.
            self.assertEqual(len(tasks), 1)
            for task in reversed(tasks):
                task.run()

            first, reply = Email.browse([e.id for e in emails])
            self.assertEqual((first.state, reply.state), ('done', 'done'))
            self.assertEqual(reply.ticket, first.ticket)
            self.assertEqual(
                [m.body for m in first.ticket.messages
                    if m.direction == 'inbound'],
                ["The printer in room 12 is on fire.\n", "It smokes now.\n"])

    @with_transaction()
    def test_reply_reopens_resolved_and_recently_closed(self):
        "A reply reopens a resolved ticket and one closed within the delay"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Relation = pool.get('itsm.ticket.relation')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            ticket = receive(inbox, email_message()).ticket
            ticket.resolution = "Replaced the toner"
            ticket.save()
            Ticket.resolve([ticket])

            receive(inbox, email_message(
                    subject=f"Re: [{ticket.number}] still on fire"))
            self.assertEqual(ticket.state, 'in_progress')

            Ticket.resolve([ticket])
            Ticket.close([ticket])
            receive(inbox, email_message(
                    subject=f"Re: [{ticket.number}] again"))
            self.assertEqual(ticket.state, 'in_progress')

            Ticket.resolve([ticket])
            Ticket.close([ticket])
            Ticket.write([ticket], {
                    'closed_at': dt.datetime.now() - dt.timedelta(days=30)})
            late = receive(inbox, email_message(
                    subject=f"Re: [{ticket.number}] a month later"))
            self.assertEqual(ticket.state, 'closed')
            follow_up = late.ticket
            self.assertNotEqual(follow_up, ticket)
            [relation] = Relation.search([('from_ticket', '=', follow_up)])
            self.assertEqual(
                (relation.to_ticket, relation.type), (ticket, 'relates_to'))

    @with_transaction()
    def test_automatic_mail(self):
        "Robots get no answer; an out-of-office never reopens a ticket"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Message = pool.get('itsm.ticket.message')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            alert = receive(inbox, email_message(
                    sender='monitoring@client.example',
                    subject="Disk full on srv-01",
                    headers={'Auto-Submitted': 'auto-generated'}))
            self.assertEqual(alert.state, 'done')
            self.assertEqual(alert.automatic, 'Auto-Submitted: auto-generated')
            self.assertTrue(alert.ticket.no_automatic_email)
            self.assertFalse(Message.search([('direction', '=', 'outbound')]))

            ticket = receive(inbox, email_message()).ticket
            ticket.resolution = "Done"
            ticket.save()
            Ticket.resolve([ticket])
            away = receive(inbox, email_message(
                    subject=f"Automatic reply: [{ticket.number}] Resolved",
                    headers={'Auto-Submitted': 'auto-replied'}))
            self.assertEqual((away.state, away.ticket), ('done', ticket))
            self.assertEqual(ticket.state, 'resolved')
            self.assertTrue(away.ticket_message.automatic)

            stray = receive(inbox, email_message(
                    subject="Out of office",
                    headers={'X-Autoreply': 'yes'}))
            self.assertEqual(stray.state, 'ignored')
            self.assertIn('automatic answer', stray.reason)

    @with_transaction()
    def test_loops_and_bounces(self):
        "Our own mail is never used; a bounce marks the message it reports"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            ours = receive(inbox, email_message(
                    sender='Oriale <servicedesk+TCK-1@oriale.example>'))
            self.assertEqual(ours.state, 'ignored')
            self.assertIn('mail loop', ours.reason)

            receive(inbox, email_message())
            [ack] = self.deliver_queued()
            own_id = receive(inbox, email_message(
                    sender='relay@client.example',
                    message_id=ack['Message-ID']))
            self.assertEqual(own_id.state, 'ignored')

            report = (
                b'From: MAILER-DAEMON@mx.client.example\r\n'
                b'To: servicedesk@oriale.example\r\n'
                b'Subject: Undelivered Mail Returned to Sender\r\n'
                b'Message-ID: <bounce-1@mx.client.example>\r\n'
                b'Auto-Submitted: auto-replied\r\n'
                b'MIME-Version: 1.0\r\n'
                b'Content-Type: multipart/report; report-type=delivery-status;'
                b' boundary="B"\r\n\r\n'
                b'--B\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n'
                b'--B\r\nContent-Type: message/delivery-status\r\n\r\n'
                b'Reporting-MTA: dns; mx.client.example\r\n\r\n'
                b'Final-Recipient: rfc822; ewa@client.example\r\n'
                b'Action: failed\r\nStatus: 5.1.1\r\n'
                b'Diagnostic-Code: smtp; 550 5.1.1 No such user\r\n'
                b'--B\r\nContent-Type: text/rfc822-headers\r\n\r\n'
                b'Message-ID: ' + ack['Message-ID'].encode() + b'\r\n'
                b'Subject: whatever\r\n'
                b'--B--\r\n')
            bounce = receive(inbox, report)
            self.assertEqual(bounce.state, 'done')
            message = bounce.ticket_message
            self.assertEqual(message.delivery_state, 'bounced')
            self.assertIn('5.1.1', message.delivery_error)
            self.assertEqual(len(Ticket.search([])), 1)

    @with_transaction()
    def test_sender_policies(self):
        "Unknown senders are refused, answered and kept per the policy"
        pool = Pool()
        Party = pool.get('party.party')
        Ticket = pool.get('itsm.ticket')
        Email = pool.get('inbound.email')
        company = create_company()
        with set_company(company):
            known, = Party.create([{
                        'name': "Known",
                        'contact_mechanisms': [('create', [{
                                        'type': 'email',
                                        'value': 'Known@Client.example'}])],
                        }])
            inbox = create_mailbox(company, requester_policy='known')
            self.assertEqual(
                receive(inbox, email_message(
                        sender='known@client.example')).ticket.requester,
                known)
            stranger = receive(inbox, email_message(
                    sender='stranger@spam.example'))
            self.assertEqual(stranger.state, 'refused')
            self.assertIn('stranger@spam.example', stranger.reason)
            Email.answer_refused([stranger])
            [answer] = [parse(r) for _, _, r in self.sink.messages]
            self.assertEqual(answer['To'], 'stranger@spam.example')
            self.assertEqual(answer['Auto-Submitted'], 'auto-replied')

            inbox.requester_policy = 'domains'
            inbox.allowed_domains = 'partner.example\n'
            inbox.save()
            partner = receive(inbox, email_message(
                    sender='new@partner.example'))
            self.assertEqual(partner.state, 'done')
            self.assertEqual(
                receive(inbox, email_message(
                        sender='x@spam.example')).state, 'refused')

            inbox.allowed_domains = 'not a domain'
            with self.assertRaises(ValidationError):
                inbox.save()
            self.assertEqual(len(Ticket.search([])), 2)

    @with_transaction()
    def test_kept_messages_are_retried(self):
        "Oversized, unreadable and rate-limited messages are kept, retried"
        pool = Pool()
        Email = pool.get('inbound.email')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company, max_size=2000, sender_limit=2)
            big = receive(inbox, email_message(body="x" * 5000))
            self.assertEqual(big.state, 'failed')
            self.assertIn('limit of 2000 bytes', big.reason)
            garbage = receive(inbox, b'\x00\x01 not a message')
            self.assertEqual(garbage.state, 'failed')
            self.assertTrue(garbage.reason)

            receive(inbox, email_message(subject="One"))
            receive(inbox, email_message(subject="Two"))
            third = receive(inbox, email_message(subject="Three"))
            self.assertEqual(third.state, 'ignored')
            self.assertIn('more than 2 messages', third.reason)

            inbox.max_size = 10_000
            inbox.sender_limit = None
            inbox.save()
            Email.retry([big, third, garbage])
            self.assertEqual(
                [e.state for e in [big, third, garbage]],
                ['received', 'received', 'received'])
            Email.process_received([big, third, garbage])
            self.assertEqual(
                [e.state for e in [big, third, garbage]],
                ['done', 'done', 'failed'])

    @with_transaction()
    def test_unreadable_message_shows_what_can_be_read(self):
        "A kept unreadable message shows its subject; its copy is a duplicate"
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company, max_size=2000)
            big = receive(inbox, email_message(
                    subject="Huge logs", sender='Ewa <ewa@client.example>',
                    message_id='<huge@client.example>', body="x" * 5000))
            self.assertEqual(
                (big.state, big.from_address, big.subject, big.message_id),
                ('failed', 'ewa@client.example', "Huge logs",
                    '<huge@client.example>'))

            raw = (b'From: foo\r\nSubject: =?utf-8?q?Pi=C4=99=C4=87?=\r\n'
                b'\r\nA sender without address.\r\n')
            first = receive(inbox, raw)
            self.assertEqual((first.state, first.subject), ('failed', "Pięć"))
            copy = receive(inbox, raw)
            self.assertEqual((copy.state, copy.original), ('duplicate', first))

    @with_transaction()
    def test_rules_route_messages(self):
        "The first matching rule of the mailbox sets type, team, category"
        pool = Pool()
        Rule = pool.get('inbound.email.rule')
        Team = pool.get('itsm.team')
        company = create_company()
        with set_company(company):
            team, = Team.create([{'name': "Network", 'company': company.id}])
            inbox = create_mailbox(company)
            Rule.create([{
                        'inbox': inbox.id, 'sequence': 10,
                        'subject': r'\bVPN\b',
                        'action': 'inbound.email|itsm_receive',
                        'ticket_type': 'request', 'team': team.id}, {
                        'inbox': inbox.id, 'sequence': 20,
                        'origin': r'@newsletter\.example$'}])
            vpn = receive(inbox, email_message(subject="New VPN access"))
            self.assertEqual(
                (vpn.ticket.type, vpn.ticket.team), ('request', team))
            plain = receive(inbox, email_message(subject="Printer"))
            self.assertEqual(
                (plain.ticket.type, plain.ticket.team), ('incident', None))
            news = receive(inbox, email_message(
                    sender='promo@newsletter.example'))
            self.assertEqual((news.state, news.ticket), ('ignored', None))

    @with_transaction()
    def test_agent_reply_by_email(self):
        "A draft reply goes out with the thread's headers; notes never do"
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        Note = pool.get('itsm.ticket.note')
        Configuration = pool.get('itsm.configuration')
        company = create_company()
        agent = create_agent(company)
        with set_company(company):
            config = Configuration(1)
            config.email_acknowledge = False
            config.save()
            inbox = create_mailbox(company)
            ticket = receive(inbox, email_message(
                    message_id='<q@client.example>',
                    references='<older@client.example>',
                    cc='boss@client.example')).ticket
            with Transaction().set_user(agent.id), \
                    Transaction().set_context(_check_access=True):
                Note.create([{
                            'ticket': ticket.id, 'visibility': 'private',
                            'body': "Secret: the requester broke it"}])
                reply, = Message.create([{
                            'ticket': ticket.id, 'direction': 'outbound',
                            'cc_addresses': 'boss@client.example',
                            'body': "Please restart it."}])
                self.assertEqual(reply.delivery_state, 'draft')
                self.assertEqual(self.deliver_queued(), [])
                Message.send([reply])
                self.assertEqual(reply.delivery_state, 'queued')
                with self.assertRaises(AccessError):
                    Message.write([reply], {'body': "Changed"})
            [sent] = self.deliver_queued()
            self.assertEqual(sent['To'], 'ewa@client.example')
            self.assertEqual(sent['Cc'], 'boss@client.example')
            self.assertIsNone(sent['Auto-Submitted'])
            self.assertEqual(sent['In-Reply-To'], '<q@client.example>')
            self.assertEqual(sent['References'], '<q@client.example>')
            self.assertEqual(
                sent['Subject'], f"Re: [{ticket.number}] Printer on fire")
            self.assertIn('Please restart it.', sent.get_content())
            self.assertNotIn(b'Secret', self.sink.messages[0][2])
            self.assertTrue(ticket.first_response_at)

    @with_transaction()
    def test_delivery_failures_are_recorded(self):
        "A refusal fails the message, an unreachable server is retried"
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        Queue = pool.get('ir.queue')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            ticket = receive(inbox, email_message()).ticket
            [ack] = [m for m in ticket.messages if m.automatic]
            self.sink.answer = '554 5.7.1 Rejected for policy reasons'
            Message.deliver([ack])
            self.assertEqual(ack.delivery_state, 'failed')
            self.assertIn('554', ack.delivery_error)

            Message.send_again([ack])
            old_uri = config.get('email', 'uri')
            config.set('email', 'uri', 'smtp://127.0.0.1:1')
            try:
                Message.deliver([ack])
            finally:
                config.set('email', 'uri', old_uri)
            self.assertEqual(ack.delivery_state, 'queued')
            self.assertEqual(ack.delivery_attempts, 1)
            self.assertIn('next try', ack.delivery_error)
            retries = [q for q in Queue.search([])
                if q.data.get('method') == 'deliver' and q.scheduled_at]
            self.assertEqual(len(retries), 1)

    @with_transaction()
    def test_delivery_batch_records_each_outcome(self):
        "In a delivery task of several, a crash fails only its message"
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            acks = []
            for n in range(3):
                ticket = receive(inbox, email_message(
                        subject=f"Deliver {n}",
                        sender=f'd{n}@client.example')).ticket
                acks += [m for m in ticket.messages if m.automatic]
            outgoing = Message.outgoing

            def broken(self):
                if self.id == acks[1].id:
                    raise RuntimeError("template on fire")
                return outgoing(self)
            with mock.patch.object(Message, 'outgoing', broken):
                Message.deliver(acks)
        acks = Message.browse(acks)
        self.assertEqual([m.delivery_state for m in acks],
            ['sent', 'failed', 'sent'])
        self.assertIn('template on fire', acks[1].delivery_error)
        self.assertEqual(
            sorted(r for _, rcpt, _ in self.sink.messages for r in rcpt),
            ['d0@client.example', 'd2@client.example'])

    @with_transaction()
    def test_automatic_emails_are_rate_limited(self):
        "Past the hourly limit an address gets no more automatic email"
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        Message = pool.get('itsm.ticket.message')
        company = create_company()
        with set_company(company):
            config = Configuration(1)
            config.email_auto_reply_limit = 2
            config.save()
            inbox = create_mailbox(company)
            for subject in ["One", "Two", "Three"]:
                receive(inbox, email_message(subject=subject))
            states = [m.delivery_state for m in Message.search([
                        ('automatic', '=', True)], order=[('id', 'ASC')])]
            self.assertEqual(states, ['queued', 'queued', 'suppressed'])

    @with_transaction()
    def test_email_settings_follow_the_configuration(self):
        "The cached settings of the email channel change with the form"
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        settings = Configuration.email_settings()
        self.assertTrue(settings.email_acknowledge)
        self.assertEqual(
            settings.message_id_domain_name, 'itsm.oriale.example')
        config = Configuration(1)
        config.email_acknowledge = False
        config.message_id_domain = ' Mail.Example '
        config.save()
        settings = Configuration.email_settings()
        self.assertFalse(settings.email_acknowledge)
        self.assertEqual(settings.message_id_domain_name, 'mail.example')

    @with_transaction()
    def test_events_email_the_requester(self):
        "Assignment, waiting and resolution send the chosen emails"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Configuration = pool.get('itsm.configuration')
        company = create_company()
        agent = create_agent(company)
        with set_company(company):
            config = Configuration(1)
            config.email_acknowledge = False
            config.email_on_assignment = True
            config.email_on_pending = True
            config.save()
            inbox = create_mailbox(company)
            ticket = receive(inbox, email_message()).ticket
            with Transaction().set_user(agent.id):
                Ticket.take([ticket])
            Ticket.wait_requester([ticket])
            Ticket.start([ticket])
            ticket.resolution = "The toner was replaced."
            ticket.save()
            Ticket.resolve([ticket])
            sent = self.deliver_queued()
            self.assertEqual(len(sent), 3)
            assigned, pending, resolved = sent
            self.assertIn('Agent', assigned.get_content())
            self.assertIn('need an answer', pending.get_content())
            self.assertIn('The toner was replaced.', resolved.get_content())
            self.assertTrue(all(
                    m['Auto-Submitted'] == 'auto-replied' for m in sent))

    @with_transaction()
    def test_password_is_for_managers(self):
        "Agents read mailboxes but never their password"
        pool = Pool()
        Inbox = pool.get('inbound.email.inbox')
        company = create_company()
        agent = create_agent(company)
        manager = create_agent(company, 'manager', 'group_manager')
        with set_company(company):
            inbox = create_mailbox(company, protocol='imap',
                host='imap.example', username='sd', password='s3cret')
            with Transaction().set_user(agent.id), \
                    Transaction().set_context(_check_access=True):
                self.assertEqual(
                    Inbox.read([inbox.id], ['address'])[0]['address'],
                    HELPDESK)
                with self.assertRaises(AccessError):
                    Inbox.read([inbox.id], ['password'])
            with Transaction().set_user(manager.id), \
                    Transaction().set_context(_check_access=True):
                self.assertEqual(
                    Inbox.read([inbox.id], ['password'])[0]['password'],
                    's3cret')

    # Processing the received messages in batches (Email.process_pending)

    def store(self, inbox, raw):
        "Store the message as the webhook does, without processing it"
        Email = Pool().get('inbound.email')
        email_ = Email(inbox=inbox, data=raw, data_type='raw')
        inbox.process(email_)
        email_.save()
        return email_

    @with_transaction()
    def test_one_task_processes_the_received_in_id_order(self):
        "One task takes the received messages of its company, oldest first"
        pool = Pool()
        Company = pool.get('company.company')
        Email = pool.get('inbound.email')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            stored = [self.store(inbox, email_message(
                        subject=f"Batch {n}", sender=f'b{n}@client.example'))
                for n in range(5)]
            self.assertEqual({e.state for e in stored}, {'received'})
            Company.itsm_process_emails([company])
        emails = Email.browse([e.id for e in stored])
        self.assertEqual({e.state for e in emails}, {'done'})
        # The tickets were opened in the order the messages came.
        tickets = [e.ticket.id for e in emails]
        self.assertEqual(tickets, sorted(tickets))
        self.assertEqual(len(set(tickets)), 5)

    @with_transaction()
    def test_batch_claims_at_most_its_size(self):
        "A task claims a batch at a time, and goes on until none is left"
        pool = Pool()
        Email = pool.get('inbound.email')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            stored = [self.store(inbox, email_message(
                        subject=f"Claim {n}", sender=f'c{n}@client.example'))
                for n in range(3)]
            claimed = Email._claim([company.id], 2)
            self.assertEqual(claimed, stored[:2])
            # Less than a full batch: one round, no commit in between.
            Email.process_pending([company.id], batch=5)
        self.assertEqual(
            {e.state for e in Email.browse(stored)}, {'done'})

    @with_transaction()
    def test_reply_in_the_same_batch_joins_its_ticket(self):
        "A reply stored with its original comes after it and threads in"
        pool = Pool()
        Company = pool.get('company.company')
        Email = pool.get('inbound.email')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            original = self.store(inbox, email_message(
                    subject="Scanner jammed",
                    message_id='<scan-1@client.example>'))
            reply = self.store(inbox, email_message(
                    subject="Re: Scanner jammed", body="Still jammed.",
                    in_reply_to='<scan-1@client.example>',
                    references='<scan-1@client.example>'))
            Company.itsm_process_emails([company])
        original, reply = Email.browse([original.id, reply.id])
        self.assertEqual((original.state, reply.state), ('done', 'done'))
        self.assertEqual(reply.ticket, original.ticket)
        self.assertEqual(len(original.ticket.messages), 3)  # with the ack

    @with_transaction()
    def test_acknowledgements_of_a_batch_share_delivery_tasks(self):
        "The acknowledgements of a batch are queued together, then sent"
        pool = Pool()
        Company = pool.get('company.company')
        Queue = pool.get('ir.queue')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            for n in range(3):
                self.store(inbox, email_message(
                        subject=f"Ack {n}", sender=f'a{n}@client.example'))
            before = Queue.search([('name', '=', 'default')])
            Company.itsm_process_emails([company])
        tasks = [t for t in Queue.search([('name', '=', 'default')])
            if t not in before]
        self.assertEqual(len(tasks), 1)
        self.assertEqual(tasks[0].data['method'], 'deliver')
        self.assertEqual(len(tasks[0].data['instances']), 3)
        sent = self.deliver_queued()
        self.assertEqual(
            sorted(str(m['To']) for m in sent),
            [f'a{n}@client.example' for n in range(3)])

    @with_transaction()
    def test_one_waiting_task_per_company(self):
        "With trytond-worker, stored messages share the task still waiting"
        pool = Pool()
        Queue = pool.get('ir.queue')
        company = create_company()
        other = create_company(name="Other")

        def waiting():
            return Queue.search([
                    ('name', '=', 'itsm_email'),
                    ('dequeued_at', '=', None),
                    ])
        old = config.get('queue', 'worker', default=None)
        config.set('queue', 'worker', 'True')
        self.addCleanup(config.set, 'queue', 'worker', old or 'False')
        with set_company(company):
            inbox = create_mailbox(company)
            for n in range(6):
                self.store(inbox, email_message(subject=f"Wait {n}"))
            tasks = waiting()
            self.assertEqual(len(tasks), 1)
            self.assertEqual(list(tasks[0].data['instances']), [company.id])
            self.assertEqual(
                tasks[0].data['method'], 'itsm_process_emails')

            # A task that started has claimed its messages: a new one.
            Queue.write(tasks, {'dequeued_at': dt.datetime.now()})
            self.store(inbox, email_message(subject="After start"))
            self.assertEqual(len(waiting()), 1)
        with set_company(other):
            other_inbox = create_mailbox(
                other, address='desk@other.example')
            self.store(other_inbox, email_message(
                    subject="Other", to='desk@other.example'))
        self.assertEqual(
            sorted(t.data['instances'][0] for t in waiting()),
            sorted([company.id, other.id]))

    @with_transaction()
    def test_stray_received_email_is_picked_up(self):
        "The cron queues the processing of a message left received"
        pool = Pool()
        Company = pool.get('company.company')
        Email = pool.get('inbound.email')
        Queue = pool.get('ir.queue')
        company = create_company()
        with set_company(company):
            inbox = create_mailbox(company)
            stray = self.store(inbox, email_message(subject="Left behind"))
        Queue.delete(Queue.search([('name', '=', 'itsm_email')]))
        Email.itsm_process_stray()
        # Too young: its own task may still be on its way.
        self.assertFalse(Queue.search([('name', '=', 'itsm_email')]))

        table = Email.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.create_date],
                [dt.datetime.now() - dt.timedelta(minutes=5)],
                where=table.id == stray.id))
        Email.itsm_process_stray()
        task, = Queue.search([('name', '=', 'itsm_email')])
        self.assertEqual(
            (task.data['method'], list(task.data['instances'])),
            ('itsm_process_emails', [company.id]))
        with set_company(company):
            Company.itsm_process_emails([company])
        self.assertEqual(Email(stray.id).state, 'done')


del ModuleTestCase
