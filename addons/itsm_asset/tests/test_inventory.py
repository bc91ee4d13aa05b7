# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Inventories: the pure decisions (matching, diffs) without a database,
then receiving and processing the agents' documents in one.

The documents are the fixtures of tests/data: a Debian machine as
FusionInventory and OCS report it (801 packages), a Windows laptop as
GLPI-Agent reports it.
"""
import datetime as dt
import gzip
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from trytond.model.exceptions import ValidationError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    with_transaction,
)
from trytond.transaction import Transaction, inactive_records

from itsm_asset.inventory import (
    DEFAULT_MATCH_ORDER,
    Candidate,
    Installed,
    Match,
    Reported,
    catalog_keys,
    choose_asset,
    diff_facts,
    diff_rows,
    diff_software,
    match_keys,
    parse_match_order,
    plan_matches,
    schedule,
)
from itsm_asset.inventory_format import (
    parse_document,
)
from itsm_ticket.tests.tools import ActivatedModuleCase

DATA = Path(__file__).parent / 'data'
ORDER = parse_match_order(DEFAULT_MATCH_ORDER)


def data(name):
    content = (DATA / name).read_bytes()
    return gzip.decompress(content) if name.endswith('.gz') else content


FI_FULL = data('fusioninventory-debian.xml.gz')
OCS_FULL = data('ocs-debian.xml.gz')
FI_SMALL = data('fusioninventory-debian-small.xml')
GLPI_JSON = data('glpi-agent-windows.json')


def edited(document, remove=(), versions=None, add=(), sections=None):
    """Return an XML inventory with the software named in remove taken
    out, the versions {name: version} changed, the software (name,
    version) added and the fields {(section, field): value} set"""
    root = etree.fromstring(document)
    content = root.find('CONTENT')
    versions = versions or {}
    for element in content.findall('SOFTWARES'):
        name = element.findtext('NAME')
        if name in remove:
            content.remove(element)
        elif name in versions:
            element.find('VERSION').text = versions[name]
    for name, version in add:
        element = etree.SubElement(content, 'SOFTWARES')
        etree.SubElement(element, 'NAME').text = name
        etree.SubElement(element, 'VERSION').text = version
    for (section, field), value in (sections or {}).items():
        element = content.find(section)
        child = element.find(field)
        if child is None:
            child = etree.SubElement(element, field)
        child.text = value
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')


def inventory_keys(**values):
    keys = {k: frozenset() for k in ['device', 'uuid', 'serial', 'mac',
            'name']}
    keys.update({k: frozenset(v if isinstance(v, (set, list)) else [v])
            for k, v in values.items()})
    return keys


# The matching order ----------------------------------------------------

def test_parse_match_order():
    assert parse_match_order('uuid, serial, mac, name') == (
        'uuid', 'serial', 'mac', 'name')
    assert parse_match_order(' MAC;name\ndevice ') == (
        'mac', 'name', 'device')


@pytest.mark.parametrize('text', ['', ' , ', 'uuid, ip', 'mac, mac'])
def test_parse_match_order_refuses(text):
    with pytest.raises(ValueError):
        parse_match_order(text)


def test_match_keys_ignore_virtual_interfaces():
    "Bridges and tunnels repeat from one machine to another"
    inventory = parse_document(FI_FULL)
    keys = match_keys(inventory)
    assert keys['mac'] == {'02:fc:00:00:00:01'}
    assert keys['name'] == {'vm'}
    assert keys['uuid'] == frozenset()
    assert keys['device'] == {inventory.device_id}


# Choosing the asset ----------------------------------------------------

CANDIDATES = [
    Candidate(1, uuid='u-1', serial='S1', name='pc-1',
        macs=frozenset({'00:00:00:00:00:01'})),
    Candidate(2, uuid='u-2', serial='S2', name='pc-2',
        macs=frozenset({'00:00:00:00:00:02'})),
    Candidate(3, serial='S3', name='pc-3'),
    Candidate(4, serial='S3', name='pc-3b'),
    ]


@pytest.mark.parametrize('keys, expected', [
        (inventory_keys(uuid='u-2', serial='S1'), Match(2, 'uuid')),
        (inventory_keys(uuid='u-9', serial='S1'), Match(1, 'serial')),
        (inventory_keys(mac='00:00:00:00:00:02', name='pc-1'),
            Match(2, 'mac')),
        (inventory_keys(name='pc-1'), Match(1, 'name')),
        (inventory_keys(name='pc-9', device='d'), Match(None)),
        (inventory_keys(), Match(None)),
        # The serial is shared: the name tells them apart
        (inventory_keys(serial='S3', name='pc-3b'), Match(4, 'serial')),
        (inventory_keys(serial='S3'), Match(None, 'serial', (3, 4))),
        # A key that matches none of the narrowed candidates is skipped
        (inventory_keys(serial='S3', mac='00:00:00:00:00:01',
                name='pc-3'), Match(3, 'serial')),
        ])
def test_choose_asset(keys, expected):
    assert choose_asset(keys, CANDIDATES, ORDER) == expected


def test_choose_asset_follows_the_order():
    keys = inventory_keys(uuid='u-2', name='pc-1')
    assert choose_asset(keys, CANDIDATES, ('name', 'uuid')) == Match(
        1, 'name')
    # A key left out of the order is not used
    assert choose_asset(keys, CANDIDATES, ('serial',)) == Match(None)


def test_choose_asset_prefers_the_only_active():
    candidates = [
        Candidate(1, serial='S', active=False),
        Candidate(2, serial='S'),
        ]
    assert choose_asset(inventory_keys(serial='S'), candidates,
        ORDER) == Match(2, 'serial')
    candidates = [Candidate(1, serial='S', active=False)]
    assert choose_asset(inventory_keys(serial='S'), candidates,
        ORDER) == Match(1, 'serial')


def test_plan_matches_one_new_machine_twice():
    "Two inventories of a new machine in one batch make one asset"
    items = [
        inventory_keys(name='new', mac='00:00:00:00:00:09'),
        inventory_keys(name='pc-1'),
        inventory_keys(name='other', mac='00:00:00:00:00:09'),
        inventory_keys(serial='S3'),
        ]
    plan = plan_matches(items, CANDIDATES, ORDER)
    assert plan == [
        Match(-1), Match(1, 'name'), Match(-1, 'mac'),
        Match(None, 'serial', (3, 4))]
    assert schedule([m.asset for m in plan]) == [[0, 1], [2]]


def test_schedule():
    assert schedule([]) == []
    assert schedule([5, None, 5, 6, 5]) == [[0, 3], [2], [4]]


# The software diff -------------------------------------------------------

def row(id_, software, version, architecture=None, date=None,
        source='inventory', name=None):
    return Installed(id_, software, name or f's{software}', version,
        architecture, date, source)


def reported(software, version, architecture=None, date=None, name=None):
    return Reported(software, name or f's{software}', version,
        architecture, date)


def test_diff_software_nothing_changed():
    old = [row(1, 10, '1.0', 'amd64'), row(2, 11, None)]
    new = [reported(10, '1.0', 'amd64'), reported(11, None)]
    assert diff_software(old, new) == ([], [], [])


def test_diff_software_install_remove_upgrade():
    old = [row(1, 10, '1.0'), row(2, 11, '2.0'), row(3, 12, '3.0')]
    new = [reported(10, '1.0'), reported(11, '2.1'), reported(13, '4.0')]
    to_insert, to_delete, upgrades = diff_software(old, new)
    assert to_insert == [reported(13, '4.0')]
    assert to_delete == [old[2]]
    assert upgrades == [(old[1], reported(11, '2.1'))]


def test_diff_software_install_date_only():
    "A reinstallation of the same version updates the row, no upgrade"
    day = dt.date(2025, 1, 1)
    old = [row(1, 10, '1.0', date=day)]
    new = [reported(10, '1.0', date=day + dt.timedelta(days=3))]
    assert diff_software(old, new) == ([], [], [(old[0], new[0])])


def test_diff_software_architectures_apart():
    "libc6:amd64 and libc6:i386 are two installations"
    old = [row(1, 10, '2.36', 'amd64'), row(2, 10, '2.36', 'i386')]
    new = [reported(10, '2.37', 'amd64'), reported(10, '2.36', 'i386')]
    assert diff_software(old, new) == (
        [], [], [(old[0], reported(10, '2.37', 'amd64'))])


def test_diff_software_several_versions():
    "Kernels: several versions side by side, one replaced"
    old = [row(1, 10, '6.1.0-1'), row(2, 10, '6.1.0-2')]
    new = [reported(10, '6.1.0-2'), reported(10, '6.1.0-3')]
    assert diff_software(old, new) == (
        [], [], [(old[0], reported(10, '6.1.0-3'))])


def test_diff_software_another_publisher():
    """Another agent catalogues a package under another publisher: the
    same installation moves to that entry without an upgrade"""
    old = [row(1, 10, '1.0', name='adduser')]
    new = [reported(20, '1.0', name='adduser')]
    to_insert, to_delete, upgrades = diff_software(old, new)
    assert (to_insert, to_delete) == ([], [])
    (before, after), = upgrades
    assert before.version == after.version
    assert after.software == 20


def test_diff_software_manual_rows_stay():
    "What was recorded by hand is neither removed nor duplicated"
    old = [row(1, 10, '1.0', source='manual'),
        row(2, 11, '1.0', source='manual')]
    new = [reported(10, '1.0'), reported(11, '2.0')]
    assert diff_software(old, new) == ([reported(11, '2.0')], [], [])


def test_diff_software_merges_duplicates():
    "Entries that land on one catalog entry are one, earliest date kept"
    early, late = dt.date(2024, 1, 1), dt.date(2025, 1, 1)
    new = [reported(10, '1.0', date=late), reported(10, '1.0', date=early),
        reported(10, '1.0')]
    assert diff_software([], new) == (
        [reported(10, '1.0', date=early)], [], [])


_entries = st.tuples(st.integers(1, 4), st.sampled_from([None, '1', '2']),
    st.sampled_from([None, 'amd64', 'i386']))


@settings(max_examples=300, deadline=None)
@given(st.sets(_entries, max_size=8), st.sets(_entries, max_size=8),
    st.sets(st.integers(0, 7)))
def test_diff_software_gives_what_is_reported(old, new, manual):
    """Applying the diff to the rows gives what the inventory reports,
    plus the rows recorded by hand, without a duplicate"""
    old_rows = [row(i, s, v, a, source='manual' if i in manual
            else 'inventory') for i, (s, v, a) in enumerate(sorted(
                old, key=repr))]
    new_items = [reported(s, v, a) for s, v, a in new]
    to_insert, to_delete, upgrades = diff_software(old_rows, new_items)
    rows = {r.id: (r.software, r.version, r.architecture) for r in old_rows}
    assert not any(r.source == 'manual' for r in to_delete)
    assert not any(r.source == 'manual' for r, _ in upgrades)
    for deleted in to_delete:
        del rows[deleted.id]
    for before, after in upgrades:
        rows[before.id] = (after.software, after.version, after.architecture)
    after = list(rows.values()) + [
        (i.software, i.version, i.architecture) for i in to_insert]
    assert len(after) == len(set(after))
    manual_keys = {(r.software, r.version, r.architecture)
        for r in old_rows if r.source == 'manual'}
    assert set(after) == set(new) | manual_keys


# Hardware ----------------------------------------------------------------

def test_diff_facts_keeps_what_is_not_reported():
    current = {'memory': 8192, 'serial': 'ABC', 'os_version': '11'}
    reported_ = {'memory': 16384, 'serial': None, 'os_version': '11'}
    assert diff_facts(current, reported_) == {'memory': (8192, 16384)}


def test_diff_rows():
    old = [
        (1, ('eth0', 'aa'), ('ethernet', '10.0.0.1', False)),
        (2, ('eth1', 'bb'), ('ethernet', None, False)),
        (3, ('eth0', 'aa'), ('ethernet', '10.0.0.1', False)),
        (4, ('wlan0', 'cc'), ('wifi', None, False)),
        ]
    new = {
        ('eth0', 'aa'): ('ethernet', '10.0.0.2', False),
        ('wlan0', 'cc'): ('wifi', None, False),
        ('eth2', 'dd'): ('ethernet', None, False),
        }
    to_insert, to_delete, to_update = diff_rows(old, new)
    assert to_insert == [(('eth2', 'dd'), ('ethernet', None, False))]
    assert [i for i, _, _ in to_delete] == [2, 3]
    assert to_update == [(1, ('eth0', 'aa'), old[0][2],
            ('ethernet', '10.0.0.2', False))]


def test_catalog_keys():
    assert catalog_keys('Mozilla Corporation', 'Mozilla Firefox 120.0') == (
        'mozilla', 'mozilla|mozilla firefox')
    assert catalog_keys(None, 'adduser') == (None, '|adduser')


# In a database -----------------------------------------------------------

class InventoryTestCase(ActivatedModuleCase):
    "Receiving inventories and applying them to the assets"
    module = 'itsm_asset'

    def endpoint(self, company, **values):
        pool = Pool()
        Endpoint = pool.get('itsm.inventory.endpoint')
        values.setdefault('name', "Agents")
        values.setdefault('company', company.id)
        endpoint, = Endpoint.create([values])
        return endpoint

    def send(self, endpoint, *documents):
        """Receive the documents as the route does, then process the
        stored ones as the queue does; return the outcomes"""
        pool = Pool()
        Inventory = pool.get('itsm.inventory')
        outcomes, stored = [], []
        for document in documents:
            inventory, outcome = Inventory.receive(
                endpoint, document, queue=False)
            outcomes.append(outcome)
            if outcome == 'received':
                stored.append(inventory)
        Inventory.process(stored)
        return outcomes

    def events(self, asset, kinds=None):
        pool = Pool()
        Event = pool.get('itsm.asset.event')
        domain = [('asset', '=', asset.id)]
        if kinds:
            domain.append(('kind', 'in', kinds))
        return [(e.kind, e.description, e.old_value, e.new_value)
            for e in Event.search(domain, order=[('id', 'ASC')])]

    def installations(self, asset):
        pool = Pool()
        Installation = pool.get('itsm.software.installation')
        return {(i.software.name, i.version.name if i.version else None,
                i.architecture)
            for i in Installation.search([('asset', '=', asset.id)])}

    @with_transaction()
    def test_first_sight_creates_the_computer(self):
        "A machine never seen becomes an asset with all its facts"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Inventory = pool.get('itsm.inventory')
        Software = pool.get('itsm.software')
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            room, = Location.create([{'name': "Server room"}])
            endpoint = self.endpoint(company, asset_location=room.id)
            parsed = parse_document(FI_FULL)
            self.assertEqual(self.send(endpoint, FI_FULL), ['received'])

            inventory, = Inventory.search([])
            self.assertEqual(inventory.state, 'done')
            self.assertTrue(inventory.asset_created)
            self.assertEqual(inventory.format, 'fusioninventory-xml')
            self.assertEqual(bytes(inventory.data), FI_FULL)
            self.assertEqual(inventory.software_count, len(parsed.software))
            asset = inventory.asset
            self.assertEqual(asset.name, 'vm')
            self.assertEqual(asset.kind, parsed.kind)
            self.assertEqual(asset.state, 'deployed')
            self.assertEqual(asset.location, room)
            self.assertEqual(asset.company, company)
            self.assertEqual(asset.currency, company.currency)
            self.assertEqual(asset.cpu, parsed.cpu)
            self.assertEqual(asset.cpu_cores, parsed.cpu_cores)
            self.assertEqual(asset.memory, parsed.memory)
            self.assertEqual(asset.os_name, parsed.os_name)
            self.assertEqual(asset.os_version, parsed.os_version)
            self.assertEqual(asset.inventory_device_id, parsed.device_id)
            self.assertEqual(asset.inventory_digest, parsed.digest)
            # PostgreSQL keeps whole seconds (rounded)
            self.assertLessEqual(abs(asset.last_inventory
                    - inventory.create_date), dt.timedelta(seconds=1))
            self.assertEqual(
                {(i.name, i.mac, i.virtual)
                    for i in asset.network_interfaces},
                {(i.name, i.mac, i.virtual)
                    for i in parsed.network_interfaces})
            eth0, = [i for i in asset.network_interfaces
                if i.name == 'eth0']
            self.assertEqual(eth0.ip_addresses,
                '192.0.2.2, fd00::2, fe80::fc:ff:fe00:1')
            self.assertEqual(len(asset.disks), len(parsed.disks))
            installed = self.installations(asset)
            self.assertEqual(len(installed), len(parsed.software))
            self.assertEqual(inventory.installed, len(parsed.software))
            self.assertIn(('adduser', '3.134', 'all'), installed)
            self.assertEqual(
                Software.search([('name', '=', 'adduser')])[0].key,
                'debian|adduser')
            # No event per package on first sight: one summary
            self.assertEqual(self.events(asset), [
                    ('state', "Registered", None, "Deployed"),
                    ('inventory',
                        f"First inventory (FusionInventory XML): "
                        f"{len(parsed.software)} software", None, None),
                    ])
            self.assertEqual(Asset.search([]), [asset])

    @with_transaction()
    def test_unchanged_reimport_writes_nothing(self):
        "The same inventory again only dates the asset"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Inventory = pool.get('itsm.inventory')
        Event = pool.get('itsm.asset.event')
        Installation = pool.get('itsm.software.installation')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            self.send(endpoint, FI_FULL)
            asset, = Asset.search([])
            before = dt.datetime(2020, 1, 1)
            Asset.write([asset], {'last_inventory': before})
            counts = (Inventory.search_count([]), Event.search_count([]),
                Installation.search_count([]), len(
                    Asset.history_revisions([asset.id])))
            # The agent's run differs in what the digest ignores
            again = edited(FI_FULL, sections={
                    ('ACCESSLOG', 'LOGDATE'): '2026-12-05 07:00:00'})
            self.assertEqual(self.send(endpoint, again), ['unchanged'])
            self.assertEqual(counts, (
                    Inventory.search_count([]), Event.search_count([]),
                    Installation.search_count([]), len(
                        Asset.history_revisions([asset.id]))))
            asset = Asset(asset.id)
            self.assertGreater(asset.last_inventory, before)

    @with_transaction()
    def test_changes_are_history(self):
        "Software removed, upgraded and installed, hardware changed"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Inventory = pool.get('itsm.inventory')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            self.send(endpoint, FI_FULL)
            asset, = Asset.search([])
            before = self.installations(asset)

            changed = edited(FI_FULL, remove={'adduser'},
                versions={'bash': '5.2.99-1'},
                add=[('itsm-test-tool', '1.0')],
                sections={('HARDWARE', 'MEMORY'): '32768'})
            self.assertEqual(self.send(endpoint, changed), ['received'])
            inventory = Inventory.search([], order=[('id', 'DESC')])[0]
            self.assertEqual(inventory.state, 'done')
            self.assertFalse(inventory.asset_created)
            self.assertEqual((inventory.installed, inventory.removed,
                    inventory.upgraded), (1, 1, 1))
            asset = Asset(asset.id)
            self.assertEqual(asset.memory, 32768)
            after = self.installations(asset)
            self.assertEqual(before - after, {('adduser', '3.134', 'all'),
                    ('bash', '5.2.15-2+b8', 'amd64')})
            self.assertEqual(after - before, {
                    ('itsm-test-tool', '1.0', None),
                    ('bash', '5.2.99-1', 'amd64')})
            events = self.events(asset,
                ['installed', 'removed', 'upgraded', 'hardware'])
            self.assertCountEqual(events, [
                    ('removed', 'adduser', '3.134 (all)', None),
                    ('upgraded', 'bash', '5.2.15-2+b8 (amd64)',
                        '5.2.99-1 (amd64)'),
                    ('installed', 'itsm-test-tool', None, '1.0'),
                    ('hardware', "Memory (MiB)", '24105', '32768'),
                    ])
            # The same document again: unchanged
            self.assertEqual(self.send(endpoint, changed), ['unchanged'])

    @with_transaction()
    def test_interfaces_and_disks_diffed(self):
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            self.send(endpoint, FI_SMALL)
            asset, = Asset.search([])
            ids = {i.name: i.id for i in asset.network_interfaces}
            moved = FI_SMALL.replace(
                b'<IPADDRESS>192.0.2.2</IPADDRESS>',
                b'<IPADDRESS>192.0.2.77</IPADDRESS>').replace(
                b'<DESCRIPTION>ifb1</DESCRIPTION>',
                b'<DESCRIPTION>ifb9</DESCRIPTION>')
            self.assertNotEqual(moved, FI_SMALL)
            self.send(endpoint, moved)
            asset = Asset(asset.id)
            after = {i.name: i for i in asset.network_interfaces}
            # Updated in place, not recreated
            self.assertEqual(after['eth0'].id, ids['eth0'])
            self.assertTrue(after['eth0'].ip_addresses.startswith(
                    '192.0.2.77'))
            self.assertNotIn('ifb1', after)
            self.assertIn('ifb9', after)
            events = self.events(asset, ['hardware'])
            self.assertEqual(sorted(e[1] for e in events), [
                    "Network interface eth0", "Network interface ifb1",
                    "Network interface ifb9"])

    @with_transaction()
    def test_other_agent_matches_same_asset(self):
        "OCS after FusionInventory: the same machine, by its MAC address"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            self.send(endpoint, FI_FULL)
            self.send(endpoint, OCS_FULL)
            asset, = Asset.search([])
            ocs = parse_document(OCS_FULL)
            self.assertEqual(asset.inventory_device_id, ocs.device_id)
            self.assertEqual(len(self.installations(asset)),
                len(ocs.software))
            self.assertIn(('inventory', "Reported by another agent",
                    parse_document(FI_FULL).device_id, ocs.device_id),
                self.events(asset, ['inventory']))
            # The packages catalogued under another publisher by OCS are
            # the same installations: no flood of removals
            removed = self.events(asset, ['removed'])
            self.assertLess(len(removed), 20)

    @with_transaction()
    def test_match_by_serial_and_existing_asset(self):
        "An asset registered by hand is found by its serial number"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            parsed = parse_document(GLPI_JSON)
            asset, = Asset.create([{'name': "Jan's laptop",
                        'kind': 'laptop', 'serial': parsed.serial}])
            self.send(endpoint, GLPI_JSON)
            self.assertEqual(Asset.search([]), [asset])
            # The name people gave stays; the facts come in
            self.assertEqual(asset.name, "Jan's laptop")
            self.assertEqual(asset.uuid, parsed.uuid)
            self.assertEqual(asset.os_name, parsed.os_name)
            self.assertEqual(len(self.installations(asset)),
                len(parsed.software))

    @with_transaction()
    def test_ambiguous_inventory_kept_for_review(self):
        "Two assets with the inventory's MAC: kept unmatched, then retried"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Inventory = pool.get('itsm.inventory')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company, match_order='mac')
            twins = Asset.create([{
                        'name': name, 'kind': 'server',
                        'network_interfaces': [('create', [{
                                        'name': 'eth0',
                                        'mac': '02:FC:00:00:00:01'}])],
                        } for name in ["Twin A", "Twin B"]])
            self.send(endpoint, FI_SMALL)
            inventory, = Inventory.search([])
            self.assertEqual(inventory.state, 'unmatched')
            self.assertEqual(inventory.reason_code, 'ambiguous')
            self.assertIn("Twin A, Twin B", inventory.reason)
            self.assertEqual(Inventory.search([
                        ('state', 'in', ['failed', 'unmatched'])]),
                [inventory])
            self.assertEqual(len(Asset.search([])), 2)

            # The admin retires the duplicate and processes it again
            Asset.retire([twins[1]])
            Inventory.retry([inventory])
            self.assertEqual(inventory.state, 'received')
            Inventory.process([inventory])
            self.assertEqual(inventory.state, 'done')
            self.assertEqual(inventory.asset, twins[0])

    @with_transaction()
    def test_bad_document_kept_failed(self):
        pool = Pool()
        Inventory = pool.get('itsm.inventory')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            broken = FI_SMALL[:-200]
            self.assertEqual(self.send(endpoint, broken), ['failed'])
            inventory, = Inventory.search([])
            self.assertEqual(inventory.state, 'failed')
            self.assertEqual(inventory.reason_code, 'malformed_xml')
            self.assertIn("not well-formed", inventory.reason)
            self.assertEqual(bytes(inventory.data), broken)
            self.assertIsNone(inventory.asset)

    @with_transaction()
    def test_unexpected_error_keeps_the_inventory_failed(self):
        pool = Pool()
        Inventory = pool.get('itsm.inventory')
        Asset = pool.get('itsm.asset')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            inventory, _ = Inventory.receive(endpoint, FI_SMALL, queue=False)
            Transaction().commit()
            # As the queue does: a transaction of its own
            with Transaction().new_transaction(), mock.patch.object(
                    Inventory, '_apply_software',
                    side_effect=RuntimeError("disk on fire")):
                Inventory.process([Inventory(inventory.id)])
                inventory = Inventory(inventory.id)
                self.assertEqual(inventory.state, 'failed')
                self.assertEqual(inventory.reason_code, 'error')
                self.assertIn("disk on fire", inventory.reason)
                # The asset created before the error is undone
                self.assertEqual(Asset.search([]), [])

    @with_transaction()
    def test_batch_of_one_new_machine(self):
        "Two inventories of a new machine processed together: one asset"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Inventory = pool.get('itsm.inventory')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            first, _ = Inventory.receive(endpoint, FI_SMALL, queue=False)
            changed = edited(FI_SMALL, remove={'adduser'})
            second, _ = Inventory.receive(endpoint, changed, queue=False)
            Inventory.process_batch([first, second])
            asset, = Asset.search([])
            self.assertEqual((first.state, first.asset_created),
                ('done', True))
            self.assertEqual((second.state, second.asset, second.removed),
                ('done', asset, 1))
            self.assertIn(('removed', 'adduser', '3.134 (all)', None),
                self.events(asset, ['removed']))

    @with_transaction()
    def test_companies_apart(self):
        "Each company has its own assets; the catalog is shared"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        first = create_company()
        second = create_company(name="Other Company")
        with set_company(first):
            self.send(self.endpoint(first), FI_SMALL)
        with set_company(second):
            self.send(self.endpoint(second), FI_SMALL)
        with inactive_records():
            assets = Asset.search([])
        self.assertEqual({a.company for a in assets}, {first, second})

    @with_transaction()
    def test_endpoint_settings_checked(self):
        pool = Pool()
        Endpoint = pool.get('itsm.inventory.endpoint')
        company = create_company()
        with set_company(company):
            endpoint = self.endpoint(company)
            self.assertEqual(len(endpoint.identifier), 32)
            self.assertTrue(endpoint.url.endswith(
                    f'/itsm_asset/inventory/{endpoint.identifier}'))
            for values, message in [
                    ({'secrets': 'short'}, "16 to 256"),
                    ({'match_order': 'uuid, ip'}, "matching order"),
                    ({'username': 'agent'}, "both a user name"),
                    ]:
                with self.subTest(values=values):
                    with self.assertRaisesRegex(ValidationError, message):
                        self.endpoint(company, **values)
            old = endpoint.identifier
            Endpoint.new_identifier([endpoint])
            self.assertNotEqual(endpoint.identifier, old)
            copy, = Endpoint.copy([endpoint])
            self.assertNotEqual(copy.identifier, endpoint.identifier)

    @with_transaction()
    def test_endpoint_authentication(self):
        import base64
        company = create_company()
        with set_company(company):
            open_ = self.endpoint(company)
            self.assertTrue(open_.authenticate(None, ''))
            secret = 'a-long-enough-secret-1'
            both = self.endpoint(company, name="Both",
                secrets=f'{secret}\nanother-secret-for-rotation',
                username='agent', password='pw')
            basic = 'Basic ' + base64.b64encode(b'agent:pw').decode()
            self.assertFalse(both.authenticate(None, ''))
            self.assertTrue(both.authenticate(None, f'secret={secret}'))
            self.assertTrue(both.authenticate(f'Bearer {secret}', ''))
            self.assertTrue(both.authenticate(basic, ''))
            self.assertFalse(both.authenticate('Bearer wrong', ''))
            self.assertTrue(both.challenge().startswith('Basic realm='))


class ImportCommandTestCase(ActivatedModuleCase):
    "`itsm inventory import`: files in bulk through the same model methods"
    module = 'itsm_asset'

    def test_import_files(self):
        import io
        import tempfile

        from trytond.tests.test_tryton import DB_NAME

        from itsm_tools.inventory import Progress, collect, import_files
        from itsm_tools.settings import SetupError

        pool = Pool(DB_NAME)
        Endpoint = pool.get('itsm.inventory.endpoint')
        Inventory = pool.get('itsm.inventory')
        Asset = pool.get('itsm.asset')
        with Transaction().start(DB_NAME, 0) as transaction:
            company = create_company()
            Endpoint.create([{'name': "Files", 'company': company.id}])
            transaction.commit()

        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            (folder / 'sub').mkdir()
            (folder / '1-fusion.ocs').write_bytes(FI_FULL)
            (folder / '2-laptop.json.gz').write_bytes(gzip.compress(
                    GLPI_JSON))
            (folder / 'sub' / '3-ocs.xml').write_bytes(OCS_FULL)
            (folder / 'sub' / '4-broken.xml').write_bytes(FI_SMALL[:-99])
            (folder / 'sub' / '5-laptop-again.json').write_bytes(GLPI_JSON)
            (folder / 'notes.txt').write_text("not an inventory")
            files = collect([folder])
            self.assertEqual([f.name for f in files], [
                    '1-fusion.ocs', '2-laptop.json.gz', '3-ocs.xml',
                    '4-broken.xml', '5-laptop-again.json'])
            with self.assertRaises(SetupError):
                collect([folder / 'missing'])
            output = io.StringIO()
            counts, problems = import_files(DB_NAME, files, batch=2,
                progress=Progress(len(files), output))

        self.assertEqual(dict(counts), {'created': 2, 'updated': 1,
                'unchanged': 1, 'failed': 1})
        (path, reason), = problems
        self.assertEqual(path.name, '4-broken.xml')
        self.assertIn("not well-formed", reason)
        lines = output.getvalue().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertIn("5/5 files  created 2  updated 1  unchanged 1  "
            "unmatched 0  failed 1", lines[-1])
        with Transaction().start(DB_NAME, 0, readonly=True):
            self.assertEqual(len(Asset.search([
                            ('inventory_device_id', '!=', None)])), 2)
            failed, = Inventory.search([('state', '=', 'failed')])
            self.assertEqual(failed.agent, f'file {path}')
            self.assertEqual(bytes(failed.data), FI_SMALL[:-99])
