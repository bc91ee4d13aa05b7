# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Licenses, their assignments, the compliance and the expiry warnings:
the pure rules, then on a database.

A plain TestCase for the database: a second ModuleTestCase would run
Tryton's generic tests of the module again.
"""
import datetime as dt
import random
from contextlib import contextmanager

import pytest
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import (
    create_company,
    create_employee,
    set_company,
)
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    with_transaction,
)
from trytond.transaction import Transaction

from itsm_ticket import demo as ticket_demo
from itsm_ticket.tests.test_work_hours import as_user, create_agent
from itsm_ticket.tests.tools import ActivatedModuleCase
from itsm_tools.demo import Demo

from .. import demo as asset_demo
from ..compliance import compliance_status
from ..license import license_state

TODAY = dt.date(2026, 3, 10)
DAY = dt.timedelta(days=1)


@pytest.mark.parametrize('start, end, state', [
        (None, None, 'valid'),
        (TODAY - 400 * DAY, None, 'valid'),
        (None, TODAY + 31 * DAY, 'valid'),
        (None, TODAY + 30 * DAY, 'expiring'),
        (None, TODAY, 'expiring'),
        (None, TODAY - DAY, 'expired'),
        (TODAY + DAY, None, 'future'),
        (TODAY, TODAY, 'expiring'),
        (TODAY + DAY, TODAY + 400 * DAY, 'future'),
        ])
def test_license_state(start, end, state):
    assert license_state(start, end, TODAY, 30) == state


@pytest.mark.parametrize('entitled, used, status', [
        (None, 0, 'compliant'),
        (None, 1000, 'compliant'),
        (3, 3, 'compliant'),
        (0, 0, 'compliant'),
        (2, 3, 'under'),
        (0, 1, 'under'),
        (5, 3, 'over'),
        ])
def test_compliance_status(entitled, used, status):
    assert compliance_status(entitled, used) == status


@contextmanager
def refused(test, exception, regex):
    """Assert that the block raises and undo what it wrote before, as the
    rollback of the refused call does"""
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    cursor.execute('SAVEPOINT refused')
    with test.assertRaisesRegex(exception, regex):
        try:
            yield
        except Exception:
            cursor.execute('ROLLBACK TO SAVEPOINT refused')
            for cache in transaction.cache.values():
                cache.clear()
            raise
    cursor.execute('RELEASE SAVEPOINT refused')


def create_asset(company, name):
    pool = Pool()
    Asset = pool.get('itsm.asset')
    asset, = Asset.create([{
                'company': company.id, 'name': name, 'kind': 'laptop'}])
    return asset


def install(software, assets, version=None):
    pool = Pool()
    Installation = pool.get('itsm.software.installation')
    return Installation.create([{
                'asset': a.id, 'software': software.id,
                'version': version.id if version else None,
                } for a in assets])


def compliance_of(software):
    "The compliance row of the software in the context's company, or None"
    pool = Pool()
    Compliance = pool.get('itsm.software.compliance')
    rows = Compliance.search([('software', '=', software.id)])
    if rows:
        row, = rows
        return row


class LicenseTestCase(ActivatedModuleCase):
    "Licenses, assignments, compliance and expiry"
    module = 'itsm_asset'

    def create_license(self, software, **values):
        pool = Pool()
        License = pool.get('itsm.license')
        values.setdefault('name', f"{software.name} licence")
        values.setdefault('seats', 1)
        license, = License.create([{'software': software.id, **values}])
        return license

    @with_transaction()
    def test_seats_and_dates(self):
        "A counted license needs seats; it cannot end before it starts"
        pool = Pool()
        Software = pool.get('itsm.software')
        License = pool.get('itsm.license')
        company = create_company()
        with set_company(company):
            office, = Software.create([{'name': "Office"}])
            for type_ in ['device', 'user', 'subscription', 'oem']:
                with self.subTest(type=type_), refused(
                        self, ValidationError, 'give it at least one seat'):
                    self.create_license(office, type=type_, seats=0)
            site = self.create_license(office, type='site', seats=None)
            self.assertEqual(site.currency, company.currency)
            license = self.create_license(office, seats=5)
            with refused(
                    self, ValidationError, 'at least one seat'):
                License.write([license], {'seats': -1})
            with refused(self, ValidationError,
                    'cannot end on .* before it starts'):
                License.write([license], {
                        'start_date': dt.date(2026, 1, 1),
                        'end_date': dt.date(2025, 12, 31)})
            License.write([license], {
                    'start_date': dt.date(2026, 1, 1),
                    'end_date': dt.date(2026, 1, 1)})

    @with_transaction()
    def test_assignments(self):
        """Seats go to assets or employees of the license's company, no more
        than the license has"""
        pool = Pool()
        Software = pool.get('itsm.software')
        License = pool.get('itsm.license')
        Assignment = pool.get('itsm.license.assignment')
        company = create_company()
        other = create_company("Other")
        with set_company(other):
            foreign_asset = create_asset(other, "OTHER-1")
            foreign_employee = create_employee(other, "Otto")
        with set_company(company):
            office, = Software.create([{'name': "Office"}])
            pc1, pc2, pc3 = [
                create_asset(company, f"PC-{i}") for i in range(1, 4)]
            ada = create_employee(company, "Ada")
            license = self.create_license(office, seats=2)
            Assignment.create([
                    {'license': license.id, 'asset': pc1.id},
                    {'license': license.id, 'employee': ada.id},
                    ])
            self.assertEqual(license.assigned, 2)
            self.assertEqual(pc1.license_assignments[0].license, license)
            with refused(
                    self, ValidationError, 'has 2 seat.* but 3 assignment'):
                Assignment.create([{'license': license.id, 'asset': pc2.id}])
            with refused(
                    self, ValidationError, 'has 1 seat.* but 2 assignment'):
                License.write([license], {'seats': 1})
            with refused(
                    self, ValidationError, 'to an asset or to an employee'):
                Assignment.create([{'license': license.id}])
            License.write([license], {'seats': 10})
            with refused(
                    self, ValidationError,
                    '"OTHER-1" belongs to Other: it cannot take a seat'):
                Assignment.create([{
                            'license': license.id,
                            'asset': foreign_asset.id}])
            with refused(
                    self, ValidationError, '"Otto" works for Other'):
                Assignment.create([{
                            'license': license.id,
                            'employee': foreign_employee.id}])
            # A site license has no limit
            site = self.create_license(office, type='site', seats=None)
            Assignment.create([
                    {'license': site.id, 'asset': a.id}
                    for a in [pc1, pc2, pc3]])

            copy, = License.copy([license])
            self.assertEqual(copy.assignments, ())

    @with_transaction()
    def test_key_for_asset_managers_only(self):
        "Agents read licenses but never their key"
        pool = Pool()
        Software = pool.get('itsm.software')
        License = pool.get('itsm.license')
        company = create_company()
        agent = create_agent('adam', 'group_agent', company)
        manager = create_agent('tom', 'group_asset_manager', company)
        with set_company(company):
            office, = Software.create([{'name': "Office"}])
            license = self.create_license(
                office, seats=3, key='AAAA-BBBB-CCCC')
            copy, = License.copy([license])
            self.assertIsNone(copy.key)

        with as_user(agent):
            license_id = license.id
            rows = License.read([license_id], ['name', 'seats', 'state'])
            self.assertEqual(rows[0]['seats'], 3)
            with self.assertRaises(AccessError):
                License.read([license_id], ['key'])
            with self.assertRaises(AccessError):
                License.search([('key', '=', 'AAAA-BBBB-CCCC')])
            with self.assertRaises(AccessError):
                License.write([License(license_id)], {'seats': 4})
            for view_type in ['form', 'tree']:
                view = License.fields_view_get(view_type=view_type)
                self.assertNotIn('key', view['fields'])
                self.assertNotIn('name="key"', view['arch'])

        with as_user(manager):
            self.assertEqual(
                License.read([license_id], ['key'])[0]['key'],
                'AAAA-BBBB-CCCC')
            License.write([License(license_id)], {'key': 'DDDD'})
            view = License.fields_view_get(view_type='form')
            self.assertIn('key', view['fields'])

    @with_transaction()
    def test_state(self):
        "The state follows the dates; the searcher agrees with it"
        pool = Pool()
        Software = pool.get('itsm.software')
        License = pool.get('itsm.license')
        Date = pool.get('ir.date')
        company = create_company()
        with set_company(company):
            today = Date.today()
            office, = Software.create([{'name': "Office"}])
            dates = {
                'valid': (None, None),
                'expiring': (today - DAY, today + 10 * DAY),
                'expired': (today - 100 * DAY, today - DAY),
                'future': (today + DAY, None),
                }
            licenses = {
                state: self.create_license(
                    office, name=state, start_date=start, end_date=end)
                for state, (start, end) in dates.items()}
            for state, license in licenses.items():
                with self.subTest(state=state):
                    self.assertEqual(license.state, state)
                    self.assertEqual(
                        License.search([('state', '=', state)]), [license])
                    self.assertEqual(
                        set(License.search([('state', '!=', state)])),
                        set(licenses.values()) - {license})
            self.assertEqual(
                set(License.search(
                        [('state', 'in', ['valid', 'expiring'])])),
                {licenses['valid'], licenses['expiring']})

    @with_transaction()
    def test_compliance(self):
        "Entitled seats against installations and assignments"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Software = pool.get('itsm.software')
        Assignment = pool.get('itsm.license.assignment')
        Date = pool.get('ir.date')
        company = create_company()
        other = create_company("Other")
        with set_company(other):
            foreign = [create_asset(other, f"O-{i}") for i in range(5)]
        with set_company(company):
            today = Date.today()
            office, firefox, cad = Software.create([
                    {'name': "Office",
                        'versions': [('create', [
                                        {'name': "2019"}, {'name': "2021"}])]},
                    {'name': "Firefox"},
                    {'name': "CAD Suite", 'license_required': True},
                    ])
            v2019, v2021 = sorted(office.versions, key=lambda v: v.name)
            pcs = [create_asset(company, f"PC-{i}") for i in range(1, 5)]
            install(office, pcs[:3], v2019)
            # Two versions on one asset are one installation
            install(office, pcs[:1], v2021)
            install(firefox, pcs)
            install(cad, pcs[:2])
            install(office, foreign)

            # Nothing licensed yet: only what needs a license shows
            self.assertIsNone(compliance_of(office))
            self.assertIsNone(compliance_of(firefox))
            row = compliance_of(cad)
            self.assertEqual(
                (row.entitled, row.installations, row.difference,
                    row.status),
                (0, 2, -2, 'under'))

            self.create_license(office, seats=2)
            row = compliance_of(office)
            self.assertEqual(row.company, company)
            self.assertEqual(
                (row.licenses, row.entitled, row.installations,
                    row.assigned, row.used, row.difference, row.status),
                (1, 2, 3, 0, 3, -1, 'under'))

            self.create_license(office, seats=1)
            row = compliance_of(office)
            self.assertEqual(
                (row.licenses, row.entitled, row.difference, row.status),
                (2, 3, 0, 'compliant'))

            # Expired and not yet started licenses do not count
            self.create_license(
                office, seats=10, end_date=today - DAY)
            self.create_license(
                office, seats=10, start_date=today + DAY)
            row = compliance_of(office)
            self.assertEqual((row.entitled, row.status), (3, 'compliant'))

            # A retired asset no longer uses a seat
            Asset.retire([pcs[2]])
            row = compliance_of(office)
            self.assertEqual(
                (row.installations, row.difference, row.status),
                (2, 1, 'over'))

            # Seats given count even where nothing is installed
            renewal = self.create_license(office, seats=5)
            Assignment.create([
                    {'license': renewal.id, 'asset': a.id} for a in pcs])
            row = compliance_of(office)
            self.assertEqual(
                (row.entitled, row.assigned, row.used, row.difference,
                    row.status),
                (8, 4, 4, 4, 'over'))

            # A site license covers everything
            self.create_license(
                firefox, type='site', seats=None, end_date=today)
            row = compliance_of(firefox)
            self.assertEqual(
                (bool(row.unlimited), row.entitled, row.installations,
                    row.difference, row.status),
                (True, None, 3, None, 'compliant'))

            # The statuses as tabs
            Compliance = pool.get('itsm.software.compliance')
            self.assertEqual(
                Compliance.search([('status', '=', 'under')]),
                [compliance_of(cad)])

        # Another company: its own installations and licenses
        with set_company(other):
            self.assertIsNone(compliance_of(office))
            self.create_license(office, seats=1)
            row = compliance_of(office)
            self.assertEqual(
                (row.company, row.entitled, row.installations, row.status),
                (other, 1, 5, 'under'))

    @with_transaction()
    def test_compliance_readable_by_agents_of_the_company(self):
        "Agents read the compliance of their companies only"
        pool = Pool()
        Software = pool.get('itsm.software')
        Compliance = pool.get('itsm.software.compliance')
        company = create_company()
        other = create_company("Other")
        agent = create_agent('adam', 'group_agent', company)
        with set_company(company):
            office, = Software.create([{'name': "Office"}])
            self.create_license(office, seats=2)
        with set_company(other):
            self.create_license(office, seats=2)
        with as_user(agent):
            rows = Compliance.search([])
            self.assertEqual([r.entitled for r in rows], [2])
            with Transaction().set_context(company=other.id):
                self.assertEqual(Compliance.search([]), [])

    @with_transaction()
    def test_license_expiry(self):
        "The asset managers are warned before a license expires"
        pool = Pool()
        Software = pool.get('itsm.software')
        Expiry = pool.get('itsm.asset.expiry')
        Date = pool.get('ir.date')
        company = create_company()
        manager = create_agent('tom', 'group_asset_manager', company)
        with set_company(company):
            today = Date.today()
            office, = Software.create([{'name': "Office"}])
            soon = self.create_license(
                office, name="Office 2021", end_date=today + 5 * DAY)
            self.create_license(
                office, name="Office 2024", end_date=today + 300 * DAY)
            expiry, = Expiry.search([('kind', '=', 'license')],
                order=[('date', 'ASC')], limit=1)
            self.assertEqual(expiry.record, soon)
            self.assertEqual(expiry.state, 'expiring')

            notifications = Transaction().user_notifications
            warned = Expiry.warn()
            self.assertEqual([e.record for e in warned], [soon])
            notification, = [
                n for n in notifications if n.user.id == manager.id]
            self.assertEqual(notification.model, 'itsm.license')
            self.assertIn("Office 2021", notification.description)
            # Once
            self.assertEqual(Expiry.warn(), [])

    @with_transaction(context={'itsm_notify': False})
    def test_demo(self):
        "The demo shows each status of the compliance"
        pool = Pool()
        Compliance = pool.get('itsm.software.compliance')
        License = pool.get('itsm.license')
        demo = Demo(size=1, rng=random.Random(2026), password='demo')
        ticket_demo.generate(demo)
        asset_demo.generate(demo)
        with Transaction().set_context(company=demo.company.id):
            status = {
                r.software.name: r.status for r in Compliance.search([])}
            self.assertEqual(
                status["Microsoft 365 Apps for business"], 'under')
            self.assertEqual(status["AutoCAD LT 2024"], 'under')
            self.assertEqual(status["Adobe Acrobat Pro"], 'over')
            self.assertEqual(status["7-Zip"], 'compliant')
            self.assertEqual(status["Windows 11 Pro"], 'compliant')
            self.assertNotIn("Mozilla Firefox", status)
            self.assertEqual(
                {lic.state for lic in License.search([])},
                {'valid', 'expiring', 'expired'})
