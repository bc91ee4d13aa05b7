# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""What expires: warranties, documents (and licenses, added by license.py),
in one list, and the warnings sent to the asset managers before it happens.

``itsm.asset.expiry`` is a view (``table_query``) over the sources named by
``Expiry.sources()``: a module adds its own dates by extending that
classmethod and the ``kind`` selection. A daily cron (``warn``) notifies
the asset managers of each company once per record and expiry date
(``itsm.asset.expiry.notice`` remembers what was announced), so a renewal
that moves the date is announced again.
"""
import datetime as dt
from collections import defaultdict

from sql import Column, Literal, Null, Union
from sql.operators import Concat
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.transaction import without_check_access

DEFAULT_WARNING_DAYS = 30

EXPIRY_STATES = [
    (None, ""),
    ('valid', "Valid"),
    ('expiring', "Expiring"),
    ('expired', "Expired"),
    ]


def expiry_state(date, today, days):
    """Tell whether something that ends on date is expired, expiring (within
    days of today) or valid; None without a date.

    It is still valid on its last day."""
    if date is None:
        return None
    if date < today:
        return 'expired'
    if date <= today + dt.timedelta(days=days):
        return 'expiring'
    return 'valid'


def expiry_domain(field, state, today, days):
    "The search domain on field for the state of expiry_state"
    until = today + dt.timedelta(days=days)
    if state is None:
        return [(field, '=', None)]
    if state == 'expired':
        return [(field, '<', today)]
    if state == 'expiring':
        return [(field, '>=', today), (field, '<=', until)]
    return [(field, '>', until)]


def search_expiry_state(field, clause, today, days):
    "Turn a clause on an expiry state into a domain on the date field"
    _, operator, value = clause
    if operator in {'=', '!='}:
        values = {value}
    elif operator in {'in', 'not in'}:
        values = set(value)
    else:
        raise ValueError(f"unsupported operator {operator}")
    if operator in {'!=', 'not in'}:
        # Domains have no NOT: the states split the dates, take the others.
        values = {s for s, _ in EXPIRY_STATES} - values
    return ['OR'] + [
        expiry_domain(field, v, today, days)
        for v in sorted(values, key=lambda v: v or '')]


class Configuration(metaclass=PoolMeta):
    __name__ = 'itsm.configuration'

    expiry_warning_days = fields.Integer(
        "Expiry Warning (days)",
        domain=['OR',
            ('expiry_warning_days', '=', None),
            ('expiry_warning_days', '>=', 0),
            ],
        help="How many days before a warranty, a document or a license "
        "expires the asset managers are warned.")

    @classmethod
    def default_expiry_warning_days(cls):
        return DEFAULT_WARNING_DAYS


class Expiry(ModelSQL, ModelView):
    "Something of the assets that expires: a warranty, a document"
    __name__ = 'itsm.asset.expiry'
    __string__ = "Expiry"

    company = fields.Many2One('company.company', "Company", readonly=True)
    record = fields.Reference(
        "Record", selection='get_models', readonly=True)
    kind = fields.Selection([
            ('warranty', "Warranty"),
            ('document', "Document"),
            ], "Kind", readonly=True)
    kind_string = kind.translated('kind')
    date = fields.Date("Expiry Date", readonly=True)
    days = fields.Function(
        fields.Integer("Days Left"), 'get_days')
    state = fields.Function(
        fields.Selection(EXPIRY_STATES, "State"),
        'get_state', searcher='search_state')
    warned = fields.Function(
        fields.Boolean("Warned",
            help="The asset managers were told before this date."),
        'get_warned')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('date', 'ASC'),
            ('id', 'ASC'),
            ]

    @classmethod
    def sources(cls):
        """What expires: a list of (kind, model name, date field, domain).

        Extend it (and the kind selection) to add a kind: the model needs a
        company field; the domain keeps what matters (the warranties of the
        assets still in use)."""
        return [
            ('warranty', 'itsm.asset', 'warranty_end',
                [('state', 'not in', ['retired', 'disposed'])]),
            ('document', 'itsm.asset.document', 'expiry_date', []),
            ]

    @classmethod
    def get_models(cls):
        pool = Pool()
        Model = pool.get('ir.model')
        names = Model.get_names()
        models = sorted({model for _, model, _, _ in cls.sources()})
        return [(None, '')] + [(m, names.get(m, m)) for m in models]

    @classmethod
    def table_query(cls):
        pool = Pool()
        sources = cls.sources()
        queries = []
        for index, (kind, model, field, domain) in enumerate(sources):
            Model = pool.get(model)
            table = Model.__table__()
            date = Column(table, field)
            where = date != Null
            if domain:
                where &= table.id.in_(
                    Model.search(domain, order=[], query=True))
            queries.append(table.select(
                    (table.id * len(sources) + index).as_('id'),
                    table.company.as_('company'),
                    Concat(f'{model},', table.id).as_('record'),
                    Literal(kind).as_('kind'),
                    date.as_('date'),
                    where=where))
        if len(queries) == 1:
            return queries[0]
        return Union(*queries, all_=True)

    @classmethod
    def warning_days(cls):
        "How many days ahead the warnings are sent"
        pool = Pool()
        Configuration = pool.get('itsm.configuration')
        with without_check_access():
            days = Configuration(1).expiry_warning_days
        return DEFAULT_WARNING_DAYS if days is None else days

    @classmethod
    def state_of(cls, date, today=None, days=None):
        "The state (expired, expiring, valid) of what ends on date"
        if today is None:
            today = dt.date.today()
        if days is None:
            days = cls.warning_days()
        return expiry_state(date, today, days)

    @classmethod
    def search_state_of(cls, field, clause):
        """The domain on field (a date) for a clause on its state: for the
        searchers of the state fields of what expires"""
        return search_expiry_state(
            field, clause, dt.date.today(), cls.warning_days())

    def get_days(self, name):
        if self.date:
            return (self.date - dt.date.today()).days

    @classmethod
    def get_state(cls, expiries, name):
        today = dt.date.today()
        days = cls.warning_days()
        return {e.id: expiry_state(e.date, today, days) for e in expiries}

    @classmethod
    def search_state(cls, name, clause):
        return cls.search_state_of('date', clause)

    @classmethod
    def get_warned(cls, expiries, name):
        pool = Pool()
        Notice = pool.get('itsm.asset.expiry.notice')
        notified = Notice.notified([e.record for e in expiries])
        return {e.id: (str(e.record), e.date) in notified for e in expiries}

    def get_rec_name(self, name):
        return self.record.rec_name if self.record else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        domain = ['OR']
        for _, model, _, _ in cls.sources():
            domain.append(('record.rec_name', *clause[1:], model))
        return domain

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state') == 'expired', 'danger',
                    If(Eval('state') == 'expiring', 'warning', ''))),
            ]

    # The warnings

    @classmethod
    def recipients(cls, company):
        "The users warned of what expires in the company: its asset managers"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        group = ModelData.get_id('itsm_ticket', 'group_asset_manager')
        with without_check_access():
            return User.search([
                    ('groups', '=', group),
                    ('companies', '=', company.id),
                    ], order=[('id', 'ASC')])

    @classmethod
    def warn(cls):
        """Warn the asset managers of what expires within the configured
        number of days and was not announced yet (run daily by the cron)"""
        pool = Pool()
        Notice = pool.get('itsm.asset.expiry.notice')
        Lang = pool.get('ir.lang')
        today = dt.date.today()
        days = cls.warning_days()
        with without_check_access():
            expiries = cls.search([
                    ('date', '>=', today),
                    ('date', '<=', today + dt.timedelta(days=days)),
                    ], order=[('date', 'ASC'), ('id', 'ASC')])
            notified = Notice.notified([e.record for e in expiries])
            news = [e for e in expiries
                if e.record and (str(e.record), e.date) not in notified]
            if not news:
                return []
            lang = Lang.get()
            # One notification per user and kind: opening it lists them.
            grouped = defaultdict(list)
            for expiry in news:
                grouped[(expiry.company, expiry.kind)].append(expiry)
            for (company, _), items in grouped.items():
                Model = items[0].record.__class__
                label = gettext('itsm_asset.msg_expiry_warning_label',
                    kind=items[0].kind_string, count=len(items),
                    days=days)
                description = "; ".join(
                    gettext('itsm_asset.msg_expiry_warning_item',
                        record=e.record.rec_name,
                        date=lang.strftime(e.date))
                    for e in items)
                for user in cls.recipients(company):
                    Model.notify_user(
                        [e.record for e in items], 'tryton-warning',
                        label, description, user=user.id)
            Notice.create([{
                        'record': str(e.record),
                        'date': e.date,
                        } for e in news])
        return news


class ExpiryNotice(ModelSQL, ModelView):
    "The asset managers were told that this record expires on that date"
    __name__ = 'itsm.asset.expiry.notice'
    __string__ = "Expiry Notice"

    record = fields.Reference(
        "Record", selection='get_models', required=True, readonly=True)
    date = fields.Date("Expiry Date", required=True, readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        cls._sql_indexes.add(Index(table,
                (table.record, Index.Equality()),
                (table.date, Index.Range())))

    @classmethod
    def get_models(cls):
        pool = Pool()
        Expiry = pool.get('itsm.asset.expiry')
        return Expiry.get_models()

    @classmethod
    def notified(cls, records):
        "Return the set of (record as 'model,id', date) already announced"
        records = [str(r) for r in records if r]
        if not records:
            return set()
        with without_check_access():
            notices = cls.search([('record', 'in', records)])
        return {(str(n.record), n.date) for n in notices}


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('itsm.asset.expiry|warn', "Warn of Expiring Assets' Dates"))
