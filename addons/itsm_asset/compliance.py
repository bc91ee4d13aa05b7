# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""License compliance: per software, the seats the company is entitled to
against the assets it is installed on and the seats given.

A view (table_query) that aggregates in SQL, as the Service Desk's reports
do: no Python loop over the installations, so that it stays fast on
hundreds of thousands of them. It covers the software the company holds a
license for (whatever its state: an expired license leaves its software
uncovered) and the software marked as needing a license wherever it is
installed.

- entitled: the seats of the licenses in force (started and not ended); a
  site license in force makes them unlimited.
- installations: the assets in use (not retired nor disposed) with the
  software installed, whatever the versions.
- assigned: the seats of the licenses in force given to assets or
  employees.
- in use: the larger of installations and assigned: an installation needs
  a seat, and a seat given is taken even before the software is installed.
- difference: entitled − in use; the status says under-licensed below
  zero, over-licensed above (seats paid for and unused), else compliant.
"""
from sql import Literal, Null, Union
from sql.aggregate import Count, Max, Sum
from sql.conditionals import Case, Coalesce
from trytond.model import ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.transaction import Transaction

from .asset import INACTIVE_STATES
from .license import UNLIMITED_TYPES, in_force

STATUSES = [
    ('under', "Under-Licensed"),
    ('compliant', "Compliant"),
    ('over', "Over-Licensed"),
    ]


def compliance_status(entitled, used):
    """The status of a software with the seats entitled (None: unlimited)
    and the seats in use"""
    if entitled is None or entitled == used:
        return 'compliant'
    return 'under' if used > entitled else 'over'


class Compliance(ModelSQL, ModelView):
    "The licenses of a software against its installations, in a company"
    __name__ = 'itsm.software.compliance'
    __string__ = "License Compliance"

    company = fields.Many2One('company.company', "Company", readonly=True)
    software = fields.Many2One('itsm.software', "Software", readonly=True)
    publisher = fields.Many2One(
        'itsm.software.publisher', "Publisher", readonly=True)
    licenses = fields.Integer(
        "Licenses", readonly=True, help="The licenses in force.")
    unlimited = fields.Boolean(
        "Unlimited", readonly=True,
        help="A site license in force covers every installation.")
    entitled = fields.Integer(
        "Entitled Seats", readonly=True,
        help="The seats of the licenses in force; empty when unlimited.")
    installations = fields.Integer(
        "Installations", readonly=True,
        help="The assets in use with the software installed.")
    assigned = fields.Integer(
        "Assigned Seats", readonly=True,
        help="The seats of the licenses in force given to assets or "
        "employees.")
    used = fields.Integer(
        "Seats in Use", readonly=True,
        help="The larger of the installations and the assigned seats.")
    difference = fields.Integer(
        "Difference", readonly=True,
        help="The entitled seats minus the seats in use: below zero, "
        "licenses are missing.")
    status = fields.Selection(
        STATUSES, "Status", readonly=True, sort=False)
    status_string = status.translated('status')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('difference', 'ASC NULLS LAST'),
            ('software', 'ASC'),
            ('id', 'ASC'),
            ]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Date = pool.get('ir.date')
        Asset = pool.get('itsm.asset')
        Software = pool.get('itsm.software')
        Installation = pool.get('itsm.software.installation')
        License = pool.get('itsm.license')
        Assignment = pool.get('itsm.license.assignment')
        software = Software.__table__()
        installation = Installation.__table__()
        asset = Asset.__table__()
        license = License.__table__()
        license_all = License.__table__()
        assignment_license = License.__table__()
        assignment = Assignment.__table__()
        required = Software.__table__()

        company = Transaction().context.get('company') or -1
        with Transaction().set_context(company=company):
            today = Date.today()

        # What is covered: the software of the company's licenses, and the
        # software that needs one
        licensed = license_all.select(
            license_all.software.as_('software'),
            where=license_all.company == company)
        needing = required.select(
            required.id.as_('software'),
            where=required.license_required == Literal(True))
        covered = Union(licensed, needing)

        installations = installation.join(
            asset, condition=installation.asset == asset.id
            ).select(
                installation.software.as_('software'),
                Count(installation.asset, distinct=True).as_('number'),
                where=(asset.company == company)
                & ~asset.state.in_(sorted(INACTIVE_STATES))
                & installation.software.in_(covered),
                group_by=[installation.software])

        unlimited = license.type.in_(sorted(UNLIMITED_TYPES))
        licenses = license.select(
            license.software.as_('software'),
            Count(license.id).as_('number'),
            Sum(Case((unlimited, 0), else_=Coalesce(license.seats, 0))
                ).as_('seats'),
            Max(Case((unlimited, 1), else_=0)).as_('unlimited'),
            where=(license.company == company) & in_force(license, today),
            group_by=[license.software])

        assignments = assignment.join(assignment_license,
            condition=assignment.license == assignment_license.id
            ).select(
                assignment_license.software.as_('software'),
                Count(assignment.id).as_('number'),
                where=(assignment_license.company == company)
                & in_force(assignment_license, today),
                group_by=[assignment_license.software])

        query = software.join(installations, 'LEFT',
            condition=installations.software == software.id
            ).join(licenses, 'LEFT',
            condition=licenses.software == software.id
            ).join(assignments, 'LEFT',
            condition=assignments.software == software.id)

        installed = Coalesce(installations.number, 0)
        assigned = Coalesce(assignments.number, 0)
        used = Case((installed > assigned, installed), else_=assigned)
        is_unlimited = Coalesce(licenses.unlimited, 0) == 1
        entitled = Case((is_unlimited, Null),
            else_=Coalesce(licenses.seats, 0))
        difference = entitled - used
        status = cls.status.sql_cast(Case(
                (is_unlimited, 'compliant'),
                (difference < 0, 'under'),
                (difference > 0, 'over'),
                else_='compliant'))
        return query.select(
            software.id.as_('id'),
            cls.company.sql_cast(Literal(company)).as_('company'),
            software.id.as_('software'),
            software.publisher.as_('publisher'),
            Coalesce(licenses.number, 0).as_('licenses'),
            is_unlimited.as_('unlimited'),
            entitled.as_('entitled'),
            installed.as_('installations'),
            assigned.as_('assigned'),
            used.as_('used'),
            difference.as_('difference'),
            status.as_('status'),
            where=software.id.in_(licensed)
            | ((software.license_required == Literal(True))
                & (installations.software != Null)))

    def get_rec_name(self, name):
        return self.software.rec_name if self.software else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('software.rec_name', *clause[1:])]

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('status') == 'under', 'danger',
                    If(Eval('status') == 'over', 'warning', 'success'))),
            ]


class ComplianceContext(ModelView):
    "The company of the compliance"
    __name__ = 'itsm.software.compliance.context'
    __string__ = "License Compliance Context"

    company = fields.Many2One('company.company', "Company", required=True)

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')
