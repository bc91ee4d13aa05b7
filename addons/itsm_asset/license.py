# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Software licenses: what the company bought the right to use, how many
seats, until when, and to which assets or employees the seats are given.

The key of a license is read and written by the asset managers only (a
field access); agents read the rest. A license counts in the compliance
(compliance.py) while it is in force: started and not ended.
"""
import datetime as dt

from sql import Null
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If
from trytond.transaction import Transaction

from itsm_ticket.search import rec_name_domain

from .link import LinkMixin

TYPES = [
    ('device', "Per Device"),
    ('user', "Per User"),
    ('site', "Site"),
    ('subscription', "Subscription"),
    ('oem', "OEM"),
    ]
# A site license has no seats: it covers every installation of the company
UNLIMITED_TYPES = {'site'}
STATES = [
    ('future', "Not Yet Valid"),
    ('valid', "Valid"),
    ('expiring', "Expiring"),
    ('expired', "Expired"),
    ]


def license_state(start_date, end_date, today, days):
    """The state of a license between its dates on today: expired after its
    end, not yet valid before its start, expiring within days of its end,
    else valid. It is valid on its first and last days."""
    if end_date is not None and end_date < today:
        return 'expired'
    if start_date is not None and start_date > today:
        return 'future'
    if end_date is not None and end_date <= today + dt.timedelta(days=days):
        return 'expiring'
    return 'valid'


def license_state_domain(state, today, days):
    "The domain of the licenses in the state of license_state"
    until = today + dt.timedelta(days=days)
    started = ['OR', ('start_date', '=', None), ('start_date', '<=', today)]
    if state == 'expired':
        return [('end_date', '<', today)]
    if state == 'future':
        return [
            ['OR', ('end_date', '=', None), ('end_date', '>=', today)],
            ('start_date', '>', today)]
    if state == 'expiring':
        return [started,
            ('end_date', '>=', today), ('end_date', '<=', until)]
    if state == 'valid':
        return [started,
            ['OR', ('end_date', '=', None), ('end_date', '>', until)]]
    return [('id', '=', None)]


def in_force(table, today):
    "The SQL condition on the license table of the licenses in force today"
    return (((table.start_date == Null) | (table.start_date <= today))
        & ((table.end_date == Null) | (table.end_date >= today)))


class License(ModelSQL, ModelView):
    "The right to use a software, for a number of seats and a period"
    __name__ = 'itsm.license'
    __string__ = "License"
    _history = True

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='RESTRICT',
        states={
            'readonly': Bool(Eval('assignments', [0])),
            })
    name = fields.Char("Name", required=True, strip=True)
    software = fields.Many2One(
        'itsm.software', "Software", required=True, ondelete='RESTRICT')
    type = fields.Selection(
        TYPES, "Type", required=True, sort=False,
        help="Per device: one seat per computer; per user: one seat per "
        "person; site: every installation of the company; subscription: "
        "seats for a period; OEM: bundled with a device.")
    type_string = type.translated('type')
    seats = fields.Integer(
        "Seats",
        states={
            'invisible': Eval('type').in_(sorted(UNLIMITED_TYPES)),
            'required': ~Eval('type').in_(sorted(UNLIMITED_TYPES)),
            },
        help="How many devices or users the license covers.")
    # Lazy: a client that reads every eager field (proteus) would be
    # refused the whole record where the key is not readable.
    key = fields.Char(
        "License Key", strip=True, loading='lazy',
        help="Only the asset managers see and change it.")
    start_date = fields.Date(
        "Start Date",
        domain=[
            If(Eval('start_date') & Eval('end_date'),
                ('start_date', '<=', Eval('end_date')),
                ()),
            ])
    end_date = fields.Date(
        "End Date",
        domain=[
            If(Eval('start_date') & Eval('end_date'),
                ('end_date', '>=', Eval('start_date')),
                ()),
            ],
        help="The last day the license is valid; empty for a perpetual "
        "license. The asset managers are warned before.")
    cost = Monetary(
        "Cost", currency='currency', digits='currency',
        help="What the license cost for its whole period.")
    currency = fields.Many2One(
        'currency.currency', "Currency", required=True,
        ondelete='RESTRICT')
    supplier = fields.Many2One(
        'party.party', "Supplier", ondelete='RESTRICT',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    reference = fields.Char(
        "Reference", strip=True,
        help="The supplier's contract, order or agreement number.")
    documents = fields.Many2Many(
        'itsm.license-itsm.asset.document', 'license', 'document',
        "Documents",
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        help="The contract, the invoice and the other papers of the "
        "license.")
    assignments = fields.One2Many(
        'itsm.license.assignment', 'license', "Assignments",
        help="The assets or employees who take a seat.")
    assigned = fields.Function(
        fields.Integer("Assigned", help="The seats given."),
        'get_assigned')
    state = fields.Function(
        fields.Selection(STATES, "State", sort=False),
        'get_state', searcher='search_state')
    notes = fields.Text("Notes")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.software, Index.Range()),
                    (t.company, Index.Range())),
                Index(t, (t.end_date, Index.Range())),
                })
        cls._order = [
            ('software', 'ASC'), ('end_date', 'DESC NULLS FIRST'),
            ('id', 'DESC')]

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_type(cls):
        return 'device'

    @classmethod
    def default_currency(cls):
        pool = Pool()
        Company = pool.get('company.company')
        company = Transaction().context.get('company')
        if company is not None and company >= 0:
            return Company(company).currency.id

    @fields.depends('company', 'currency')
    def on_change_company(self):
        if self.company and not self.currency:
            self.currency = self.company.currency

    @fields.depends('type', 'seats')
    def on_change_type(self):
        if self.type in UNLIMITED_TYPES:
            self.seats = None

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(
            clause, 'name', 'software.rec_name', 'reference')

    @classmethod
    def get_assigned(cls, licenses, name):
        return {lic.id: len(lic.assignments) for lic in licenses}

    @classmethod
    def get_state(cls, licenses, name):
        pool = Pool()
        Expiry = pool.get('itsm.asset.expiry')
        today = dt.date.today()
        days = Expiry.warning_days()
        return {
            lic.id: license_state(lic.start_date, lic.end_date, today, days)
            for lic in licenses}

    @classmethod
    def search_state(cls, name, clause):
        pool = Pool()
        Expiry = pool.get('itsm.asset.expiry')
        _, operator, value = clause
        if operator in {'=', '!='}:
            values = {value}
        elif operator in {'in', 'not in'}:
            values = set(value)
        else:
            return [('id', '=', None)]
        if operator in {'!=', 'not in'}:
            # The states split the licenses: the others are the rest
            values = {s for s, _ in STATES} - values
        today = dt.date.today()
        days = Expiry.warning_days()
        return ['OR'] + [
            license_state_domain(v, today, days)
            for v in sorted(values, key=str)]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state') == 'expired', 'muted',
                    If(Eval('state') == 'expiring', 'warning', ''))),
            ('/tree/field[@name="end_date"]', 'visual',
                If(Eval('state') == 'expired', 'danger',
                    If(Eval('state') == 'expiring', 'warning', ''))),
            ]

    @classmethod
    def _validate(cls, licenses, field_names=None):
        # The domains of the dates would refuse them with a generic message
        if field_names is None or field_names & {'start_date', 'end_date'}:
            cls.check_dates(licenses)
        if field_names is None or field_names & {'type', 'seats'}:
            cls.check_seats(licenses)
        super()._validate(licenses, field_names=field_names)

    @classmethod
    def validate(cls, licenses):
        super().validate(licenses)
        cls.check_assignments(licenses)

    @classmethod
    def check_dates(cls, licenses):
        pool = Pool()
        Lang = pool.get('ir.lang')
        lang = Lang.get()
        for license in licenses:
            if (license.start_date and license.end_date
                    and license.end_date < license.start_date):
                raise ValidationError(gettext(
                        'itsm_asset.msg_license_dates',
                        license=license.rec_name,
                        start=lang.strftime(license.start_date),
                        end=lang.strftime(license.end_date)))

    @classmethod
    def check_seats(cls, licenses):
        for license in licenses:
            if (license.type not in UNLIMITED_TYPES
                    and (license.seats or 0) < 1):
                raise ValidationError(gettext(
                        'itsm_asset.msg_license_seats_required',
                        license=license.rec_name,
                        type=license.type_string))

    @classmethod
    def check_assignments(cls, licenses):
        "Refuse more assignments than seats"
        for license in licenses:
            if license.type in UNLIMITED_TYPES:
                continue
            assigned = len(license.assignments)
            if assigned > (license.seats or 0):
                raise ValidationError(gettext(
                        'itsm_asset.msg_license_seats_exceeded',
                        license=license.rec_name,
                        seats=license.seats or 0,
                        assignments=assigned))

    @classmethod
    def copy(cls, licenses, default=None):
        default = default.copy() if default is not None else {}
        # A renewal is another purchase: another key, seats given anew
        default.setdefault('key', None)
        default.setdefault('assignments', None)
        return super().copy(licenses, default=default)


class Assignment(ModelSQL, ModelView):
    "A seat of a license given to an asset or to an employee"
    __name__ = 'itsm.license.assignment'
    __string__ = "License Assignment"
    _history = True

    license = fields.Many2One(
        'itsm.license', "License", required=True, ondelete='CASCADE')
    company = fields.Function(
        fields.Many2One('company.company', "Company"),
        'on_change_with_company')
    asset = fields.Many2One(
        'itsm.asset', "Asset", ondelete='CASCADE',
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        states={
            'required': ~Eval('employee'),
            })
    employee = fields.Many2One(
        'company.employee', "Employee", ondelete='CASCADE',
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        states={
            'required': ~Eval('asset'),
            })
    date = fields.Date("Assigned On")
    notes = fields.Char("Notes")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('license')
        t = cls.__table__()
        # NULL is unique in SQL: these only hold where the column is set
        cls._sql_constraints += [
            ('license_asset_unique', Unique(t, t.license, t.asset),
                'itsm_asset.msg_license_assignment_asset_unique'),
            ('license_employee_unique', Unique(t, t.license, t.employee),
                'itsm_asset.msg_license_assignment_employee_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.asset, Index.Range()), where=t.asset != Null),
                Index(t, (t.employee, Index.Range()),
                    where=t.employee != Null),
                })
        cls._order = [('license', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_date(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        return Date.today()

    @fields.depends('license', '_parent_license.company')
    def on_change_with_company(self, name=None):
        return self.license.company if self.license else None

    def get_rec_name(self, name):
        holders = [r.rec_name for r in [self.asset, self.employee] if r]
        return f"{self.license.rec_name} → {', '.join(holders)}"

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(
            clause, 'license.rec_name', 'asset.rec_name', 'employee.rec_name')

    @classmethod
    def _validate(cls, assignments, field_names=None):
        # The domains would refuse another company with a generic message
        cls.check_holder(assignments)
        super()._validate(assignments, field_names=field_names)

    @classmethod
    def validate(cls, assignments):
        pool = Pool()
        License = pool.get('itsm.license')
        super().validate(assignments)
        License.check_assignments(
            License.browse({a.license.id for a in assignments}))

    @classmethod
    def check_holder(cls, assignments):
        for assignment in assignments:
            license = assignment.license
            if not assignment.asset and not assignment.employee:
                raise ValidationError(gettext(
                        'itsm_asset.msg_license_assignment_target',
                        license=license.rec_name))
            if (assignment.asset
                    and assignment.asset.company != license.company):
                raise ValidationError(gettext(
                        'itsm_asset.msg_license_assignment_asset_company',
                        asset=assignment.asset.rec_name,
                        asset_company=assignment.asset.company.rec_name,
                        license=license.rec_name,
                        company=license.company.rec_name))
            if (assignment.employee
                    and assignment.employee.company != license.company):
                raise ValidationError(gettext(
                        'itsm_asset.msg_license_assignment_employee_company',
                        employee=assignment.employee.rec_name,
                        employee_company=(
                            assignment.employee.company.rec_name),
                        license=license.rec_name,
                        company=license.company.rec_name))


class LicenseDocument(LinkMixin, ModelSQL):
    "Links a license and a contract document"
    __name__ = 'itsm.license-itsm.asset.document'
    __string__ = "License Document Link"

    license = fields.Many2One(
        'itsm.license', "License", required=True, ondelete='CASCADE')
    document = fields.Many2One(
        'itsm.asset.document', "Document", required=True,
        ondelete='CASCADE')
    _link = ('license', 'document')


class Document(metaclass=PoolMeta):
    __name__ = 'itsm.asset.document'

    licenses = fields.Many2Many(
        'itsm.license-itsm.asset.document', 'document', 'license',
        "Licenses",
        domain=[
            ('company', '=', Eval('company', -1)),
            ])


class Software(metaclass=PoolMeta):
    __name__ = 'itsm.software'

    licenses = fields.One2Many(
        'itsm.license', 'software', "Licenses", readonly=True)


class Asset(metaclass=PoolMeta):
    __name__ = 'itsm.asset'

    license_assignments = fields.One2Many(
        'itsm.license.assignment', 'asset', "Licenses", readonly=True,
        help="The seats of licenses given to the asset.")


class Expiry(metaclass=PoolMeta):
    __name__ = 'itsm.asset.expiry'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('license', "License"))

    @classmethod
    def sources(cls):
        return super().sources() + [
            ('license', 'itsm.license', 'end_date', []),
            ]
