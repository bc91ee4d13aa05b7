# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Tests of finding the ticket an incoming message belongs to"
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_email.threadmatch import (
    TICKET_TOKEN,
    is_own_message_id,
    make_message_id,
    plus_address,
    plus_address_numbers,
    strip_reply_prefixes,
    subject_with_token,
    thread_candidates,
    ticket_id_from_message_id,
    ticket_numbers_in_subject,
)

PROPERTIES = settings(
    max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])

_numbers = st.from_regex(r'\A[A-Za-z][A-Za-z0-9]{0,5}-[0-9]{1,8}\Z')
_prefix = st.sampled_from([
    'Re: ', 'RE:', 'Fwd: ', 'FW: ', 'AW: ', 'WG: ', 'SV: ', 'VS: ',
    'Odp: ', 'PD: ', 'TR: ', 'RV: ', 'Réf: ', 'Antw: ', 'Re[2]: ',
    'Re(3): ', 'Re：', 'Re : ', ' re:  '])
_subject = st.one_of(
    st.text(max_size=60),
    st.lists(st.one_of(
            _prefix, st.text(max_size=8),
            _numbers.map(lambda n: f'[{n}]'),
            _numbers.map(lambda n: f'[#{n}]'),
            st.sampled_from(['[', ']', '#', '-', ' ', ':', '：', '[2]'])),
        max_size=10).map(''.join))


# Subject tokens

@pytest.mark.parametrize('subject, numbers', [
        ('[TCK-00012] Printer', ['TCK-00012']),
        ('Re: [TCK-00012] Printer', ['TCK-00012']),
        ('Printer [#TCK-00012]', ['TCK-00012']),
        ('[tck-00012] lower case', ['TCK-00012']),
        ('[Inc2-7] digits in prefix', ['INC2-7']),
        ('[TCK-1] and [INC-2] and [tck-1]', ['TCK-1', 'INC-2']),
        ('[INC-2][TCK-1]', ['INC-2', 'TCK-1']),
        ('[TCK-] no digits', []),
        ('[-12] no prefix', []),
        ('[1TCK-2] digit first', []),
        ('TCK-3 without brackets', []),
        ('[ TCK-4 ] spaces', []),
        ('[##TCK-5] two hashes', []),
        ('[TCK-６] fullwidth digit', []),
        ('', []),
        (None, []),
        ])
def test_ticket_numbers_in_subject(subject, numbers):
    "Ticket tokens are found with or without '#', upper-cased, once each"
    assert ticket_numbers_in_subject(subject) == numbers


def test_ticket_token_pattern_names_the_number():
    "TICKET_TOKEN's group 'number' is the number without brackets and '#'"
    assert TICKET_TOKEN.search('x [#TCK-9] y').group('number') == 'TCK-9'


@pytest.mark.parametrize('subject, expected', [
        ('Printer', '[TCK-7] Printer'),
        ('Re: Printer', 'Re: [TCK-7] Printer'),
        ('RE: AW: WG: Printer', 'RE: AW: WG: [TCK-7] Printer'),
        ('Re[2]: Printer', 'Re[2]: [TCK-7] Printer'),
        ('Re：Printer', 'Re：[TCK-7] Printer'),
        ('Odp: Drukarka', 'Odp: [TCK-7] Drukarka'),
        ('[INC-1] Printer', '[TCK-7] [INC-1] Printer'),
        ('', '[TCK-7]'),
        (None, '[TCK-7]'),
        ])
def test_subject_with_token_after_prefixes(subject, expected):
    "The token is put after the reply prefixes, before the rest"
    assert subject_with_token(subject, 'TCK-7') == expected


@pytest.mark.parametrize('subject', [
        'Re: [TCK-7] Printer', 'Re: [tck-7] Printer', '[#TCK-7]',
        'Printer [TCK-7]'])
def test_subject_with_token_kept_when_present(subject):
    "A subject that has the token already is kept as it is"
    assert subject_with_token(subject, 'TCK-7') == subject


# Reply prefixes

@pytest.mark.parametrize('subject, stripped', [
        ('Re: Printer', 'Printer'),
        ('RE: Re: re: Printer', 'Printer'),
        ('Fwd: FW: Fw: Printer', 'Printer'),
        ('AW: WG: Drucker', 'Drucker'),
        ('SV: VS: Skrivare', 'Skrivare'),
        ('Odp: PD: Drukarka', 'Drukarka'),
        ('TR: RÉF: Réf: Imprimante', 'Imprimante'),
        ('RV: Impresora', 'Impresora'),
        ('Antw: Printer', 'Printer'),
        ('Re[2]: Printer', 'Printer'),
        ('Re(3): Printer', 'Printer'),
        ('Re：Printer', 'Printer'),
        ('Re : Printer', 'Printer'),
        ('Re:Printer', 'Printer'),
        ('[TCK-1] Re: help', 'help'),
        ('Re: [TCK-1] Re: [#INC-2] help', 'help'),
        ('help [TCK-1] me', 'help me'),
        ('  Re:   spaced \t  out ', 'spaced out'),
        ('Re:', ''),
        ('Rex: not a prefix', 'Rex: not a prefix'),
        ('Reply: not a prefix', 'Reply: not a prefix'),
        ('Printer Re: jammed', 'Printer Re: jammed'),
        ('', ''),
        (None, ''),
        ])
def test_strip_reply_prefixes(subject, stripped):
    "Reply and forward prefixes of many languages and tokens are removed"
    assert strip_reply_prefixes(subject) == stripped


def test_strip_reply_prefixes_forms_no_new_token():
    "Removing a token never joins the text around it into a new one"
    assert strip_reply_prefixes('[[TCK-1]TCK-2]') == '[ TCK-2]'
    assert ticket_numbers_in_subject(strip_reply_prefixes(
        '[[TCK-1]TCK-2]')) == []


# Plus addresses

def test_plus_address_numbers_of_our_local_parts():
    "Plus addresses give their ticket number only on our local parts"
    recipients = [
        'helpdesk+TCK-00012@example.org',
        'HelpDesk+tck-3@Example.org',
        'support+INC-4@example.org',
        'other+TCK-5@example.org',
        'helpdesk@example.org',
        'helpdesk+bogus@example.org',
        'helpdesk+TCK-6x@example.org',
        'helpdesk+@example.org',
        'no at sign',
        '',
        None,
        'helpdesk+TCK-00012@elsewhere.example',
        ]
    assert plus_address_numbers(recipients, ['helpdesk', 'Support']) == [
        'TCK-00012', 'TCK-3', 'INC-4']


def test_plus_address_numbers_without_local_parts():
    "Without our local parts no plus address counts"
    assert plus_address_numbers(['helpdesk+TCK-1@example.org'], []) == []


@pytest.mark.parametrize('address, expected', [
        ('helpdesk@example.org', 'helpdesk+TCK-1@example.org'),
        ('helpdesk+old@example.org', 'helpdesk+TCK-1@example.org'),
        ('Help.Desk@example.org', 'Help.Desk+TCK-1@example.org'),
        ])
def test_plus_address(address, expected):
    "plus_address puts the number as the detail, replacing any other"
    assert plus_address(address, 'TCK-1') == expected


# Message-IDs

def test_make_message_id_format():
    "Our Message-IDs name the ticket, the message and a token"
    assert make_message_id('example.org', 12, 34, 'a1B2') == (
        '<itsm.t12.m34.a1B2@example.org>')


@pytest.mark.parametrize('message_id, ticket', [
        ('<itsm.t12.m34.abc@example.org>', 12),
        ('itsm.t12.m34.abc@example.org', 12),
        ('  <itsm.t12.m34.abc@example.org>  ', 12),
        ('<ITSM.T12.M34.abc@EXAMPLE.ORG>', 12),
        ('<itsm.t007.m1.x@example.org>', 7),
        ('<itsm.t12.m34.abc@other.example>', None),
        ('<itsm.t12.m34.abc@evil.example.org>', None),
        ('<itsm.t12.m34.abc@example.org.evil>', None),
        ('<itsm.t12.m34.ab-c@example.org>', None),
        ('<itsm.t12.m34.@example.org>', None),
        ('<itsm.tx.m34.abc@example.org>', None),
        ('<itsm.t12.abc@example.org>', None),
        ('<x.itsm.t12.m34.abc@example.org>', None),
        ('<itsm.t12.m34.abc@example.org> trailing', None),
        ('<20261203.abc@example.org>', None),
        ('', None),
        (None, None),
        ])
def test_ticket_id_from_message_id(message_id, ticket):
    "Only our Message-IDs on our domains give their ticket id"
    assert ticket_id_from_message_id(message_id, ['Example.org']) == ticket
    assert is_own_message_id(message_id, ['example.org']) is (
        ticket is not None)


def test_own_message_id_needs_a_domain():
    "Without domains no Message-ID is ours"
    message_id = make_message_id('example.org', 1, 2, 'x')
    assert is_own_message_id(message_id, []) is False
    assert ticket_id_from_message_id(message_id, []) is None


def test_own_message_id_of_any_of_our_domains():
    "A Message-ID of any of our domains is ours"
    message_id = make_message_id('b.example', 5, 6, 'x')
    assert ticket_id_from_message_id(
        message_id, ['a.example', 'b.example']) == 5


def test_thread_candidates_most_specific_first():
    "In-Reply-To comes first, then References from the last, once each"
    assert thread_candidates(
        ['<a@x>', '<b@x>'], ['<r1@x>', '<r2@x>', '<a@x>']) == [
        '<a@x>', '<b@x>', '<r2@x>', '<r1@x>']
    assert thread_candidates([], []) == []


# Properties

@PROPERTIES
@given(_subject)
def test_strip_reply_prefixes_idempotent(subject):
    "strip_reply_prefixes of its own result gives that result back"
    once = strip_reply_prefixes(subject)
    assert strip_reply_prefixes(once) == once
    assert ticket_numbers_in_subject(once) == []


@PROPERTIES
@given(_subject, _numbers)
def test_subject_with_token_then_found(subject, number):
    "The number put in a subject is found there again"
    tokened = subject_with_token(subject, number)
    assert number.upper() in ticket_numbers_in_subject(tokened)
    assert subject_with_token(tokened, number) == tokened


_local = st.from_regex(r'\A[A-Za-z0-9][A-Za-z0-9._-]{0,15}\Z')
_domain = st.from_regex(r'\A[a-z0-9]{1,10}(\.[a-z0-9-]{1,10}){0,3}\Z')


@PROPERTIES
@given(_local, _domain, _numbers, st.sampled_from(['', '+old', '+x+y']))
def test_plus_address_round_trip(local, domain, number, detail):
    "plus_address then plus_address_numbers gives the number back"
    address = plus_address(f'{local}{detail}@{domain}', number)
    assert plus_address_numbers([address], [local.upper()]) == [
        number.upper()]
    assert plus_address_numbers([address], [local + 'x']) == []


@PROPERTIES
@given(
    _domain, _domain, st.integers(0, 10**12), st.integers(0, 10**12),
    st.from_regex(r'\A[0-9A-Za-z]{1,20}\Z'))
def test_message_id_round_trip(domain, other, ticket, message, token):
    "make_message_id then ticket_id_from_message_id gives the ticket back"
    message_id = make_message_id(domain, ticket, message, token)
    assert ticket_id_from_message_id(message_id, [domain]) == ticket
    assert ticket_id_from_message_id(
        message_id.strip('<>'), [domain.upper()]) == ticket
    assert is_own_message_id(message_id, [domain]) is True
    if other != domain:
        assert is_own_message_id(message_id, [other]) is False
        assert ticket_id_from_message_id(message_id, [other]) is None


@PROPERTIES
@given(st.lists(st.text(max_size=5), max_size=6),
    st.lists(st.text(max_size=5), max_size=6))
def test_thread_candidates_unique_and_complete(in_reply_to, references):
    "thread_candidates holds every id once, In-Reply-To's first"
    candidates = thread_candidates(in_reply_to, references)
    assert len(candidates) == len(set(candidates))
    assert set(candidates) == set(in_reply_to) | set(references)
    assert candidates[:len(set(in_reply_to))] == list(
        dict.fromkeys(in_reply_to))
