# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The papers of the assets: invoices, warranties, contracts, manuals.

The file is kept in Tryton's filestore (``file_id``), not in the database.
With account_invoice activated, a document may point at the supplier
invoice it is a copy of (account.py).
"""
import datetime as dt

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from itsm_ticket.search import rec_name_domain

from .expiry import EXPIRY_STATES
from .link import LinkMixin

TYPES = [
    ('invoice', "Invoice"),
    ('warranty', "Warranty"),
    ('contract', "Contract"),
    ('manual', "Manual"),
    ('other', "Other"),
    ]


class Document(ModelSQL, ModelView):
    "A document about assets: an invoice, a warranty, a contract, a manual"
    __name__ = 'itsm.asset.document'
    __string__ = "Asset Document"

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='RESTRICT',
        states={
            'readonly': Eval('id', -1) >= 0,
            })
    name = fields.Char("Name", required=True, strip=True)
    type = fields.Selection(TYPES, "Type", required=True, sort=False)
    type_string = type.translated('type')
    data = fields.Binary(
        "File", filename='filename', file_id='file_id',
        store_prefix='itsm_asset_document')
    file_id = fields.Char("File ID", readonly=True)
    filename = fields.Char("File Name")
    reference = fields.Char(
        "Reference", strip=True,
        help="The supplier's number of the invoice, warranty or contract.")
    start_date = fields.Date(
        "Start Date",
        domain=[
            If(Eval('start_date') & Eval('expiry_date'),
                ('start_date', '<=', Eval('expiry_date')),
                ()),
            ])
    expiry_date = fields.Date(
        "Expiry Date",
        domain=[
            If(Eval('start_date') & Eval('expiry_date'),
                ('expiry_date', '>=', Eval('start_date')),
                ()),
            ],
        help="When the warranty or the contract ends: the asset managers "
        "are warned before.")
    state = fields.Function(
        fields.Selection(EXPIRY_STATES, "Validity"),
        'get_state', searcher='search_state')
    assets = fields.Many2Many(
        'itsm.asset-itsm.asset.document', 'document', 'asset', "Assets",
        domain=[('company', '=', Eval('company', -1))])
    notes = fields.Text("Notes")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('expiry_date', 'ASC NULLS LAST'),
            ('name', 'ASC'),
            ('id', 'ASC'),
            ]
        table = cls.__table__()
        cls._sql_indexes.update({
                Index(table, (table.expiry_date, Index.Range())),
                Index(table, (table.name, Index.Similarity())),
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_type(cls):
        return 'invoice'

    @classmethod
    def get_state(cls, documents, name):
        pool = Pool()
        Expiry = pool.get('itsm.asset.expiry')
        today = dt.date.today()
        days = Expiry.warning_days()
        return {
            d.id: Expiry.state_of(d.expiry_date, today, days)
            for d in documents}

    @classmethod
    def search_state(cls, name, clause):
        pool = Pool()
        Expiry = pool.get('itsm.asset.expiry')
        return Expiry.search_state_of('expiry_date', clause)

    def get_rec_name(self, name):
        return f'{self.name} ({self.type_string})'

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, 'name', 'reference', 'filename')

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state') == 'expired', 'muted', '')),
            ('/tree/field[@name="expiry_date"]', 'visual',
                If(Eval('state') == 'expired', 'danger',
                    If(Eval('state') == 'expiring', 'warning', ''))),
            ]

    @classmethod
    def _validate(cls, documents, field_names=None):
        if field_names is None or field_names & {'company', 'assets'}:
            cls.check_assets_company(documents)
        if field_names is None or field_names & {
                'start_date', 'expiry_date'}:
            cls.check_dates(documents)
        super()._validate(documents, field_names=field_names)

    @classmethod
    def check_assets_company(cls, documents):
        for document in documents:
            for asset in document.assets:
                if asset.company != document.company:
                    raise ValidationError(gettext(
                            'itsm_asset.msg_document_asset_company',
                            document=document.rec_name,
                            asset=asset.rec_name))

    @classmethod
    def check_dates(cls, documents):
        for document in documents:
            if (document.start_date and document.expiry_date
                    and document.start_date > document.expiry_date):
                raise ValidationError(gettext(
                        'itsm_asset.msg_document_dates',
                        document=document.rec_name))

    @classmethod
    def copy(cls, documents, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('file_id', None)
        return super().copy(documents, default=default)


class AssetDocument(LinkMixin, ModelSQL):
    "Links an asset and a document"
    __name__ = 'itsm.asset-itsm.asset.document'
    __string__ = "Asset Document Link"

    asset = fields.Many2One(
        'itsm.asset', "Asset", required=True, ondelete='CASCADE')
    document = fields.Many2One(
        'itsm.asset.document', "Document", required=True,
        ondelete='CASCADE')
    _link = ('asset', 'document')


class Asset(metaclass=PoolMeta):
    __name__ = 'itsm.asset'

    documents = fields.Many2Many(
        'itsm.asset-itsm.asset.document', 'asset', 'document', "Documents",
        domain=[('company', '=', Eval('company', -1))])

    @classmethod
    def copy(cls, assets, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('documents', None)
        return super().copy(assets, default=default)
