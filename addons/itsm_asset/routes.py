# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The HTTP endpoint of the inventory agents, on the trytond server.

``POST /<database>/itsm_asset/inventory/<identifier>`` (and the same with
``/ocsinventory`` appended, as agents do to a URL without path) speaks the
OCS Inventory / FusionInventory protocol (XML PROLOG answered SEND, then
the INVENTORY) and GLPI-Agent's JSON one (contact, inventory), answering
in the encoding of the request (agent_protocol). It runs as user 0, like
inbound_email's webhook: the endpoint's secret or basic credentials are
the authentication. The inventory is stored and acknowledged; its
processing is queued (``itsm.inventory|process``): with ``[queue] worker =
False`` it runs in this process right after the answer is committed.

What cannot be used is kept as a failed inventory with its reason, up to
the endpoint's maximum size (a decompression bomb is kept compressed), and
the agent gets the reason with the HTTP status that fits.
"""
import logging

from trytond.protocols.wrappers import (
    HTTPStatus,
    Response,
    abort,
    set_max_request_size,
    with_pool,
    with_transaction,
)
from trytond.wsgi import app

from .agent_protocol import (
    ProtocolError,
    classify,
    decode_body,
    encode_reply,
    error_reply,
    glpi_contact_reply,
    glpi_error_reply,
    glpi_inventory_reply,
    inventory_reply,
    prolog_reply,
)

logger = logging.getLogger(__name__)

_BODY = 'itsm_asset.inventory.body'
_CHUNK = 256 * 1024


def read_body(request, limit):
    """Return the request body, at most limit bytes, and whether there was
    more. Read once: a retried transaction reads it again from here."""
    cached = request.environ.get(_BODY)
    if cached is None:
        stream = request.stream
        chunks, total = [], 0
        while total <= limit:
            chunk = stream.read(min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        data = b''.join(chunks)
        cached = (data[:limit], len(data) > limit)
        request.environ[_BODY] = cached
    return cached


def body_encoding(data):
    "The encoding of a body by its first bytes, to answer alike"
    if data[:3] == b'\x1f\x8b\x08':
        return 'gzip'
    if (len(data) >= 2 and data[0] & 0x0f == 8 and data[0] >> 4 <= 7
            and (data[0] << 8 | data[1]) % 31 == 0):
        return 'zlib'
    return 'plain'


def _reply(body, encoding, status=HTTPStatus.OK, headers=None):
    data, content_type = encode_reply(body, encoding)
    return Response(data, status=status, content_type=content_type,
        headers=headers)


def _is_glpi(request):
    "GLPI-Agent says who it is; its JSON messages want JSON answers"
    return bool(request.headers.get('GLPI-Agent-ID')) or (
        'json' in (request.headers.get('Content-Type') or '').lower())


@app.route('/<database_name>/itsm_asset/inventory/<identifier>',
    methods={'POST'})
@app.route('/<database_name>/itsm_asset/inventory/<identifier>/ocsinventory',
    methods={'POST'})
# The body is read here, bounded by the endpoint's own maximum: what is
# too large is kept (cut) and answered, not dropped by werkzeug.
@set_max_request_size(None)
@with_pool
@with_transaction()
def inventory(request, pool, identifier):
    try:
        Endpoint = pool.get('itsm.inventory.endpoint')
        Inventory = pool.get('itsm.inventory')
    except KeyError:
        # A database without the asset module
        abort(HTTPStatus.NOT_FOUND)
    endpoint = Endpoint.from_identifier(identifier)
    if endpoint is None:
        abort(HTTPStatus.NOT_FOUND)
    glpi = _is_glpi(request)
    frequency = endpoint.prolog_frequency
    authorization = request.headers.get('Authorization')
    if not endpoint.authenticate(
            authorization, request.query_string.decode('latin-1')):
        return Response("Authentication required.\n",
            status=HTTPStatus.UNAUTHORIZED, content_type='text/plain',
            headers={'WWW-Authenticate': endpoint.challenge()})

    def error(reason, message, status):
        reply = (glpi_error_reply(message, frequency) if glpi
            else error_reply(message))
        return _reply(reply, body_encoding(body), status)

    remote = request.remote_addr
    agent = request.headers.get('User-Agent')
    max_size = endpoint.max_size
    body, too_large = read_body(request, max_size)
    if too_large:
        failure = ProtocolError('too_large',
            f'The request body is larger than {max_size:,} bytes, the '
            'limit of this endpoint.', HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        Inventory.refuse(endpoint, body, failure.reason, failure.message,
            stored_as=body_encoding(body), remote_address=remote,
            agent=agent)
        return error(failure.reason, failure.message, failure.status)
    try:
        payload, encoding = decode_body(
            body, request.headers.get('Content-Type'), max_size)
    except ProtocolError as failure:
        # Kept as it came: a bomb stays compressed
        Inventory.refuse(endpoint, body, failure.reason, failure.message,
            stored_as=body_encoding(body), remote_address=remote,
            agent=agent)
        return error(failure.reason, failure.message, failure.status)
    try:
        kind, info = classify(payload)
    except ProtocolError as failure:
        Inventory.refuse(endpoint, payload, failure.reason,
            failure.message, remote_address=remote, agent=agent)
        return error(failure.reason, failure.message, failure.status)

    if kind == 'prolog':
        reply = (glpi_contact_reply(frequency) if glpi
            else prolog_reply(frequency))
        return _reply(reply, encoding)
    if kind == 'contact':
        return _reply(
            glpi_contact_reply(frequency, info['enabled_tasks']), encoding)
    record, outcome = Inventory.receive(
        endpoint, payload, remote_address=remote, agent=agent)
    json_reply = kind == 'glpi-inventory'
    if outcome == 'failed':
        status = (HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            if record.reason_code in {'too_large', 'too_many_items'}
            else HTTPStatus.BAD_REQUEST)
        glpi = glpi or json_reply
        return error(record.reason_code, record.reason, status)
    reply = (glpi_inventory_reply(frequency) if json_reply
        else inventory_reply())
    return _reply(reply, encoding)
