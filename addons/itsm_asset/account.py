# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Links to accounting, each registered only when its module is activated:

- account_invoice: a document may be the copy of a supplier invoice;
- account_asset: an IT asset may belong to a fixed asset of accounting,
  whose book value it shows. One fixed asset often covers several units
  (ten laptops bought together): its book value is shared equally among
  the IT assets that point at it.
"""
from decimal import Decimal

from trytond.model import fields
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.transaction import inactive_records, without_check_access


class Document(metaclass=PoolMeta):
    __name__ = 'itsm.asset.document'

    invoice = fields.Many2One(
        'account.invoice', "Supplier Invoice", ondelete='SET NULL',
        domain=[
            ('type', '=', 'in'),
            ('company', '=', Eval('company', -1)),
            ],
        help="The supplier invoice this document is a copy of.")

    @fields.depends('invoice', 'name', 'reference', 'type')
    def on_change_invoice(self):
        if self.invoice:
            if not self.name:
                self.name = self.invoice.rec_name
            if not self.reference:
                self.reference = self.invoice.reference
            self.type = 'invoice'

    @classmethod
    def copy(cls, documents, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('invoice', None)
        return super().copy(documents, default=default)


class Asset(metaclass=PoolMeta):
    __name__ = 'itsm.asset'

    fixed_asset = fields.Many2One(
        'account.asset', "Fixed Asset", ondelete='SET NULL',
        domain=[('company', '=', Eval('company', -1))],
        help="The asset of accounting this one is depreciated in.")
    book_currency = fields.Function(
        fields.Many2One('currency.currency', "Book Currency"),
        'get_book_currency')
    book_value = fields.Function(
        Monetary("Book Value", currency='book_currency',
            digits='book_currency',
            help="The fixed asset's value less what is depreciated, shared "
            "equally among the IT assets in it."),
        'get_book_value')

    def get_book_currency(self, name):
        if self.fixed_asset:
            return self.company.currency.id

    @classmethod
    def get_book_value(cls, assets, name):
        values = {a.id: None for a in assets}
        with without_check_access(), inactive_records():
            fixed_assets = {a.fixed_asset for a in cls.browse(assets)
                if a.fixed_asset}
            shares = cls.book_value_shares(fixed_assets)
            for asset in cls.browse(assets):
                if asset.fixed_asset:
                    values[asset.id] = shares[asset.fixed_asset.id]
        return values

    @classmethod
    def book_value_shares(cls, fixed_assets):
        """Return, per fixed asset id, the book value of each IT asset it
        holds: its value less the depreciation, over their number"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        shares = {}
        for fixed_asset in fixed_assets:
            count = Asset.search(
                [('fixed_asset', '=', fixed_asset.id)], count=True)
            if fixed_asset.state == 'closed':
                value = Decimal(0)
            else:
                value = (fixed_asset.value
                    - fixed_asset.depreciated_amount
                    - fixed_asset.get_depreciated_amount())
            currency = fixed_asset.company.currency
            shares[fixed_asset.id] = currency.round(value / max(count, 1))
        return shares

    @classmethod
    def copy(cls, assets, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('fixed_asset', None)
        return super().copy(assets, default=default)
