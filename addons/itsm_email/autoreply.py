# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Safety of the automatic answers of the helpdesk.

An automatic answer to an automatic message starts a loop between two
robots that fills both mailboxes. :func:`automatic_reason` tells the
messages that no robot should answer, :func:`parse_bounce` reads the
delivery status reports (RFC 3464) of the mail servers, and
:func:`over_rate_limit` caps what is sent to one sender however well the
other checks are fooled.
"""
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser, HeaderParser

from .mailparse import normalize_message_id
from .threadmatch import is_own_message_id

__all__ = [
    'automatic_reason', 'is_bounce', 'Bounce', 'parse_bounce',
    'over_rate_limit',
    ]

# Exchange's list of what not to answer with; each of these names an
# automatic answer.
_SUPPRESS = {'all', 'autoreply', 'oof', 'dr', 'rn', 'nrn'}
_PRECEDENCE = {'bulk', 'junk', 'list'}
_AUTOREPLY_HEADERS = (
    'x-autoreply', 'x-autorespond', 'x-autoresponder', 'x-autoreply-from',
    'x-mail-autoreply')
_LIST_HEADERS = ('list-id', 'list-unsubscribe')
# Local parts compared without '-', '_' and '.': 'no_reply', 'no.reply'
# and 'no-reply' are one.
_ROBOTS = {
    'mailerdaemon', 'postmaster', 'noreply', 'donotreply', 'bounce',
    'bounces'}
_ROBOT_PREFIXES = ('noreply', 'donotreply', 'bounce-', 'bounces-')
_STATUS = re.compile(r'\b([245])\.(\d{1,3})\.(\d{1,3})\b')
_COMMENT = re.compile(r'\([^()]*\)')
_MAX_DEPTH = 20


def _values(headers, name):
    return [
        str(v) for k, values in headers.items() if k.lower() == name
        for v in values]


def _content_type(value):
    "Return the content type and the parameters getter of a header value"
    message = Message()
    message['Content-Type'] = value
    return message.get_content_type(), message.get_param


def _local_part(address):
    local = (address or '').rpartition('@')[0] or (address or '')
    # Variable envelope return paths put a detail after '+'.
    return local.partition('+')[0].lower()


def _is_robot(address):
    local = _local_part(address)
    if local.replace('-', '').replace('_', '').replace('.', '') in _ROBOTS:
        return True
    squeezed = local.replace('_', '').replace('.', '')
    return squeezed.replace('-', '').startswith(
        _ROBOT_PREFIXES[:2]) or squeezed.startswith(_ROBOT_PREFIXES[2:])


def _base_address(address):
    "Return address without its plus detail, lower-cased"
    local, at, domain = (address or '').strip().lower().rpartition('@')
    if not at:
        return domain
    return f'{local.partition("+")[0]}@{domain}'


def automatic_reason(
        headers, from_address, own_addresses=frozenset(),
        own_domains=frozenset()):
    """Return why the message must get no automatic answer, or None

    own_domains are the domains only the helpdesk sends from (those of
    its Message-IDs), not the domain of the people it serves.
    """
    for value in _values(headers, 'auto-submitted'):
        # RFC 3834 allows comments around the keyword: 'no (human)'.
        keyword = _COMMENT.sub(' ', value).split(';')[0].strip().lower()
        if keyword and keyword != 'no':
            return f'Auto-Submitted: {keyword}'
    for value in _values(headers, 'x-auto-response-suppress'):
        for keyword in re.split(r'[,;\s]+', value.strip()):
            if keyword.lower() in _SUPPRESS:
                return f'X-Auto-Response-Suppress: {keyword}'
    for value in _values(headers, 'precedence'):
        keyword = value.strip().lower()
        if keyword in _PRECEDENCE:
            return f'Precedence: {keyword}'
    for name in _AUTOREPLY_HEADERS:
        if _values(headers, name):
            return f'{name.title()} present'
    for name in _LIST_HEADERS:
        if _values(headers, name):
            return f'{name.title()} present (mailing list)'
    for value in _values(headers, 'return-path'):
        if ''.join(value.split()) in {'<>', ''}:
            return 'Return-Path: <> (null sender)'
    if _is_robot(from_address):
        return f'Sender {from_address} is a robot'
    own = {_base_address(a) for a in own_addresses}
    domains = {d.strip().lower() for d in own_domains}
    sender = _base_address(from_address)
    if sender in own:
        return f'Sender {from_address} is our own address'
    if sender.rpartition('@')[2] in domains:
        return f'Sender {from_address} is in our own domain'
    for value in _values(headers, 'x-loop'):
        named = {_base_address(a) for a in re.findall(r'[^\s<>,;]+', value)}
        if named & own:
            return f'X-Loop: {value.strip()}'
    for value in _values(headers, 'message-id')[:1]:
        message_id = normalize_message_id(value)
        if message_id and is_own_message_id(message_id, domains):
            return f'Message-ID {message_id} is our own'
    for value in _values(headers, 'content-type')[:1]:
        try:
            content_type, _ = _content_type(value)
        except Exception:
            continue
        if content_type == 'multipart/report':
            return 'Content-Type: multipart/report'
    return None


def is_bounce(parsed):
    "Return whether the parsed message is a delivery status report"
    for value in parsed.headers.get('content-type', [])[:1]:
        try:
            content_type, get_param = _content_type(value)
            report_type = str(get_param('report-type') or '').lower()
        except Exception:
            continue
        if (content_type == 'multipart/report'
                and report_type == 'delivery-status'):
            return True
    local = _local_part(parsed.from_address).replace('-', '')
    return local in {'mailerdaemon', 'postmaster'} and any(
        a.content_type == 'message/delivery-status'
        for a in parsed.attachments)


@dataclass
class Bounce:
    "What a delivery status report says"
    original_message_ids: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    status: str = ''
    diagnostic: str = ''
    permanent: bool = False


def _walk(part, depth=0):
    "Yield the parts of a report, attached messages included"
    yield part
    if depth >= _MAX_DEPTH:
        return
    if part.get_content_maintype() == 'multipart':
        payload = part.get_payload()
        if isinstance(payload, list):
            for subpart in payload:
                yield from _walk(subpart, depth + 1)


def _raw(message, name):
    "Return the raw values of a header, never raising"
    return [
        str(v) for k, v in message.raw_items()
        if k.strip().lower() == name]


def _status_blocks(part):
    "Return the header blocks of a message/delivery-status part"
    payload = part.get_payload()
    if isinstance(payload, list):
        return payload
    data = part.get_payload(decode=True) or b''
    text = data.decode('utf-8', 'replace').replace('\r\n', '\n')
    return [
        HeaderParser(policy=policy.compat32).parsestr(block)
        for block in re.split(r'\n[ \t]*\n', text) if block.strip()]


def _typed_address(value):
    "Return the address of an 'rfc822; user@example.com' field"
    address = value.partition(';')[2] if ';' in value else value
    address = ''.join(address.split()).strip('<>').lower()
    return address if '@' in address else None


def _add(values, value):
    if value and value not in values:
        values.append(value)


def parse_bounce(raw):
    "Return the Bounce of a delivery status report, else None"
    try:
        return _parse_bounce(raw)
    except Exception:
        return None


def _parse_bounce(raw):
    if not raw:
        return None
    message = BytesParser(policy=policy.default).parsebytes(bytes(raw))
    parts = list(_walk(message))
    statuses = [
        p for p in parts if p.get_content_type() == 'message/delivery-status']
    if not statuses:
        return None
    bounce = Bounce()
    blocks = []
    for part in statuses:
        blocks.extend(
            b for b in _status_blocks(part)
            if _raw(b, 'final-recipient') or _raw(b, 'original-recipient')
            or _raw(b, 'status'))
    failed = None
    for block in blocks:
        for name in ('final-recipient', 'original-recipient'):
            for value in _raw(block, name):
                _add(bounce.recipients, _typed_address(value))
        action = ''.join(_raw(block, 'action')[:1]).strip().lower()
        if failed is None or (
                action == 'failed' and failed[0] != 'failed'):
            failed = (action, block)
    if failed is not None:
        action, block = failed
        match = _STATUS.search(''.join(_raw(block, 'status')[:1]))
        if match:
            bounce.status = match.group(0)
        diagnostic = ''.join(_raw(block, 'diagnostic-code')[:1])
        if ';' in diagnostic:
            diagnostic = diagnostic.partition(';')[2]
        bounce.diagnostic = ' '.join(diagnostic.split())
        if not bounce.diagnostic:
            bounce.diagnostic = ' '.join(
                f'Action: {action or "unknown"}, status: '
                f'{bounce.status or "unknown"}'.split())
    bounce.permanent = bounce.status.startswith('5')

    for part in parts:
        content_type = part.get_content_type()
        if content_type in {'message/rfc822', 'message/global'}:
            payload = part.get_payload()
            originals = payload if isinstance(payload, list) else []
        elif content_type == 'text/rfc822-headers':
            data = part.get_payload(decode=True) or b''
            originals = [HeaderParser(policy=policy.compat32).parsestr(
                    data.decode('utf-8', 'replace'))]
        else:
            continue
        for original in originals:
            for value in _raw(original, 'message-id')[:1]:
                _add(bounce.original_message_ids,
                    normalize_message_id(value))
    for name in ('in-reply-to', 'references'):
        for value in _raw(message, name):
            for message_id in re.findall(r'<[^<>]+>', value):
                _add(bounce.original_message_ids,
                    normalize_message_id(message_id))
    return bounce


def over_rate_limit(previous, now, limit, window):
    "Return whether limit messages were already sent in the window"
    start = now - window
    return sum(1 for t in previous if start < t <= now) >= limit
