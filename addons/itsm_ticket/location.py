# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.i18n import gettext
from trytond.model import DeactivableMixin, ModelSQL, ModelView, fields, tree
from trytond.model.exceptions import ValidationError
from trytond.pyson import Eval
from trytond.transaction import Transaction

# Outermost first: a location may only contain locations of a later kind.
KINDS = [
    ('site', "Site"),
    ('building', "Building"),
    ('floor', "Floor"),
    ('room', "Room"),
    ]
KIND_RANK = {kind: rank for rank, (kind, _) in enumerate(KINDS)}


def may_contain(parent_kind, child_kind):
    "Tell whether a location of parent_kind may hold one of child_kind"
    return KIND_RANK[parent_kind] < KIND_RANK[child_kind]


class Location(
        DeactivableMixin, tree(separator=" / "),
        ModelSQL, ModelView):
    "Where people and things are: a site, a building, a floor or a room"
    __name__ = 'itsm.location'
    __string__ = "Location"

    name = fields.Char("Name", required=True)
    code = fields.Char(
        "Code", strip=True,
        help="A short code printed on labels and used in searches.")
    kind = fields.Selection(KINDS, "Kind", required=True, sort=False)
    kind_string = kind.translated('kind')
    parent = fields.Many2One(
        'itsm.location', "Parent", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    children = fields.One2Many('itsm.location', 'parent', "Children")
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    address = fields.Many2One(
        'party.address', "Address", ondelete='RESTRICT',
        states={
            'invisible': Eval('kind') != 'site',
            },
        help="The postal address of the site.")
    notes = fields.Text("Notes")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_kind(cls):
        return 'room'

    @classmethod
    def search_rec_name(cls, name, clause):
        domain = super().search_rec_name(name, clause)
        if clause[1].startswith('!') or clause[1].startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op, domain, ('code', *clause[1:])]

    @classmethod
    def validate_fields(cls, locations, field_names):
        super().validate_fields(locations, field_names)
        if field_names & {'kind', 'parent'}:
            cls.check_kind_nesting(locations)

    @classmethod
    def check_kind_nesting(cls, locations):
        for location in locations:
            pairs = [(location, child) for child in location.children]
            if location.parent:
                pairs.append((location.parent, location))
            for parent, child in pairs:
                if not may_contain(parent.kind, child.kind):
                    raise ValidationError(gettext(
                            'itsm_ticket.msg_location_kind_nesting',
                            location=child.name,
                            kind=child.kind_string,
                            parent=parent.rec_name,
                            parent_kind=parent.kind_string))
