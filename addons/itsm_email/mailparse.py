# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Lenient parsing of incoming email into plain data.

:func:`parse_message` turns the raw bytes of a message into a
:class:`ParsedMessage`, whatever state the bytes are in: broken MIME,
wrong charsets and hostile HTML are repaired, noted in ``defects`` and
never raise. Only a message that cannot be used at all raises
:class:`MailParseError`, so that the caller keeps it for an admin.
"""
import email.utils
import mimetypes
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.generator import BytesGenerator
from email.header import decode_header, make_header
from email.parser import BytesParser
from html.parser import HTMLParser
from io import BytesIO

import nh3

__all__ = [
    'MAX_SIZE', 'MailParseError', 'Attachment', 'ParsedMessage',
    'parse_message', 'normalize_message_id', 'html_to_text',
    'read_summary',
]

MAX_SIZE = 25 * 1024 * 1024
"""Default cap on the size of a raw message, in bytes."""

MAX_FILENAME = 200
_MAX_DEPTH = 50
_ADDRESS_HEADERS = {
    'from', 'sender', 'reply-to', 'to', 'cc', 'bcc', 'resent-from',
    'resent-to', 'resent-cc', 'delivered-to', 'x-original-to',
    'envelope-to', 'return-path'}
_RECIPIENT_HEADERS = (
    'to', 'cc', 'delivered-to', 'x-original-to', 'envelope-to')
_ID_RE = re.compile(r'<([^<>]*)>')
_BOUNDARY_LINE_RE = re.compile(
    rb'^--([^\r\n]{1,70}?)(?:--)?[ \t]*\r?$', re.MULTILINE)
_CONTROL_RE = re.compile(r'[\x00-\x1f\x7f-\x9f]')
_BLANK_LINES_RE = re.compile(r'\n{3,}')
# The stdlib table only: the system's mime.types differ between hosts.
_MIMETYPES = mimetypes.MimeTypes()
_EXTENSIONS = {
    'text/plain': '.txt',
    'message/rfc822': '.eml',
    'message/global': '.eml',
    'message/delivery-status': '.txt',
    'text/rfc822-headers': '.txt',
    'application/octet-stream': '.bin',
    }

_HTML_TAGS = (nh3.ALLOWED_TAGS | {'font', 'tfoot'}) - {'area', 'map'}
_HTML_ATTRIBUTES = {
    tag: set(attributes)
    for tag, attributes in nh3.ALLOWED_ATTRIBUTES.items()}
_HTML_ATTRIBUTES['*'] = {'style', 'dir', 'lang', 'title', 'align'}
_HTML_ATTRIBUTES.setdefault('font', set()).update({'color', 'face', 'size'})
for _tag in ('table', 'td', 'th', 'tr', 'tbody', 'thead', 'tfoot'):
    _HTML_ATTRIBUTES.setdefault(_tag, set()).update(
        {'bgcolor', 'border', 'cellpadding', 'cellspacing', 'width',
            'height', 'valign'})
# Formatting properties only: no position (overlays that fake the user
# interface) and no url() (tracking images, scripts in old engines).
_STYLE_PROPERTIES = {
    'background-color', 'border', 'border-bottom', 'border-collapse',
    'border-color', 'border-left', 'border-right', 'border-spacing',
    'border-style', 'border-top', 'border-width', 'color', 'direction',
    'display', 'font', 'font-family', 'font-size', 'font-style',
    'font-variant', 'font-weight', 'height', 'letter-spacing',
    'line-height', 'list-style-type', 'margin', 'margin-bottom',
    'margin-left', 'margin-right', 'margin-top', 'max-width', 'min-width',
    'padding', 'padding-bottom', 'padding-left', 'padding-right',
    'padding-top', 'text-align', 'text-decoration', 'text-indent',
    'text-transform', 'vertical-align', 'white-space', 'width',
    'word-break', 'word-wrap',
    }
_CLEANER = nh3.Cleaner(
    tags=_HTML_TAGS,
    clean_content_tags={
        'script', 'style', 'title', 'head', 'template', 'iframe', 'object',
        'embed', 'applet', 'frameset', 'frame'},
    attributes=_HTML_ATTRIBUTES,
    url_schemes={'http', 'https', 'mailto', 'cid'},
    link_rel='noopener noreferrer nofollow',
    filter_style_properties=_STYLE_PROPERTIES,
    )


class MailParseError(Exception):
    "The message cannot be used at all"

    def __init__(self, reason, message):
        super().__init__(reason, message)
        self.reason = reason
        self.message = message

    def __str__(self):
        return f'{self.reason}: {self.message}'


@dataclass(frozen=True)
class Attachment:
    "A leaf part of a message other than its text and HTML bodies"
    filename: str
    content_type: str
    data: bytes
    content_id: str | None
    inline: bool


@dataclass
class ParsedMessage:
    "The content of a message, decoded"
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_name: str
    from_address: str
    reply_to: str | None
    to: list[tuple[str, str]]
    cc: list[tuple[str, str]]
    recipients: list[str]
    subject: str
    date: datetime | None
    text: str
    html: str | None
    attachments: list[Attachment]
    headers: dict[str, list[str]]
    size: int
    defects: list[str] = field(default_factory=list)


def normalize_message_id(value):
    "Return the first message id of value as '<id>', or None"
    if not value:
        return None
    value = _unsurrogate(value)
    match = _ID_RE.search(value)
    if match:
        value = match.group(1)
    else:
        # Stray brackets of a broken id are dropped, not kept inside:
        # 'a>b' made '<a>b>', which normalised again gives '<a>'.
        value = value.replace('<', '').replace('>', '')
    # Folding puts whitespace inside long ids; it is never part of them.
    value = ''.join(value.split()).strip('<>')
    if not value:
        return None
    return f'<{value}>'


def _message_ids(value):
    "Return the normalised ids of a list header, in order"
    value = _unsurrogate(value)
    if '<' in value:
        tokens = _ID_RE.findall(value)
    else:
        # Without brackets only tokens like addresses are ids: old
        # clients wrote "Your message of ..." in In-Reply-To.
        tokens = [t for t in re.split(r'[\s,]+', value) if '@' in t]
    ids = []
    for token in tokens:
        message_id = normalize_message_id(token)
        if message_id and message_id not in ids:
            ids.append(message_id)
    return ids


class _TextMaker(HTMLParser):
    "Collect the readable text of an HTML document"

    _blocks = {
        'address', 'article', 'aside', 'blockquote', 'center', 'dd',
        'details', 'dir', 'div', 'dl', 'dt', 'fieldset', 'figcaption',
        'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6',
        'header', 'hr', 'li', 'main', 'nav', 'ol', 'p', 'pre', 'section',
        'summary', 'table', 'tbody', 'tfoot', 'thead', 'tr', 'ul', 'body',
        'html', 'caption'}
    _hidden = {
        'script', 'style', 'head', 'title', 'template', 'noscript',
        'iframe', 'object', 'svg', 'math'}
    _void = {
        'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link',
        'meta', 'param', 'source', 'track', 'wbr'}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lines = []
        self._line = []
        self._line_quote = 0
        self._quote = 0
        self._pre = 0
        self._hidden_tags = []
        self._links = []

    def _flush(self, force=False):
        "End the current line; empty lines are kept only when forced"
        text = ''.join(self._line)
        text = text.rstrip() if self._pre else ' '.join(text.split())
        if text or force:
            self.lines.append((self._line_quote, text))
        self._line = []
        self._line_quote = self._quote

    def _write(self, text):
        if not self._line or not ''.join(self._line).strip():
            self._line_quote = self._quote
        self._line.append(text)

    def handle_starttag(self, tag, attrs):
        if self._hidden_tags:
            if tag not in self._void:
                self._hidden_tags.append(tag)
            return
        if tag in self._hidden:
            self._hidden_tags.append(tag)
            return
        if tag == 'br':
            self._flush(force=True)
        elif tag in self._blocks:
            self._flush()
            if tag == 'blockquote':
                self._quote += 1
                self._line_quote = self._quote
            elif tag == 'li':
                self._write('- ')
            elif tag == 'pre':
                self._pre += 1
        elif tag in {'td', 'th'}:
            self._write(' ')
        elif tag == 'a':
            self._links.append(dict(attrs).get('href') or '')
        elif tag == 'img':
            alt = (dict(attrs).get('alt') or '').strip()
            if alt:
                self._write(f'[{alt}]')

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self._void:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if self._hidden_tags:
            # Close up to the matching tag: HTML in mail is rarely
            # well-formed.
            if tag in self._hidden_tags:
                while self._hidden_tags.pop() != tag:
                    pass
            return
        if tag in self._blocks:
            self._flush()
            if tag == 'blockquote' and self._quote:
                self._quote -= 1
                self._line_quote = self._quote
            elif tag == 'pre' and self._pre:
                self._pre -= 1
            if tag in {'p', 'blockquote', 'table', 'ul', 'ol', 'pre'} or (
                    tag.startswith('h') and tag[1:].isdigit()):
                self.lines.append((self._quote, ''))
        elif tag == 'a' and self._links:
            href = self._links.pop().strip()
            label = ''.join(self._line).strip()
            # Keep the target of links whose label hides it.
            if (href.lower().startswith(('http://', 'https://'))
                    and href not in label):
                self._write(f' <{href}>')

    def handle_data(self, data):
        if self._hidden_tags:
            return
        if self._pre:
            lines = data.split('\n')
            for i, line in enumerate(lines):
                if i:
                    self._flush(force=True)
                self._write(line)
        else:
            self._write(data)

    def text(self):
        self._flush()
        lines = []
        for quote, line in self.lines:
            prefix = '> ' * quote
            lines.append((prefix + line).rstrip() if line else prefix.rstrip())
        text = '\n'.join(lines)
        return _BLANK_LINES_RE.sub('\n\n', text).strip('\n')


def html_to_text(html):
    "Return a readable plain text made from html"
    maker = _TextMaker()
    try:
        maker.feed(html)
        maker.close()
    except Exception:
        # html.parser is lenient; should it still fail, the text seen so
        # far is kept.
        pass
    return maker.text()


def sanitize_html(html):
    "Return html without anything that runs or phones home unasked"
    return _CLEANER.clean(html)


def _unsurrogate(value):
    "Decode the raw 8-bit bytes the parser kept as surrogates"
    value = str(value)
    if not any('\udc80' <= c <= '\udcff' for c in value):
        return value
    data = value.encode('utf-8', 'surrogateescape')
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return data.decode('windows-1252', 'replace')


def _decode_words(value):
    "Decode the RFC 2047 encoded words of a header the old way"
    try:
        return str(make_header(decode_header(value)))
    except Exception:
        return value


def _header_value(name, value):
    "Return the decoded text of a raw header value"
    value = ''.join(_unsurrogate(value).splitlines())
    try:
        return str(policy.default.header_factory(name, value))
    except Exception:
        return _decode_words(value)


def _addresses(name, value):
    "Return the (name, lower-cased address) pairs of a raw header value"
    value = ''.join(_unsurrogate(value).splitlines())
    pairs = []
    try:
        header = policy.default.header_factory(name, value)
        for address in header.addresses:
            pairs.append((address.display_name, address.addr_spec))
    except Exception:
        pairs = [
            (_decode_words(n), a)
            for n, a in email.utils.getaddresses([value])]
    result = []
    for display_name, address in pairs:
        address = ''.join(address.split()).strip('<>').lower()
        if '@' in address and not address.startswith('@'):
            result.append((' '.join(display_name.split()), address))
    return result


def _parse_date(value):
    try:
        date = email.utils.parsedate_to_datetime(value)
    except Exception:
        return None
    if date is None:
        return None
    if date.tzinfo is not None:
        try:
            date = date.astimezone(UTC)
        except (OverflowError, ValueError):
            return None
    return date.replace(tzinfo=None)


def decode_text(data, charset, defects, where='body'):
    "Decode data with charset, else UTF-8, else Latin-1; note repairs"
    unknown = False
    if charset:
        try:
            return data.decode(charset)
        except UnicodeError:
            pass
        except Exception:
            # LookupError, or a codec that does not make text.
            unknown = True
    try:
        text, decoded_as = data.decode('utf-8'), 'UTF-8'
    except UnicodeDecodeError:
        text, decoded_as = data.decode('latin-1', 'replace'), 'Latin-1'
    if unknown:
        defects.append(
            f'Unknown charset "{charset}" of the {where}; '
            f'decoded as {decoded_as}.')
    elif charset:
        defects.append(
            f'The {where} is not valid "{charset}"; '
            f'decoded as {decoded_as}.')
    elif decoded_as != 'UTF-8':
        defects.append(
            f'The {where} has no charset and is not UTF-8; '
            f'decoded as {decoded_as}.')
    return text


def _safe_filename(name, index, content_type):
    "Return a file name that is safe to store and show"
    name = _decode_words(_unsurrogate(name or ''))
    # A path is cut to its last component: '../../etc/passwd' and
    # 'C:\\Users\\me\\report.doc' name 'passwd' and 'report.doc'.
    name = re.split(r'[/\\]', name)[-1]
    name = _CONTROL_RE.sub('', name)
    name = ''.join(
        c for c in name if unicodedata.category(c) not in {'Cc', 'Cf'})
    name = ' '.join(name.split()).strip(' .')
    if not name:
        extension = (
            _EXTENSIONS.get(content_type)
            or _MIMETYPES.guess_extension(content_type) or '.bin')
        name = f'attachment-{index}{extension}'
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition('.')
        if dot and stem and len(extension) <= 20:
            name = stem[:MAX_FILENAME - len(extension) - 1] + '.' + extension
        else:
            name = name[:MAX_FILENAME]
    return name


def _content_type(part):
    try:
        content_type = part.get_content_type()
    except Exception:
        return 'application/octet-stream'
    content_type = ''.join(_unsurrogate(content_type).split()).lower()
    if '/' not in content_type:
        return 'application/octet-stream'
    return content_type


def _disposition(part):
    try:
        disposition = part.get_content_disposition()
    except Exception:
        return None
    return disposition.lower() if disposition else None


def _filename(part):
    try:
        return part.get_filename()
    except Exception:
        pass
    try:
        return part.get_param('name', header='content-type')
    except Exception:
        return None


def _content_id(part):
    values = [v for k, v in part.raw_items() if k.lower() == 'content-id']
    if not values:
        return None
    value = ''.join(_unsurrogate(values[0]).split()).strip('<>')
    return value or None


def _message_bytes(part):
    "Return the bytes of an attached message as written"
    payload = part.get_payload()
    if isinstance(payload, list):
        buffer = BytesIO()
        for message in payload:
            generator = BytesGenerator(
                buffer, mangle_from_=False, policy=policy.compat32)
            generator.flatten(message)
            if len(payload) > 1:
                # The blocks of message/delivery-status are separated by
                # blank lines.
                buffer.write(b'\n')
        return buffer.getvalue()
    data = part.get_payload(decode=True)
    return data if data is not None else b''


def _part_data(part, defects):
    "Return the decoded bytes of a leaf part"
    if _content_type(part).startswith('message/') or part.is_multipart():
        try:
            return _message_bytes(part)
        except Exception:
            defects.append('An attached message could not be rewritten; '
                'kept as found.')
            payload = part.get_payload()
            return str(payload).encode('utf-8', 'surrogateescape')
    data = part.get_payload(decode=True)
    if data is None:
        payload = part.get_payload()
        data = str(payload).encode('utf-8', 'surrogateescape')
    return data


def _part_charset(part):
    try:
        charset = part.get_content_charset()
    except Exception:
        return None
    if charset:
        charset = _unsurrogate(charset).strip().strip('"\'')
    return charset or None


def _leaves(part, defects, depth=0):
    "Yield the leaf parts with their content type; messages are leaves"
    if depth > _MAX_DEPTH:
        defects.append('Parts nested too deeply are ignored.')
        return
    content_type = _content_type(part)
    if not content_type.startswith('multipart/'):
        yield part, content_type
        return
    payload = part.get_payload()
    if not isinstance(payload, list):
        repaired = _repair_multipart(part, content_type, defects)
        if repaired is None:
            # A blank one is left out: it would take the place of the
            # text body.
            if str(payload).strip():
                defects.append(
                    f'The {content_type} part has no usable boundary; '
                    'read as plain text.')
                yield part, 'text/plain'
            else:
                defects.append(
                    f'The {content_type} part has no usable boundary '
                    'and is blank; left out.')
            return
        payload = repaired.get_payload()
    for subpart in payload:
        yield from _leaves(subpart, defects, depth + 1)


def _repair_multipart(part, content_type, defects):
    "Return part parsed again with a boundary guessed from its body"
    data = part.get_payload(decode=True) or b''
    counts = Counter(
        b.strip() for b in _BOUNDARY_LINE_RE.findall(data)
        if b.strip() and b'"' not in b and b'\\' not in b)
    for boundary, count in counts.most_common(1):
        if count < 2:
            break
        boundary = boundary.decode('ascii', 'replace')
        head = f'Content-Type: {content_type}; boundary="{boundary}"\n\n'
        try:
            repaired = BytesParser(policy=policy.default).parsebytes(
                head.encode('ascii', 'replace') + data)
        except Exception:
            break
        if isinstance(repaired.get_payload(), list):
            defects.append(
                f'The {content_type} part has no usable boundary; '
                f'"{boundary}" was guessed from its body.')
            return repaired
    return None


def _read_defects(message, defects):
    "Note the repairs of the parser that are not made here"
    for part in _walk_all(message):
        for defect in part.defects:
            name = type(defect).__name__
            if name == 'CloseBoundaryNotFoundDefect':
                defects.append(
                    'The closing multipart boundary is missing; '
                    'the last part ends with the message.')
            elif name == 'MissingHeaderBodySeparatorDefect':
                defects.append(
                    'A line in the headers is not a header; '
                    'read as the start of the body.')
            elif 'Base64' in name:
                defects.append(
                    'Broken base64 in a part; decoded what could be.')


def _walk_all(part, depth=0):
    yield part
    if depth > _MAX_DEPTH:
        return
    payload = part.get_payload() if part.is_multipart() else None
    if isinstance(payload, list):
        for subpart in payload:
            yield from _walk_all(subpart, depth + 1)


def parse_message(raw, max_size=MAX_SIZE):
    "Return the ParsedMessage of the raw bytes of a message"
    if isinstance(raw, str):
        raw = raw.encode('utf-8', 'surrogateescape')
    raw = bytes(raw or b'')
    if not raw.strip():
        raise MailParseError('empty', 'The message is empty.')
    if max_size is not None and len(raw) > max_size:
        raise MailParseError(
            'too_large',
            f'The message is {len(raw)} bytes long, more than the limit '
            f'of {max_size} bytes.')
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exception:
        raise MailParseError(
            'unreadable', f'The message cannot be parsed: {exception!r}.')
    try:
        return _parsed(message, raw)
    except MailParseError:
        raise
    except RecursionError:
        raise MailParseError(
            'unreadable', 'The message has too deeply nested parts.')
    except Exception as exception:
        raise MailParseError(
            'unreadable', f'The message cannot be read: {exception!r}.')


def _parsed(message, raw):
    defects = []
    raw_headers = list(message.raw_items())
    if not raw_headers:
        raise MailParseError('no_sender', 'The message has no headers.')

    headers = {}
    for name, value in raw_headers:
        name = _unsurrogate(name).strip().lower()
        try:
            decoded = _header_value(name, value)
        except Exception:
            decoded = _unsurrogate(value)
            defects.append(f'The header "{name}" cannot be decoded.')
        headers.setdefault(name, []).append(decoded)

    def raw_values(name):
        return [v for k, v in raw_headers if k.strip().lower() == name]

    def addresses(name):
        result = []
        for value in raw_values(name):
            result.extend(_addresses(name, value))
        return result

    senders = addresses('from') or addresses('sender')
    if not senders:
        raise MailParseError(
            'no_sender', 'The message has no readable sender address.')
    from_name, from_address = senders[0]

    reply_to = addresses('reply-to')
    recipients = []
    for name in _RECIPIENT_HEADERS:
        for _, address in addresses(name):
            if address not in recipients:
                recipients.append(address)

    message_ids = raw_values('message-id')
    message_id = normalize_message_id(message_ids[0]) if message_ids else None
    in_reply_to = []
    for value in raw_values('in-reply-to'):
        in_reply_to.extend(
            i for i in _message_ids(value) if i not in in_reply_to)
    references = []
    for value in raw_values('references'):
        references.extend(
            i for i in _message_ids(value) if i not in references)

    subject = headers.get('subject', [''])[0]
    subject = ' '.join(subject.split())
    dates = headers.get('date')
    date = _parse_date(dates[0]) if dates else None

    text = html = None
    attachments = []
    for part, content_type in _leaves(message, defects):
        disposition = _disposition(part)
        filename = _filename(part)
        # A named part shown inline by its sender is still its text.
        is_body = disposition == 'inline' or (
            disposition is None and not filename)
        if is_body and content_type == 'text/plain' and text is None:
            text = decode_text(
                _part_data(part, defects), _part_charset(part), defects,
                'text body')
            continue
        if is_body and content_type == 'text/html' and html is None:
            html = decode_text(
                _part_data(part, defects), _part_charset(part), defects,
                'HTML body')
            continue
        data = _part_data(part, defects)
        if part is message and not data.strip():
            # A message without body has no attachment either.
            continue
        content_id = _content_id(part)
        attachments.append(Attachment(
                filename=_safe_filename(
                    filename, len(attachments) + 1, content_type),
                content_type=content_type,
                data=data,
                content_id=content_id,
                inline=disposition == 'inline' or (
                    disposition is None and content_id is not None),
                ))

    # After the parts are decoded: the parser notes broken base64 only
    # when a payload is decoded.
    _read_defects(message, defects)
    if text is None:
        text = html_to_text(html) if html is not None else ''
    # The line breaks of the wire (CRLF) are not the text's: a message has
    # the same text whether an MTA pipe or a provider's webhook brought it.
    text = text.replace('\r\n', '\n')
    if html is not None:
        html = sanitize_html(html)
    return ParsedMessage(
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        from_name=from_name,
        from_address=from_address,
        reply_to=reply_to[0][1] if reply_to else None,
        to=addresses('to'),
        cc=addresses('cc'),
        recipients=recipients,
        subject=subject,
        date=date,
        text=text,
        html=html,
        attachments=attachments,
        headers=headers,
        size=len(raw),
        defects=defects,
        )


def read_summary(raw):
    """Return what can be read of the sender, subject and Message-ID of
    raw, even when parse_message refuses it; never raise

    An administrator reviewing a kept message must see whose and what it
    is, and a second copy must be known as one.
    """
    summary = {'from_address': None, 'subject': None, 'message_id': None}
    try:
        head = bytes(raw or b'')[:256 * 1024]
        message = BytesParser(policy=policy.compat32).parsebytes(
            head, headersonly=True)
        for name, value in message.raw_items():
            name = name.strip().lower()
            if name in {'from', 'sender'} and not summary['from_address']:
                pairs = _addresses(name, value)
                summary['from_address'] = (
                    pairs[0][1] if pairs else _header_value(name, value)
                    .strip()[:200] or None)
            elif name == 'subject' and summary['subject'] is None:
                summary['subject'] = ' '.join(
                    _header_value(name, value).split())[:500]
            elif name == 'message-id' and not summary['message_id']:
                summary['message_id'] = normalize_message_id(value)
    except Exception:
        pass
    return summary
