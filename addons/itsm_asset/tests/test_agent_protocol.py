# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Tests of the wire layer of the inventory agents' protocols.

The PROLOG bodies in data/ were captured from fusioninventory-agent 2.6
and ocsinventory-agent 2.10 posting to a server on 127.0.0.1. The replies
are checked with the agents' own Perl code when it is installed.
"""
import base64
import gzip
import hmac
import io
import json
import os
import re
import shutil
import subprocess
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from itsm_asset import agent_protocol
from itsm_asset.agent_protocol import (
    ACCEPTED_CONTENT_TYPES,
    DEFAULT_MAX_SIZE,
    ENCODINGS,
    ProtocolError,
    basic_auth_challenge,
    check_basic_auth,
    check_secret,
    classify,
    decode_body,
    encode_reply,
    error_reply,
    glpi_contact_reply,
    glpi_error_reply,
    glpi_inventory_reply,
    inventory_reply,
    parse_secrets,
    prolog_reply,
    request_secret,
)
from itsm_asset.inventory_format import parse_json, parse_xml

DATA = Path(__file__).parent / 'data'
PROPERTIES = settings(
    max_examples=150, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])
GiB = 1024 ** 3
FI_PROLOG = (DATA / 'fusioninventory-prolog.zlib').read_bytes()
OCS_PROLOG = (DATA / 'ocs-prolog.zlib').read_bytes()
FI_FULL = gzip.decompress(
    (DATA / 'fusioninventory-debian.xml.gz').read_bytes())
OCS_SMALL = (DATA / 'ocs-debian-small.xml').read_bytes()
GLPI_JSON = (DATA / 'glpi-agent-windows.json').read_bytes()
CONTACT = json.dumps({
        'action': 'contact',
        'deviceid': 'PC-ACME-042-2024-03-01-10-15-00',
        'name': 'GLPI-Agent',
        'version': '1.7.1',
        'installed-tasks': ['inventory', 'deploy', 'collect', 'netdiscovery'],
        'enabled-tasks': ['inventory', 'Deploy', 'collect'],
        'tag': 'paris-office',
        }).encode()


def error(call, *args, **kwargs):
    with pytest.raises(ProtocolError) as info:
        call(*args, **kwargs)
    exception = info.value
    assert exception.message.endswith('.')
    assert 400 <= exception.status < 600
    return exception


@pytest.fixture(scope='module')
def zeros():
    """Return 1 GiB of zero bytes as a raw deflate stream (1 MiB), with its
    Adler-32 and CRC-32, to wrap as zlib and gzip"""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = []
    adler, crc = 1, 0
    for _ in range(GiB // len(block)):
        parts.append(compressor.compress(block))
        adler, crc = zlib.adler32(block, adler), zlib.crc32(block, crc)
    parts.append(compressor.flush())
    return b''.join(parts), adler, crc


@pytest.fixture
def zlib_bomb(zeros):
    deflated, adler, _ = zeros
    body = b'\x78\xda' + deflated + adler.to_bytes(4, 'big')
    assert zlib.decompressobj().decompress(body, 100) == bytes(100)
    return body


@pytest.fixture
def gzip_bomb(zeros):
    deflated, _, crc = zeros
    header = b'\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff'
    body = (header + deflated + crc.to_bytes(4, 'little')
        + (GiB % 2 ** 32).to_bytes(4, 'little'))
    assert gzip.GzipFile(fileobj=io.BytesIO(body)).read(100) == bytes(100)
    return body


# Bodies ----------------------------------------------------------------------

def test_fusioninventory_prolog_body_is_inflated_from_zlib():
    payload, encoding = decode_body(FI_PROLOG, 'application/x-compress-zlib')

    assert encoding == 'zlib'
    assert payload.startswith(b'<?xml version="1.0" encoding="UTF-8" ?>')
    assert b'<QUERY>PROLOG</QUERY>' in payload


def test_ocs_prolog_body_with_x_compress_is_inflated():
    payload, encoding = decode_body(OCS_PROLOG, 'application/x-compress')

    assert encoding == 'zlib'
    assert b'<QUERY>PROLOG</QUERY>' in payload


@pytest.mark.parametrize('content_type', [
        'Application/x-compress', 'APPLICATION/X-COMPRESS-ZLIB',
        'application/xml; charset=UTF-8', ' text/xml ', 'application/json',
        b'application/x-compress',
        ])
def test_content_type_is_compared_without_case_and_parameters(content_type):
    assert decode_body(FI_PROLOG, content_type)[1] == 'zlib'


@pytest.mark.parametrize('level, header', [
        (1, b'\x78\x01'), (4, b'\x78\x5e'), (6, b'\x78\x9c'),
        (9, b'\x78\xda')])
def test_every_zlib_header_is_detected(level, header):
    body = zlib.compress(FI_FULL, level)
    assert body[:2] == header

    assert decode_body(body, 'application/x-compress') == (FI_FULL, 'zlib')


def test_gzip_body_is_inflated_whatever_the_content_type():
    body = gzip.compress(FI_FULL, mtime=0)

    assert decode_body(body, 'application/x-compress-gzip') == (
        FI_FULL, 'gzip')
    assert decode_body(body, 'application/xml') == (FI_FULL, 'gzip')


def test_gzip_body_of_several_members_is_inflated_whole():
    body = gzip.compress(FI_FULL[:1000]) + gzip.compress(FI_FULL[1000:])

    assert decode_body(body, 'application/x-gzip') == (FI_FULL, 'gzip')


@pytest.mark.parametrize('body, content_type', [
        (b'<?xml version="1.0"?><REQUEST/>', 'application/xml'),
        (b'\n  <REQUEST/>', 'text/xml'),
        (b'{"action": "contact"}', 'application/json'),
        (b'{"action": "contact"}', 'text/plain'),
        ])
def test_plain_body_is_returned_as_is(body, content_type):
    assert decode_body(body, content_type) == (body, 'plain')


@pytest.mark.parametrize('content_type', [
        'text/html', 'multipart/form-data; boundary=x',
        'application/x-www-form-urlencoded', 'application/octet-stream',
        '', None, 'application/x-compressed-zlib',
        ])
def test_other_content_types_are_refused_with_the_accepted_ones(
        content_type):
    exception = error(decode_body, FI_PROLOG, content_type)

    assert exception.reason == 'bad_content_type'
    assert exception.status == 415
    for accepted in ACCEPTED_CONTENT_TYPES:
        assert accepted in exception.message


@pytest.mark.parametrize('body', [b'', b' \r\n', zlib.compress(b''),
        zlib.compress(b'  \n'), gzip.compress(b'')])
def test_empty_body_is_refused(body):
    exception = error(decode_body, body, 'application/x-compress')

    assert (exception.reason, exception.status) == ('empty', 400)


def test_oversized_body_is_refused_before_inflating():
    body = zlib.compress(FI_FULL)

    exception = error(decode_body, body, 'application/x-compress',
        max_size=len(body) - 1)

    assert (exception.reason, exception.status) == ('too_large', 413)


def test_body_inflating_beyond_the_limit_is_refused():
    body = zlib.compress(FI_FULL)

    exception = error(decode_body, body, 'application/x-compress',
        max_size=len(FI_FULL) - 1)

    assert (exception.reason, exception.status) == (
        'decompression_bomb', 413)
    assert decode_body(body, 'application/x-compress',
        max_size=len(FI_FULL))[0] == FI_FULL


@pytest.mark.parametrize('bomb', ['zlib_bomb', 'gzip_bomb'])
def test_one_gib_bomb_is_refused_without_inflating_it(request, bomb):
    body = request.getfixturevalue(bomb)
    assert len(body) < 2 * 1024 * 1024

    tracemalloc.start()
    try:
        exception = error(decode_body, body, 'application/x-compress')
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (exception.reason, exception.status) == (
        'decompression_bomb', 413)
    assert 'decompression bomb' in exception.message
    assert peak < 2 * DEFAULT_MAX_SIZE


@pytest.mark.parametrize('compress', [zlib.compress, gzip.compress])
def test_truncated_compressed_body_is_refused(compress):
    body = compress(FI_FULL)

    for cut in [len(body) // 2, len(body) - 4, 12]:
        exception = error(decode_body, body[:cut], 'application/x-compress')
        assert exception.reason in {'truncated', 'corrupt'}
    assert error(decode_body, body[:len(body) // 2],
        'application/x-compress').reason == 'truncated'


def test_corrupt_compressed_body_is_refused():
    body = bytearray(zlib.compress(FI_FULL))
    body[100:110] = b'\xff' * 10

    exception = error(decode_body, bytes(body), 'application/x-compress')

    assert exception.reason in {'corrupt', 'truncated'}


@PROPERTIES
@given(body=st.builds(
        lambda head, tail: head + tail,
        st.sampled_from([b'<', b'{', b' <', b'\n{']), st.binary()),
    encoding=st.sampled_from(ENCODINGS))
def test_decode_body_reverses_encode_reply_for_every_encoding(
        body, encoding):
    data, content_type = encode_reply(body, encoding)

    assert decode_body(data, content_type) == (body, encoding)


@PROPERTIES
@given(body=st.binary(min_size=1), encoding=st.sampled_from(['zlib', 'gzip']))
def test_compressed_bodies_of_any_bytes_round_trip(body, encoding):
    data, content_type = encode_reply(body, encoding)

    if not body.strip():
        assert error(decode_body, data, content_type).reason == 'empty'
    else:
        assert decode_body(data, content_type) == (body, encoding)


@PROPERTIES
@given(body=st.binary(max_size=3000),
    content_type=st.one_of(
        st.sampled_from(ACCEPTED_CONTENT_TYPES), st.text(max_size=30)),
    max_size=st.integers(1, 10_000))
def test_decode_body_raises_only_protocol_error(body, content_type, max_size):
    try:
        payload, encoding = decode_body(body, content_type, max_size)
    except ProtocolError as exception:
        assert exception.status in {400, 413, 415}
    else:
        assert encoding in ENCODINGS
        assert len(payload) <= max(max_size, len(body))


@PROPERTIES
@given(body=st.binary(min_size=2, max_size=3000))
def test_decode_body_raises_only_protocol_error_on_compressed_garbage(body):
    for head in [b'\x78\x9c', b'\x1f\x8b\x08']:
        try:
            decode_body(head + body, 'application/x-compress', 10_000)
        except ProtocolError:
            pass


# Classification --------------------------------------------------------------

def test_fusioninventory_prolog_is_classified_with_its_token():
    payload, _ = decode_body(FI_PROLOG, 'application/x-compress-zlib')

    assert classify(payload) == ('prolog', {
            'device_id': 'vm-2026-12-04-06-56-05', 'token': '12345678'})


def test_ocs_prolog_without_token_is_classified():
    payload, _ = decode_body(OCS_PROLOG, 'application/x-compress')

    assert classify(payload) == ('prolog', {
            'device_id': 'vm-2026-12-04-07-39-51', 'token': None})


def test_large_inventory_is_classified_with_the_device_id_parsed_later():
    kind, info = classify(FI_FULL)

    assert kind == 'inventory'
    assert info == {'device_id': parse_xml(FI_FULL).device_id}


def test_small_inventory_is_classified_by_a_full_parse():
    assert classify(OCS_SMALL) == ('inventory', {
            'device_id': 'vm-2026-12-04-06-56-06'})


def test_large_inventory_device_id_with_entities_is_unescaped():
    document = FI_FULL.replace(
        b'<DEVICEID>vm-2026', b'<DEVICEID>a&amp;b&#233;-vm-2026')

    assert classify(document)[1]['device_id'] == (
        'a&bé-vm-2026-12-04-06-56-05')


def test_truncated_large_inventory_is_refused_as_malformed():
    exception = error(classify, FI_FULL[:-100])

    assert (exception.reason, exception.status) == ('malformed', 400)


def test_xml_request_without_query_is_an_inventory():
    document = b'<REQUEST><DEVICEID>d</DEVICEID><CONTENT/></REQUEST>'

    assert classify(document) == ('inventory', {'device_id': 'd'})


def test_prolog_without_deviceid_is_refused():
    exception = error(classify, b'<REQUEST><QUERY>PROLOG</QUERY></REQUEST>')

    assert exception.reason == 'missing_device_id'


@pytest.mark.parametrize('query', ['SNMPQUERY', 'NETDISCOVERY', 'UPDATE'])
def test_other_xml_queries_are_not_supported(query):
    document = (f'<REQUEST><DEVICEID>d</DEVICEID><QUERY>{query}</QUERY>'
        '</REQUEST>').encode()

    exception = error(classify, document)

    assert (exception.reason, exception.status) == ('unsupported', 501)
    assert query in exception.message


def test_glpi_contact_is_classified_with_its_tasks():
    assert classify(CONTACT) == ('contact', {
            'device_id': 'PC-ACME-042-2024-03-01-10-15-00',
            'name': 'GLPI-Agent',
            'version': '1.7.1',
            'tag': 'paris-office',
            'installed_tasks': (
                'collect', 'deploy', 'inventory', 'netdiscovery'),
            'enabled_tasks': ('collect', 'deploy', 'inventory'),
            })


def test_glpi_inventory_is_classified_with_the_decoded_message():
    kind, info = classify(GLPI_JSON)

    assert kind == 'glpi-inventory'
    assert info['device_id'] == 'PC-ACME-042-2024-03-01-10-15-00'
    assert info['itemtype'] == 'Computer'
    assert parse_json(info['message']) == parse_json(GLPI_JSON)


def test_utf16_messages_are_classified_by_their_first_character():
    assert classify(GLPI_JSON.decode().encode('utf-16'))[0] == (
        'glpi-inventory')
    assert classify(OCS_SMALL.decode().replace(
            'encoding="UTF-8"', 'encoding="UTF-16"').encode('utf-16')) == (
        'inventory', {'device_id': 'vm-2026-12-04-06-56-06'})


def test_glpi_message_without_action_but_content_is_an_inventory():
    message = json.loads(GLPI_JSON)
    del message['action']

    assert classify(json.dumps(message).encode())[0] == 'glpi-inventory'


@pytest.mark.parametrize('action', ['netdiscovery', 'register', 'get_params'])
def test_other_glpi_actions_are_not_supported(action):
    message = json.dumps({'action': action, 'deviceid': 'd'}).encode()

    exception = error(classify, message)

    assert (exception.reason, exception.status) == ('unsupported', 501)


@pytest.mark.parametrize('payload, expected', [
        (b'', 'empty'),
        (b'  \n ', 'empty'),
        (b'hello', 'malformed'),
        (b'{"action": ', 'malformed'),
        (b'[1, 2]', 'malformed'),
        (b'{"deviceid": "d"}', 'malformed'),
        (b'{"action": "contact"}', 'missing_device_id'),
        (b'<REQUEST><QUERY>PROLOG</QUERY>', 'malformed'),
        (b'<html><body/></html>', 'not_inventory'),
        ])
def test_bad_messages_are_refused_with_their_reason(payload, expected):
    assert error(classify, payload).reason == expected


def test_xml_entity_tricks_are_refused_as_forbidden():
    for payload in [
            b'<!DOCTYPE REQUEST [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]>'
            b'<REQUEST><DEVICEID>&b;</DEVICEID><QUERY>PROLOG</QUERY>'
            b'</REQUEST>',
            b'<!DOCTYPE REQUEST [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<REQUEST><DEVICEID>&x;</DEVICEID><QUERY>PROLOG</QUERY>'
            b'</REQUEST>',
            b'<!DOCTYPE REQUEST SYSTEM "http://127.0.0.1:9/x.dtd">'
            b'<REQUEST/>',
            b'<?xml version="1.0"?><!DOCTYPE REQUEST><REQUEST/>' + b' ' * (
                70 * 1024) + FI_FULL[-300:],
            ]:
        exception = error(classify, payload)
        assert (exception.reason, exception.status) == ('forbidden_xml', 400)
        assert 'root:' not in exception.message


@PROPERTIES
@given(payload=st.binary(max_size=3000))
def test_classify_raises_only_protocol_error(payload):
    try:
        kind, info = classify(payload)
    except ProtocolError as exception:
        assert exception.status in {400, 413, 501}
    else:
        assert kind in {'prolog', 'inventory', 'contact', 'glpi-inventory'}


@pytest.mark.parametrize('encoding', ['I-O-8859-1', 'zlib', 'rot13'])
def test_unknown_declared_encoding_is_classified_after_repair(encoding):
    document = OCS_SMALL.replace(b'"UTF-8"', f'"{encoding}"'.encode(), 1)

    assert classify(document) == (
        'inventory', {'device_id': 'vm-2026-12-04-06-56-06'})


@PROPERTIES
@given(edits=st.lists(st.tuples(
            st.integers(0, len(OCS_SMALL)), st.integers(0, 255),
            st.booleans()), min_size=1, max_size=10))
def test_classify_raises_only_protocol_error_on_mutated_messages(edits):
    for message in [OCS_SMALL, GLPI_JSON, CONTACT]:
        data = bytearray(message)
        for position, byte, insert in edits:
            if insert:
                data.insert(position % len(data), byte)
            else:
                data[position % len(data)] = byte
        try:
            classify(bytes(data))
        except ProtocolError:
            pass


@PROPERTIES
@given(cut=st.integers(0, len(FI_FULL)))
def test_classify_raises_only_protocol_error_on_cut_inventories(cut):
    try:
        kind, info = classify(FI_FULL[:cut])
    except ProtocolError:
        pass
    else:
        assert kind == 'inventory'


# Replies ---------------------------------------------------------------------

def reply_root(body):
    root = etree.fromstring(body)
    assert root.tag == 'REPLY'
    return {child.tag: child.text for child in root}


def test_prolog_reply_asks_for_the_inventory_and_sets_the_delay():
    assert reply_root(prolog_reply(24)) == {
        'RESPONSE': 'SEND', 'PROLOG_FREQ': '24'}
    assert reply_root(prolog_reply(2, send=False)) == {
        'RESPONSE': 'STOP', 'PROLOG_FREQ': '2'}


@pytest.mark.parametrize('hours', [0, -1, 1.5, True, 10 ** 6, '24', None])
def test_prolog_reply_refuses_a_delay_that_is_not_whole_hours(hours):
    with pytest.raises(ValueError):
        prolog_reply(hours)
    with pytest.raises(ValueError):
        glpi_contact_reply(hours)


def test_inventory_reply_has_nothing_to_update():
    assert reply_root(inventory_reply()) == {'RESPONSE': 'no_account_update'}


def test_error_reply_escapes_and_shortens_the_message():
    body = error_reply('Bad <REQUEST> & "quotes"\x01 ' + 'x' * 1000)

    text = reply_root(body)['ERROR']
    assert text.startswith('Bad <REQUEST> & "quotes"  x')
    assert len(text) == 500 and text.endswith('…')


def test_glpi_contact_reply_is_ok_with_an_expiration():
    body = glpi_contact_reply()

    assert json.loads(body) == {'status': 'ok', 'expiration': 24}
    # GLPI-Agent's legacy client takes a PROLOG reply for JSON on ^{.*}$
    assert re.fullmatch(rb'\{.*\}', body, re.S)


def test_glpi_contact_reply_disables_the_tasks_not_supported():
    reply = json.loads(glpi_contact_reply(
            12, enabled_tasks=('inventory', 'Deploy', 'collect')))

    assert reply['status'] == 'ok' and reply['expiration'] == 12
    assert reply['disabled'] == ['collect', 'deploy']
    assert reply['message'] == (
        'collect task not supported;deploy task not supported')


def test_glpi_inventory_and_error_replies():
    assert json.loads(glpi_inventory_reply()) == {
        'status': 'ok', 'expiration': 24}
    assert json.loads(glpi_error_reply('Nope\n', 6)) == {
        'status': 'error', 'message': 'Nope', 'expiration': 6}


@pytest.mark.parametrize('body, encoding, content_type, head', [
        (b'<REPLY/>', 'zlib', 'application/x-compress-zlib', b'\x78\x9c'),
        (b'{"status":"ok"}', 'zlib', 'application/x-compress-zlib',
            b'\x78\x9c'),
        (b'<REPLY/>', 'gzip', 'application/x-compress-gzip', b'\x1f\x8b\x08'),
        (b'<REPLY/>', 'plain', 'application/xml', b'<REPLY/>'),
        (b'{"status":"ok"}', 'plain', 'application/json', b'{'),
        ])
def test_encode_reply_uses_the_request_encoding_and_its_content_type(
        body, encoding, content_type, head):
    data, sent_type = encode_reply(body, encoding)

    assert sent_type == content_type
    # FusionInventory and OCS find a compressed reply by these bytes
    assert data.startswith(head)


def test_encode_reply_refuses_an_unknown_encoding():
    with pytest.raises(ValueError):
        encode_reply(b'<REPLY/>', 'brotli')


def test_same_body_encoded_twice_is_identical():
    for encoding in ENCODINGS:
        assert encode_reply(prolog_reply(), encoding) == (
            encode_reply(prolog_reply(), encoding))


# What the agents' own code reads from the replies ----------------------------

FI_LIB = Path('/usr/share/fusioninventory/lib')
OCS_LIB = Path('/usr/share/perl5/Ocsinventory/Compress.pm')
FI_READER = r'''
use strict; use warnings;
use Compress::Zlib; use File::Temp;
use FusionInventory::Agent::Logger;
use FusionInventory::Agent::HTTP::Client::OCS;
use FusionInventory::Agent::XML::Response;
binmode STDIN; local $/; my $data = <STDIN>;
my $client = bless {
    logger => FusionInventory::Agent::Logger->new(backends => ['Stderr']),
}, 'FusionInventory::Agent::HTTP::Client::OCS';
my $xml = $client->_uncompress($data) or die "reply not recognised\n";
my $content = FusionInventory::Agent::XML::Response->new(
    content => $xml)->getContent();
print join("\n", map { "$_=$content->{$_}" } sort keys %$content);
'''
OCS_READER = r'''
use strict; use warnings;
use Ocsinventory::Compress; use XML::Simple;
package Quiet; sub new { bless {}, shift } sub AUTOLOAD {}
package main;
binmode STDIN; local $/; my $data = <STDIN>;
my $compress = Ocsinventory::Compress->new({logger => Quiet->new});
my $xml = $compress->uncompress($data) or die "Deflating problem\n";
my $content = XML::Simple::XMLin($xml, ForceArray => ['OPTION', 'PARAM']);
print join("\n", map { "$_=$content->{$_}" } sort keys %$content);
'''


def missing(reason):
    """Skip for want of a program, or fail when the end-to-end tests are
    required (ITSM_E2E=required, as in CI), as itsm_tools.testing does
    (not imported: these tests need no Tryton)"""
    if os.environ.get('ITSM_E2E') == 'required':
        pytest.fail(f'ITSM_E2E=required but {reason}')
    pytest.skip(reason)


def perl_reads(script, data, library):
    perl = shutil.which('perl')
    if perl is None or not library.exists():
        missing(f'{library} is not installed (Debian fusioninventory-agent '
            'and ocsinventory-agent)')
    result = subprocess.run(
        [perl, f'-I{FI_LIB}', '-e', script], input=data,
        capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    return dict(line.split('=', 1)
        for line in result.stdout.decode().splitlines())


@pytest.mark.e2e
@pytest.mark.parametrize('encoding', ENCODINGS)
def test_fusioninventory_agent_reads_our_replies(encoding):
    for body, expected in [
            (prolog_reply(24), {'RESPONSE': 'SEND', 'PROLOG_FREQ': '24'}),
            (inventory_reply(), {'RESPONSE': 'no_account_update'}),
            (error_reply('Refused: bad XML.'), {
                    'ERROR': 'Refused: bad XML.'}),
            ]:
        data, _ = encode_reply(body, encoding)
        assert perl_reads(FI_READER, data, FI_LIB) == expected


@pytest.mark.e2e
def test_ocs_agent_reads_our_zlib_replies():
    for body, expected in [
            (prolog_reply(24), {'RESPONSE': 'SEND', 'PROLOG_FREQ': '24'}),
            (inventory_reply(), {'RESPONSE': 'no_account_update'}),
            ]:
        data, _ = encode_reply(body, 'zlib')
        assert perl_reads(OCS_READER, data, OCS_LIB) == expected


# Authentication --------------------------------------------------------------

def basic(user, password, encoding='utf-8'):
    credentials = f'{user}:{password}'.encode(encoding)
    return 'Basic ' + base64.b64encode(credentials).decode()


def test_basic_auth_accepts_the_expected_credentials():
    assert check_basic_auth(basic('agent', 's3cret'), 'agent', 's3cret')
    assert check_basic_auth(
        basic('agent', 's3cret').replace('Basic', 'basic'), 'agent', 's3cret')
    assert check_basic_auth(
        basic('agent', 'a:b:c').encode(), 'agent', 'a:b:c')


def test_basic_auth_reads_latin1_and_utf8_credentials():
    for encoding in ['utf-8', 'latin-1']:
        assert check_basic_auth(
            basic('zoé', 'mötdepasse', encoding), 'zoé', 'mötdepasse')


@pytest.mark.parametrize('header', [
        None, '', 'Basic', 'Basic !!!not-base64!!!', 'Bearer abc',
        'Basic ' + base64.b64encode(b'agent').decode(),
        basic('agent', 'wrong'), basic('other', 's3cret'),
        basic('agent', 's3cret '), basic('Agent', 's3cret'),
        ])
def test_basic_auth_refuses_anything_else(header):
    assert not check_basic_auth(header, 'agent', 's3cret')


@pytest.mark.parametrize('user, password', [
        ('', 's3cret'), ('agent', ''), (None, None)])
def test_basic_auth_never_matches_an_unset_expectation(user, password):
    assert not check_basic_auth(basic('', ''), user, password)
    assert not check_basic_auth(basic('agent', ''), user, password)


def test_basic_auth_compares_user_and_password_in_constant_time(monkeypatch):
    calls = []
    original = hmac.compare_digest

    def compare_digest(a, b):
        calls.append((a, b))
        return original(a, b)
    monkeypatch.setattr(agent_protocol.hmac, 'compare_digest', compare_digest)

    assert not check_basic_auth(basic('intruder', 'x'), 'agent', 's3cret')

    # The password is compared even when the user is already wrong
    assert calls == [(b'intruder', b'agent'), (b'x', b's3cret')]


def test_basic_auth_challenge_names_the_realm():
    assert basic_auth_challenge('ITSM "inventory"') == (
        'Basic realm="ITSM inventory", charset="UTF-8"')


def test_parse_secrets_reads_a_rotation_list():
    text = ' first-secret-0123456789 ,\nsecond.secret_0123~456\n'

    assert parse_secrets(text) == (
        'first-secret-0123456789', 'second.secret_0123~456')
    assert parse_secrets('a' * 16 + ' ' + 'a' * 16) == ('a' * 16,)
    assert parse_secrets('') == parse_secrets(None) == ()


@pytest.mark.parametrize('text', [
        'short', 'has space but still long', 'quote"0123456789abcdef',
        'slash/0123456789abcdef', 'x' * 257, 'utf8-é-0123456789abcdef'])
def test_parse_secrets_refuses_weak_or_unsafe_secrets(text):
    with pytest.raises(ValueError):
        parse_secrets(text)


def test_request_secret_reads_bearer_header_then_query():
    assert request_secret('secret=from-query', 'Bearer from-header') == (
        'from-header')
    assert request_secret(b'a=1&secret=from-query') == 'from-query'
    assert request_secret('a=1', b'Basic abc') is None
    assert request_secret() is None


def test_check_secret_matches_any_configured_secret_in_constant_time(
        monkeypatch):
    secrets = ('first-secret-0123456789', 'second-secret-0123456789')
    calls = []
    original = hmac.compare_digest

    def compare_digest(a, b):
        calls.append(b)
        return original(a, b)
    monkeypatch.setattr(agent_protocol.hmac, 'compare_digest', compare_digest)

    assert check_secret('first-secret-0123456789', secrets)
    # Every secret is compared, even after a match
    assert calls == [s.encode() for s in secrets]
    assert check_secret('second-secret-0123456789', secrets[1])
    assert not check_secret('third-secret-0123456789', secrets)
    assert not check_secret('', secrets)
    assert not check_secret(None, secrets)
    assert not check_secret('first-secret-0123456789', ())
