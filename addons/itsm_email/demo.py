# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Demo data: Oriale's Service Desk mailbox and what it received.

The emails go through the real path (stored, then processed as the queue
would), so that the demo shows tickets opened by email, replies threaded
into them, and the messages an administrator must look at: a refused
sender, a message without sender, a duplicate.
"""
import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from trytond.pool import Pool

from itsm_ticket.demo import CATEGORIES, EMAIL_DOMAIN

ADDRESS = f'servicedesk@{EMAIL_DOMAIN}'
BODIES = [
    "Hello,\n\n{subject} since this morning. Could you have a look?\n\n"
    "Thanks,\n{name}",
    "Hi IT,\n\n{subject}. I restarted twice already.\n\n{name}",
    "Dzień dobry,\n\n{subject}. Proszę o pomoc.\n\nPozdrawiam,\n{name}",
    ]


def _message(sender, subject, body, **headers):
    message = EmailMessage()
    message['From'] = sender
    message['To'] = ADDRESS
    message['Subject'] = subject
    message['Message-ID'] = make_msgid(domain=EMAIL_DOMAIN)
    message['Date'] = format_datetime(dt.datetime.now(dt.UTC))
    for name, value in headers.items():
        message[name.replace('_', '-')] = value
    message.set_content(body)
    return message


def generate(demo):
    pool = Pool()
    Inbox = pool.get('inbound.email.inbox')
    Email = pool.get('inbound.email')
    teams = demo.records['teams']
    demo.step("the Service Desk mailbox and its emails")
    inbox, = Inbox.create([{
                'name': "Oriale Service Desk",
                'company': demo.company.id,
                'address': ADDRESS,
                'ticket_type': 'incident',
                'team': teams["First Line"].id,
                'requester_policy': 'domains',
                'allowed_domains': EMAIL_DOMAIN,
                }])
    Inbox.new_identifier([inbox])

    rng = demo.rng
    employees = demo.records['employees']
    raws = []
    for _ in range(8 * demo.size):
        employee = rng.choice(employees)
        _, children, _, _, subjects = rng.choice(CATEGORIES)
        subject = rng.choice(subjects).format(sub=rng.choice(children))
        name = employee.party.name
        message = _message(
            f'{name} <{employee.party.email}>', subject,
            rng.choice(BODIES).format(subject=subject, name=name))
        raws.append(message)
        if rng.random() < 0.5:
            # The requester adds something, answering their own message.
            raws.append(_message(
                    f'{name} <{employee.party.email}>', f'Re: {subject}',
                    "One more thing: it also happens on my colleague's "
                    f"computer.\n\n{name}\n\n> {subject}",
                    In_Reply_To=message['Message-ID'],
                    References=message['Message-ID']))
    raws.append(_message(
            'Promo <offers@deals.example>', "Cheap toner!!!",
            "Buy now."))
    raws.append(raws[0])
    emails = [Email(inbox=inbox, data=m.as_bytes(), data_type='raw')
        for m in raws]
    emails.append(Email(inbox=inbox, data_type='raw', data=(
                b'Subject: lost sender\r\n\r\n'
                b'A message whose sender got lost on the way.\r\n')))
    for email_ in emails:
        inbox.process(email_)
    Email.save(emails)
    for email_ in emails:
        Email.process_received([email_])
