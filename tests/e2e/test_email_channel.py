"""The email channel end to end, against the real server.

swaks sends over SMTP to a private Postfix whose transport pipes each
message to `itsm-mailgate`, which posts it to the demo mailbox's webhook;
what the Service Desk sends goes to the aiosmtpd sink of the server; the
collector reads a private Dovecot over IMAP with STARTTLS. Everything is
checked over JSON-RPC as the backend users see it.
"""
import email
import re
import sys
import uuid
from email.policy import default as default_policy
from email.utils import getaddresses
from pathlib import Path

import pytest

from itsm_tools.demo import DEMO_PASSWORD
from itsm_tools.mailservers import (
    dovecot,
    free_port,
    mailgate_command,
    postfix,
    swaks,
)
from itsm_tools.rpc import Client

from .conftest import missing, started, wait_until

pytestmark = pytest.mark.e2e

DOMAIN = 'oriale.example'
DEMO_MAILBOX = "Oriale Service Desk"
KEPT_STATES = {'failed', 'refused', 'ignored'}
# The reason of a message kept because its processing crashed
# (itsm_email.msg_email_failed): a bug, whatever the message.
CRASHED = "The message could not be processed"
SAMPLES = Path(sys.base_prefix, 'lib', 'python3.11', 'test', 'test_email',
    'data')
# Processing runs on the queue after the request: a few seconds at most.
TIMEOUT = 30


@pytest.fixture(scope='module')
def admin(server):
    return Client(server, server.database, 'admin', DEMO_PASSWORD)


@pytest.fixture(scope='module')
def agent(server):
    return Client(server, server.database, 'agent', DEMO_PASSWORD)


@pytest.fixture(scope='module')
def mailbox(admin):
    "The demo's Service Desk mailbox, as the administrator reads it"
    mailbox, = admin.model('inbound.email.inbox', 'search_read',
        [('name', '=', DEMO_MAILBOX)], 0, None, None,
        ['identifier', 'address', 'plus_addressing', 'requester_policy',
            'allowed_domains'])
    assert mailbox['identifier'], "the demo mailbox has no webhook"
    assert mailbox['address'] == f'servicedesk@{DOMAIN}'
    assert mailbox['plus_addressing']
    # New requesters of the demo domain are registered.
    assert mailbox['requester_policy'] == 'domains'
    assert DOMAIN in mailbox['allowed_domains'].split()
    return mailbox


@pytest.fixture(scope='module')
def mta(server, mailbox, tmp_path_factory):
    "A private Postfix for the demo domain, piping to itsm-mailgate"
    url = (f'{server}/{server.database}/inbound_email/inbox/'
        f'{mailbox["identifier"]}?type=raw')
    command = mailgate_command(url, timeout=TIMEOUT)
    with started(postfix, tmp_path_factory.mktemp('postfix'), command,
            free_port(), domain=DOMAIN) as mta:
        yield mta


@pytest.fixture(scope='module')
def imap_server(tmp_path_factory):
    "A private Dovecot with the mailbox the Service Desk collects from"
    with started(dovecot, tmp_path_factory.mktemp('dovecot'),
            {'desk': 'desk-secret'}, free_port(), free_port(),
            ssl=True) as server:
        yield server


@pytest.fixture(scope='module')
def imap_mailbox(admin, imap_server):
    "A second Service Desk mailbox, collected over IMAP with STARTTLS"
    inbox_id, = admin.model('inbound.email.inbox', 'create', [{
                'name': "E2E Collected Desk",
                'company': admin.context['company'],
                'address': f'collected-desk@{DOMAIN}',
                'ticket_type': 'incident',
                # Whoever wrote the samples may open a ticket.
                'requester_policy': 'create',
                'protocol': 'imap',
                'host': '127.0.0.1',
                'port': imap_server.imap_port,
                'security': 'starttls',
                'certificate': imap_server.cert.read_text(),
                'username': 'desk',
                'password': 'desk-secret',
                'folder': 'INBOX',
                }])
    return inbox_id


def unique(name):
    return f'{name}-{uuid.uuid4().hex[:12]}'


def send(mta, sender, recipient, subject, message_id, body, *headers):
    "Send a message with swaks through the private Postfix"
    output = swaks('--server', '127.0.0.1', '--port', mta.port,
        '--from', sender, '--to', recipient,
        '--header', f'Subject: {subject}',
        '--header', f'Message-Id: {message_id}',
        *[a for h in headers for a in ('--header', h)],
        '--body', body)
    assert re.search(r'250 2\.0\.0 Ok: queued', output), output
    return output


def processed(admin, domain, count=1, timeout=TIMEOUT):
    """Wait until count inbound emails match domain and none waits to be
    processed; return them"""
    fields = ['state', 'reason', 'ticket', 'ticket_message', 'original',
        'message_id', 'from_address', 'subject', 'inbox']

    def done():
        emails = admin.model('inbound.email', 'search_read', domain,
            0, None, [('id', 'ASC')], fields)
        if len(emails) >= count and all(
                e['state'] not in {None, 'received'} for e in emails):
            return emails
    return wait_until(done, timeout=timeout, interval=0.2,
        what=f"{count} inbound email(s) processed matching {domain}")


def sink_message(mail_sink, predicate, what):
    "Wait for the message of the sink that matches; return it parsed"
    def parsed():
        return [email.message_from_bytes(raw, policy=default_policy)
            for _, _, raw in mail_sink.messages]
    try:
        mail_sink.wait_for(
            lambda _: any(predicate(m) for m in parsed()), timeout=TIMEOUT)
    except TimeoutError:
        pytest.fail(f"the sink did not receive {what}; it has: " + ', '.join(
                repr(str(m['Subject'])) for m in parsed()))
    found = [m for m in parsed() if predicate(m)]
    assert len(found) == 1, f"{len(found)} times {what}"
    return found[0]


def addresses(message, header):
    return [a for _, a in getaddresses(
            [str(v) for v in message.get_all(header, [])])]


def imap_unseen(imap_server, user='desk'):
    connection = imap_server.imap(user)
    try:
        connection.select('INBOX')
        status, data = connection.uid('SEARCH', None, 'UNSEEN')
        assert status == 'OK'
        unseen = (data[0] or b'').split()
        status, data = connection.uid('SEARCH', None, 'SEEN')
        assert status == 'OK'
        return unseen, (data[0] or b'').split()
    finally:
        connection.logout()


@pytest.fixture(scope='module')
def conversation():
    "What the steps of the conversation share"
    return {
        'requester': f'{unique("e2e.requester")}@{DOMAIN}',
        'subject': f"Printer on the 3rd floor jams {unique('case')}",
        'message_id': f'<{unique("e2e-new")}@{DOMAIN}>',
        }


@pytest.fixture(scope='module')
def new_ticket(admin, mailbox, mta, conversation):
    "The requester writes to the Service Desk through Postfix"
    send(mta, conversation['requester'], mailbox['address'],
        conversation['subject'], conversation['message_id'],
        "Hello,\n\nthe printer jams on every page.\n\nJan")
    email_, = processed(admin,
        [('message_id', '=', conversation['message_id'])])
    assert email_['state'] == 'done', email_
    assert email_['ticket'], email_
    ticket, = admin.model('itsm.ticket', 'read', [email_['ticket']],
        ['number', 'subject', 'requester_email', 'channel', 'mailbox',
            'description'])
    conversation.update(email=email_, ticket=ticket)
    return ticket


def test_new_message_opens_ticket_and_is_acknowledged(
        mta, mailbox, new_ticket, conversation, mail_sink):
    "swaks → Postfix → itsm-mailgate → webhook → ticket → acknowledgement"
    ticket = new_ticket
    requester = conversation['requester']
    assert ticket['subject'] == conversation['subject']
    assert ticket['requester_email'] == requester
    assert ticket['channel'] == 'email'
    assert ticket['mailbox'] == mailbox['id']
    assert 'the printer jams on every page' in ticket['description']
    mta.wait_for_log(r'relay=mailgate.*status=sent')

    number = ticket['number']
    acknowledgement = sink_message(mail_sink,
        lambda m: requester in addresses(m, 'To')
        and m['Auto-Submitted'] is not None,
        "the acknowledgement")
    assert acknowledgement['Auto-Submitted'] == 'auto-replied'
    assert f'[{number}]' in acknowledgement['Subject']
    assert addresses(acknowledgement, 'From') == [mailbox['address']]
    assert re.fullmatch(
        rf'<itsm\.t{ticket["id"]}\.m\d+\.\w+@itsm\.{re.escape(DOMAIN)}>',
        acknowledgement['Message-ID']), acknowledgement['Message-ID']
    assert acknowledgement['In-Reply-To'] == conversation['message_id']


@pytest.fixture(scope='module')
def agent_reply(agent, new_ticket, conversation, mail_sink):
    "The agent writes a reply on the ticket and sends it, as sao does"
    text = f"Hello Jan, a technician is on the way. {unique('reply')}"
    message_id, = agent.model('itsm.ticket.message', 'create', [{
                'ticket': new_ticket['id'],
                'direction': 'outbound',
                'body': text,
                }])
    draft, = agent.model('itsm.ticket.message', 'read', [message_id],
        ['delivery_state', 'to_addresses', 'subject'])
    assert draft['delivery_state'] == 'draft'
    agent.model('itsm.ticket.message', 'send', [message_id])
    sent = sink_message(mail_sink,
        lambda m: text in m.get_body(('plain',)).get_content(),
        "the agent's reply")
    conversation.update(reply=sent, reply_record=message_id, draft=draft)
    return sent


def test_agent_reply_is_sent_in_the_thread(
        agent, mailbox, new_ticket, agent_reply, conversation):
    "The reply answers the requester's message and names the ticket"
    reply = agent_reply
    number = new_ticket['number']
    local, _, domain = mailbox['address'].partition('@')
    assert conversation['draft']['to_addresses'] == (
        conversation['requester'])
    assert addresses(reply, 'To') == [conversation['requester']]
    assert addresses(reply, 'From') == [mailbox['address']]
    assert reply['Auto-Submitted'] is None
    assert f'[{number}]' in reply['Subject']
    assert reply['In-Reply-To'] == conversation['message_id']
    assert conversation['message_id'] in reply['References'].split()
    assert addresses(reply, 'Reply-To') == [f'{local}+{number}@{domain}']

    def delivered():
        record, = agent.model('itsm.ticket.message', 'read',
            [conversation['reply_record']],
            ['delivery_state', 'message_id', 'delivery_error'])
        return record if record['delivery_state'] != 'queued' else None
    record = wait_until(delivered, timeout=TIMEOUT, interval=0.2,
        what="the reply marked as sent")
    assert record['delivery_state'] == 'sent', record
    assert record['message_id'] == reply['Message-ID']


def test_requester_answer_lands_in_the_same_ticket(
        admin, agent, mta, new_ticket, agent_reply, conversation):
    "The requester answers the reply: the answer threads into the ticket"
    reply = agent_reply
    requester = conversation['requester']
    answer_id = f'<{unique("e2e-answer")}@{DOMAIN}>'
    [reply_to] = addresses(reply, 'Reply-To')
    send(mta, requester, reply_to, f"Re: {reply['Subject']}", answer_id,
        "Thanks, it works again.\n\n> Hello Jan, a technician is on the way.",
        f"In-Reply-To: {reply['Message-ID']}",
        f"References: {conversation['message_id']} {reply['Message-ID']}")
    email_, = processed(admin, [('message_id', '=', answer_id)])
    assert email_['state'] == 'done', email_
    assert email_['ticket'] == new_ticket['id']

    messages = agent.model('itsm.ticket.message', 'search_read',
        [('ticket', '=', new_ticket['id'])], 0, None, [('id', 'ASC')],
        ['direction', 'message_id', 'body', 'automatic'])
    inbound = [m for m in messages if m['direction'] == 'inbound']
    assert [m['message_id'] for m in inbound] == [
        conversation['message_id'], answer_id]
    assert 'it works again' in inbound[-1]['body']
    assert admin.model('itsm.ticket', 'search_count',
        [('requester_email', '=', requester)]) == 1
    assert admin.model('itsm.ticket', 'search_count',
        [('subject', 'ilike', f"%{reply['Subject']}%")]) == 0


def test_plus_address_alone_threads(
        admin, mailbox, mta, new_ticket, conversation):
    "A new message to the ticket's plus address goes to the ticket"
    number = new_ticket['number']
    local, _, domain = mailbox['address'].partition('@')
    message_id = f'<{unique("e2e-plus")}@{DOMAIN}>'
    send(mta, conversation['requester'], f'{local}+{number}@{domain}',
        "One more thing", message_id, "The toner is low as well.")
    email_, = processed(admin, [('message_id', '=', message_id)])
    assert email_['state'] == 'done', email_
    assert email_['ticket'] == new_ticket['id']
    # The gate never failed: nothing deferred or bounced by Postfix.
    wait_until(lambda: 'Mail queue is empty' in mta.queue(),
        what="an empty Postfix queue")
    assert not re.search(r'status=(deferred|bounced)', mta.log())


def raw_message(sender, subject, message_id, body, *headers):
    return (f'From: {sender}\r\nTo: collected-desk@{DOMAIN}\r\n'
        f'Subject: {subject}\r\nMessage-ID: {message_id}\r\n'
        'Date: Mon, 2 Mar 2026 09:00:00 +0100\r\n'
        + ''.join(f'{h}\r\n' for h in headers)
        + 'Content-Type: text/plain; charset=utf-8\r\n'
        'Content-Transfer-Encoding: 8bit\r\n\r\n'
        f'{body}\r\n').encode()


def test_collector_reads_imap_mailbox(admin, imap_server, imap_mailbox):
    "Messages of the IMAP mailbox become tickets and are marked seen"
    messages = {
        unique('Laptop battery swells'): 'Marek <marek@example.test>',
        unique('VPN drops every hour'): 'Zoë Ålund <zoe@example.test>',
        unique('Zażółć gęślą jaźń'): 'ola@example.test',
        }
    for subject, sender in messages.items():
        imap_server.deliver('desk', raw_message(sender, subject,
                f'<{unique("imap")}@example.test>',
                'Dzień dobry, proszę o pomoc.'))
    assert len(imap_unseen(imap_server)[0]) == len(messages)

    admin.model('inbound.email.inbox', 'collect', [imap_mailbox])
    emails = processed(admin, [('inbox', '=', imap_mailbox)],
        count=len(messages))
    assert len(emails) == len(messages)
    assert {e['state'] for e in emails} == {'done'}, emails
    tickets = admin.model('itsm.ticket', 'read',
        [e['ticket'] for e in emails], ['subject', 'requester_email',
            'mailbox'])
    assert {t['subject'] for t in tickets} == set(messages)
    assert {t['mailbox'] for t in tickets} == {imap_mailbox}
    assert wait_until(lambda: not imap_unseen(imap_server)[0],
        what="the collected messages marked seen")
    assert len(imap_unseen(imap_server)[1]) == len(messages)
    inbox, = admin.model('inbound.email.inbox', 'read', [imap_mailbox],
        ['collect_error', 'collected_at'])
    assert inbox['collect_error'] is None
    assert inbox['collected_at']


def test_collector_threads_a_follow_up_of_the_same_batch(
        admin, imap_server, imap_mailbox):
    "A message and the sender's follow-up, collected together: one ticket"
    sender = f'{unique("follow.up")}@example.test'
    subject = unique("Scanner offline")
    first_id = f'<{unique("first")}@example.test>'
    second_id = f'<{unique("second")}@example.test>'
    imap_server.deliver('desk', raw_message(sender, subject, first_id,
            "The scanner is offline."))
    imap_server.deliver('desk', raw_message(sender, f"Re: {subject}",
            second_id, "It is the one on the 2nd floor.",
            f'In-Reply-To: {first_id}', f'References: {first_id}'))

    admin.model('inbound.email.inbox', 'collect', [imap_mailbox])
    first, second = processed(admin, [
            ('inbox', '=', imap_mailbox),
            ('message_id', 'in', [first_id, second_id]),
            ], count=2)
    assert first['message_id'] == first_id
    assert first['state'] == second['state'] == 'done', (first, second)
    assert first['ticket'] == second['ticket']
    assert admin.model('itsm.ticket', 'search_count',
        [('requester_email', '=', sender)]) == 1


def test_collector_keeps_every_sample_message(
        admin, imap_server, imap_mailbox):
    "CPython's sample messages: each is used or kept with its reason"
    samples = sorted(SAMPLES.glob('msg_*.txt'))
    if not samples:
        missing(f"CPython's email samples are not in {SAMPLES}")
    before = admin.model('inbound.email', 'search_count',
        [('inbox', '=', imap_mailbox)])
    _, seen_before = imap_unseen(imap_server)
    for sample in samples:
        imap_server.deliver('desk', sample.read_bytes())
    unseen, _ = imap_unseen(imap_server)
    assert len(unseen) == len(samples)

    # Several collections when the batch limit applies; the messages are
    # marked once the transaction that stored them has committed.
    for _ in range(5):
        admin.model('inbound.email.inbox', 'collect', [imap_mailbox])
        if not imap_unseen(imap_server)[0]:
            break
    inbox, = admin.model('inbound.email.inbox', 'read', [imap_mailbox],
        ['collect_error'])
    assert inbox['collect_error'] is None
    unseen, seen = imap_unseen(imap_server)
    assert not unseen
    assert len(seen) == len(seen_before) + len(samples)

    emails = processed(admin, [('inbox', '=', imap_mailbox)],
        count=before + len(samples))[before:]
    assert len(emails) == len(samples), "messages lost or counted twice"
    problems = []
    for sample, email_ in zip(samples, emails, strict=True):
        state = email_['state']
        if state == 'done':
            ok = email_['ticket'] and email_['ticket_message']
        elif state == 'duplicate':
            ok = email_['original']
        else:
            reason = (email_['reason'] or '').strip()
            ok = (state in KEPT_STATES and reason
                and not reason.startswith(CRASHED))
        if not ok:
            problems.append((sample.name, email_))
    assert not problems, problems
