# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Helpers for the tests and scenarios of the email channel"
import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from trytond.pool import Pool

HELPDESK = 'servicedesk@oriale.example'


def email_message(
        subject="Printer on fire", sender='ewa@client.example',
        to=HELPDESK, body="The printer in room 12 is on fire.",
        message_id=None, in_reply_to=None, references=None, cc=None,
        headers=None, html=None, attachments=()):
    "The bytes of a plain email"
    message = EmailMessage()
    message['From'] = sender
    message['To'] = to
    if cc:
        message['Cc'] = cc
    message['Subject'] = subject
    message['Message-ID'] = message_id or make_msgid(domain='client.example')
    if in_reply_to:
        message['In-Reply-To'] = in_reply_to
    if references:
        message['References'] = references
    message['Date'] = format_datetime(dt.datetime.now(dt.UTC))
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype='html')
    for filename, data in attachments:
        message.add_attachment(
            data, maintype='application', subtype='octet-stream',
            filename=filename)
    return message.as_bytes()


def create_mailbox(company, **values):
    "A Service Desk mailbox of the company"
    Inbox = Pool().get('inbound.email.inbox')
    values.setdefault('name', "Oriale Service Desk")
    values.setdefault('address', HELPDESK)
    inbox, = Inbox.create([{'company': company.id, **values}])
    return inbox


def receive(inbox, raw):
    """Store the raw message as the webhook does, then run the queued
    processing; return the email"""
    Email = Pool().get('inbound.email')
    email_ = Email(inbox=inbox, data=raw, data_type='raw')
    inbox.process(email_)
    email_.save()
    Email.process_received([email_])
    return Email(email_.id)
