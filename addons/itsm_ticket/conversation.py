# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
import datetime as dt

import nh3
from trytond.model import ModelSQL, ModelView, fields
from trytond.pyson import Eval
from trytond.transaction import Transaction

DIRECTIONS = [
    ('inbound', "Received"),
    ('outbound', "Sent"),
    ]


def sanitize_html(html):
    """Keep the formatting of an HTML body and drop what could act: scripts,
    event handlers, styles, forms, remote frames, javascript: links"""
    if not html:
        return html
    return nh3.clean(
        html,
        url_schemes={'http', 'https', 'mailto', 'cid'},
        link_rel='noopener noreferrer nofollow')


class Message(ModelSQL, ModelView):
    "One message of a ticket's conversation with its requester"
    __name__ = 'itsm.ticket.message'
    __string__ = "Ticket Message"

    _readonly = Eval('id', -1) >= 0

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    direction = fields.Selection(
        DIRECTIONS, "Direction", required=True, readonly=True)
    date = fields.DateTime("Date", required=True, readonly=True)
    author = fields.Many2One(
        'res.user', "Agent", readonly=True, ondelete='RESTRICT')
    party = fields.Many2One(
        'party.party', "Party", ondelete='RESTRICT',
        states={'readonly': _readonly},
        help="Who wrote the message, when it came from outside.")
    from_address = fields.Char("From", states={'readonly': _readonly})
    to_addresses = fields.Char("To", states={'readonly': _readonly})
    cc_addresses = fields.Char("Cc", states={'readonly': _readonly})
    subject = fields.Char("Subject", states={'readonly': _readonly})
    body = fields.Text("Message", required=True,
        states={'readonly': _readonly})
    body_html = fields.Text(
        "HTML", readonly=True,
        help="The HTML body, sanitised; the original stays in the email.")
    # Threading: the email channel matches replies on these.
    message_id = fields.Char("Message-ID", readonly=True, strip=False)
    in_reply_to = fields.Char("In-Reply-To", readonly=True, strip=False)
    references = fields.Text("References", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_direction(cls):
        return 'outbound'

    @classmethod
    def default_date(cls):
        return dt.datetime.now()

    @classmethod
    def default_author(cls):
        return Transaction().user or None

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if values.get('body_html'):
            values['body_html'] = sanitize_html(values['body_html'])
        return values

    def get_rec_name(self, name):
        return self.subject or (self.body or '')[:60]
