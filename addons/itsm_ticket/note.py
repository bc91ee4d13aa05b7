# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.transaction import Transaction

VISIBILITIES = [
    ('private', "Private"),
    ('public', "Public"),
    ]


class Note(ModelSQL, ModelView):
    """A note on a ticket: private ones are for agents only, public ones are
    shown to the requester"""
    __name__ = 'itsm.ticket.note'
    __string__ = "Ticket Note"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    visibility = fields.Selection(
        VISIBILITIES, "Visibility", required=True,
        help="Private notes are never shown to the requester, "
        "in the portal or by email.")
    author = fields.Many2One(
        'res.user', "Author", readonly=True, ondelete='RESTRICT')
    body = fields.Text("Note", required=True)
    ticket_state = fields.Char(
        "Ticket State", readonly=True,
        help="The state of the ticket when the note was written.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        cls._order = [('create_date', 'DESC'), ('id', 'DESC')]
        cls.body.states = {
            'readonly': Eval('id', -1) >= 0,
            }

    @classmethod
    def default_visibility(cls):
        return 'private'

    @classmethod
    def default_author(cls):
        return Transaction().user or None

    @classmethod
    def preprocess_values(cls, mode, values):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and values.get('ticket'):
            values['ticket_state'] = Ticket(values['ticket']).state
        return values

    def get_rec_name(self, name):
        return (self.body or '').splitlines()[0][:60] if self.body else ''
