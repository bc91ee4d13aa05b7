# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The real mail servers the email tests drive, and the mail gate in Postfix.

Postfix pipes a message to `itsm-mailgate`, which POSTs it to a tiny HTTP
server standing in for Tryton's inbound_email webhook; Dovecot serves
mailboxes over IMAP and POP3 (plain and TLS); aiosmtpd catches what is sent.
"""
import imaplib
import poplib
import re
import smtplib
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from itsm_tools.mailservers import (
    HELPDESK_DOMAIN,
    dovecot,
    free_port,
    mailgate_command,
    postfix,
    smtp_sink,
    swaks,
)

from .conftest import started, wait_until

pytestmark = pytest.mark.e2e

TICKET_ADDRESS = f'helpdesk+TCK-00001@{HELPDESK_DOMAIN}'


class Webhook(ThreadingHTTPServer):
    "Stands in for Tryton's inbound_email route: records, answers `status`"
    daemon_threads = True

    def __init__(self):
        self.requests = []
        self.status = 204
        super().__init__(('127.0.0.1', free_port()), WebhookHandler)
        self.port = self.server_address[1]


class WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        self.server.requests.append((self.path, dict(self.headers), body))
        self.send_response(self.server.status)
        self.send_header('Content-Length', '0')
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope='module')
def webhook():
    server = Webhook()
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope='module')
def mta(webhook, tmp_path_factory):
    "A private Postfix piping helpdesk.example.test to the mail gate"
    url = (f'http://127.0.0.1:{webhook.port}'
        '/db/inbound_email/inbox/x?type=raw')
    # Fail without the gate, rather than skip: it is part of this project.
    command = mailgate_command(url)
    server = started(postfix, tmp_path_factory.mktemp('postfix'), command,
        free_port())
    with server:
        yield server


@pytest.fixture
def hook(webhook):
    webhook.requests.clear()
    webhook.status = 204
    return webhook


def send(mta, subject, message_id, **options):
    return swaks('--server', '127.0.0.1', '--port', mta.port,
        '--from', 'zoe@example.test', '--to', TICKET_ADDRESS,
        '--header', f'Subject: {subject}',
        '--header', f'Message-Id: {message_id}',
        *[f'--{name}={value}' for name, value in options.items()])


def test_postfix_pipes_plus_address_to_mailgate(mta, hook, tmp_path):
    "swaks → Postfix → pipe → itsm-mailgate → webhook, 8-bit body intact"
    body = tmp_path / 'body.txt'
    body.write_bytes('Drukarka nie działa, zażółć gęślą jaźń.\n'.encode())
    output = send(mta, 'Printer on fire', '<e2e-1@example.test>',
        body=f'@{body}')
    assert '250 2.0.0 Ok: queued' in output

    wait_until(lambda: hook.requests, what="the webhook receiving mail")
    [(path, headers, received)] = hook.requests
    assert path == '/db/inbound_email/inbox/x?type=raw'
    assert headers['Content-Type'] == 'message/rfc822'
    assert b'Subject: Printer on fire' in received
    assert b'Message-Id: <e2e-1@example.test>' in received
    # flags=D and O: the plus-address reaches Tryton in the headers.
    assert f'Delivered-To: {TICKET_ADDRESS}'.encode() in received
    assert f'X-Original-To: {TICKET_ADDRESS}'.encode() in received
    assert b'Return-Path: <zoe@example.test>' in received
    assert body.read_bytes() in received
    mta.wait_for_log(r'relay=mailgate.*status=sent')
    assert 'Mail queue is empty' in mta.queue()


def test_postfix_keeps_mail_when_tryton_is_unavailable(mta, hook):
    "503 → the gate exits 75 → deferred in the queue, delivered on retry"
    hook.status = 503
    send(mta, 'Tryton is down', '<e2e-2@example.test>')
    mta.wait_for_log(r'to=<helpdesk\+TCK-00001@[^>]+>.*status=deferred')
    log = mta.log()
    assert 'status=bounced' not in log
    # The gate's one line on stderr is quoted in the log.
    assert re.search(r'status=deferred.*answered 503', log)
    queue = mta.queue()
    assert TICKET_ADDRESS in queue
    queue_ids = re.findall(r'^([0-9A-F]{6,})\s', queue, re.M)
    assert len(queue_ids) == 1
    assert len(hook.requests) == 1

    # Once Tryton is back the queue delivers it.
    hook.status = 204
    mta.flush()
    wait_until(lambda: len(hook.requests) == 2, what="the retry")
    assert b'Message-Id: <e2e-2@example.test>' in hook.requests[1][2]
    wait_until(lambda: 'Mail queue is empty' in mta.queue(),
        what="an empty queue")


def test_postfix_bounces_what_tryton_refuses(mta, hook):
    "404 (unknown inbox) → the gate exits 65 → bounced, not kept"
    hook.status = 404
    send(mta, 'Wrong inbox', '<e2e-3@example.test>')
    mta.wait_for_log(r'status=bounced \(.*answered 404')
    wait_until(lambda: 'Mail queue is empty' in mta.queue(),
        what="an empty queue")


def test_postfix_rejects_other_domains(mta):
    "Nothing is relayed from the private Postfix"
    output = swaks('--server', '127.0.0.1', '--port', mta.port,
        '--from', 'zoe@example.test', '--to', 'someone@example.org',
        check=False)
    assert re.search(r'^<\*\* 5\d\d .*(Relay access denied|delivers nowhere)',
        output, re.M), output


MESSAGES = [
    b'From: zoe@example.test\r\nTo: alice@example.test\r\n'
    b'Subject: First\r\nMessage-ID: <d1@example.test>\r\n\r\n'
    b'First body\r\n',
    b'From: zoe@example.test\r\nTo: alice@example.test\r\n'
    b'Subject: Second\r\nMessage-ID: <d2@example.test>\r\n'
    b'Content-Type: text/plain; charset=utf-8\r\n'
    b'Content-Transfer-Encoding: 8bit\r\n\r\n'
    + 'Zażółć gęślą jaźń\r\n'.encode(),
    ]


def test_dovecot_imap_and_pop3(tmp_path):
    users = {'alice': 'alice-pw', 'bob': 'bob-pw'}
    with started(dovecot, tmp_path, users, free_port(),
            free_port()) as server:
        uids = [server.deliver('alice', raw) for raw in MESSAGES]
        assert uids == [1, 2]

        imap = server.imap('alice')
        try:
            assert imap.select('INBOX') == ('OK', [b'2'])
            # PEEK: reading leaves them unseen, as the collector does.
            status, data = imap.uid('FETCH', '1:*', '(BODY.PEEK[])')
            assert status == 'OK'
            fetched = [item[1] for item in data if isinstance(item, tuple)]
            assert fetched == MESSAGES

            # The agent reads one and files it away.
            imap.uid('STORE', str(uids[0]), '+FLAGS', r'(\Seen)')
            assert imap.uid('SEARCH', 'UNSEEN')[1] == [b'2']
            imap.create('Processed')
            assert imap.uid('MOVE', str(uids[0]), 'Processed')[0] == 'OK'
            assert imap.select('INBOX') == ('OK', [b'1'])
            assert imap.select('Processed') == ('OK', [b'1'])
            status, data = imap.fetch('1', '(FLAGS BODY[HEADER.FIELDS '
                '(SUBJECT)])')
            assert rb'\Seen' in data[0][0]
            assert b'Subject: First' in data[0][1]
        finally:
            imap.logout()
        # Maildir keeps the flag in the file name.
        processed = server.maildir('alice') / '.Processed' / 'cur'
        assert [path.name.endswith(':2,S')
            for path in processed.iterdir()] == [True]

        pop = poplib.POP3('127.0.0.1', server.pop3_port, timeout=10)
        try:
            pop.user('alice')
            pop.pass_('alice-pw')
            assert pop.stat()[0] == 1
            lines = pop.retr(1)[1]
            assert b'Subject: Second' in lines
            assert 'Zażółć gęślą jaźń'.encode() in lines
        finally:
            pop.quit()

        bob = server.imap('bob')
        try:
            assert bob.select('INBOX') == ('OK', [b'0'])
        finally:
            bob.logout()
        with pytest.raises(imaplib.IMAP4.error):
            imaplib.IMAP4('127.0.0.1', server.imap_port,
                timeout=10).login('alice', 'wrong')
    assert 'Login: user=<alice>' in (tmp_path / 'dovecot.log').read_text()


def test_dovecot_tls(tmp_path):
    "IMAPS, STARTTLS, POP3S and STLS with the self-signed certificate"
    with started(dovecot, tmp_path, {'alice': 'alice-pw'}, free_port(),
            free_port(), ssl=True) as server:
        server.deliver('alice', MESSAGES[0])
        # The client tests disable verification of the self-signed
        # certificate; the certificate must still be the one generated.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        certificate = ssl.PEM_cert_to_DER_cert(server.cert.read_text())

        imaps = imaplib.IMAP4_SSL('127.0.0.1', server.imaps_port,
            ssl_context=context, timeout=10)
        try:
            assert imaps.sock.getpeercert(binary_form=True) == certificate
            imaps.login('alice', 'alice-pw')
            assert imaps.select('INBOX') == ('OK', [b'1'])
        finally:
            imaps.logout()

        imap = imaplib.IMAP4('127.0.0.1', server.imap_port, timeout=10)
        try:
            assert 'STARTTLS' in imap.capabilities
            assert imap.starttls(ssl_context=context)[0] == 'OK'
            assert imap.sock.getpeercert(binary_form=True) == certificate
            imap.login('alice', 'alice-pw')
            assert imap.select('INBOX') == ('OK', [b'1'])
        finally:
            imap.logout()

        pop3s = poplib.POP3_SSL('127.0.0.1', server.pop3s_port,
            context=context, timeout=10)
        try:
            pop3s.user('alice')
            pop3s.pass_('alice-pw')
            assert pop3s.stat()[0] == 1
        finally:
            pop3s.quit()

        pop = poplib.POP3('127.0.0.1', server.pop3_port, timeout=10)
        try:
            pop.stls(context=context)
            pop.user('alice')
            pop.pass_('alice-pw')
            assert pop.stat()[0] == 1
        finally:
            pop.quit()
    log = (tmp_path / 'dovecot.log').read_text()
    assert 'method=PLAIN' in log and 'TLS' in log


def test_smtp_sink():
    raw = (b'From: agent@helpdesk.example.test\r\n'
        b'To: zoe@example.test\r\nSubject: [TCK-00001] Re: Printer\r\n'
        b'Content-Type: text/plain; charset=utf-8\r\n\r\n'
        + 'Naprawione, dziękujemy.\r\n'.encode())
    with started(smtp_sink) as sink:
        with smtplib.SMTP('127.0.0.1', sink.port, timeout=10) as client:
            client.sendmail('agent@helpdesk.example.test',
                ['zoe@example.test', 'boss@example.test'], raw)
        [(mail_from, rcpt_tos, received)] = sink.wait_for(
            lambda messages: len(messages) == 1)
    assert mail_from == 'agent@helpdesk.example.test'
    assert rcpt_tos == ['zoe@example.test', 'boss@example.test']
    assert received == raw
