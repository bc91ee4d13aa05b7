# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.model import DeactivableMixin, ModelSQL, ModelView, fields, tree

from .workflow import TYPES


class Category(DeactivableMixin, tree(separator=" / "), ModelSQL, ModelView):
    "What a ticket is about, per ticket type: Hardware / Printer"
    __name__ = 'itsm.ticket.category'
    __string__ = "Ticket Category"

    name = fields.Char("Name", required=True, translate=True)
    parent = fields.Many2One(
        'itsm.ticket.category', "Parent", ondelete='RESTRICT')
    children = fields.One2Many(
        'itsm.ticket.category', 'parent', "Children")
    types = fields.MultiSelection(
        TYPES, "Ticket Types", sort=False,
        help="The ticket types the category applies to; none for all.")
    team = fields.Many2One(
        'itsm.team', "Team", ondelete='SET NULL',
        help="The team that takes the tickets of this category.")
    description = fields.Text("Description")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    def applies_to(self, type_):
        return not self.types or type_ in self.types
