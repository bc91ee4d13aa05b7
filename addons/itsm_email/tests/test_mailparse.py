# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Tests of the lenient parsing of incoming email"
import glob
import importlib.util
import os
import re
import textwrap
from datetime import datetime
from email import policy
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from itsm_email.mailparse import (
    MAX_FILENAME,
    Attachment,
    MailParseError,
    ParsedMessage,
    decode_text,
    html_to_text,
    normalize_message_id,
    parse_message,
    sanitize_html,
)

REASONS = {'empty', 'too_large', 'unreadable', 'no_sender'}
PROPERTIES = settings(
    max_examples=200, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])


def _raw(text, encoding='utf-8'):
    "Return the bytes of a message written indented in a test"
    return textwrap.dedent(text).lstrip('\n').encode(
        encoding, 'surrogateescape')


def _parse_or_error(raw):
    "Return the ParsedMessage of raw or its MailParseError"
    try:
        return parse_message(raw)
    except MailParseError as error:
        return error


def _check_outcome(outcome):
    if isinstance(outcome, MailParseError):
        assert outcome.reason in REASONS
        assert str(outcome).startswith(outcome.reason + ': ')
    else:
        assert isinstance(outcome, ParsedMessage)
        assert isinstance(outcome.text, str)
        assert outcome.html is None or isinstance(outcome.html, str)
        assert outcome.from_address
        assert all(isinstance(a, Attachment) for a in outcome.attachments)
        assert all(isinstance(a.data, bytes) for a in outcome.attachments)
        assert all(a.filename for a in outcome.attachments)
        assert all(isinstance(d, str) for d in outcome.defects)


def _multipart(*parts, boundary='BOUNDARY', subtype='mixed', close=True):
    "Return a message of the given raw parts"
    lines = [
        'From: Anna <anna@example.com>',
        'To: helpdesk@example.org',
        'Subject: Parts',
        'MIME-Version: 1.0',
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"',
        '',
        'This is a multi-part message in MIME format.',
        ]
    for part in parts:
        lines.append(f'--{boundary}')
        lines.append(textwrap.dedent(part).strip('\n'))
    if close:
        lines.append(f'--{boundary}--')
    return ('\n'.join(lines) + '\n').encode('utf-8', 'surrogateescape')


def _attachment_part(disposition, content_type='application/pdf'):
    return (
        f'Content-Type: {content_type}\n'
        f'Content-Disposition: {disposition}\n\ndata\n')


PLAIN = _raw('''
    Return-Path: <anna@example.com>
    From: Anna Nowak <Anna.Nowak@Example.COM>
    To: Helpdesk <helpdesk@example.org>
    Subject: Printer on floor 2
    Date: Thu, 03 Dec 2026 10:00:00 +0100
    Message-ID: <20261203.abc@mail.example.com>
    MIME-Version: 1.0
    Content-Type: text/plain; charset=utf-8
    Content-Transfer-Encoding: 8bit

    The printer is jammed again.
    Zażółć gęślą jaźń.
    ''')

ALTERNATIVE = _multipart(
    '''
    Content-Type: text/plain; charset=utf-8

    Plain version
    ''', '''
    Content-Type: text/html; charset=utf-8

    <p>HTML <b>version</b></p>
    ''', subtype='alternative')

NESTED = _multipart(
    '''
    Content-Type: multipart/alternative; boundary="ALT"

    --ALT
    Content-Type: text/plain; charset=us-ascii

    Nested plain
    --ALT
    Content-Type: multipart/related; boundary="REL"

    --REL
    Content-Type: text/html; charset=us-ascii

    <p>Nested <img src="cid:logo@example.com"></p>
    --REL
    Content-Type: image/png
    Content-ID: <logo@example.com>
    Content-Transfer-Encoding: base64

    iVBORw0KGgo=
    --REL--
    --ALT--
    ''', '''
    Content-Type: application/pdf; name="report.pdf"
    Content-Disposition: attachment; filename="report.pdf"
    Content-Transfer-Encoding: base64

    JVBERi0xLjQK
    ''')


# Plain messages

def test_plain_message_fields():
    "A plain message gives its sender, subject, date, id and decoded text"
    parsed = parse_message(PLAIN)
    assert parsed.from_name == 'Anna Nowak'
    assert parsed.from_address == 'anna.nowak@example.com'
    assert parsed.to == [('Helpdesk', 'helpdesk@example.org')]
    assert parsed.subject == 'Printer on floor 2'
    assert parsed.date == datetime(2026, 12, 3, 9, 0)
    assert parsed.message_id == '<20261203.abc@mail.example.com>'
    assert parsed.text == (
        'The printer is jammed again.\nZażółć gęślą jaźń.\n')
    assert parsed.html is None
    assert parsed.attachments == []
    assert parsed.size == len(PLAIN)
    assert parsed.defects == []


def test_text_line_breaks_of_the_wire():
    "CRLF line breaks, as SMTP sends them, give the same text as LF"
    parsed = parse_message(PLAIN.replace(b'\n', b'\r\n'))
    assert parsed.text == parse_message(PLAIN).text


def test_plain_message_given_as_str():
    "A message given as str is parsed like its UTF-8 bytes"
    parsed = parse_message(PLAIN.decode('utf-8'))
    assert parsed.text == parse_message(PLAIN).text


def test_quoted_printable_body_decoded():
    "A quoted-printable body is decoded with its charset"
    parsed = parse_message(_raw('''
        From: anna@example.com
        Content-Type: text/plain; charset=iso-8859-2
        Content-Transfer-Encoding: quoted-printable

        Za=BF=F3=B3=E6 g=EA=B6l=B1 ja=BC=F1=
         soft break
        '''))
    assert parsed.text == 'Zażółć gęślą jaźń soft break\n'
    assert parsed.defects == []


def test_headers_kept_decoded_with_lower_case_names():
    "Every header is kept, decoded, under its lower-cased name, in order"
    parsed = parse_message(_raw('''
        From: anna@example.com
        X-Custom: one
        x-custom: =?utf-8?q?two_=C3=A9?=
        Subject: s

        body
        '''))
    assert parsed.headers['x-custom'] == ['one', 'two é']
    assert parsed.headers['subject'] == ['s']
    assert parsed.headers['from'] == ['anna@example.com']


def test_date_converted_to_naive_utc():
    "The Date header becomes a naive UTC datetime"
    parsed = parse_message(
        b'From: a@example.com\nDate: Thu, 3 Dec 2026 23:30:00 -0500\n\nx')
    assert parsed.date == datetime(2026, 12, 4, 4, 30)


def test_unreadable_date_is_none():
    "A Date header that is not a date gives None"
    parsed = parse_message(
        b'From: a@example.com\nDate: next Tuesday, maybe\n\nx')
    assert parsed.date is None


def test_missing_date_subject_and_message_id():
    "Missing Date, Subject and Message-ID give None, '' and None"
    parsed = parse_message(b'From: a@example.com\n\nbody\n')
    assert parsed.date is None
    assert parsed.subject == ''
    assert parsed.message_id is None
    assert parsed.in_reply_to == [] and parsed.references == []


# Multiparts

def test_multipart_alternative_gives_text_and_html():
    "multipart/alternative gives its text and its HTML body, no attachment"
    parsed = parse_message(ALTERNATIVE)
    assert parsed.text == 'Plain version'
    assert parsed.html == '<p>HTML <b>version</b></p>'
    assert parsed.attachments == []
    assert parsed.defects == []


def test_html_only_message_gets_text_made_from_html():
    "A message with only an HTML body gets its text made from the HTML"
    parsed = parse_message(_raw('''
        From: anna@example.com
        Content-Type: text/html; charset=utf-8

        <html><body><p>Hello <b>there</b></p><p>Second</p></body></html>
        '''))
    assert parsed.text == 'Hello there\n\nSecond'
    assert '<p>Hello <b>there</b></p>' in parsed.html


def test_nested_multiparts_find_bodies_and_attachments():
    "Bodies and attachments are found at any depth of nested multiparts"
    parsed = parse_message(NESTED)
    assert parsed.text == 'Nested plain'
    assert parsed.html == '<p>Nested <img src="cid:logo@example.com"></p>'
    assert [(a.filename, a.content_type) for a in parsed.attachments] == [
        ('attachment-1.png', 'image/png'),
        ('report.pdf', 'application/pdf')]
    logo, report = parsed.attachments
    assert logo.data == b'\x89PNG\r\n\x1a\n'
    assert report.data == b'%PDF-1.4\n'
    assert parsed.defects == []


def test_second_text_part_is_an_attachment():
    "Only the first text part is the body; a later one is an attachment"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nfirst',
        'Content-Type: text/plain\n\nsecond'))
    assert parsed.text == 'first'
    assert [(a.filename, a.data) for a in parsed.attachments] == [
        ('attachment-1.txt', b'second')]


def test_named_inline_text_part_is_the_body():
    "A named text part shown inline by its sender is still the text body"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n'
        'Content-Disposition: inline; filename="note.txt"\n\nthe text'))
    assert parsed.text == 'the text'
    assert parsed.attachments == []


def test_text_attachment_is_not_the_body():
    "A text part with disposition attachment is an attachment, not the body"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n'
        'Content-Disposition: attachment; filename="log.txt"\n\nlog line'))
    assert parsed.text == ''
    assert [(a.filename, a.data) for a in parsed.attachments] == [
        ('log.txt', b'log line')]


def test_message_without_body_has_no_attachment():
    "A non-text message with an empty body has no attachment"
    parsed = parse_message(
        b'From: a@example.com\nContent-Type: application/pdf\n\n')
    assert parsed.attachments == []
    assert parsed.text == ''


# Attachments

@pytest.mark.parametrize('disposition, filename', [
        ('attachment; filename="report.pdf"', 'report.pdf'),
        ('attachment; filename="../../etc/passwd"', 'passwd'),
        ('attachment; filename="/etc/shadow"', 'shadow'),
        ('attachment; filename="C:\\\\x\\\\y.doc"', 'y.doc'),
        ('attachment; filename="..\\\\..\\\\boot.ini"', 'boot.ini'),
        ('attachment; filename="a\x01b\x7fc\x1b.pdf"', 'abc.pdf'),
        ('attachment; filename="evil\u202etxt.exe"', 'eviltxt.exe'),
        ('attachment; filename="  spaced   out  .pdf"', 'spaced out .pdf'),
        ("attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf", 'résumé.pdf'),
        ("attachment; filename*=iso-8859-1'fr'caf%E9.txt", 'café.txt'),
        ("attachment; filename*0*=UTF-8''Za%C5%BC%C3%B3%C5%82%C4%87;"
            " filename*1=.pdf", 'Zażółć.pdf'),
        ('attachment; filename="=?UTF-8?B?w6lsw6h2ZS5wZGY=?="', 'élève.pdf'),
        ('attachment; filename="=?iso-8859-2?q?=BFaba.pdf?="', 'żaba.pdf'),
        ])
def test_attachment_filename_made_safe(disposition, filename):
    "Attachment names are decoded and cut to a safe last path component"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody',
        _attachment_part(disposition)))
    assert [a.filename for a in parsed.attachments] == [filename]
    assert parsed.attachments[0].data == b'data'


def test_attachment_name_from_content_type_parameter():
    "The name parameter of Content-Type names an attachment without one"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody',
        'Content-Type: application/pdf; name="invoice.pdf"\n\ndata'))
    assert [a.filename for a in parsed.attachments] == ['invoice.pdf']
    assert parsed.text == 'body'


@pytest.mark.parametrize('content_type, filename', [
        ('image/png', 'attachment-1.png'),
        ('application/pdf', 'attachment-1.pdf'),
        ('text/plain', 'attachment-1.txt'),
        ('message/rfc822', 'attachment-1.eml'),
        ('application/octet-stream', 'attachment-1.bin'),
        ('application/x-never-heard-of', 'attachment-1.bin'),
        ])
def test_attachment_without_name_numbered_with_extension(
        content_type, filename):
    "An attachment without a name gets attachment-N and its type's extension"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody',
        _attachment_part('attachment', content_type)))
    assert [a.filename for a in parsed.attachments] == [filename]


@pytest.mark.parametrize('name', ['..', '/', '\x01\x02', '  .  ', 'C:\\'])
def test_attachment_name_of_nothing_numbered(name):
    "A name that is nothing once made safe is replaced by attachment-N"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody',
        _attachment_part('attachment; filename="x.pdf"'),
        _attachment_part(
            f'attachment; filename="{name}"'.replace('\\', '\\\\'))))
    assert [a.filename for a in parsed.attachments] == [
        'x.pdf', 'attachment-2.pdf']


def test_long_attachment_name_shortened_keeping_extension():
    "A name longer than the limit is shortened and keeps its extension"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody',
        _attachment_part(f'attachment; filename="{"a" * 300}.pdf"')))
    filename = parsed.attachments[0].filename
    assert len(filename) == MAX_FILENAME
    assert filename == 'a' * (MAX_FILENAME - 4) + '.pdf'


def test_inline_image_with_content_id():
    "An image with a Content-ID is an inline attachment with its id"
    parsed = parse_message(_multipart(
        '''
        Content-Type: text/html; charset=utf-8

        <p>Logo: <img src="cid:img1@example.com"></p>
        ''', '''
        Content-Type: image/gif
        Content-ID: <img1@example.com>
        Content-Transfer-Encoding: base64

        R0lGODlhAQABAAAAACw=
        ''', subtype='related'))
    (image,) = parsed.attachments
    assert image.content_id == 'img1@example.com'
    assert image.inline is True
    assert image.content_type == 'image/gif'
    assert image.data == b'GIF89a\x01\x00\x01\x00\x00\x00\x00,'
    assert image.filename == 'attachment-1.gif'
    assert 'cid:img1@example.com' in parsed.html


def test_inline_disposition_named_image_is_inline():
    "An image with disposition inline is inline even without Content-ID"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody',
        _attachment_part('inline; filename="photo.jpg"', 'image/jpeg')))
    (image,) = parsed.attachments
    assert image.inline is True
    assert image.content_id is None
    assert image.filename == 'photo.jpg'


def test_attachment_disposition_with_content_id_not_inline():
    "A part with disposition attachment is not inline, Content-ID or not"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody',
        'Content-Type: image/png\nContent-ID: <x@y>\n'
        'Content-Disposition: attachment; filename="x.png"\n\ndata'))
    (image,) = parsed.attachments
    assert image.content_id == 'x@y'
    assert image.inline is False


def test_attached_message_kept_as_bytes():
    "An attached message/rfc822 is kept as its bytes, 8-bit text included"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nsee attached',
        '''
        Content-Type: message/rfc822
        Content-Disposition: attachment; filename="original.eml"

        From: Zoë <zoe@example.net>
        Subject: Zażółć gęślą
        Message-ID: <inner@example.net>
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: 8bit

        Inner body, jaźń.
        '''))
    assert parsed.text == 'see attached'
    (attached,) = parsed.attachments
    assert attached.content_type == 'message/rfc822'
    assert attached.filename == 'original.eml'
    assert isinstance(attached.data, bytes)
    assert attached.data.startswith('From: Zoë <zoe@example.net>\n'.encode())
    assert 'Subject: Zażółć gęślą\n'.encode() in attached.data
    assert attached.data.endswith('Inner body, jaźń.'.encode())
    inner = parse_message(attached.data)
    assert inner.message_id == '<inner@example.net>'
    assert inner.subject == 'Zażółć gęślą'
    assert inner.text == 'Inner body, jaźń.'


def test_attached_message_is_not_descended_into():
    "The parts of an attached message are not attachments of the outer one"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nouter',
        '''
        Content-Type: message/rfc822

        From: b@example.net
        Content-Type: multipart/mixed; boundary="INNER"

        --INNER
        Content-Type: text/plain

        inner text
        --INNER
        Content-Type: application/pdf
        Content-Disposition: attachment; filename="inner.pdf"

        pdf
        --INNER--
        '''))
    assert parsed.text == 'outer'
    assert [a.filename for a in parsed.attachments] == ['attachment-1.eml']
    assert b'filename="inner.pdf"' in parsed.attachments[0].data


# Charsets

def test_8bit_body_with_wrong_declared_charset():
    "An 8-bit UTF-8 body declared us-ascii is decoded as UTF-8, noted"
    parsed = parse_message(_raw('''
        From: a@example.com
        Content-Type: text/plain; charset=us-ascii
        Content-Transfer-Encoding: 8bit

        Café crème
        '''))
    assert parsed.text == 'Café crème\n'
    assert parsed.defects == [
        'The text body is not valid "us-ascii"; decoded as UTF-8.']


def test_latin1_body_declared_utf8_decoded_as_latin1():
    "A Latin-1 body declared UTF-8 is decoded as Latin-1, noted"
    parsed = parse_message(_raw('''
        From: a@example.com
        Content-Type: text/plain; charset="utf-8"
        Content-Transfer-Encoding: 8bit

        Café crème
        ''', 'latin-1'))
    assert parsed.text == 'Café crème\n'
    assert parsed.defects == [
        'The text body is not valid "utf-8"; decoded as Latin-1.']


@pytest.mark.parametrize('charset', ['x-unknown', 'utf-42', 'rot13', 'hex'])
def test_unknown_charset_decoded_with_defect(charset):
    "A body in an unknown or non-text charset is decoded, the charset noted"
    parsed = parse_message(_raw(f'''
        From: a@example.com
        Content-Type: text/plain; charset={charset}

        Café
        '''))
    assert parsed.text == 'Café\n'
    assert parsed.defects == [
        f'Unknown charset "{charset}" of the text body; decoded as UTF-8.']


def test_no_charset_and_latin1_bytes():
    "A body without charset that is not UTF-8 is decoded as Latin-1, noted"
    parsed = parse_message(_raw('''
        From: a@example.com
        Content-Type: text/plain

        Grüße aus Köln
        ''', 'latin-1'))
    assert parsed.text == 'Grüße aus Köln\n'
    assert parsed.defects == [
        'The text body has no charset and is not UTF-8; '
        'decoded as Latin-1.']


def test_no_charset_and_utf8_bytes_without_defect():
    "A body without charset in valid UTF-8 is decoded with no defect"
    parsed = parse_message(_raw('''
        From: a@example.com

        Grüße aus Köln
        '''))
    assert parsed.text == 'Grüße aus Köln\n'
    assert parsed.defects == []


def test_declared_charset_used():
    "A body in its declared charset is decoded with it, without defect"
    parsed = parse_message(_raw('''
        From: a@example.com
        Content-Type: text/plain; charset=koi8-r
        Content-Transfer-Encoding: 8bit

        Привет
        ''', 'koi8-r'))
    assert parsed.text == 'Привет\n'
    assert parsed.defects == []


def test_html_body_with_wrong_charset_noted_as_html():
    "A wrong charset of the HTML body is noted as the HTML body's"
    parsed = parse_message(_multipart(
        'Content-Type: text/html; charset=us-ascii\n'
        'Content-Transfer-Encoding: 8bit\n\n<p>Zażółć</p>',
        subtype='alternative'))
    assert parsed.html == '<p>Zażółć</p>'
    assert parsed.text == 'Zażółć'
    assert parsed.defects == [
        'The HTML body is not valid "us-ascii"; decoded as UTF-8.']


@pytest.mark.parametrize('data, charset, text, defects', [
        (b'caf\xc3\xa9', 'utf-8', 'café', []),
        (b'caf\xe9', 'iso-8859-1', 'café', []),
        (b'caf\xc3\xa9', None, 'café', []),
        (b'caf\xe9', None, 'café',
            ['The part has no charset and is not UTF-8; '
                'decoded as Latin-1.']),
        (b'caf\xc3\xa9', 'ascii', 'café',
            ['The part is not valid "ascii"; decoded as UTF-8.']),
        (b'caf\xe9', 'nope', 'café',
            ['Unknown charset "nope" of the part; decoded as Latin-1.']),
        ])
def test_decode_text(data, charset, text, defects):
    "decode_text tries the charset, then UTF-8, then Latin-1, noting it"
    noted = []
    assert decode_text(data, charset, noted, 'part') == text
    assert noted == defects


# Broken MIME

def test_missing_closing_boundary():
    "A multipart without closing boundary keeps its last part, noted"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody text',
        _attachment_part('attachment; filename="a.pdf"'),
        close=False))
    assert parsed.text == 'body text'
    assert [(a.filename, a.data) for a in parsed.attachments] == [
        ('a.pdf', b'data')]
    assert parsed.defects == [
        'The closing multipart boundary is missing; '
        'the last part ends with the message.']


@pytest.mark.parametrize('content_type', [
        'multipart/mixed; boundary="WRONG"',
        'multipart/mixed',
        'multipart/mixed; boundary=""',
        ])
def test_multipart_boundary_repaired_by_guessing(content_type):
    "A multipart whose boundary is missing or wrong gets it from its body"
    parsed = parse_message(_raw(f'''
        From: a@example.com
        Content-Type: {content_type}

        --REAL
        Content-Type: text/plain

        body text
        --REAL
        Content-Type: application/pdf
        Content-Disposition: attachment; filename="a.pdf"

        pdfdata
        --REAL--
        '''))
    assert parsed.text == 'body text'
    assert [(a.filename, a.data) for a in parsed.attachments] == [
        ('a.pdf', b'pdfdata')]
    assert parsed.defects == [
        'The multipart/mixed part has no usable boundary; '
        '"REAL" was guessed from its body.']


def test_multipart_without_any_boundary_read_as_text():
    "A multipart with no boundary anywhere is read as plain text, noted"
    parsed = parse_message(_raw('''
        From: a@example.com
        Content-Type: multipart/mixed

        Just some text, no parts.
        '''))
    assert parsed.text == 'Just some text, no parts.\n'
    assert parsed.defects == [
        'The multipart/mixed part has no usable boundary; '
        'read as plain text.']


def test_blank_multipart_without_boundary_left_out():
    "A blank multipart without boundary is left out, noted"
    parsed = parse_message(_raw('''
        From: a@example.com
        Content-Type: multipart/alternative

        '''))
    assert parsed.text == ''
    assert parsed.attachments == []
    assert parsed.defects == [
        'The multipart/alternative part has no usable boundary '
        'and is blank; left out.']


@pytest.mark.parametrize('body', [
        'SGVsbG8gd29ybGQ=!!!*\n',
        'SGVsbG8gd29ybGQ\n',
        'SGVsbG8gd29ybGQ=\n%%%\n',
        ])
def test_broken_base64_decoded_with_defect(body):
    "A broken base64 body is decoded as far as it goes, the breakage noted"
    parsed = parse_message(
        'From: a@example.com\nContent-Type: text/plain; charset=utf-8\n'
        f'Content-Transfer-Encoding: base64\n\n{body}'.encode())
    assert parsed.text == 'Hello world'
    assert 'Broken base64 in a part; decoded what could be.' in (
        parsed.defects)


def test_broken_base64_attachment_noted():
    "A broken base64 attachment is kept, the breakage noted"
    parsed = parse_message(_multipart(
        'Content-Type: text/plain\n\nbody',
        'Content-Type: application/pdf\n'
        'Content-Disposition: attachment; filename="a.pdf"\n'
        'Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK***'))
    assert parsed.attachments[0].data == b'%PDF-1.4\n'
    assert parsed.defects == [
        'Broken base64 in a part; decoded what could be.']


def test_valid_base64_no_defect():
    "A valid base64 body gives no defect"
    parsed = parse_message(
        b'From: a@example.com\nContent-Type: text/plain; charset=utf-8\n'
        b'Content-Transfer-Encoding: base64\n\nSGVsbG8gd29ybGQ=\n')
    assert parsed.text == 'Hello world'
    assert parsed.defects == []


def test_line_in_headers_that_is_no_header():
    "A line in the headers that is not a header starts the body, noted"
    parsed = parse_message(
        b'From: a@example.com\nSubject: s\nthis is no header\n\nrest\n')
    assert parsed.subject == 's'
    assert 'this is no header' in parsed.text
    assert parsed.defects == [
        'A line in the headers is not a header; '
        'read as the start of the body.']


# Headers

def test_header_with_raw_utf8_bytes():
    "Headers with raw UTF-8 bytes are decoded as UTF-8"
    parsed = parse_message(_raw('''
        From: Zoë Müller <zoe@example.com>
        To: Jürgen <Juergen@Example.com>
        Subject: Café ☕ kaputt

        hi
        '''))
    assert parsed.from_name == 'Zoë Müller'
    assert parsed.to == [('Jürgen', 'juergen@example.com')]
    assert parsed.subject == 'Café ☕ kaputt'


def test_header_with_raw_latin1_bytes():
    "Headers with raw bytes that are not UTF-8 are decoded as Windows-1252"
    parsed = parse_message(_raw('''
        From: Zoë <zoe@example.com>
        Subject: Café – €5

        hi
        ''', 'windows-1252'))
    assert parsed.from_name == 'Zoë'
    assert parsed.subject == 'Café – €5'


def test_rfc2047_subject_decoded():
    "RFC 2047 encoded words of several charsets are decoded and joined"
    parsed = parse_message(
        b'From: =?utf-8?q?Zo=C3=AB?= <zoe@example.com>\n'
        b'Subject: =?UTF-8?B?Q2Fmw6kg4piV?= and =?iso-8859-1?q?caf=E9?=\n'
        b'\nhi\n')
    assert parsed.subject == 'Café ☕ and café'
    assert parsed.from_name == 'Zoë'


def test_folded_encoded_subject_unfolded():
    "A subject folded over lines of encoded words is one line"
    parsed = parse_message(
        b'From: a@example.com\n'
        b'Subject: =?utf-8?q?long_subject_part_one?=\n'
        b' =?utf-8?q?_part_two?=\n\tand plain\n\nhi\n')
    assert parsed.subject == 'long subject part one part two and plain'


@pytest.mark.parametrize('subject, expected', [
        ('=?UTF-8?B?Q2Fmw6kg4pi?= x', 'Café \ufffd x'),
        ('=?x-bogus?q?abc?= x', 'abc x'),
        ('=?utf-8?q?unterminated', '=?utf-8?q?unterminated'),
        ('=?utf-8?z?weird?=', '=?utf-8?z?weird?='),
        ('=??q?nocharset?=', 'nocharset'),
        ])
def test_broken_encoded_words_kept_readable(subject, expected):
    "Broken RFC 2047 encoded words never raise and keep what is readable"
    parsed = parse_message(
        f'From: a@example.com\nSubject: {subject}\n\nhi\n'.encode())
    assert parsed.subject == expected


def test_folded_message_id_joined():
    "A Message-ID folded over lines is joined without its whitespace"
    parsed = parse_message(
        b'From: a@example.com\nMessage-ID:\n'
        b' <very.long.id.that.was.folded\n @example.com>\n\nhi\n')
    assert parsed.message_id == '<very.long.id.that.was.folded@example.com>'


def test_message_id_without_brackets():
    "A Message-ID without brackets is given with them"
    parsed = parse_message(b'From: a@example.com\nMessage-ID: abc@x\n\nhi')
    assert parsed.message_id == '<abc@x>'


def test_in_reply_to_and_references():
    "In-Reply-To and References keep their ids in order, once each"
    parsed = parse_message(_raw('''
        From: a@example.com
        In-Reply-To: <a@x> <b@x>
         <a@x>
        References: <r1@x>
         <r2@x> <r1@x>
        \t<r3@x>
        References: <r3@x> <r4@x>

        hi
        '''))
    assert parsed.in_reply_to == ['<a@x>', '<b@x>']
    assert parsed.references == ['<r1@x>', '<r2@x>', '<r3@x>', '<r4@x>']


def test_ids_without_brackets_only_address_like_tokens():
    "Ids without brackets are the tokens with '@', in order, once each"
    parsed = parse_message(_raw('''
        From: a@example.com
        In-Reply-To: Your message of Mon, 3 Dec; abc@x.com
        References: r1@x r2@x, r1@x

        hi
        '''))
    assert parsed.in_reply_to == ['<abc@x.com>']
    assert parsed.references == ['<r1@x>', '<r2@x>']


def test_bracketed_ids_ignore_surrounding_text():
    "With brackets, only what is inside them are ids"
    parsed = parse_message(
        b'From: a@example.com\n'
        b'In-Reply-To: <a@x> (Anna\'s message of Monday) other@y\n\nhi')
    assert parsed.in_reply_to == ['<a@x>']


def test_addresses_lower_cased_names_kept():
    "Addresses are lower-cased; display names are kept with their case"
    parsed = parse_message(_raw('''
        From: "Nowak, Anna" <Anna.Nowak@Example.COM>
        To: "Help Desk" <HelpDesk@Example.ORG>, Other@Example.org
        Cc: D <D@W.COM>, =?utf-8?q?J=C3=BCrgen?= <j@w.com>
        Reply-To: Replies <Replies@Example.COM>
        Delivered-To: HelpDesk+TCK-00012@Example.org
        X-Original-To: helpdesk@example.org

        hi
        '''))
    assert parsed.from_name == 'Nowak, Anna'
    assert parsed.from_address == 'anna.nowak@example.com'
    assert parsed.to == [
        ('Help Desk', 'helpdesk@example.org'), ('', 'other@example.org')]
    assert parsed.cc == [('D', 'd@w.com'), ('Jürgen', 'j@w.com')]
    assert parsed.reply_to == 'replies@example.com'
    assert parsed.recipients == [
        'helpdesk@example.org', 'other@example.org', 'd@w.com',
        'j@w.com', 'helpdesk+tck-00012@example.org']


def test_no_reply_to_is_none():
    "Without Reply-To, reply_to is None"
    assert parse_message(b'From: a@example.com\n\nhi').reply_to is None


def test_sender_used_when_from_missing():
    "Without From, the Sender header gives the sender"
    parsed = parse_message(b'Sender: Robot <Robot@Example.com>\n\nhi')
    assert (parsed.from_name, parsed.from_address) == (
        'Robot', 'robot@example.com')


def test_sender_used_when_from_has_no_address():
    "A From without an address falls back on Sender"
    parsed = parse_message(
        b'From: undisclosed sender\nSender: s@example.com\n\nhi')
    assert parsed.from_address == 's@example.com'


@pytest.mark.parametrize('raw', [
        b'Subject: no sender\n\nhi\n',
        b'From: undisclosed\nSubject: s\n\nhi\n',
        b'From: @example.com\n\nhi\n',
        b'From: \nSender: \n\nhi\n',
        b'\n\nno headers at all\n',
        ])
def test_no_sender_raises(raw):
    "A message without any sender address raises MailParseError no_sender"
    with pytest.raises(MailParseError) as info:
        parse_message(raw)
    assert info.value.reason == 'no_sender'


@pytest.mark.parametrize('raw', [b'', b'  \r\n\n\t', None, '', bytearray()])
def test_empty_raises(raw):
    "Empty or blank input raises MailParseError empty"
    with pytest.raises(MailParseError) as info:
        parse_message(raw)
    assert info.value.reason == 'empty'


def test_oversized_raises():
    "A message longer than max_size raises MailParseError too_large"
    raw = b'From: a@example.com\n\n' + b'x' * 100
    with pytest.raises(MailParseError) as info:
        parse_message(raw, max_size=len(raw) - 1)
    assert info.value.reason == 'too_large'
    assert str(len(raw)) in info.value.message


def test_size_limit_is_inclusive():
    "A message exactly max_size bytes long is parsed"
    raw = b'From: a@example.com\n\n' + b'x' * 100
    assert parse_message(raw, max_size=len(raw)).size == len(raw)


def test_no_size_limit_with_none():
    "max_size None parses a message of any size"
    raw = b'From: a@example.com\n\n' + b'x' * 100
    assert parse_message(raw, max_size=None).text == 'x' * 100


# HTML

HOSTILE = [
    ('<p>Hi</p><script>alert(1)</script>', ['<script', 'alert']),
    ('<SCRIPT type="text/javascript">alert(1)</SCRIPT>ok', ['script']),
    ('<img src="x.png" onerror="alert(1)">', ['onerror', 'alert']),
    ('<a href="http://x.org" onclick="evil()">l</a>', ['onclick', 'evil']),
    ('<body onload="evil()"><p>x</p></body>', ['onload', 'evil']),
    ('<a href="javascript:alert(1)">x</a>', ['javascript', 'alert']),
    ('<a href="JaVaScRiPt:alert(1)">x</a>', ['javascript', 'alert']),
    ('<a href=" javascript:alert(1)">x</a>', ['javascript', 'alert']),
    ('<a href="java&#x09;script:alert(1)">x</a>', ['script', 'alert']),
    ('<a href="&#106;avascript:alert(1)">x</a>', ['avascript', 'alert']),
    ('<a href="vbscript:msgbox(1)">x</a>', ['vbscript', 'msgbox']),
    ('<iframe src="http://evil.example/"></iframe>after',
        ['iframe', 'evil']),
    ('<object data="x.swf"></object><embed src="y.swf">', ['swf']),
    ('<div style="position:fixed;top:0;left:0">fake login</div>',
        ['position', 'fixed']),
    ('<p style="background:url(http://t.example/x.png)">s</p>',
        ['url(', 't.example']),
    ('<p style="background-image: url(javascript:x)">s</p>',
        ['url(', 'javascript']),
    ('<form action="http://evil.example/"><input name="password">'
        '<button>Log in</button></form>', ['<form', 'action', '<input']),
    ('<meta http-equiv="refresh" content="0;url=http://evil.example/">',
        ['<meta', 'refresh', 'evil']),
    ('<svg onload="alert(1)"><script>alert(2)</script></svg>',
        ['svg', 'script', 'alert']),
    ('<svg><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
        ['svg', 'javascript', 'xlink']),
    ('<img src="data:image/png;base64,AAAA">', ['data:', 'base64']),
    ('<a href="data:text/html;base64,PHNjcmlwdD4=">d</a>', ['data:']),
    ('<base href="http://evil.example/"><link rel="stylesheet" '
        'href="http://evil.example/x.css">', ['<base', '<link', 'evil']),
    ('<style>body { display: none }</style><p>x</p>', ['<style', 'none']),
    ('<scr<script>ipt>alert(1)</script>', ['<script']),
    ]


@pytest.mark.parametrize('html, removed', HOSTILE)
def test_sanitize_html_removes_hostile_content(html, removed):
    "Scripts, event handlers, bad URLs, frames, forms, styles are removed"
    cleaned = sanitize_html(html).lower()
    for text in removed:
        assert text.lower() not in cleaned


@pytest.mark.parametrize('html, kept', [
        ('<p>Hi <b>bold</b> <i>it</i> <u>u</u></p>',
            '<p>Hi <b>bold</b> <i>it</i> <u>u</u></p>'),
        ('<p style="color: red; font-weight: bold">s</p>',
            '<p style="color:red;font-weight:bold">s</p>'),
        ('<div style="position:fixed;color:blue">s</div>',
            '<div style="color:blue">s</div>'),
        ('<font color="red" face="Arial" size="2">f</font>',
            '<font color="red" face="Arial" size="2">f</font>'),
        ('<table border="1" cellpadding="2"><tbody><tr>'
            '<td bgcolor="#fff" valign="top">c</td></tr></tbody></table>',
            '<table border="1" cellpadding="2"><tbody><tr>'
            '<td bgcolor="#fff" valign="top">c</td></tr></tbody></table>'),
        ('<a href="https://example.com/">ex</a>',
            '<a href="https://example.com/" '
            'rel="noopener noreferrer nofollow">ex</a>'),
        ('<a href="mailto:a@example.com">m</a>',
            '<a href="mailto:a@example.com" '
            'rel="noopener noreferrer nofollow">m</a>'),
        ('<img src="cid:logo@example.com" alt="logo">',
            '<img src="cid:logo@example.com" alt="logo">'),
        ('<blockquote>quoted</blockquote><ul><li>one</li></ul>',
            '<blockquote>quoted</blockquote><ul><li>one</li></ul>'),
        ('<p>fake login</p><form><button>go</button></form>',
            '<p>fake login</p>go'),
        ])
def test_sanitize_html_keeps_harmless_formatting(html, kept):
    "Harmless formatting, safe links and cid: images are kept"
    assert sanitize_html(html) == kept


def test_parsed_html_body_is_sanitized():
    "The html of a parsed message is sanitized; its text hides scripts"
    parsed = parse_message(_multipart(
        '''
        Content-Type: text/html; charset=utf-8

        <p onclick="x()">Hello <b>you</b></p><script>steal()</script>
        <a href="javascript:evil()">click</a>
        <iframe src="http://evil.example/"></iframe>
        ''', subtype='alternative'))
    assert '<p>Hello <b>you</b></p>' in parsed.html
    for text in ('script', 'steal', 'onclick', 'javascript', 'iframe'):
        assert text not in parsed.html
    assert parsed.text == 'Hello you\n\nclick'


@pytest.mark.parametrize('html, text', [
        ('<p>Thanks</p><blockquote><p>Earlier</p>'
            '<blockquote>Older</blockquote></blockquote><p>after</p>',
            'Thanks\n\n> Earlier\n>\n> > Older\n>\n\nafter'),
        ('<blockquote>a<br>b</blockquote>', '> a\n> b'),
        ('<ul><li>one</li><li>two</li></ul><ol><li>a</li></ol>',
            '- one\n- two\n\n- a'),
        ('<a href="https://example.com/x">click here</a>',
            'click here <https://example.com/x>'),
        ('<a href="https://example.com/y">https://example.com/y</a>',
            'https://example.com/y'),
        ('<a href="mailto:a@example.com">mail</a>', 'mail'),
        ('<a href="javascript:x()">js</a>', 'js'),
        ('line1<br>line2<br/>line3<br><br>line5',
            'line1\nline2\nline3\n\nline5'),
        ('<pre>  code\n    indented\n</pre><p>after   many    spaces</p>',
            '  code\n    indented\n\nafter many spaces'),
        ('<html><head><title>T</title><style>p{}</style></head><body>'
            '<script>bad()</script><p>Body &amp; more &lt;3</p>'
            '</body></html>', 'Body & more <3'),
        ('<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>',
            'a b\nc'),
        ('<img alt="logo" src="x"><h1>Title</h1>text',
            '[logo]\nTitle\n\ntext'),
        ('<svg><text>drawn</text></svg>visible', 'visible'),
        ('<div>unclosed <b>bold', 'unclosed bold'),
        ('<p>a</p><p></p><p></p><p>b</p>', 'a\n\nb'),
        ('', ''),
        ])
def test_html_to_text(html, text):
    "html_to_text quotes blockquotes, marks list items, keeps link targets"
    assert html_to_text(html) == text


# normalize_message_id

@pytest.mark.parametrize('value, expected', [
        ('<abc@x>', '<abc@x>'),
        ('  <abc@x>  ', '<abc@x>'),
        ('abc@x', '<abc@x>'),
        ('<abc@x> <def@x>', '<abc@x>'),
        ('< ab c@x >', '<abc@x>'),
        ('<abc@x', '<abc@x>'),
        ('abc@x>', '<abc@x>'),
        ('a>b', '<ab>'),
        ('<>', None),
        ('   ', None),
        ('', None),
        (None, None),
        ])
def test_normalize_message_id(value, expected):
    "normalize_message_id gives the first id in brackets, or None"
    assert normalize_message_id(value) == expected


# The samples of CPython's email tests

def _cpython_samples():
    "Return the msg_*.txt samples shipped with CPython's email tests"
    directories = []
    try:
        spec = importlib.util.find_spec('test.test_email')
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        directories.append(os.path.join(os.path.dirname(spec.origin), 'data'))
    directories.extend(sorted(glob.glob(
        '/root/.pyenv/versions/3.11*/lib/python3.11/test/test_email/data')))
    for directory in directories:
        samples = sorted(glob.glob(os.path.join(directory, 'msg_*.txt')))
        if samples:
            return samples
    return []


SAMPLES = _cpython_samples()


@pytest.mark.parametrize(
    'path', SAMPLES or [None],
    ids=[os.path.basename(p) for p in SAMPLES] or ['absent'])
def test_cpython_sample_parses_or_fails_cleanly(path):
    "Each of CPython's sample messages parses or raises MailParseError"
    if path is None:
        pytest.skip("CPython's test.test_email data directory is absent")
    with open(path, 'rb') as file:
        raw = file.read()
    outcome = _parse_or_error(raw)
    _check_outcome(outcome)
    # Those with a sender address by the stdlib's reading are parsed.
    headers = BytesHeaderParser(policy=policy.compat32).parsebytes(raw)
    senders = [
        address for _, address in getaddresses(
            headers.get_all('from', []) + headers.get_all('sender', []))
        if '@' in address]
    if senders:
        assert isinstance(outcome, ParsedMessage)
    else:
        assert outcome.reason == 'no_sender'


# Properties

@PROPERTIES
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise_other_errors(raw):
    "Arbitrary bytes parse or raise MailParseError, nothing else"
    _check_outcome(_parse_or_error(raw))


@PROPERTIES
@given(st.binary(max_size=1000))
def test_arbitrary_body_after_from_never_raises_other_errors(body):
    "Arbitrary bytes after a From header parse or raise MailParseError"
    _check_outcome(_parse_or_error(b'From: a@example.com\r\n' + body))


CHARSETS = [
    'utf-8', 'us-ascii', 'iso-8859-1', 'iso-8859-2', 'windows-1252',
    'koi8-r', 'shift_jis', 'utf-16', 'utf-7', 'x-unknown', 'bogus"',
    '', 'rot13', 'hex', 'zlib', 'idna', 'unicode-escape', 'utf-8; x=y']
ENCODINGS = [
    '7bit', '8bit', 'binary', 'base64', 'quoted-printable', 'x-uuencode',
    'bogus', '']
LEAF_TYPES = [
    'text/plain', 'text/html', 'application/pdf', 'image/png',
    'message/rfc822', 'message/delivery-status', 'text/rfc822-headers',
    'application/octet-stream', 'bogus', 'text/', 'message/partial']
HEADER_NAMES = [
    'Subject', 'To', 'Cc', 'Reply-To', 'Sender', 'Message-ID',
    'In-Reply-To', 'References', 'Date', 'Content-Type',
    'Content-Transfer-Encoding', 'MIME-Version', 'Content-Disposition',
    'Return-Path', 'Delivered-To']
_header_name = st.one_of(
    st.sampled_from(HEADER_NAMES),
    st.text(
        st.characters(min_codepoint=33, max_codepoint=126,
            exclude_characters=':'),
        min_size=1, max_size=20).filter(lambda n: n.lower() != 'from'))
_header_value = st.one_of(
    st.text(max_size=60).map(lambda t: t.encode('utf-8')),
    st.binary(max_size=40).map(lambda b: b.replace(b'\n', b' ')))
_boundary = st.text(
    st.characters(min_codepoint=32, max_codepoint=126,
        exclude_characters='"\\'),
    min_size=0, max_size=30)


@st.composite
def _leaf(draw):
    content_type = draw(st.sampled_from(LEAF_TYPES))
    charset = draw(st.sampled_from(CHARSETS))
    lines = [f'Content-Type: {content_type}; charset="{charset}"'.encode()]
    if draw(st.booleans()):
        encoding = draw(st.sampled_from(ENCODINGS))
        lines.append(f'Content-Transfer-Encoding: {encoding}'.encode())
    if draw(st.booleans()):
        disposition = draw(st.sampled_from(['attachment', 'inline', 'bogus']))
        filename = draw(st.text(max_size=20))
        lines.append(
            f'Content-Disposition: {disposition}; filename="{filename}"'
            .encode())
    if draw(st.booleans()):
        lines.append(
            b'Content-ID: <' + draw(_header_value).strip() + b'>')
    body = draw(st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode('utf-8'))))
    return b'\r\n'.join(lines) + b'\r\n\r\n' + body


def _tree(depth=0):
    "Return a strategy of the raw bytes of a random MIME part"
    if depth >= 3:
        return _leaf()
    return st.one_of(_leaf(), _multipart_part(depth))


@st.composite
def _multipart_part(draw, depth):
    subtype = draw(st.sampled_from(
        ['mixed', 'alternative', 'related', 'report', 'signed', 'digest']))
    declared = draw(_boundary)
    # Now and then the body uses another boundary than the header says.
    used = declared if draw(st.integers(0, 4)) else draw(_boundary)
    children = draw(st.lists(_tree(depth + 1), max_size=4))
    lines = [
        f'Content-Type: multipart/{subtype}; boundary="{declared}"'.encode(),
        b'', draw(st.binary(max_size=20))]
    for child in children:
        lines.append(b'--' + used.encode())
        lines.append(child)
    if draw(st.booleans()):
        lines.append(b'--' + used.encode() + b'--')
    lines.append(draw(st.binary(max_size=20)))
    newline = draw(st.sampled_from([b'\r\n', b'\n']))
    return newline.join(lines)


@st.composite
def _structured_message(draw):
    headers = [b'From: Someone <Someone@Example.com>']
    for name, value in draw(st.lists(
            st.tuples(_header_name, _header_value), max_size=8)):
        headers.append(name.encode() + b': ' + value)
    return b'\r\n'.join(headers) + b'\r\n' + draw(_tree())


@PROPERTIES
@given(_structured_message())
def test_random_mime_trees_parse(raw):
    "Random headers and MIME trees with a sender always give a message"
    outcome = _parse_or_error(raw)
    _check_outcome(outcome)
    assert isinstance(outcome, ParsedMessage), outcome
    assert outcome.from_address == 'someone@example.com'


VALID = [PLAIN, ALTERNATIVE, NESTED, _multipart(
        'Content-Type: text/plain; charset=utf-8\n'
        'Content-Transfer-Encoding: quoted-printable\n\nZa=C5=BC=C3=B3',
        _attachment_part(
            "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"),
        'Content-Type: message/rfc822\n\nFrom: b@example.net\n\ninner')]


@st.composite
def _mutated(draw):
    raw = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 6))):
        if not raw:
            break
        i = draw(st.integers(0, len(raw) - 1))
        operation = draw(st.sampled_from(
            ['truncate', 'flip', 'insert', 'delete']))
        if operation == 'truncate':
            del raw[i:]
        elif operation == 'flip':
            raw[i] ^= 1 << draw(st.integers(0, 7))
        elif operation == 'insert':
            raw[i:i] = draw(st.one_of(
                st.binary(max_size=8),
                st.sampled_from([b'\n', b'\r\n', b'--', b'=?', b'?=',
                    b'"', b';', b':', b'<', b'>', b'\x00', b'\xff'])))
        else:
            del raw[i:i + draw(st.integers(1, 20))]
    return bytes(raw)


@PROPERTIES
@given(_mutated())
def test_mutated_messages_never_raise_other_errors(raw):
    "Truncated and byte-flipped messages parse or raise MailParseError"
    _check_outcome(_parse_or_error(raw))


_html_piece = st.one_of(
    st.text(max_size=10),
    st.sampled_from([
        '<', '>', '</', '/>', '"', "'", '=', ' ', '\t', '\n', '&#', ';',
        '<script>', '</script>', '<SCRIPT ', 'script', 'javascript:',
        'JaVaScRiPt:', 'java\tscript:', '&#106;', 'on', 'onclick=',
        ' onerror=', 'ONLOAD=', '<a href=', '<img src=', '<svg',
        '<iframe', '<form', '<meta http-equiv=refresh', '<style>',
        '<!--', '-->', '<![CDATA[', ']]>', '<blockquote>', '<pre>',
        '</pre>', '<li>', '<br>', '<p>', '<math>', '<object', 'x:', '`',
        ]))
_html = st.one_of(
    st.text(max_size=300), st.lists(_html_piece, max_size=40).map(''.join))


class _Tags(HTMLParser):
    "Collect the start tags of an HTML text"

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    handle_startendtag = handle_starttag


_URL_ATTRIBUTES = {
    'href', 'src', 'action', 'formaction', 'data', 'poster', 'ping',
    'background', 'srcset', 'xlink:href', 'lowsrc', 'dynsrc'}
_SCHEMES = {'http', 'https', 'mailto', 'cid'}


@PROPERTIES
@given(_html)
def test_html_to_text_never_raises(html):
    "html_to_text gives a text for any input, without 3 line breaks in a row"
    text = html_to_text(html)
    assert isinstance(text, str)
    assert '\n\n\n' not in text


@PROPERTIES
@given(_html)
def test_sanitize_html_never_keeps_scripts(html):
    "sanitize_html never keeps script tags, on* handlers, javascript: URLs"
    cleaned = sanitize_html(html)
    assert '<script' not in cleaned.lower()
    tags = _Tags()
    tags.feed(cleaned)
    tags.close()
    for tag, attributes in tags.tags:
        assert tag not in {'script', 'iframe', 'object', 'embed', 'form'}
        for name, value in attributes:
            assert not name.lower().startswith('on'), (tag, name)
            if name.lower() in _URL_ATTRIBUTES:
                # As browsers read it: without controls and spaces.
                squeezed = re.sub(r'[\x00-\x20]', '', value or '').lower()
                scheme = re.match(r'([a-z][a-z0-9+.-]*):', squeezed)
                assert not scheme or scheme.group(1) in _SCHEMES, (
                    tag, name, value)
    # Outside the tags '<' is always escaped: no tag hides in the text.
    for match in re.finditer(r'<[^>]*>', cleaned):
        assert not re.search(
            r'\son\w*\s*=', re.sub(r'"[^"]*"', '""', match.group(0)),
            re.IGNORECASE)


@PROPERTIES
@given(st.text(max_size=100))
def test_normalize_message_id_idempotent(value):
    "normalize_message_id of its own result gives that result back"
    once = normalize_message_id(value)
    assert normalize_message_id(once) == once
    if once is not None:
        assert once.startswith('<') and once.endswith('>')
        assert not any(c.isspace() for c in once)
        assert '<' not in once[1:-1] and '>' not in once[1:-1]
