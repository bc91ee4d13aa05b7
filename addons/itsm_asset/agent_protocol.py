# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The wire layer of the inventory agents' protocols, pure.

OCS Inventory and FusionInventory agents ``POST`` an XML ``REQUEST``: a
``PROLOG`` first (answered ``SEND`` with the delay before the next one),
then the ``INVENTORY``. GLPI-Agent sends the same XML PROLOG; answered in
JSON, it goes on with JSON messages: ``contact``, then ``inventory``.
Bodies are zlib (RFC 1950), gzip or plain, whatever the Content-Type says,
and the agents expect the reply in the same encoding: FusionInventory and
OCS recognise a reply by its first bytes (zlib ``78 9C``, gzip
``1F 8B 08``, else plain XML), GLPI-Agent's JSON client by the reply's
Content-Type (``application/x-compress-zlib``, ``application/x-compress-
gzip``, ``application/json``).

:func:`decode_body` inflates a body with a bound on the output,
:func:`classify` tells a PROLOG from an inventory or a GLPI-Agent message,
the ``*_reply`` functions build the answers and :func:`encode_reply`
encodes them like the request. Errors raise :class:`ProtocolError` with a
stable ``reason``, a clear English ``message`` and the HTTP ``status`` to
answer with. An endpoint goes::

    payload, encoding = decode_body(body, content_type, max_size)
    kind, info = classify(payload)
    if kind == 'prolog':
        # GLPI-Agent says who it is with a GLPI-Agent-ID header: answer
        # it in JSON and it switches to the JSON protocol
        reply = (glpi_contact_reply(24) if glpi_agent_id
            else prolog_reply(24))
    elif kind == 'contact':
        reply = glpi_contact_reply(24, info['enabled_tasks'])
    elif kind == 'inventory':       # store payload, parse_xml() later
        reply = inventory_reply()
    else:                           # 'glpi-inventory': parse_json()
        reply = glpi_inventory_reply(24)
    data, reply_content_type = encode_reply(reply, encoding)

and on ProtocolError answers ``error.status`` with :func:`error_reply`
(:func:`glpi_error_reply` to a JSON request).
"""
import base64
import binascii
import hmac
import html
import json
import re
import xml.sax
import zlib
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from .inventory_format import (
    InventoryError,
    check_prolog,
    load_json,
    read_xml_request,
    sniff_format,
)

__all__ = [
    'ProtocolError', 'ACCEPTED_CONTENT_TYPES', 'ENCODINGS',
    'decode_body', 'classify', 'prolog_reply', 'inventory_reply',
    'error_reply', 'glpi_contact_reply', 'glpi_inventory_reply',
    'glpi_error_reply', 'encode_reply', 'check_basic_auth',
    'basic_auth_challenge', 'parse_secrets', 'request_secret',
    'check_secret', 'DEFAULT_MAX_SIZE', 'SUPPORTED_GLPI_TASKS',
    ]

DEFAULT_MAX_SIZE = 32 * 1024 * 1024
"""A sensible cap for a request body, compressed or not: a Windows
workstation with 1,500 software entries sends about 1 MB of XML."""
ENCODINGS = ('zlib', 'gzip', 'plain')
ACCEPTED_CONTENT_TYPES = (
    'application/x-compress', 'application/x-compress-zlib',
    'application/x-zlib', 'application/x-compress-gzip',
    'application/x-gzip', 'application/gzip', 'application/xml',
    'text/xml', 'application/json', 'text/plain',
    )
"""What the agents send: OCS ``application/x-compress`` (also
``Application/x-compress`` from fusioninventory-injector),
FusionInventory and GLPI-Agent ``application/x-compress-zlib``,
``application/x-compress-gzip`` or, uncompressed, ``application/xml`` and
``application/json``; the others are their usual aliases. Compared
case-insensitively, parameters (``; charset=…``) ignored."""
SUPPORTED_GLPI_TASKS = ('inventory',)
"""The GLPI-Agent tasks this server handles; the others are disabled in
the answer to ``contact``."""
_STEP = 256 * 1024
_MAX_MESSAGE = 500
_MAX_HOURS = 24 * 366
_SNIFF_LIMIT = 64 * 1024
_CONTROL = re.compile('[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]')


class ProtocolError(Exception):
    "The request cannot be handled; status is the HTTP status to answer"

    def __init__(self, reason, message, status=400):
        super().__init__(reason, message, status)
        self.reason = reason
        self.message = message
        self.status = status

    def __str__(self):
        return f'{self.reason}: {self.message}'


# Bodies ----------------------------------------------------------------

def _is_zlib(head):
    "Tell whether head starts a zlib stream (RFC 1950: 78 9C, 78 01, 78 DA…)"
    if len(head) < 2:
        return False
    method, flags = head[0], head[1]
    return (method & 0x0f == 8 and method >> 4 <= 7
        and (method << 8 | flags) % 31 == 0 and not flags & 0x20)


def _size(count):
    if count >= 1024 * 1024:
        return f'{count / 1024 / 1024:.1f} MiB'
    if count >= 1024:
        return f'{count / 1024:.1f} KiB'
    return f'{count} bytes'


def _inflate(data, wbits, max_size, label):
    """Return data decompressed, never producing more than max_size bytes
    (a decompression bomb is refused after max_size bytes of output)"""
    parts = []
    total = 0
    while True:
        inflater = zlib.decompressobj(wbits)
        tail = data
        try:
            while not inflater.eof:
                before = len(tail)
                chunk = inflater.decompress(tail, _STEP)
                tail = inflater.unconsumed_tail
                if chunk:
                    total += len(chunk)
                    if total > max_size:
                        raise ProtocolError('decompression_bomb',
                            f'The {label} body inflates to more than '
                            f'{_size(max_size)}, the limit: it is refused '
                            'as a decompression bomb.', 413)
                    parts.append(chunk)
                elif not inflater.eof and (not tail or len(tail) >= before):
                    raise ProtocolError('truncated',
                        f'The {label} body ends before the end of its '
                        'compressed data: the upload was probably cut '
                        'short.')
        except zlib.error as exception:
            raise ProtocolError('corrupt',
                f'The body is not valid {label} data ({exception}).')
        rest = inflater.unused_data
        # gzip allows several members one after the other
        if wbits > 16 and rest[:3] == b'\x1f\x8b\x08':
            data = rest
            continue
        return b''.join(parts)


def _header(value):
    "Return a header value as text without control characters"
    if value is None:
        return ''
    if isinstance(value, bytes):
        value = value.decode('latin-1')
    return _CONTROL.sub(' ', str(value)).strip()


def decode_body(data, content_type, max_size=DEFAULT_MAX_SIZE):
    """Return the payload of a request body and its encoding ('zlib',
    'gzip' or 'plain'), detected from the first bytes.

    Raise ProtocolError for a content type that no agent sends, an empty
    or oversized body, corrupt or truncated compressed data and a body
    that inflates beyond max_size."""
    content_type = _header(content_type)
    media_type = content_type.split(';', 1)[0].strip().lower()
    if media_type not in ACCEPTED_CONTENT_TYPES:
        shown = content_type[:100] or 'none'
        raise ProtocolError('bad_content_type',
            f'The content type "{shown}" is not accepted; send one of: '
            + ', '.join(ACCEPTED_CONTENT_TYPES) + '.', 415)
    data = bytes(data)
    if not data:
        raise ProtocolError('empty', 'The request body is empty.')
    if len(data) > max_size:
        raise ProtocolError('too_large',
            f'The request body has {_size(len(data))}; at most '
            f'{_size(max_size)} are accepted.', 413)
    if data[:3] == b'\x1f\x8b\x08':
        encoding = 'gzip'
        payload = _inflate(data, 16 + zlib.MAX_WBITS, max_size, 'gzip')
    elif _is_zlib(data[:2]):
        encoding = 'zlib'
        payload = _inflate(data, zlib.MAX_WBITS, max_size, 'zlib')
    else:
        encoding = 'plain'
        payload = data
    if not payload.strip():
        raise ProtocolError('empty', 'The request body is empty.')
    return payload, encoding


# Classification ----------------------------------------------------------

_QUERY = re.compile(rb'<QUERY>\s*([^<\s]{1,64})\s*</QUERY>')
_DEVICE_ID = re.compile(rb'<DEVICEID>([^<]{1,255})</DEVICEID>')
_END = re.compile(rb'</REQUEST>\s*$')


def _text(data):
    if data is None:
        return None
    text = html.unescape(data.decode('utf-8', 'replace')).strip()
    return text or None


def _child_text(root, tag):
    for child in root:
        if child.tag == tag:
            text = (child.text or '').strip()
            return text or None
    return None


def _from_error(exception):
    status = 413 if exception.reason == 'too_large' else 400
    reason = {
        'malformed_xml': 'malformed',
        'malformed_json': 'malformed',
        }.get(exception.reason, exception.reason)
    return ProtocolError(reason, exception.message, status)


def _classify_xml(payload):
    query = device_id = token = None
    try:
        root_name = check_prolog(payload)
    except xml.sax.SAXException:
        root_name = None
    sniffed = False
    if (root_name == 'REQUEST' and len(payload) > _SNIFF_LIMIT
            and _END.search(payload[-256:])):
        # A large inventory is stored first and parsed on the queue:
        # QUERY and DEVICEID are read from the raw bytes. In well-formed
        # XML without DTD, "<QUERY>" can only be that element's tag.
        queries = _QUERY.findall(payload[-4096:])
        ids = _DEVICE_ID.findall(payload[-4096:])
        if len(queries) == 1 and len(ids) == 1:
            query, device_id = _text(queries[0]), _text(ids[0])
            sniffed = True
    if not sniffed:
        root, _ = read_xml_request(payload)
        query = _child_text(root, 'QUERY')
        device_id = _child_text(root, 'DEVICEID')
        token = _child_text(root, 'TOKEN')
    query = (query or 'INVENTORY').upper()
    if query == 'PROLOG':
        if not device_id:
            raise ProtocolError('missing_device_id',
                'The PROLOG has no DEVICEID: the identifier of the agent '
                'is required.')
        return 'prolog', {'device_id': device_id, 'token': token}
    if query == 'INVENTORY':
        return 'inventory', {'device_id': device_id}
    raise ProtocolError('unsupported',
        f'The {query[:64]} query is not supported: this server accepts '
        'PROLOG and INVENTORY.', 501)


def _tasks(value):
    if isinstance(value, str):
        value = value.split(',')
    if not isinstance(value, list):
        return ()
    return tuple(sorted({
                v.strip().lower() for v in value
                if isinstance(v, str) and v.strip()}))


def _classify_json(payload):
    message, _ = load_json(payload)
    if not isinstance(message, dict):
        raise ProtocolError('malformed',
            'The JSON message is not an object.')
    action = message.get('action')
    if action is None and 'content' in message:
        action = 'inventory'
    if not isinstance(action, str) or not action.strip():
        raise ProtocolError('malformed',
            'The JSON message has no "action".')
    action = action.strip().lower()
    device_id = message.get('deviceid')
    device_id = (str(device_id).strip()
        if isinstance(device_id, (str, int)) else '') or None
    if action == 'contact':
        if not device_id:
            raise ProtocolError('missing_device_id',
                'The contact message has no "deviceid": the identifier '
                'of the agent is required.')
        return 'contact', {
            'device_id': device_id,
            'name': message.get('name'),
            'version': message.get('version'),
            'tag': message.get('tag'),
            'installed_tasks': _tasks(message.get('installed-tasks')),
            'enabled_tasks': _tasks(message.get('enabled-tasks')),
            }
    if action == 'inventory':
        itemtype = message.get('itemtype')
        return 'glpi-inventory', {
            'device_id': device_id,
            'itemtype': itemtype if isinstance(itemtype, str) else None,
            'message': message,
            }
    raise ProtocolError('unsupported',
        f'The "{action[:64]}" action is not supported: this server '
        'accepts contact and inventory.', 501)


def classify(payload):
    """Return what a decoded payload is and the bits read from it:

    - ``('prolog', {'device_id', 'token'})``: an XML PROLOG;
    - ``('inventory', {'device_id'})``: an XML inventory, for
      :func:`inventory_format.parse_xml` (a large one is only sniffed: it
      is parsed when it is processed);
    - ``('contact', {'device_id', 'name', 'version', 'tag',
      'installed_tasks', 'enabled_tasks'})``: GLPI-Agent's contact;
    - ``('glpi-inventory', {'device_id', 'itemtype', 'message'})``:
      GLPI-Agent's JSON inventory, ``message`` being the decoded object
      that :func:`inventory_format.parse_json` accepts as is.

    Raise ProtocolError for what is empty, malformed, refused (DTD,
    entities) or not supported."""
    data = bytes(payload)
    if not data.strip():
        raise ProtocolError('empty', 'The message is empty.')
    try:
        kind = sniff_format(data)
        if kind == 'json':
            return _classify_json(data)
        if kind == 'xml':
            return _classify_xml(data)
    except InventoryError as exception:
        raise _from_error(exception)
    raise ProtocolError('malformed',
        'The message is neither XML nor JSON.')


# Replies ---------------------------------------------------------------

_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'


def _hours(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError('The delay must be a whole number of hours.')
    if not 1 <= value <= _MAX_HOURS:
        raise ValueError(
            f'The delay must be between 1 and {_MAX_HOURS} hours.')
    return value


def _message(text):
    text = _CONTROL.sub(' ', str(text)).strip()
    if len(text) > _MAX_MESSAGE:
        text = text[:_MAX_MESSAGE - 1].rstrip() + '…'
    return text


def prolog_reply(frequency_hours=24, send=True):
    """Return the XML answer to a PROLOG: SEND the inventory (or STOP),
    and come back in frequency_hours"""
    response = 'SEND' if send else 'STOP'
    return (f'{_XML_DECLARATION}<REPLY><RESPONSE>{response}</RESPONSE>'
        f'<PROLOG_FREQ>{_hours(frequency_hours)}</PROLOG_FREQ></REPLY>'
        ).encode('ascii')


def inventory_reply():
    """Return the XML answer to an accepted inventory. FusionInventory
    only requires a REPLY root; OCS acts on ACCOUNT_UPDATE only, so this
    is what the OCS server answers when it has nothing to update."""
    return (f'{_XML_DECLARATION}<REPLY><RESPONSE>no_account_update'
        '</RESPONSE></REPLY>').encode('ascii')


def error_reply(message):
    "Return the XML answer reporting an error, as GLPI's server does"
    text = escape(_message(message))
    return (f'{_XML_DECLARATION}<REPLY><ERROR>{text}</ERROR></REPLY>'
        ).encode()


def _json(value):
    # No trailing newline: GLPI-Agent's legacy client wants ^{…}$
    return json.dumps(
        value, separators=(',', ':'), ensure_ascii=True).encode('ascii')


def glpi_contact_reply(expiration_hours=24, enabled_tasks=()):
    """Return GLPI-Agent's answer to an XML PROLOG or to ``contact``:
    ``{"status":"ok","expiration":24}``, with the agent's enabled tasks
    other than :data:`SUPPORTED_GLPI_TASKS` disabled"""
    reply = {'status': 'ok', 'expiration': _hours(expiration_hours)}
    disabled = sorted(set(_tasks(list(enabled_tasks)))
        - set(SUPPORTED_GLPI_TASKS))
    if disabled:
        reply['disabled'] = disabled
        reply['message'] = ';'.join(
            f'{t} task not supported' for t in disabled)
    return _json(reply)


def glpi_inventory_reply(expiration_hours=24):
    "Return GLPI-Agent's answer to an accepted JSON inventory"
    return _json({'status': 'ok', 'expiration': _hours(expiration_hours)})


def glpi_error_reply(message, expiration_hours=24):
    "Return GLPI-Agent's answer reporting an error"
    return _json({
            'status': 'error',
            'message': _message(message),
            'expiration': _hours(expiration_hours),
            })


def encode_reply(body, encoding):
    """Return body encoded like the request (encoding from
    :func:`decode_body`) and the Content-Type to send it with"""
    if encoding not in ENCODINGS:
        raise ValueError(f'Unknown encoding "{encoding}".')
    body = bytes(body)
    if encoding == 'zlib':
        # Level 6 makes the 78 9C header FusionInventory looks for
        return zlib.compress(body, 6), 'application/x-compress-zlib'
    if encoding == 'gzip':
        compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        data = compressor.compress(body) + compressor.flush()
        return data, 'application/x-compress-gzip'
    if body.lstrip()[:1] == b'{':
        return body, 'application/json'
    return body, 'application/xml'


# Authentication --------------------------------------------------------

def basic_auth_challenge(realm='Inventory'):
    "Return the WWW-Authenticate header value that makes agents log in"
    realm = re.sub(r'["\\\x00-\x1f\x7f]', '', str(realm))[:100]
    return f'Basic realm="{realm}", charset="UTF-8"'


def _equal(given, expected):
    return hmac.compare_digest(
        given.encode('utf-8', 'surrogatepass'),
        expected.encode('utf-8', 'surrogatepass'))


def check_basic_auth(header, expected_user, expected_password):
    """Tell whether an Authorization header carries the expected user and
    password, comparing in constant time. An unset expected user or
    password never matches."""
    if not header or not expected_user or not expected_password:
        return False
    if isinstance(header, bytes):
        header = header.decode('latin-1')
    scheme, _, value = header.strip().partition(' ')
    if scheme.lower() != 'basic':
        return False
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError:
        text = raw.decode('latin-1')
    user, colon, password = text.partition(':')
    if not colon:
        return False
    # Both compared, always, so that timing tells nothing
    user_ok = _equal(user, expected_user)
    password_ok = _equal(password, expected_password)
    return user_ok & password_ok


_SECRET = re.compile(r'^[A-Za-z0-9._~-]{16,256}$')


def parse_secrets(text):
    """Return the shared secrets configured in text, separated by commas,
    spaces or new lines (several allow a rotation). Each is 16 to 256
    characters that need no escaping in a URL: letters, digits and
    ``. _ ~ -``. Raise ValueError otherwise."""
    secrets = []
    for secret in re.split(r'[\s,]+', text or ''):
        if not secret:
            continue
        if not _SECRET.match(secret):
            raise ValueError(
                'A shared secret must be 16 to 256 characters among '
                'letters, digits and . _ ~ - (it goes in the agent\'s '
                'server URL).')
        if secret not in secrets:
            secrets.append(secret)
    return tuple(secrets)


def request_secret(query_string='', authorization=None):
    """Return the shared secret sent with a request: an
    ``Authorization: Bearer`` header, else the ``secret`` parameter of the
    URL's query (``--server https://host/path?secret=…``: the agents keep
    the query of their server URL)"""
    if authorization:
        if isinstance(authorization, bytes):
            authorization = authorization.decode('latin-1')
        scheme, _, value = authorization.strip().partition(' ')
        if scheme.lower() == 'bearer' and value.strip():
            return value.strip()
    if isinstance(query_string, bytes):
        query_string = query_string.decode('latin-1')
    for key, value in parse_qsl(query_string or '', keep_blank_values=True):
        if key == 'secret' and value:
            return value
    return None


def check_secret(given, secrets):
    """Tell whether given is one of the secrets, comparing with all of
    them in constant time"""
    if isinstance(secrets, str):
        secrets = (secrets,)
    if not given or not secrets:
        return False
    found = False
    for secret in secrets:
        found |= _equal(given, secret)
    return found
