# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Assets, their documents, their history, their expiry warnings and the
Assets tab of tickets.

The pure functions are tested without a database. The database tests live
in their own class, without ModuleTestCase, so that Tryton's generic module
tests (test_module.py) are not run a second time.
"""
import datetime as dt
import random
from decimal import Decimal

import pytest
from trytond.model.exceptions import AccessError, ValidationError
from trytond.model.modelview import AccessButtonError
from trytond.modules.company.tests import (
    create_company,
    create_employee,
    set_company,
)
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import (
    DB_NAME,
    with_transaction,
)
from trytond.transaction import Transaction, check_access, inactive_records

from itsm_ticket.tests.tools import ActivatedModuleCase

from ..asset import (
    BUTTONS,
    STATES,
    TRANSITIONS,
    normalise_ip_addresses,
    normalise_mac,
    normalise_uuid,
)
from ..expiry import expiry_state, search_expiry_state

# Pure functions


@pytest.mark.parametrize('text', [
        '00:1a:2b:3c:4d:5e', '00-1A-2B-3C-4D-5E', '001a.2b3c.4d5e',
        '001A2B3C4D5E', ' 00:1A:2b:3C:4d:5E ', '0:1a:2b:3c:4d:5e',
        ])
def test_normalise_mac(text):
    "Every usual spelling of a MAC address reads the same"
    assert normalise_mac(text) == '00:1a:2b:3c:4d:5e'


def test_normalise_mac_leading_zeros():
    "macOS drops the leading zeros of each pair"
    assert normalise_mac('a:b:c:d:e:f') == '0a:0b:0c:0d:0e:0f'


@pytest.mark.parametrize('text', [None, '', '   '])
def test_normalise_mac_empty(text):
    assert normalise_mac(text) is None


@pytest.mark.parametrize('text', [
        '00:1a:2b:3c:4d', '00:1a:2b:3c:4d:5e:6f', 'zz:1a:2b:3c:4d:5e',
        '001a2b3c4d5', 'not a mac', '00:1a:2b:3c:4d:5e0',
        ])
def test_normalise_mac_refuses(text):
    with pytest.raises(ValueError):
        normalise_mac(text)


def test_normalise_ip_addresses():
    "Separators, prefixes, IPv6 spelling and duplicates are tidied"
    assert normalise_ip_addresses(
        '192.0.2.7/24; 2001:DB8:0:0::1 ,192.0.2.7  10.0.0.1') == (
        '192.0.2.7, 2001:db8::1, 10.0.0.1')
    # The zone of a link-local address names the interface: dropped.
    assert normalise_ip_addresses('fe80::1%eth0') == 'fe80::1'
    assert normalise_ip_addresses(' , ') is None
    assert normalise_ip_addresses(None) is None


@pytest.mark.parametrize('text', ['192.0.2.300', 'localhost', '10.0.0'])
def test_normalise_ip_addresses_refuses(text):
    with pytest.raises(ValueError):
        normalise_ip_addresses(f'192.0.2.1, {text}')


def test_normalise_uuid():
    assert normalise_uuid(
        '{4C4C4544-0042-3510-8048-B4C04F4E3732}') == (
        '4c4c4544-0042-3510-8048-b4c04f4e3732')
    assert normalise_uuid('  ') is None
    assert normalise_uuid(None) is None


def test_life_cycle_is_closed():
    "The buttons make exactly the transitions, between known states"
    states = {s for s, _ in STATES}
    assert {s for pair in TRANSITIONS for s in pair} == states
    moves = {(source, to) for to, sources in BUTTONS.values()
        for source in sources}
    assert moves == TRANSITIONS
    # Every state but disposed can be left; disposed is final.
    assert {f for f, _ in TRANSITIONS} == states - {'disposed'}


def test_expiry_state():
    "Valid through its last day, expiring within the warning days"
    today = dt.date(2026, 3, 10)
    assert expiry_state(None, today, 30) is None
    assert expiry_state(dt.date(2026, 3, 9), today, 30) == 'expired'
    assert expiry_state(today, today, 30) == 'expiring'
    assert expiry_state(dt.date(2026, 4, 9), today, 30) == 'expiring'
    assert expiry_state(dt.date(2026, 4, 10), today, 30) == 'valid'
    assert expiry_state(today, today, 0) == 'expiring'
    assert expiry_state(dt.date(2026, 3, 11), today, 0) == 'valid'


def test_search_expiry_state_matches_expiry_state():
    "The search domain agrees with the state of each date"
    today = dt.date(2026, 3, 10)
    dates = [None] + [today + dt.timedelta(days=d) for d in range(-3, 40)]

    def matches(domain, date):
        if domain[0] == 'OR':
            return any(matches(d, date) for d in domain[1:])
        if isinstance(domain, tuple):
            _, operator, value = domain
            if operator == '=':
                return date == value
            if date is None:
                return False
            return {'<': date < value if value else False,
                '<=': value is not None and date <= value,
                '>=': value is not None and date >= value,
                '>': value is not None and date > value}[operator]
        return all(matches(d, date) for d in domain)

    for state in [None, 'valid', 'expiring', 'expired']:
        domain = search_expiry_state(
            'date', ('state', '=', state), today, 30)
        for date in dates:
            assert matches(domain, date) == (
                expiry_state(date, today, 30) == state), (state, date)
    for operator, value, wanted in [
            ('not in', ['expired', None], {'valid', 'expiring'}),
            ('!=', 'expired', {None, 'valid', 'expiring'}),
            ('in', ['valid', 'expired'], {'valid', 'expired'}),
            ]:
        domain = search_expiry_state(
            'date', ('state', operator, value), today, 30)
        assert 'NOT' not in str(domain)
        for date in dates:
            assert matches(domain, date) == (
                expiry_state(date, today, 30) in wanted), (operator, date)


# In a database


def create_user(login, groups, company):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'login': login, 'name': login.title(),
                'companies': [('add', [company.id])],
                'company': company.id,
                'groups': [('add', [
                            ModelData.get_id('itsm_ticket', g)
                            for g in groups])],
                }])
    return user


class AssetTestCase(ActivatedModuleCase):
    "Assets, documents, history, expiry and tickets, in a database"
    module = 'itsm_asset'

    def create_asset(self, **values):
        pool = Pool()
        Asset = pool.get('itsm.asset')
        values.setdefault('name', "Laptop")
        values.setdefault('kind', 'laptop')
        asset, = Asset.create([values])
        return asset

    def event_lines(self, asset):
        "The asset's history as the form shows it, oldest first"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        asset = Asset(asset.id)
        return [(e.kind, e.description, e.old_value, e.new_value)
            for e in reversed(asset.events)]

    @with_transaction()
    def test_life_cycle_and_history(self):
        "An asset goes from its order to its disposal; the history tells it"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            employee = create_employee(company, "Ada")
            room, = Location.create([{'name': "101", 'kind': 'room'}])
            asset = self.create_asset(state='ordered')
            self.assertEqual(asset.company, company)
            self.assertEqual(asset.currency, company.currency)

            Asset.receive([asset])
            self.assertEqual(asset.state, 'stock')
            self.assertEqual(asset.purchase_date, dt.date.today())
            with self.assertRaisesRegex(
                    ValidationError, 'before deploying it'):
                Asset.deploy([asset])
            Asset.write([asset], {'employee': employee.id,
                    'location': room.id})
            Asset.deploy([asset])
            Asset.repair([asset])
            Asset.deploy([asset])
            Asset.retire([asset])
            self.assertIsNone(asset.employee)
            self.assertFalse(asset.active)
            Asset.dispose([asset])
            self.assertEqual(asset.disposal_date, dt.date.today())

            self.assertEqual(self.event_lines(asset), [
                    ('state', "Registered", None, "Ordered"),
                    ('state', "State", "Ordered", "In Stock"),
                    ('assignment', "Employee", None, "Ada"),
                    ('assignment', "Location", None, "101"),
                    ('state', "State", "In Stock", "Deployed"),
                    ('state', "State", "Deployed", "In Repair"),
                    ('state', "State", "In Repair", "Deployed"),
                    ('assignment', "Employee", "Ada", None),
                    ('state', "State", "Deployed", "Retired"),
                    ('state', "State", "Retired", "Disposed"),
                    ])
            self.assertEqual(asset.events[0].new_value, "Disposed")
            self.assertEqual(asset.events[0].user.id, 1)
            # Tryton's own history keeps every value of the asset.
            self.assertTrue(Asset.history_revisions([asset.id]))

    @with_transaction()
    def test_invalid_transition(self):
        "A move the life cycle does not allow is refused with its reason"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            asset = self.create_asset(state='ordered')
            with self.assertRaisesRegex(
                    ValidationError,
                    'is Ordered: it cannot go to Deployed'):
                Asset.deploy([asset])
            Asset.receive([asset])
            Asset.retire([asset])
            Asset.dispose([asset])
            with self.assertRaisesRegex(ValidationError, 'is Disposed'):
                Asset.store([asset])
            self.assertEqual(asset.state, 'disposed')
            # Receiving is for what was ordered: a deployed asset goes back
            # to stock with its own button.
            other = self.create_asset(state='deployed')
            with self.assertRaisesRegex(
                    ValidationError, 'is Deployed: it cannot go to In Stock'):
                Asset.receive([other])
            Asset.store([other])
            self.assertEqual(other.state, 'stock')

    @with_transaction()
    def test_state_moves_by_buttons_only(self):
        """An asset manager moves the state with the buttons, not by writing
        it; an agent does neither"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        manager = create_user(
            'assets', ['group_agent', 'group_asset_manager'], company)
        agent = create_user('agent', ['group_agent'], company)
        with set_company(company):
            asset = self.create_asset()
            with Transaction().set_user(manager.id), check_access():
                with self.assertRaisesRegex(AccessError, 'buttons'):
                    Asset.write([Asset(asset.id)], {'state': 'disposed'})
                Asset.write([Asset(asset.id)], {'name': "Renamed"})
                Asset.repair([Asset(asset.id)])
            self.assertEqual(Asset(asset.id).state, 'repair')
            with Transaction().set_user(agent.id), check_access():
                self.assertEqual(
                    Asset.search([('id', '=', asset.id)]), [asset])
                with self.assertRaises(AccessButtonError):
                    Asset.store([Asset(asset.id)])
                with self.assertRaises(AccessError):
                    Asset.write([Asset(asset.id)], {'name': "Mine"})
            self.assertEqual(Asset(asset.id).state, 'repair')

    @with_transaction()
    def test_delete_only_before_use(self):
        "A deployed asset is retired, not deleted; a mistaken entry goes"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            asset = self.create_asset(state='deployed')
            with self.assertRaisesRegex(AccessError, 'retire it'):
                Asset.delete([asset])
            mistake = self.create_asset()
            Asset.delete([mistake])

    @with_transaction()
    def test_asset_tag_unique_per_company(self):
        "Two assets of a company cannot share a tag; companies may"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        other_company = create_company("Other")
        with set_company(company):
            self.create_asset(name="First", asset_tag="A-1")
            with self.assertRaisesRegex(
                    ValidationError, '"A-1" of "Second" is already on '
                    '"First"'):
                self.create_asset(name="Second", asset_tag="A-1")
            with self.assertRaisesRegex(ValidationError, 'already on'):
                Asset.create([
                        {'name': "X", 'asset_tag': "B-1"},
                        {'name': "Y", 'asset_tag': "B-1"}])
            # Untagged assets are many; an empty tag is no tag.
            untagged = Asset.create([
                    {'name': "X", 'asset_tag': ''},
                    {'name': "Y", 'asset_tag': None}])
            self.assertEqual({a.asset_tag for a in untagged}, {None})
            # A retired asset keeps its tag.
            old = self.create_asset(name="Old", asset_tag="C-1")
            Asset.retire([old])
            with self.assertRaises(ValidationError):
                self.create_asset(name="New", asset_tag="C-1")
        with set_company(other_company):
            self.create_asset(name="Elsewhere", asset_tag="A-1")

    @with_transaction()
    def test_component_cannot_hold_its_ancestor(self):
        "A server cannot be a component of its own disk shelf"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            server = self.create_asset(name="Server", kind='server')
            shelf = self.create_asset(
                name="Shelf", kind='other', parent=server.id)
            disk = self.create_asset(
                name="Disk", kind='peripheral', parent=shelf.id)
            self.assertEqual(list(server.components), [shelf])
            with self.assertRaisesRegex(
                    ValidationError,
                    '"Server" cannot be a component of "Disk"'):
                Asset.write([server], {'parent': disk.id})
            with self.assertRaisesRegex(ValidationError, 'component'):
                Asset.write([server], {'parent': server.id})

    @with_transaction()
    def test_negative_costs_refused(self):
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            asset = self.create_asset(purchase_price=Decimal('1200'))
            with self.assertRaisesRegex(
                    ValidationError,
                    'The Running Cost of "Laptop" cannot be negative'):
                Asset.write([asset], {'running_cost': Decimal('-1')})
            with self.assertRaisesRegex(ValidationError, 'Purchase Price'):
                self.create_asset(purchase_price=Decimal('-0.01'))

    @with_transaction()
    def test_assignment_within_company(self):
        "An employee or a location of another company is refused"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Location = pool.get('itsm.location')
        company = create_company()
        other_company = create_company("Other")
        with set_company(other_company):
            stranger = create_employee(other_company, "Stranger")
            far, = Location.create([{'name': "Far", 'kind': 'site'}])
        with set_company(company):
            asset = self.create_asset()
            with self.assertRaisesRegex(
                    ValidationError,
                    'The Employee "Stranger" of "Laptop" does not belong '
                    'to Dunder Mifflin'):
                Asset.write([asset], {'employee': stranger.id})
            # Each call of a client is a transaction: a new asset here.
            asset = self.create_asset()
            with self.assertRaisesRegex(ValidationError, 'Location "Far"'):
                Asset.write([asset], {'location': far.id})

    @with_transaction()
    def test_employee_fills_department_and_location(self):
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Department = pool.get('company.department')
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            employee = create_employee(company, "Ada")
            it, = Department.create([{'name': "IT"}])
            room, = Location.create([{'name': "101", 'kind': 'room'}])
            employee.department = it
            employee.location = room
            employee.save()
            asset = Asset(company=company)
            asset.employee = employee
            asset.on_change_employee()
            self.assertEqual(asset.department, it)
            self.assertEqual(asset.location, room)

    @with_transaction()
    def test_retired_assets_are_inactive(self):
        "Retired and disposed assets leave the lists, not the database"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            kept = self.create_asset(name="Kept")
            gone = self.create_asset(name="Gone")
            Asset.retire([gone])
            self.assertEqual(Asset.search([]), [kept])
            self.assertEqual(
                Asset.search([('active', '=', False)]), [gone])
            with inactive_records():
                self.assertEqual(
                    Asset.search([], order=[('name', 'ASC')]), [gone, kept])
            self.assertEqual(Asset.search(
                    [('active', 'in', [True, False])], count=True), 2)
            Asset.store([gone])
            self.assertTrue(gone.active)

    @with_transaction()
    def test_network_interfaces_normalised(self):
        "MAC and IP addresses are stored in one spelling; nonsense refused"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Interface = pool.get('itsm.asset.network_interface')
        company = create_company()
        with set_company(company):
            asset = self.create_asset(
                uuid='{4C4C4544-0042-3510-8048-B4C04F4E3732}',
                network_interfaces=[('create', [{
                                'name': 'eth0',
                                'mac': '00-1A-2B-3C-4D-5E',
                                'ip_addresses': '192.0.2.7/24 2001:DB8::1',
                                }])],
                disks=[('create', [{
                                'name': 'sda', 'type': 'SSD',
                                'size': 512000}])])
            nic, = asset.network_interfaces
            self.assertEqual(nic.mac, '00:1a:2b:3c:4d:5e')
            self.assertEqual(nic.ip_addresses, '192.0.2.7, 2001:db8::1')
            self.assertEqual(
                asset.uuid, '4c4c4544-0042-3510-8048-b4c04f4e3732')
            self.assertEqual(Interface.search(
                    [('mac', '=', normalise_mac('001a.2b3c.4d5e'))]), [nic])
            with self.assertRaisesRegex(
                    ValidationError, '"00:1a" is not a MAC address'):
                Interface.write([nic], {'mac': '00:1a'})
            with self.assertRaisesRegex(
                    ValidationError, 'are not IP addresses'):
                Interface.write([nic], {'ip_addresses': '10.0.0.300'})
            copy, = Asset.copy([asset])
            self.assertEqual(copy.network_interfaces, ())
            self.assertIsNone(copy.uuid)

    @with_transaction()
    def test_document_links_and_state(self):
        "A document belongs to assets; its validity follows its expiry"
        pool = Pool()
        Document = pool.get('itsm.asset.document')
        company = create_company()
        other_company = create_company("Other")
        today = dt.date.today()
        with set_company(other_company):
            stranger = self.create_asset(name="Theirs")
        with set_company(company):
            asset = self.create_asset()
            warranty, contract, invoice = Document.create([{
                        'name': "Care Pack", 'type': 'warranty',
                        'expiry_date': today + dt.timedelta(days=10),
                        'data': b'%PDF-1.4 warranty',
                        'filename': 'care-pack.pdf',
                        'assets': [('add', [asset.id])],
                        }, {
                        'name': "Lease", 'type': 'contract',
                        'expiry_date': today - dt.timedelta(days=1),
                        }, {
                        'name': "Invoice", 'type': 'invoice',
                        }])
            self.assertEqual(list(asset.documents), [warranty])
            self.assertEqual(warranty.state, 'expiring')
            self.assertEqual(contract.state, 'expired')
            self.assertIsNone(invoice.state)
            self.assertEqual(
                Document.search([('state', '=', 'expiring')]), [warranty])
            self.assertEqual(
                Document.search([('state', '!=', 'expired')],
                    order=[('name', 'ASC')]), [warranty, invoice])
            self.assertEqual(bytes(warranty.data), b'%PDF-1.4 warranty')
            self.assertTrue(warranty.file_id)
            with self.assertRaisesRegex(
                    ValidationError, 'different companies'):
                Document.write([invoice], {
                        'assets': [('add', [stranger.id])]})
            with self.assertRaisesRegex(
                    ValidationError, 'cannot expire before it starts'):
                Document.write([contract], {'start_date': today})

    @with_transaction()
    def test_expiry_list_and_warnings(self):
        """What expires is listed; the asset managers of the company are
        warned once per record and date, again after a renewal"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Document = pool.get('itsm.asset.document')
        Expiry = pool.get('itsm.asset.expiry')
        Configuration = pool.get('itsm.configuration')
        today = dt.date.today()
        company = create_company()
        other_company = create_company("Other")
        manager = create_user(
            'assets', ['group_asset_manager'], company)
        create_user('agent', ['group_agent'], company)
        create_user('elsewhere', ['group_asset_manager'], other_company)
        with set_company(company):
            soon = self.create_asset(
                name="Soon", warranty_end=today + dt.timedelta(days=20))
            self.create_asset(
                name="Later", warranty_end=today + dt.timedelta(days=90))
            retired = self.create_asset(
                name="Retired", warranty_end=today + dt.timedelta(days=5))
            Asset.retire([retired])
            contract, = Document.create([{
                        'name': "Lease", 'type': 'contract',
                        'expiry_date': today + dt.timedelta(days=3),
                        }])
            self.assertEqual(
                soon.warranty_state, 'expiring')
            self.assertEqual(
                Asset.search([('warranty_state', '=', 'expiring')]), [soon])

            expiring = Expiry.search([('state', '=', 'expiring')])
            self.assertEqual(
                [(e.kind, e.record, e.days) for e in expiring],
                [('document', contract, 3), ('warranty', soon, 20)])
            self.assertEqual(
                Expiry.search([('rec_name', 'ilike', 'soo%')]),
                expiring[1:])

            notifications = Transaction().user_notifications
            Expiry.warn()
            self.assertEqual(
                sorted((n.user.id, n.model, n.label) for n in notifications),
                [(1, 'itsm.asset', "Warranty: 1 expiring within 30 days"),
                    (1, 'itsm.asset.document',
                        "Document: 1 expiring within 30 days"),
                    (manager.id, 'itsm.asset',
                        "Warranty: 1 expiring within 30 days"),
                    (manager.id, 'itsm.asset.document',
                        "Document: 1 expiring within 30 days")])
            descriptions = {n.model: n.description for n in notifications}
            self.assertRegex(descriptions['itsm.asset'], r'^Soon on \S+$')
            self.assertRegex(
                descriptions['itsm.asset.document'],
                r'^Lease \(Contract\) on \S+$')
            self.assertTrue(all(e.warned for e in Expiry.browse(expiring)))
            del notifications[:]
            Expiry.warn()
            self.assertEqual(notifications, [])

            # The contract is renewed to a date within the period: warned
            # again; a shorter period leaves the warranty out.
            Document.write([contract], {
                    'expiry_date': today + dt.timedelta(days=8)})
            Configuration.write([Configuration(1)], {
                    'expiry_warning_days': 10})
            Expiry.warn()
            self.assertEqual(
                sorted((n.user.id, n.model) for n in notifications),
                [(1, 'itsm.asset.document'),
                    (manager.id, 'itsm.asset.document')])
            self.assertEqual(soon.warranty_state, 'valid')

    @with_transaction()
    def test_expiry_list_follows_company_rule(self):
        "Asset managers and agents list what expires in their companies"
        pool = Pool()
        Expiry = pool.get('itsm.asset.expiry')
        today = dt.date.today()
        company = create_company()
        other_company = create_company("Other")
        manager = create_user('assets', ['group_asset_manager'], company)
        agent = create_user('agent', ['group_agent'], company)
        with set_company(other_company):
            self.create_asset(
                name="Theirs", warranty_end=today + dt.timedelta(days=1))
        with set_company(company):
            mine = self.create_asset(
                name="Mine", warranty_end=today + dt.timedelta(days=1))
        with Transaction().set_user(manager.id), \
                Transaction().set_context(company=company.id), \
                check_access():
            self.assertEqual(
                [e.record for e in Expiry.search([])], [mine])
        with Transaction().set_user(agent.id), \
                Transaction().set_context(company=company.id), \
                check_access():
            self.assertEqual(
                [e.record for e in Expiry.search([])], [mine])

    @with_transaction()
    def test_requester_assets_first(self):
        """Adding assets to a ticket offers the requester's first, in the
        order and with the context sao sends"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Ticket = pool.get('itsm.ticket')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            ada = create_employee(company, "Ada")
            bob = create_employee(company, "Bob")
            client, = Party.create([{'name': "Client"}])
            Asset.create([
                    {'name': "A printer", 'kind': 'printer'},
                    {'name': "B laptop", 'employee': bob.id},
                    {'name': "Y laptop", 'employee': ada.id},
                    {'name': "Z phone", 'kind': 'phone',
                        'party': ada.party.id},
                    {'name': "C tablet", 'kind': 'tablet',
                        'party': client.id},
                    ])
            ticket, = Ticket.create([{
                        'subject': "Broken", 'requester': ada.party.id}])

            # What sao evaluates on the ticket's form before searching
            definition = Ticket.fields_get(['assets'])['assets']
            decoder = PYSONDecoder({
                    'requester': ticket.requester.id,
                    'company': company.id, 'id': ticket.id})
            context = decoder.decode(definition['search_context'])
            order = decoder.decode(definition['search_order'])
            domain = decoder.decode(definition['domain'])
            self.assertEqual(context, {'itsm_requester': ada.party.id})
            with Transaction().set_context(context):
                found = Asset.search(domain, order=order)
                completions = Asset.autocomplete(
                    'o', domain, limit=10, order=order)
                self.assertTrue(all(
                        a.of_requester for a in found[:2]))
            self.assertEqual([a.name for a in found], [
                    "Y laptop", "Z phone", "A printer", "B laptop",
                    "C tablet"])
            self.assertEqual(
                [c['name'] for c in completions][:2],
                ["Y laptop", "Z phone"])
            self.assertEqual(
                [a.name for a in ticket.requester_assets],
                ["Y laptop", "Z phone"])
            with Transaction().set_context(itsm_requester=ada.party.id):
                self.assertEqual(
                    {a.name for a in Asset.search(
                            [('of_requester', '=', True)])},
                    {"Y laptop", "Z phone"})
            # Without a requester nothing comes first.
            self.assertEqual(
                [a.name for a in Asset.search([], order=order)],
                ["A printer", "B laptop", "C tablet", "Y laptop",
                    "Z phone"])

    @with_transaction()
    def test_agent_links_assets_to_tickets(self):
        "An agent links assets and documents; the asset shows the ticket"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Document = pool.get('itsm.asset.document')
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        other_company = create_company("Other")
        agent = create_user('agent', ['group_agent'], company)
        with set_company(other_company):
            theirs = self.create_asset(name="Theirs")
        with set_company(company):
            asset = self.create_asset()
            document, = Document.create([{'name': "Warranty",
                        'type': 'warranty',
                        'assets': [('add', [asset.id])]}])
            ticket, = Ticket.create([{'subject': "Screen"}])
        with Transaction().set_user(agent.id), \
                Transaction().set_context(company=company.id), \
                check_access():
            Ticket.write([Ticket(ticket.id)], {
                    'assets': [('add', [asset.id])],
                    'asset_documents': [('add', [document.id])],
                    })
            self.assertEqual(
                [t.id for t in Asset(asset.id).tickets], [ticket.id])
            self.assertEqual(
                [t.id for t in Document(document.id).tickets], [ticket.id])
            with self.assertRaises(AccessError):
                Asset.write([Asset(asset.id)], {'name': "Mine"})
        with set_company(company):
            with self.assertRaises(ValidationError):
                Ticket.write([ticket], {'assets': [('add', [theirs.id])]})

    @with_transaction()
    def test_ticket_form_has_assets_tab_after_conversation(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        arch = Ticket.fields_view_get(view_type='form')['arch']
        pages = [p for p in arch.split('<page')[1:]]
        names = [p.split('>')[0] for p in pages]
        position = next(i for i, n in enumerate(names) if 'messages' in n)
        self.assertIn('id="assets"', names[position + 1])
        self.assertIn('name="assets"', pages[position + 1])


    def test_demo_data(self):
        "The demo fleet is built the same way for the same seed"
        first = demo_snapshot(seed=7)
        assert first == demo_snapshot(seed=7)
        kinds = {kind for kind, _, _ in first['assets']}
        assert kinds >= {
            'laptop', 'desktop', 'phone', 'printer', 'server', 'network',
            'monitor'}
        states = {state for _, state, _ in first['assets']}
        assert states == {
            'ordered', 'stock', 'deployed', 'repair', 'retired', 'disposed'}
        assert all(assigned for kind, state, assigned in first['assets']
            if kind in {'laptop', 'desktop'} and state == 'deployed')
        assert first['documents'] >= {
            'invoice', 'warranty', 'contract', 'manual'}
        assert first['linked_tickets'] > 0
        assert first['expiring'] > 0
        assert first['events'] > len(first['assets'])
        # Two machines reported by their agents, one request to review
        assert first['inventories'] == [
            ('done', 'fusioninventory-xml', True),
            ('done', 'glpi-json', True),
            ('failed', None, False),
            ]
        bigger = demo_snapshot(seed=7, size=2)
        assert len(bigger['assets']) > 1.5 * len(first['assets'])



class AssetAccountingTestCase(ActivatedModuleCase):
    "The links to accounting, when account_asset is activated"
    # The same modules as ItsmAssetTestCase: the cached database serves
    module = ['itsm_asset', 'account_asset']

    @with_transaction()
    def test_accounting_links_for_asset_managers(self):
        """The asset managers see the fixed asset, the book value and the
        supplier invoice; the agents read the assets without them"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Document = pool.get('itsm.asset.document')
        company = create_company()
        manager = create_user('assets', ['group_asset_manager'], company)
        agent = create_user('agent', ['group_agent'], company)
        accounting = {'fixed_asset', 'book_value'}
        with set_company(company):
            asset, = Asset.create([{'name': "Laptop"}])
            document, = Document.create([{
                        'name': "Invoice", 'assets': [('add', [asset.id])]}])
        for user, visible in [(manager, True), (agent, False)]:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(company=company.id), \
                    check_access():
                form = Asset.fields_view_get(view_type='form')
                self.assertEqual(
                    accounting <= form['fields'].keys(), visible)
                self.assertEqual(
                    'invoice' in Document.fields_view_get(
                        view_type='form')['fields'], visible)
                names = [n for n in form['fields'] if n != 'book_value']
                values, = Asset.read([asset.id], names)
                self.assertIsNone(values.get('fixed_asset'))
                if not visible:
                    with self.assertRaises(AccessError):
                        Asset.read([asset.id], ['book_value'])
                    with self.assertRaises(AccessError):
                        Document.read([document.id], ['invoice'])

def demo_snapshot(seed, size=1):
    "Build the demo data and tell what it holds, then roll back"
    from itsm_ticket import demo as ticket_demo
    from itsm_tools.demo import Demo

    from .. import demo as asset_demo

    with Transaction().start(DB_NAME, 0) as transaction:
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Document = pool.get('itsm.asset.document')
        Event = pool.get('itsm.asset.event')
        Expiry = pool.get('itsm.asset.expiry')
        Ticket = pool.get('itsm.ticket')
        demo = Demo(size=size, rng=random.Random(seed), password='demo')
        ticket_demo.generate(demo)
        asset_demo.generate(demo)
        with inactive_records():
            assets = Asset.search([], order=[('asset_tag', 'ASC')])
        snapshot = {
            'assets': [
                (a.kind, a.state, bool(a.employee or a.location))
                for a in assets],
            'documents': {d.type for d in Document.search([])},
            'linked_tickets': Ticket.search(
                [('assets', '!=', None)], count=True),
            'expiring': Expiry.search(
                [('state', '=', 'expiring')], count=True),
            'events': Event.search([], count=True),
            'inventories': sorted(
                (i.state, i.format, i.asset_created)
                for i in pool.get('itsm.inventory').search([])),
            }
        transaction.rollback()
    return snapshot
