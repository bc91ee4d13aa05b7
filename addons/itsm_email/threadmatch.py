# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Finding the ticket an incoming message belongs to.

A reply names its ticket in three ways, from the most to the least
reliable: the Message-IDs it answers (ours carry the ticket id), the
plus address it was sent to and the ticket token of its subject. These
functions read and write each of them.
"""
import re

__all__ = [
    'TICKET_TOKEN', 'ticket_numbers_in_subject', 'subject_with_token',
    'strip_reply_prefixes', 'plus_address_numbers', 'plus_address',
    'make_message_id', 'ticket_id_from_message_id', 'is_own_message_id',
    'thread_candidates',
    ]

TICKET_TOKEN = re.compile(
    r'\[#?(?P<number>[A-Za-z][A-Za-z0-9]*-[0-9]+)\]', re.ASCII)
"""A ticket number in brackets, like ``[TCK-00012]`` or ``[#TCK-00012]``."""

_NUMBER = re.compile(r'[A-Za-z][A-Za-z0-9]*-[0-9]+', re.ASCII)
# The reply and forward prefixes of the common mail clients, in English,
# German (AW, WG), Nordic (SV, VS), Polish (Odp, PD), French (TR, Réf),
# Spanish (RV) and Dutch (Antw); some count the replies: 'Re[2]:'.
_PREFIX_PATTERN = (
    r'\s*(?:re|fwd?|aw|wg|sv|vs|odp|pd|tr|rv|r[ée]f|antw)'
    r'\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*')
_PREFIX = re.compile('^' + _PREFIX_PATTERN, re.IGNORECASE)
_PREFIXES = re.compile(f'^(?:{_PREFIX_PATTERN})*', re.IGNORECASE)
_OWN_MESSAGE_ID = re.compile(
    r'^<?itsm\.t(?P<ticket>[0-9]+)\.m[0-9]+\.[0-9A-Za-z]+'
    r'@(?P<domain>[^<>@\s]+)>?$', re.ASCII | re.IGNORECASE)


def _unique(values):
    result = []
    for value in values:
        if value not in result:
            result.append(value)
    return result


def ticket_numbers_in_subject(subject):
    "Return the ticket numbers of the tokens of subject, in order"
    return _unique(
        m.group('number').upper()
        for m in TICKET_TOKEN.finditer(subject or ''))


def subject_with_token(subject, number):
    "Return subject with the token of ticket number, unless it has it"
    subject = subject or ''
    if number.upper() in ticket_numbers_in_subject(subject):
        return subject
    # The token goes after the reply prefixes, so that clients still
    # see a reply.
    prefixes = _PREFIXES.match(subject).group(0)
    rest = subject[len(prefixes):].strip()
    token = f'[{number}]'
    return f'{prefixes}{token} {rest}' if rest else f'{prefixes}{token}'


def strip_reply_prefixes(subject):
    "Return subject without reply prefixes and ticket tokens"
    subject = ' '.join((subject or '').split())
    # Until nothing changes, which makes it idempotent: removing a token
    # may bring a prefix to the front ('[TCK-1] Re: help').
    while True:
        stripped = _PREFIX.sub('', subject, count=1)
        # A space, not nothing, in place of a token: no new token may
        # form from the text around it.
        stripped = ' '.join(TICKET_TOKEN.sub(' ', stripped).split())
        if stripped == subject:
            return subject
        subject = stripped


def plus_address_numbers(recipients, local_parts):
    "Return the ticket numbers of the plus addresses of our mailboxes"
    local_parts = {p.lower() for p in local_parts}
    numbers = []
    for recipient in recipients:
        local, at, _ = (recipient or '').rpartition('@')
        if not at:
            continue
        base, plus, detail = local.partition('+')
        if (plus and base.lower() in local_parts
                and _NUMBER.fullmatch(detail)):
            numbers.append(detail.upper())
    return _unique(numbers)


def plus_address(address, number):
    "Return the plus address of ticket number on our address"
    local, _, domain = address.rpartition('@')
    # A mailbox given with a detail already gets it replaced.
    local = local.partition('+')[0]
    return f'{local}+{number}@{domain}'


def make_message_id(domain, ticket_id, message_id, token):
    "Return the Message-ID of one of our messages on a ticket"
    return f'<itsm.t{ticket_id}.m{message_id}.{token}@{domain}>'


def _own_match(message_id, domains):
    match = _OWN_MESSAGE_ID.match((message_id or '').strip())
    if not match:
        return None
    domains = {d.lower() for d in domains}
    if match.group('domain').lower() not in domains:
        return None
    return match


def ticket_id_from_message_id(message_id, domains):
    "Return the ticket id of one of our Message-IDs, or None"
    match = _own_match(message_id, domains)
    return int(match.group('ticket')) if match else None


def is_own_message_id(message_id, domains):
    "Return whether message_id was made by us for one of domains"
    return _own_match(message_id, domains) is not None


def thread_candidates(in_reply_to, references):
    "Return the ids to look a reply up by, the most specific first"
    return _unique([*in_reply_to, *reversed(references)])
