# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Tests of the safety of the automatic answers of the helpdesk"
import textwrap
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_email.autoreply import (
    Bounce,
    automatic_reason,
    is_bounce,
    over_rate_limit,
    parse_bounce,
)
from itsm_email.mailparse import parse_message
from itsm_email.threadmatch import make_message_id

PROPERTIES = settings(
    max_examples=200, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])

HUMAN = 'anna.kowalska@example.com'
OWN_ADDRESSES = {'helpdesk@example.org', 'Support@Example.org'}
OWN_DOMAINS = {'itsm.example.org'}
OWN_MESSAGE_ID = make_message_id('itsm.example.org', 12, 34, 'a1b2c3')


def _reason(headers, from_address=HUMAN):
    return automatic_reason(
        headers, from_address, OWN_ADDRESSES, OWN_DOMAINS)


def _raw(text):
    "Return the bytes of a message written indented in a test"
    return textwrap.dedent(text).lstrip('\n').encode('utf-8')


# Headers

@pytest.mark.parametrize('headers, reason', [
        ({'auto-submitted': ['auto-replied']},
            'Auto-Submitted: auto-replied'),
        ({'auto-submitted': ['auto-generated']},
            'Auto-Submitted: auto-generated'),
        ({'auto-submitted': ['auto-notified; owner-email="a@example.com"']},
            'Auto-Submitted: auto-notified'),
        ({'auto-submitted': ['auto-replied (vacation)']},
            'Auto-Submitted: auto-replied'),
        ({'auto-submitted': ['no', 'auto-replied']},
            'Auto-Submitted: auto-replied'),
        ({'x-auto-response-suppress': ['All']},
            'X-Auto-Response-Suppress: All'),
        ({'x-auto-response-suppress': ['OOF']},
            'X-Auto-Response-Suppress: OOF'),
        ({'x-auto-response-suppress': ['DR, RN, NRN, OOF, AutoReply']},
            'X-Auto-Response-Suppress: DR'),
        ({'x-auto-response-suppress': ['None; AutoReply']},
            'X-Auto-Response-Suppress: AutoReply'),
        ({'precedence': ['bulk']}, 'Precedence: bulk'),
        ({'precedence': ['junk']}, 'Precedence: junk'),
        ({'precedence': [' list ']}, 'Precedence: list'),
        ({'x-autoreply': ['yes']}, 'X-Autoreply present'),
        ({'x-autorespond': ['Out of office']}, 'X-Autorespond present'),
        ({'x-autoresponder': ['']}, 'X-Autoresponder present'),
        ({'x-autoreply-from': [HUMAN]}, 'X-Autoreply-From present'),
        ({'x-mail-autoreply': ['1']}, 'X-Mail-Autoreply present'),
        ({'list-id': ['Users <users.lists.example.com>']},
            'List-Id present (mailing list)'),
        ({'list-unsubscribe': ['<mailto:leave@lists.example.com>']},
            'List-Unsubscribe present (mailing list)'),
        ({'return-path': ['<>']}, 'Return-Path: <> (null sender)'),
        ({'return-path': ['< >']}, 'Return-Path: <> (null sender)'),
        ({'return-path': ['']}, 'Return-Path: <> (null sender)'),
        ({'x-loop': ['helpdesk@example.org']},
            'X-Loop: helpdesk@example.org'),
        ({'x-loop': ['Helpdesk <HELPDESK+TCK-00012@example.org>']},
            'X-Loop: Helpdesk <HELPDESK+TCK-00012@example.org>'),
        ({'x-loop': ['support@example.org']},
            'X-Loop: support@example.org'),
        ({'message-id': [OWN_MESSAGE_ID]},
            f'Message-ID {OWN_MESSAGE_ID} is our own'),
        ({'message-id': [' ' + OWN_MESSAGE_ID.strip('<>') + ' ']},
            f'Message-ID {OWN_MESSAGE_ID} is our own'),
        ({'content-type': [
                    'multipart/report; report-type=delivery-status; '
                    'boundary="b"']},
            'Content-Type: multipart/report'),
        ({'content-type': [
                    'multipart/report; report-type=disposition-notification;'
                    ' boundary="b"']},
            'Content-Type: multipart/report'),
        ])
def test_automatic_reason_of_header(headers, reason):
    assert _reason(headers) == reason


@pytest.mark.parametrize('headers', [
        {},
        {'auto-submitted': ['no']},
        {'auto-submitted': ['No']},
        {'auto-submitted': ['no (sent by a human)']},
        {'auto-submitted': ['(sent by a human) no']},
        {'auto-submitted': ['no; reason="typed"']},
        {'auto-submitted': ['']},
        {'x-auto-response-suppress': ['None']},
        {'x-auto-response-suppress': ['']},
        {'precedence': ['first-class']},
        {'precedence': ['normal']},
        {'precedence': ['bulky']},
        {'return-path': ['<anna.kowalska@example.com>']},
        {'x-loop': ['other-helpdesk@example.net']},
        {'x-loop': ['helpdesk@example.org.evil.test']},
        {'message-id': ['<CAF=abc123@mail.gmail.com>']},
        {'message-id': [
                make_message_id('itsm.example.net', 12, 34, 'a1b2c3')]},
        {'content-type': ['multipart/mixed; boundary="b"']},
        {'content-type': ['text/plain; charset=utf-8']},
        {'content-type': ['garbage;;;==="']},
        {'in-reply-to': [OWN_MESSAGE_ID], 'references': [OWN_MESSAGE_ID]},
        {'subject': ['Automatic reply: Out of office']},
        ], ids=repr)
def test_automatic_reason_none_for_human_headers(headers):
    assert _reason(headers) is None


@pytest.mark.parametrize('headers, reason', [
        ({'AUTO-SUBMITTED': ['AUTO-REPLIED']},
            'Auto-Submitted: auto-replied'),
        ({'Auto-Submitted': ['Auto-Generated']},
            'Auto-Submitted: auto-generated'),
        ({'X-Auto-Response-Suppress': ['oof']},
            'X-Auto-Response-Suppress: oof'),
        ({'Precedence': ['BULK']}, 'Precedence: bulk'),
        ({'X-AutoReply': ['yes']}, 'X-Autoreply present'),
        ({'LIST-ID': ['<users.lists.example.com>']},
            'List-Id present (mailing list)'),
        ({'Return-Path': ['<>']}, 'Return-Path: <> (null sender)'),
        ({'X-LOOP': ['HelpDesk@Example.ORG']},
            'X-Loop: HelpDesk@Example.ORG'),
        ({'Message-ID': [OWN_MESSAGE_ID.upper()]},
            f'Message-ID {OWN_MESSAGE_ID.upper()} is our own'),
        ({'Content-Type': ['Multipart/Report; boundary="b"']},
            'Content-Type: multipart/report'),
        ])
def test_automatic_reason_ignores_case(headers, reason):
    assert _reason(headers) == reason


def test_automatic_reason_of_auto_submitted_before_the_others():
    headers = {
        'precedence': ['bulk'], 'list-id': ['<l.example.com>'],
        'auto-submitted': ['auto-generated'],
        }
    assert _reason(headers, 'no-reply@example.com') == (
        'Auto-Submitted: auto-generated')


# Senders

@pytest.mark.parametrize('address', [
        'no-reply@example.com',
        'no_reply@example.com',
        'no.reply@example.com',
        'noreply@example.com',
        'NoReply@Example.com',
        'noreply+tag@example.com',
        'noreply-alerts@example.com',
        'noreply_invoices@example.com',
        'do-not-reply@example.com',
        'donotreply@example.com',
        'do_not_reply+x@example.com',
        'mailer-daemon@example.com',
        'MAILER-DAEMON@mx.example.com',
        'Mailer_Daemon@example.com',
        'MAILER-DAEMON',
        'postmaster@example.com',
        'bounce@example.com',
        'bounces@example.com',
        'bounces-123@lists.example.com',
        'bounce-mc.us5_1234.567-anna=example.com@mail.example.com',
        'bounces+5f3a=example.com@sendgrid.example.net',
        ])
def test_automatic_reason_of_robot_sender(address):
    assert _reason({}, address) == f'Sender {address} is a robot'


@pytest.mark.parametrize('address', [
        'anna.kowalska@example.com',
        'jan.bounceman@example.com',
        'bouncer@example.com',
        'anna.bounce@example.com',
        'anna-bounces@example.com',
        'no-bounce@example.com',
        'noreen@example.com',
        'donna@example.com',
        'no@example.com',
        'reply@example.com',
        'mailer@example.com',
        'daemon@example.com',
        'postmaster.general@example.com',
        'anna@noreply.example.com',
        'anna@mailer-daemon.example.com',
        '',
        None,
        ])
def test_automatic_reason_none_for_human_sender(address):
    assert _reason({}, address) is None


@pytest.mark.parametrize('address', [
        'helpdesk@example.org',
        'HelpDesk@Example.ORG',
        'helpdesk+TCK-00012@example.org',
        'support+x+y@example.org',
        ' support@example.org ',
        ])
def test_automatic_reason_of_own_address(address):
    assert _reason({}, address) == f'Sender {address} is our own address'


@pytest.mark.parametrize('address', [
        'anything@itsm.example.org', 'Anna@ITSM.Example.Org'])
def test_automatic_reason_of_sender_in_own_domain(address):
    assert _reason({}, address) == (
        f'Sender {address} is in our own domain')


@pytest.mark.parametrize('address', [
        'helpdesk2@example.org', 'helpdesk@example.org.evil.test',
        'helpdesk@sub.example.org', 'anna@example.org',
        'itsm.example.org@example.com'])
def test_automatic_reason_none_for_address_near_our_own(address):
    assert _reason({}, address) is None


def test_automatic_reason_without_own_addresses_nor_domains():
    headers = {'message-id': [OWN_MESSAGE_ID], 'x-loop': [HUMAN]}
    assert automatic_reason(headers, 'helpdesk@example.org') is None


def test_automatic_reason_of_own_message_id_needs_our_domain():
    headers = {'message-id': [OWN_MESSAGE_ID]}
    assert automatic_reason(
        headers, HUMAN, OWN_ADDRESSES, {'itsm.example.net'}) is None
    assert automatic_reason(
        headers, HUMAN, OWN_ADDRESSES, {' ITSM.Example.Org '}) == (
        f'Message-ID {OWN_MESSAGE_ID} is our own')


_header_names = st.sampled_from([
        'auto-submitted', 'x-auto-response-suppress', 'precedence',
        'x-autoreply', 'list-id', 'return-path', 'x-loop', 'message-id',
        'content-type', 'subject', 'from', 'Auto-Submitted', 'X-Loop'])
_headers = st.dictionaries(
    st.one_of(_header_names, st.text(max_size=10)),
    st.lists(st.text(max_size=40), max_size=3), max_size=6)
_addresses = st.one_of(
    st.none(), st.text(max_size=30),
    st.sampled_from([HUMAN, 'helpdesk@example.org', 'no-reply@x.test']))


@PROPERTIES
@given(_headers, _addresses)
def test_automatic_reason_of_any_headers_is_a_reason_or_none(
        headers, address):
    reason = _reason(headers, address)
    assert reason is None or (isinstance(reason, str) and reason)


@PROPERTIES
@given(_headers, _addresses, st.sampled_from([
            {'auto-submitted': ['auto-replied']},
            {'precedence': ['bulk']},
            {'return-path': ['<>']},
            {'list-id': ['<users.lists.example.com>']},
            ]))
def test_automatic_reason_of_automatic_header_whatever_else(
        headers, address, automatic):
    headers = {
        k: v for k, v in headers.items()
        if k.lower() not in {k.lower() for k in automatic}}
    headers.update(automatic)
    assert _reason(headers, address) is not None


# Delivery status reports

POSTFIX = _raw('''
    Return-Path: <>
    Received: by mail.example.org (Postfix) id 4F1A2C0012; Mon,  3 Dec 2026
    \t10:00:05 +0100 (CET)
    Date: Mon,  3 Dec 2026 10:00:05 +0100 (CET)
    From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
    Subject: Undelivered Mail Returned to Sender
    To: helpdesk@example.org
    Auto-Submitted: auto-replied
    MIME-Version: 1.0
    Content-Type: multipart/report; report-type=delivery-status;
    \tboundary="4F1A2C0012.1796288405/mail.example.org"
    Content-Transfer-Encoding: 8bit
    Message-Id: <20261203090005.4F1A2C0012@mail.example.org>

    This is a MIME-encapsulated message.

    --4F1A2C0012.1796288405/mail.example.org
    Content-Description: Notification
    Content-Type: text/plain; charset=us-ascii

    This is the mail system at host mail.example.org.

    I'm sorry to have to inform you that your message could not
    be delivered to one or more recipients. It's attached below.

    <nobody@example.com>: host mx.example.com[192.0.2.1] said: 550 5.1.1
        <nobody@example.com>: Recipient address rejected: User unknown (in
        reply to RCPT TO command)

    --4F1A2C0012.1796288405/mail.example.org
    Content-Description: Delivery report
    Content-Type: message/delivery-status

    Reporting-MTA: dns; mail.example.org
    X-Postfix-Queue-ID: 4F1A2C0012
    X-Postfix-Sender: rfc822; helpdesk@example.org
    Arrival-Date: Mon,  3 Dec 2026 10:00:04 +0100 (CET)

    Final-Recipient: rfc822; nobody@example.com
    Original-Recipient: rfc822;Nobody@Example.com
    Action: failed
    Status: 5.1.1
    Remote-MTA: dns; mx.example.com
    Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.com>: Recipient address
        rejected: User unknown (in reply to RCPT TO command)

    --4F1A2C0012.1796288405/mail.example.org
    Content-Description: Undelivered Message Headers
    Content-Type: text/rfc822-headers

    Return-Path: <helpdesk@example.org>
    From: Helpdesk <helpdesk@example.org>
    To: nobody@example.com
    Subject: [TCK-00012] Printer
    Message-ID: <itsm.t12.m34.a1b2c3@itsm.example.org>
    Date: Mon,  3 Dec 2026 10:00:03 +0100

    --4F1A2C0012.1796288405/mail.example.org--
    ''')

EXIM = _raw('''
    Return-path: <>
    From: Mail Delivery System <Mailer-Daemon@mx.example.org>
    To: helpdesk@example.org
    Subject: Mail delivery failed: returning message to sender
    Message-Id: <E1tAbCd-0001Xy-2Z@mx.example.org>
    Date: Mon, 03 Dec 2026 10:00:05 +0100
    Auto-Submitted: auto-replied
    MIME-Version: 1.0
    Content-Type: multipart/report; report-type=delivery-status;
     boundary=1796288405-eximdsn-1804289383

    --1796288405-eximdsn-1804289383
    Content-type: text/plain; charset=us-ascii

    This message was created automatically by mail delivery software.

    A message that you sent could not be delivered to one or more of its
    recipients. This is a permanent error. The following address(es) failed:

      jan.nowak@example.net
        host mx.example.net [192.0.2.25]
        SMTP error from remote mail server after RCPT
        TO:<jan.nowak@example.net>:
        550 5.2.2 Mailbox full

    --1796288405-eximdsn-1804289383
    Content-type: message/delivery-status

    Reporting-MTA: dns; mx.example.org

    Action: failed
    Final-Recipient: rfc822;jan.nowak@example.net
    Status: 5.0.0
    Remote-MTA: dns; mx.example.net
    Diagnostic-Code: smtp; 550 5.2.2 Mailbox full

    --1796288405-eximdsn-1804289383
    Content-type: message/rfc822

    Return-path: <helpdesk@example.org>
    From: Helpdesk <helpdesk@example.org>
    To: jan.nowak@example.net
    Subject: [TCK-00007] New laptop
    Message-ID:
     <itsm.t7.m21.zz9@itsm.example.org>
    In-Reply-To: <CAF=abc123@mail.gmail.com>
    MIME-Version: 1.0
    Content-Type: text/plain; charset=utf-8

    Your ticket TCK-00007 was received.

    --1796288405-eximdsn-1804289383--
    ''')

DELAYED = _raw('''
    From: MAILER-DAEMON@mail.example.org (Mail Delivery System)
    Subject: Delayed Mail (still being retried)
    To: helpdesk@example.org
    Auto-Submitted: auto-replied
    MIME-Version: 1.0
    Content-Type: multipart/report; report-type=delivery-status;
    \tboundary="7B3D1C0044.1796302805/mail.example.org"

    --7B3D1C0044.1796302805/mail.example.org
    Content-Description: Notification
    Content-Type: text/plain; charset=us-ascii

    This is the mail system at host mail.example.org.

    ####################################################################
    # THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
    ####################################################################

    --7B3D1C0044.1796302805/mail.example.org
    Content-Description: Delivery report
    Content-Type: message/delivery-status

    Reporting-MTA: dns; mail.example.org
    X-Postfix-Queue-ID: 7B3D1C0044
    Arrival-Date: Mon,  3 Dec 2026 10:00:04 +0100 (CET)

    Final-Recipient: rfc822; anna@slow.example.com
    Action: delayed
    Status: 4.4.1
    Diagnostic-Code: X-Postfix; connect to mx.slow.example.com[192.0.2.9]:25:
        Connection timed out
    Will-Retry-Until: Sat,  8 Dec 2026 10:00:04 +0100 (CET)

    --7B3D1C0044.1796302805/mail.example.org
    Content-Description: Undelivered Message Headers
    Content-Type: text/rfc822-headers

    From: Helpdesk <helpdesk@example.org>
    Message-ID: <itsm.t3.m5.q7@itsm.example.org>

    --7B3D1C0044.1796302805/mail.example.org--
    ''')


def _report(status_blocks, *, headers='', original=''):
    "Return a delivery status report with the given status blocks"
    parts = [
        'Content-Type: message/delivery-status\n\n'
        'Reporting-MTA: dns; mx.example.org\n\n' + status_blocks]
    if original:
        parts.append('Content-Type: text/rfc822-headers\n\n' + original)
    body = ''.join(f'--b\n{part}\n' for part in parts)
    return (
        'From: postmaster@example.org\n'
        'To: helpdesk@example.org\n'
        f'{headers}'
        'Content-Type: multipart/report; report-type=delivery-status; '
        'boundary="b"\n\n'
        f'{body}--b--\n').encode()


def test_parse_bounce_of_postfix_report():
    assert parse_bounce(POSTFIX) == Bounce(
        original_message_ids=['<itsm.t12.m34.a1b2c3@itsm.example.org>'],
        recipients=['nobody@example.com'],
        status='5.1.1',
        diagnostic=(
            '550 5.1.1 <nobody@example.com>: Recipient address rejected: '
            'User unknown (in reply to RCPT TO command)'),
        permanent=True)


def test_parse_bounce_of_exim_report_with_the_original_message():
    assert parse_bounce(EXIM) == Bounce(
        original_message_ids=['<itsm.t7.m21.zz9@itsm.example.org>'],
        recipients=['jan.nowak@example.net'],
        status='5.0.0',
        diagnostic='550 5.2.2 Mailbox full',
        permanent=True)


def test_parse_bounce_of_delayed_report_is_not_permanent():
    assert parse_bounce(DELAYED) == Bounce(
        original_message_ids=['<itsm.t3.m5.q7@itsm.example.org>'],
        recipients=['anna@slow.example.com'],
        status='4.4.1',
        diagnostic=(
            'connect to mx.slow.example.com[192.0.2.9]:25: '
            'Connection timed out'),
        permanent=False)


def test_parse_bounce_of_crlf_report():
    assert parse_bounce(POSTFIX.replace(b'\n', b'\r\n')) == parse_bounce(
        POSTFIX)


def test_parse_bounce_takes_the_failed_recipient_over_the_delayed():
    bounce = parse_bounce(_report(
            'Final-Recipient: rfc822; slow@example.com\n'
            'Action: delayed\n'
            'Status: 4.4.7\n\n'
            'Final-Recipient: rfc822; gone@example.com\n'
            'Action: failed\n'
            'Status: 5.1.1\n'
            'Diagnostic-Code: smtp; 550 No such user\n'))
    assert bounce.recipients == ['slow@example.com', 'gone@example.com']
    assert (bounce.status, bounce.diagnostic, bounce.permanent) == (
        '5.1.1', '550 No such user', True)


def test_parse_bounce_without_diagnostic_code_says_action_and_status():
    bounce = parse_bounce(_report(
            'Final-Recipient: rfc822; gone@example.com\n'
            'Action: failed\n'
            'Status: 5.1.1 (bad destination mailbox)\n'))
    assert (bounce.status, bounce.diagnostic) == (
        '5.1.1', 'Action: failed, status: 5.1.1')


def test_parse_bounce_without_status_is_not_permanent():
    bounce = parse_bounce(_report(
            'Final-Recipient: rfc822; gone@example.com\n'
            'Action: failed\n'))
    assert (bounce.status, bounce.diagnostic, bounce.permanent) == (
        '', 'Action: failed, status: unknown', False)


def test_parse_bounce_reads_original_ids_of_its_own_references():
    bounce = parse_bounce(_report(
            'Final-Recipient: rfc822; gone@example.com\n'
            'Action: failed\n'
            'Status: 5.1.1\n',
            headers=(
                'In-Reply-To: <itsm.t1.m2.x@itsm.example.org>\n'
                'References: <first@example.com>\n'
                ' <itsm.t1.m2.x@itsm.example.org>\n'),
            original='Message-ID: <itsm.t1.m2.x@itsm.example.org>\n'))
    assert bounce.original_message_ids == [
        '<itsm.t1.m2.x@itsm.example.org>', '<first@example.com>']


def test_parse_bounce_drops_recipient_without_address():
    bounce = parse_bounce(_report(
            'Final-Recipient: rfc822; undisclosed-recipients\n'
            'Original-Recipient: rfc822; <Anna@Example.com>\n'
            'Action: failed\n'
            'Status: 5.0.0\n'))
    assert bounce.recipients == ['anna@example.com']


@pytest.mark.parametrize('raw', [
        None,
        b'',
        b'garbage',
        b'\x00\xff\xfe\x80' * 50,
        'not bytes',
        12,
        object(),
        _raw('''
            From: Anna <anna@example.com>
            Subject: Printer

            The printer is broken.
            '''),
        _raw('''
            From: MAILER-DAEMON@example.org
            Subject: Mail delivery failed

            A message that you sent could not be delivered.
            '''),
        _raw('''
            From: MAILER-DAEMON@example.org
            Content-Type: multipart/report; report-type=delivery-status;
             boundary="b"

            --b
            Content-Type: text/plain

            Undelivered.
            --b--
            '''),
        POSTFIX.replace(b'message/delivery-status', b'text/plain'),
        POSTFIX[:400],
        ], ids=lambda raw: repr(raw)[:40])
def test_parse_bounce_none_for_what_is_no_report(raw):
    assert parse_bounce(raw) is None


def _nested_report(depth):
    "Return a delivery status report nested in depth multiparts"
    raw = ''.join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n'
        for i in range(depth))
    raw += (
        'Content-Type: message/delivery-status\n\n'
        'Final-Recipient: rfc822; gone@example.com\n'
        'Action: failed\n'
        'Status: 5.0.0\n')
    raw += ''.join(f'--b{i}--\n' for i in reversed(range(depth)))
    return raw.encode()


def test_parse_bounce_finds_report_nested_in_a_few_parts():
    assert parse_bounce(_nested_report(3)).recipients == [
        'gone@example.com']


@pytest.mark.parametrize('depth', [30, 2000])
def test_parse_bounce_none_for_report_nested_too_deep(depth):
    assert parse_bounce(_nested_report(depth)) is None


@PROPERTIES
@given(st.binary(max_size=2000))
def test_parse_bounce_of_any_bytes_is_a_bounce_or_none(raw):
    assert parse_bounce(raw) is None or isinstance(
        parse_bounce(raw), Bounce)


@PROPERTIES
@given(
    st.sampled_from([POSTFIX, EXIM, DELAYED]),
    st.integers(0, 5000), st.integers(0, 200), st.binary(max_size=50))
def test_parse_bounce_of_damaged_report_is_a_bounce_or_none(
        raw, start, length, insert):
    damaged = raw[:start] + insert + raw[start + length:]
    bounce = parse_bounce(damaged)
    assert bounce is None or isinstance(bounce, Bounce)
    if bounce is not None:
        assert bounce.status == '' or bounce.status[0] in '245'
        assert bounce.permanent == bounce.status.startswith('5')


@pytest.mark.parametrize('raw', [POSTFIX, EXIM, DELAYED])
def test_is_bounce_of_delivery_status_report(raw):
    assert is_bounce(parse_message(raw)) is True


def test_is_bounce_of_mailer_daemon_with_status_attachment():
    raw = _raw('''
        From: MAILER-DAEMON@mx.example.org
        To: helpdesk@example.org
        Subject: Undeliverable
        Content-Type: multipart/mixed; boundary="b"

        --b
        Content-Type: text/plain

        Undeliverable.
        --b
        Content-Type: message/delivery-status

        Final-Recipient: rfc822; gone@example.com
        Action: failed
        Status: 5.1.1
        --b--
        ''')
    assert is_bounce(parse_message(raw)) is True
    assert is_bounce(parse_message(
            raw.replace(b'MAILER-DAEMON', b'anna'))) is False


@pytest.mark.parametrize('raw', [
        _raw('''
            From: Anna <anna@example.com>
            Subject: Printer

            The printer is broken.
            '''),
        _raw('''
            From: MAILER-DAEMON@example.org
            Subject: Mail delivery failed

            A message that you sent could not be delivered.
            '''),
        _raw('''
            From: Anna <anna@example.com>
            Subject: Read: Printer
            Content-Type: multipart/report;
             report-type=disposition-notification; boundary="b"

            --b
            Content-Type: text/plain

            Your message was read.
            --b
            Content-Type: message/disposition-notification

            Final-Recipient: rfc822; anna@example.com
            Disposition: manual-action/MDN-sent-manually; displayed
            --b--
            '''),
        ], ids=['human', 'text bounce', 'read receipt'])
def test_is_bounce_false_for_other_messages(raw):
    assert is_bounce(parse_message(raw)) is False


# Rate limit

NOW = datetime(2026, 12, 3, 10, 0)
HOUR = timedelta(hours=1)


@pytest.mark.parametrize('previous, limit, over', [
        ([], 1, False),
        ([NOW], 1, True),
        ([NOW - HOUR + timedelta(seconds=1)], 1, True),
        ([NOW - HOUR], 1, False),
        ([NOW - 2 * HOUR], 1, False),
        ([NOW + timedelta(seconds=1)], 1, False),
        ([NOW - HOUR, NOW - HOUR / 2, NOW], 3, False),
        ([NOW - HOUR / 2, NOW - HOUR / 4, NOW], 3, True),
        ([NOW - HOUR / 2, NOW - HOUR / 4, NOW], 4, False),
        ([NOW, NOW, NOW, NOW], 3, True),
        ], ids=repr)
def test_over_rate_limit_counts_sends_in_window(previous, limit, over):
    "The window runs from after now - window up to now included"
    assert over_rate_limit(previous, NOW, limit, HOUR) is over


@PROPERTIES
@given(
    st.lists(st.integers(-100, 100), max_size=20), st.integers(1, 20),
    st.integers(1, 50))
def test_over_rate_limit_only_after_limit_sends_in_window(
        previous, limit, window):
    inside = [t for t in previous if -window < t <= 0]
    assert over_rate_limit(previous, 0, limit, window) is (
        len(inside) >= limit)
    # One more send in the window can only bring the limit closer.
    if over_rate_limit(previous, 0, limit, window):
        assert over_rate_limit([*previous, 0], 0, limit, window)
