# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The Assets tab of the tickets: the assets and the documents a ticket is
about; and the tickets of each asset and document.

When an agent adds assets to a ticket, the requester's assets come first:
the field's search context names the requester (``itsm_requester``) and its
search order sorts on ``itsm.asset.of_requester``, which both the search
window and the completion of sao send to the server.
"""
from trytond.model import ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval

from .link import LinkMixin

# The order the requester's assets are offered in
REQUESTER_FIRST = [
    ('of_requester', 'DESC'),
    ('name', 'ASC'),
    ('id', 'ASC'),
    ]


class Ticket(metaclass=PoolMeta):
    __name__ = 'itsm.ticket'

    assets = fields.Many2Many(
        'itsm.ticket-itsm.asset', 'ticket', 'asset', "Assets",
        domain=[('company', '=', Eval('company', -1))],
        search_context={
            'itsm_requester': Eval('requester', -1),
            },
        search_order=REQUESTER_FIRST,
        depends={'requester'},
        help="The assets the ticket is about; the requester's come first "
        "when adding.")
    asset_documents = fields.Many2Many(
        'itsm.ticket-itsm.asset.document', 'ticket', 'document',
        "Asset Documents",
        domain=[('company', '=', Eval('company', -1))],
        help="The invoices, warranties and contracts the ticket needs.")
    requester_assets = fields.Function(
        fields.Many2Many('itsm.asset', None, None, "Requester's Assets",
            help="The assets the requester uses."),
        'get_requester_assets')

    @classmethod
    def get_requester_assets(cls, tickets, name):
        pool = Pool()
        Asset = pool.get('itsm.asset')
        by_requester = {}
        result = {}
        for ticket in tickets:
            if not ticket.requester:
                result[ticket.id] = []
                continue
            key = (ticket.requester.id, ticket.company.id)
            if key not in by_requester:
                by_requester[key] = [a.id for a in Asset.search([
                            ('company', '=', ticket.company.id),
                            ['OR',
                                ('party', '=', ticket.requester.id),
                                ('employee.party', '=', ticket.requester.id),
                                ],
                            ])]
            result[ticket.id] = by_requester[key]
        return result


class TicketAsset(LinkMixin, ModelSQL):
    "Links a ticket and an asset"
    __name__ = 'itsm.ticket-itsm.asset'
    __string__ = "Ticket Asset"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    asset = fields.Many2One(
        'itsm.asset', "Asset", required=True, ondelete='CASCADE')
    _link = ('ticket', 'asset')


class TicketDocument(LinkMixin, ModelSQL):
    "Links a ticket and an asset document"
    __name__ = 'itsm.ticket-itsm.asset.document'
    __string__ = "Ticket Asset Document"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    document = fields.Many2One(
        'itsm.asset.document', "Document", required=True,
        ondelete='CASCADE')
    _link = ('ticket', 'document')


class Asset(metaclass=PoolMeta):
    __name__ = 'itsm.asset'

    tickets = fields.Many2Many(
        'itsm.ticket-itsm.asset', 'asset', 'ticket', "Tickets",
        readonly=True, order=[('create_date', 'DESC'), ('id', 'DESC')])

    @classmethod
    def copy(cls, assets, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('tickets', None)
        return super().copy(assets, default=default)


class Document(metaclass=PoolMeta):
    __name__ = 'itsm.asset.document'

    tickets = fields.Many2Many(
        'itsm.ticket-itsm.asset.document', 'document', 'ticket', "Tickets",
        readonly=True, order=[('create_date', 'DESC'), ('id', 'DESC')])

    @classmethod
    def copy(cls, documents, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('tickets', None)
        return super().copy(documents, default=default)
