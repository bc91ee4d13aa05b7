# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The emails the Service Desk sends, as plain data.

:func:`compose` builds the MIME message of a reply or of an automatic
notice with every header that keeps the conversation in one thread on the
requester's side and ours: our Message-ID (which names the ticket),
In-Reply-To and References, the ticket's token in the subject and a
plus-address in Reply-To. Automatic notices say so (``Auto-Submitted``),
so that well-behaved robots never answer them.
"""
import email.utils
import mimetypes
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP

__all__ = ['OutgoingAttachment', 'compose', 'references_for', 'format_address']

MAX_REFERENCES = 20
"""References kept in a reply: the first (it starts the thread) and the
latest ones; long threads would otherwise grow the header without bound."""


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    data: bytes
    content_type: str | None = None


def references_for(chain, limit=MAX_REFERENCES):
    "Return the References of a reply to the message ids of chain, in order"
    ids = []
    for message_id in chain:
        if message_id and message_id not in ids:
            ids.append(message_id)
    if len(ids) > limit:
        ids = ids[:1] + ids[-(limit - 1):]
    return ids


def format_address(name, address):
    "Return the header value of address with its display name"
    if not name:
        return address
    local, _, domain = address.rpartition('@')
    try:
        return str(Address(display_name=name, username=local, domain=domain))
    except (ValueError, IndexError):
        return address


@dataclass
class Outgoing:
    "What compose needs; the addresses are plain 'user@domain' strings"
    from_address: str
    to: list[str]
    subject: str
    text: str
    message_id: str
    from_name: str = ''
    cc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    automatic: bool = False
    language: str | None = None
    date: float | None = None
    attachments: list[OutgoingAttachment] = field(default_factory=list)


def compose(outgoing):
    "Return the EmailMessage of outgoing, ready for SMTP"
    message = EmailMessage(policy=SMTP)
    message['From'] = format_address(
        outgoing.from_name, outgoing.from_address)
    message['To'] = ', '.join(outgoing.to)
    if outgoing.cc:
        message['Cc'] = ', '.join(outgoing.cc)
    if outgoing.reply_to:
        message['Reply-To'] = format_address(
            outgoing.from_name, outgoing.reply_to)
    message['Subject'] = ' '.join(outgoing.subject.split())
    message['Date'] = email.utils.formatdate(outgoing.date, localtime=False)
    message['Message-ID'] = outgoing.message_id
    if outgoing.in_reply_to:
        message['In-Reply-To'] = outgoing.in_reply_to
    references = references_for(outgoing.references)
    if references:
        message['References'] = ' '.join(references)
    # A loop needs two robots: tell the other side we are one.
    message['X-Loop'] = outgoing.from_address
    if outgoing.automatic:
        message['Auto-Submitted'] = 'auto-replied'
        # Exchange's way of asking for no out-of-office answer.
        message['X-Auto-Response-Suppress'] = 'All'
        message['Precedence'] = 'auto_reply'
    message.set_content(outgoing.text, subtype='plain', charset='utf-8')
    if outgoing.language:
        # After set_content, which drops the Content-* headers; it is the
        # text's language and goes with it into a multipart.
        message['Content-Language'] = outgoing.language.replace('_', '-')
    for attachment in outgoing.attachments:
        content_type = (attachment.content_type
            or mimetypes.guess_type(attachment.filename)[0]
            or 'application/octet-stream')
        maintype, _, subtype = content_type.partition('/')
        message.add_attachment(
            attachment.data, maintype=maintype,
            subtype=subtype or 'octet-stream',
            filename=attachment.filename)
    return message
