# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Tests of the pure parsing of inventory documents.

The fixtures in data/ were written by the real agents on a Debian machine
(fusioninventory-agent 2.6 and ocsinventory-agent 2.10 with ``--local``;
local users and groups removed), except glpi-agent-windows.json, written
from the public inventory_format schema, and
fusioninventory-windows-latin1.xml, written in the FusionInventory format
for a Windows laptop and encoded in ISO-8859-1.
"""
import dataclasses
import gzip
import json
import random
import re
import socket
import threading
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from itsm_asset import inventory_format
from itsm_asset.inventory_format import (
    KINDS,
    Inventory,
    InventoryError,
    Software,
    clean_serial,
    clean_uuid,
    guess_kind,
    normalize_mac,
    parse_document,
    parse_json,
    parse_xml,
)

DATA = Path(__file__).parent / 'data'
PROPERTIES = settings(
    max_examples=150, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])
# For the properties that parse the 800-software document at each example
FULL_PROPERTIES = settings(PROPERTIES, max_examples=40)
REASONS = {
    'empty', 'too_large', 'malformed_xml', 'malformed_json',
    'forbidden_xml', 'not_inventory', 'missing_device_id',
    'too_many_items', 'bad_encoding',
    }


def data(name):
    content = (DATA / name).read_bytes()
    return gzip.decompress(content) if name.endswith('.gz') else content


FI_FULL = data('fusioninventory-debian.xml.gz')
OCS_FULL = data('ocs-debian.xml.gz')
FI_SMALL = data('fusioninventory-debian-small.xml')
OCS_SMALL = data('ocs-debian-small.xml')
WINDOWS_LATIN1 = data('fusioninventory-windows-latin1.xml')
GLPI_JSON = data('glpi-agent-windows.json')


def request(content, device_id='pc-1-2024-01-01-00-00-00',
        query='INVENTORY', declaration='<?xml version="1.0" '
        'encoding="UTF-8"?>\n'):
    "Return the bytes of an XML REQUEST with the given CONTENT markup"
    text = (f'{declaration}<REQUEST><CONTENT>{content}</CONTENT>'
        f'<DEVICEID>{device_id}</DEVICEID><QUERY>{query}</QUERY>'
        '</REQUEST>')
    return text.encode('utf-8')


def software_xml(*entries):
    return ''.join(
        '<SOFTWARES>' + ''.join(f'<{k}>{v}</{k}>' for k, v in e.items())
        + '</SOFTWARES>' for e in entries)


def reordered(document, seed):
    """Return an XML document with its CONTENT sections shuffled (every
    repeated section's items among themselves and with the others)"""
    root = etree.fromstring(document)
    content = root.find('CONTENT')
    sections = list(content)
    random.Random(seed).shuffle(sections)
    for section in sections:
        content.remove(section)
    for section in sections:
        content.append(section)
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')


def with_section_text(document, section, field, value):
    "Return document with field of the first section set to value"
    root = etree.fromstring(document)
    element = root.find(f'CONTENT/{section}')
    child = element.find(field)
    if child is None:
        child = etree.SubElement(element, field)
    child.text = value
    return etree.tostring(root, xml_declaration=True, encoding='UTF-8')


def as_glpi_json(document):
    """Return an XML inventory converted to GLPI-Agent's JSON by the
    schema's field names"""
    root = etree.fromstring(document)
    renamed = {
        'MACADDR': 'mac', 'SERIALNUMBER': 'serial',
        'INSTALLDATE': 'install_date',
        }
    single = {
        'BIOS', 'HARDWARE', 'OPERATINGSYSTEM', 'ACCESSLOG', 'ACCOUNTINFO',
        'VERSIONPROVIDER',
        }
    content = {}
    for section in root.find('CONTENT'):
        if not len(section):
            content[section.tag.lower()] = section.text
            continue
        values = {renamed.get(f.tag, f.tag.lower()): f.text
            for f in section if not len(f)}
        if section.tag in single:
            content[section.tag.lower()] = values
        else:
            content.setdefault(section.tag.lower(), []).append(values)
    return json.dumps({
            'action': 'inventory',
            'deviceid': root.findtext('DEVICEID'),
            'itemtype': 'Computer',
            'content': content,
            }).encode()


# The agents' documents -------------------------------------------------------

def test_fusioninventory_inventory_has_the_machine_facts():
    inventory = parse_xml(FI_FULL)

    assert inventory.device_id == 'vm-2026-12-04-06-56-05'
    assert inventory.source == 'fusioninventory-xml'
    assert inventory.agent == 'FusionInventory-Agent_v2.6-3'
    assert inventory.item_type == 'Computer'
    assert inventory.name == 'vm'
    assert inventory.os_name == 'Debian GNU/Linux 12 (bookworm)'
    assert inventory.os_version == '12.11'
    assert inventory.os_architecture == 'x86_64'
    assert (inventory.cpu, inventory.cpu_cores) == ('AMD EPYC', 2)
    assert inventory.memory == 24105
    assert inventory.virtual and inventory.vm_system == 'Docker'
    assert inventory.kind == 'server'
    # The container has no BIOS serial nor hardware UUID
    assert (inventory.serial, inventory.uuid) == (None, None)
    # "wtmp" is what the agent reads in a container without logins
    assert inventory.last_user is None
    assert inventory.disks == (
        inventory_format.Disk('vda', 'disk', 262143, 'overlayblk'),)
    assert inventory.warnings == ()


def test_fusioninventory_interfaces_are_merged_without_loopback():
    inventory = parse_xml(FI_FULL)

    by_name = {i.name: i for i in inventory.network_interfaces}
    assert set(by_name) == {'eth0', 'ifb0', 'ifb1'}
    eth0 = by_name['eth0']
    assert eth0.mac == '02:fc:00:00:00:01'
    assert eth0.ip_addresses == ('192.0.2.2', 'fd00::2', 'fe80::fc:ff:fe00:1')
    assert eth0.type == 'ethernet' and not eth0.virtual
    assert by_name['ifb0'].virtual
    assert inventory.macs == (
        '02:fc:00:00:00:01', '1a:45:b7:7c:9b:a4', 'b6:98:fd:ba:7c:61')


def test_fusioninventory_software_list_is_complete_sorted_and_unique():
    inventory = parse_xml(FI_FULL)

    software = inventory.software
    assert len(software) == FI_FULL.count(b'<SOFTWARES>') == 801
    assert isinstance(software, tuple)
    assert len(set(software)) == len(software)
    names = [s.name.casefold() for s in software]
    assert names == sorted(names)
    assert software[0] == Software('adduser', 'Debian', '3.134', 'all', None)


def test_ocs_inventory_has_the_machine_facts_and_install_dates():
    inventory = parse_xml(OCS_FULL)

    assert inventory.source == 'ocs-xml'
    assert inventory.agent is None
    assert inventory.name == 'vm'
    assert inventory.os_name == 'Debian GNU/Linux 12'
    assert inventory.os_version == '12'
    assert inventory.os_architecture == 'x86_64'
    assert (inventory.cpu, inventory.cpu_cores) == ('AMD EPYC', 2)
    # The RAM disk zram0 is not hardware
    assert [d.name for d in inventory.disks] == ['vda']
    assert inventory.disks[0].size == 262144
    assert len(inventory.software) == 801
    adduser = inventory.software[0]
    assert adduser == Software(
        'adduser', None, '3.134', 'all', date(2025, 4, 20))
    alsa = next(s for s in inventory.software
        if s.name == 'alsa-topology-conf')
    assert alsa.publisher == 'https://www.alsa-project.org/'


def test_ocs_interfaces_without_virtual_flag_are_judged_by_name():
    inventory = parse_xml(OCS_FULL)

    by_name = {i.name: i for i in inventory.network_interfaces}
    assert by_name['ifb0'].virtual and by_name['ifb1'].virtual
    assert not by_name['eth0'].virtual
    # OCS writes "ether" where FusionInventory writes "ethernet"
    assert by_name['ifb0'].type == 'ethernet'
    assert by_name['eth0'].ip_addresses == ('192.0.2.2', 'fe80::fc:ff:fe00:1')


def test_small_fixtures_describe_the_same_machine_as_the_full_ones():
    for small, full in [(FI_SMALL, FI_FULL), (OCS_SMALL, OCS_FULL)]:
        a, b = parse_xml(small), parse_xml(full)
        assert dataclasses.replace(a, software=b.software) == b
        assert a.digest != b.digest
        assert len(a.software) == 6


def test_glpi_json_inventory_has_the_laptop_facts():
    inventory = parse_json(GLPI_JSON)

    assert inventory.source == 'glpi-json'
    assert inventory.device_id == 'PC-ACME-042-2024-03-01-10-15-00'
    assert inventory.agent == 'GLPI-Agent_v1.7.1'
    assert inventory.kind == 'laptop' and not inventory.virtual
    assert inventory.tag == 'paris-office'
    assert inventory.serial == '7XK2Q93'
    assert inventory.uuid == '4c4c4544-0058-4b10-8032-b7c04f513933'
    assert (inventory.manufacturer, inventory.model) == (
        'Dell Inc.', 'Latitude 5430')
    assert inventory.cpu == '12th Gen Intel(R) Core(TM) i7-1265U'
    assert (inventory.cpu_cores, inventory.memory) == (10, 16084)
    assert inventory.os_name == 'Microsoft Windows 11 Professionnel'
    assert inventory.last_user == 'j.martin'
    assert inventory.disks == (inventory_format.Disk(
            '\\\\.\\PHYSICALDRIVE0', 'disk', 488386, 'S64KNX0T512345'),)
    wifi, ethernet = sorted(
        inventory.network_interfaces, key=lambda i: i.type, reverse=True)
    assert wifi.mac == 'a4:c3:f0:12:34:56'
    assert wifi.ip_addresses == ('198.51.100.23', '2001:db8::23')
    assert ethernet.mac == '00:e0:4c:68:ab:cd'


def test_glpi_json_software_is_deduplicated_and_unnamed_entries_noted():
    inventory = parse_json(GLPI_JSON)

    names = [s.name for s in inventory.software]
    assert names.count('7-Zip 23.01 (x64)') == 1
    assert len(names) == 6
    assert 'Logiciel de comptabilité Édition Pro' in names
    assert inventory.warnings == (
        '1 software entry without a name was ignored.',)


def test_latin1_document_is_decoded_and_placeholders_are_dropped():
    inventory = parse_xml(WINDOWS_LATIN1)

    assert inventory.warnings == ()
    assert inventory.last_user == 'zoé.lefèvre'
    assert inventory.serial is None  # To Be Filled By O.E.M.
    assert inventory.uuid is None  # AMI's placeholder UUID
    assert inventory.kind == 'laptop'
    assert inventory.tag == 'lyon-atelier'
    assert (inventory.manufacturer, inventory.model) == (
        'LENOVO', 'ThinkPad T14 Gen 3')
    publishers = {s.publisher for s in inventory.software}
    assert 'Éditions Légères' in publishers
    macs = {i.name: i.mac for i in inventory.network_interfaces}
    assert macs['Intel(R) Ethernet Connection (16) I219-LM'] == (
        '8c:8c:aa:01:02:03')
    assert macs['Connexion réseau Bluetooth'] == '8c:8c:aa:01:02:07'


def test_fusioninventory_install_dates_are_read_day_first():
    inventory = parse_xml(WINDOWS_LATIN1)

    dates = {s.name: s.install_date for s in inventory.software}
    assert dates['Logiciel de gestion « Atelier »'] == date(2023, 3, 5)
    assert dates['Mozilla Firefox (x64 fr)'] == date(2024, 1, 12)


@pytest.mark.parametrize('text, expected', [
        ('2024-05-31', date(2024, 5, 31)),
        ('2024/05/31 12:00:00', date(2024, 5, 31)),
        ('31/05/2024', date(2024, 5, 31)),
        ('20240531', date(2024, 5, 31)),
        ('1970-00-01', None),
        ('31/02/2024', None),
        ('1901-01-01', None),
        ('yesterday', None),
        ])
def test_install_date_formats_of_every_agent_are_read(text, expected):
    document = request(software_xml({'NAME': 'x', 'INSTALLDATE': text}))

    assert parse_xml(document).software[0].install_date == expected


def test_same_machine_in_xml_and_json_gives_the_same_facts():
    from_xml = parse_xml(FI_FULL)
    from_json = parse_json(as_glpi_json(FI_FULL))

    assert from_json.source == 'glpi-json'
    assert dataclasses.replace(
        from_json, source=from_xml.source) == from_xml


def test_parse_document_tells_xml_from_json():
    assert parse_document(FI_SMALL) == parse_xml(FI_SMALL)
    assert parse_document(GLPI_JSON) == parse_json(GLPI_JSON)
    assert parse_document(GLPI_JSON.decode()) == parse_json(GLPI_JSON)
    assert parse_document(b'\n ' + GLPI_JSON).source == 'glpi-json'


@pytest.mark.parametrize('document, expected', [
        (b'<REQUEST/>', 'xml'), (b'\xef\xbb\xbf\n <?xml?>', 'xml'),
        ('{"a": 1}'.encode('utf-16'), 'json'), (b'\r\n[1]', 'json'),
        ('<a/>'.encode('utf-32'), 'xml'), (b'hello', None), (b'', None),
        ])
def test_sniff_format_reads_the_first_character(document, expected):
    assert inventory_format.sniff_format(document) == expected


def test_parse_json_accepts_the_decoded_message():
    assert parse_json(json.loads(GLPI_JSON)) == parse_json(GLPI_JSON)


def test_inventory_is_immutable_and_plain_data():
    inventory = parse_json(GLPI_JSON)

    with pytest.raises(dataclasses.FrozenInstanceError):
        inventory.name = 'other'
    assert isinstance(inventory.software, tuple)
    assert isinstance(inventory.network_interfaces[0].ip_addresses, tuple)
    data = json.loads(json.dumps(inventory.as_dict()))
    assert data['software'][0]['install_date'] == '2023-07-01'
    assert data['digest'] == inventory.digest


def test_virtual_machine_is_recognised_from_its_bios_when_not_said():
    document = request(
        '<BIOS><SMANUFACTURER>QEMU</SMANUFACTURER>'
        '<SMODEL>Standard PC (Q35 + ICH9, 2009)</SMODEL>'
        '<SSN>0</SSN></BIOS>'
        '<HARDWARE><NAME>srv</NAME></HARDWARE>')

    inventory = parse_xml(document)

    assert inventory.virtual and inventory.vm_system == 'QEMU'
    assert inventory.kind == 'server'
    assert inventory.serial is None


def test_physical_vmsystem_is_not_virtual():
    document = request(
        '<HARDWARE><VMSYSTEM>Physical</VMSYSTEM>'
        '<CHASSIS_TYPE>Mini Tower</CHASSIS_TYPE></HARDWARE>')

    inventory = parse_xml(document)

    assert not inventory.virtual and inventory.vm_system is None
    assert inventory.kind == 'desktop'


def test_chassis_type_of_ocs_bios_section_gives_the_kind():
    document = request('<BIOS><TYPE>Notebook</TYPE></BIOS>')

    assert parse_xml(document).kind == 'laptop'


def test_memory_falls_back_on_the_memory_modules():
    document = request(
        '<MEMORIES><CAPACITY>8192</CAPACITY></MEMORIES>'
        '<MEMORIES><CAPACITY>4096</CAPACITY></MEMORIES>'
        '<MEMORIES><CAPACITY>No</CAPACITY></MEMORIES>')

    assert parse_xml(document).memory == 12288


def test_cores_of_every_processor_are_added():
    document = request(
        '<CPUS><NAME>Xeon Gold</NAME><CORE>16</CORE></CPUS>'
        '<CPUS><NAME>Xeon Gold</NAME><CORE>16</CORE></CPUS>')

    inventory = parse_xml(document)

    assert (inventory.cpu, inventory.cpu_cores) == ('Xeon Gold', 32)


def test_duplicate_software_keeps_the_earliest_install_date():
    entries = [
        {'NAME': 'x', 'VERSION': '1', 'INSTALLDATE': '2024-03-01'},
        {'NAME': 'x', 'VERSION': '1'},
        {'NAME': 'x', 'VERSION': '1', 'INSTALLDATE': '2023-01-01'},
        {'NAME': 'x', 'VERSION': '2'},
        ]
    for order in [entries, entries[::-1], entries[1:] + entries[:1]]:
        inventory = parse_xml(request(software_xml(*order)))
        assert inventory.software == (
            Software('x', None, '1', None, date(2023, 1, 1)),
            Software('x', None, '2', None, None))


def test_last_user_falls_back_on_the_logged_in_users():
    document = request(
        '<HARDWARE><LASTLOGGEDUSER>wtmp</LASTLOGGEDUSER></HARDWARE>'
        '<USERS><LOGIN>zoe</LOGIN></USERS><USERS><LOGIN>anna</LOGIN></USERS>')

    assert parse_xml(document).last_user == 'anna'


def test_name_falls_back_on_the_fully_qualified_domain_name():
    document = request(
        '<OPERATINGSYSTEM><FQDN>web-3.example.org</FQDN></OPERATINGSYSTEM>')

    assert parse_xml(document).name == 'web-3'


def test_overlong_values_are_cut_and_control_characters_removed():
    name = 'A\tb' + 'c' * 2000
    document = json.dumps({
            'deviceid': 'd', 'content': {'softwares': [{'name': name}]}})

    software = parse_json(document).software[0]

    assert len(software.name) == inventory_format.MAX_TEXT
    assert software.name.startswith('A bccc')


# Units -----------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
        ('00:1A:2B:3C:4D:5E', '00:1a:2b:3c:4d:5e'),
        ('00-1A-2B-3C-4D-5E', '00:1a:2b:3c:4d:5e'),
        ('001A2B3C4D5E', '00:1a:2b:3c:4d:5e'),
        ('001a.2b3c.4d5e', '00:1a:2b:3c:4d:5e'),
        ('0:1b:21:a:b:c', '00:1b:21:0a:0b:0c'),
        (' 02:FC:00:00:00:01 ', '02:fc:00:00:00:01'),
        ('00:00:00:00:00:00', None),
        ('FF:FF:FF:FF:FF:FF', None),
        ('00:11:22:33:44', None),
        ('00:11:22:33:44:5G', None),
        ('001:11:22:33:44:55', None),
        ('', None),
        (None, None),
        (42, None),
        ])
def test_normalize_mac_gives_lower_case_colon_pairs_or_none(value, expected):
    assert normalize_mac(value) == expected


@pytest.mark.parametrize('value', [
        'To be filled by O.E.M.', 'To Be Filled By O.E.M.', 'Default string',
        'System Serial Number', '0', 'None', 'Not Specified', 'N/A',
        '0000000000', '..........', 'XXXXXXXX', '123456789', '', '   ',
        'Chassis Serial Number', 'Not Available', None,
        ])
def test_clean_serial_drops_placeholders(value):
    assert clean_serial(value) is None


@pytest.mark.parametrize('value', [
        '7XK2Q93', 'VMware-56 4d 1a 2b 3c 4d 5e 6f-70 81 92 a3 b4 c5 d6 e7',
        'PF3ABCDE', 'C02XK0ABJGH5', '0123-4567-89AB-CDEF',
        ])
def test_clean_serial_keeps_real_serials(value):
    assert clean_serial(value) == value


@pytest.mark.parametrize('value, expected', [
        ('4C4C4544-0058-4B10-8032-B7C04F513933',
            '4c4c4544-0058-4b10-8032-b7c04f513933'),
        ('{4C4C4544-0058-4B10-8032-B7C04F513933}',
            '4c4c4544-0058-4b10-8032-b7c04f513933'),
        ('00000000-0000-0000-0000-000000000000', None),
        ('FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', None),
        ('03000200-0400-0500-0006-000700080009', None),
        ('Not Settable', None),
        ('Not Present', None),
        ('', None),
        ])
def test_clean_uuid_lower_cases_and_drops_placeholders(value, expected):
    assert clean_uuid(value) == expected


@pytest.mark.parametrize('arguments, expected', [
        ({'chassis': 'Notebook'}, 'laptop'),
        ({'chassis': 'Laptop'}, 'laptop'),
        ({'chassis': 'Convertible'}, 'laptop'),
        ({'chassis': 'Tablet'}, 'tablet'),
        ({'chassis': 'Rack Mount Chassis'}, 'server'),
        ({'chassis': 'Blade'}, 'server'),
        ({'chassis': 'Mini Tower'}, 'desktop'),
        ({'chassis': 'All in One'}, 'desktop'),
        ({'chassis': 'Docking Station'}, 'peripheral'),
        ({'chassis': 'Notebook', 'virtual': True}, 'server'),
        ({'chassis': 'Desktop', 'os_name': 'Microsoft Windows Server 2022'},
            'server'),
        ({'item_type': 'Phone'}, 'phone'),
        ({'item_type': 'Printer'}, 'printer'),
        ({'item_type': 'NetworkEquipment'}, 'network'),
        ({'os_name': 'Android 14'}, 'phone'),
        ({'chassis': 'Other'}, 'other'),
        ({}, 'other'),
        ])
def test_guess_kind_maps_chassis_virtualisation_and_type(arguments, expected):
    kind = guess_kind(**arguments)

    assert kind == expected
    assert kind in KINDS


# The digest ------------------------------------------------------------------

@pytest.mark.parametrize('section, field, value', [
        ('ACCESSLOG', 'LOGDATE', '2031-01-01 00:00:00'),
        ('OPERATINGSYSTEM', 'BOOT_TIME', '2031-01-01 00:00:00'),
        ('HARDWARE', 'ETIME', '99'),
        ('HARDWARE', 'CHECKSUM', '1'),
        ('HARDWARE', 'DATELASTLOGGEDUSER', 'Wed Jan  1 00:00'),
        ('DRIVES', 'FREE', '1'),
        ('NETWORKS', 'SPEED', '10000'),
        ])
def test_digest_ignores_volatile_fields(section, field, value):
    changed = with_section_text(FI_FULL, section, field, value)

    assert parse_xml(changed).digest == parse_xml(FI_FULL).digest


def test_digest_ignores_processes_and_uptime():
    document = FI_FULL.replace(b'<CONTENT>', b'<CONTENT><PROCESSES><CMD>sshd'
        b'</CMD><PID>42</PID><STARTED>2031-01-01 00:00</STARTED></PROCESSES>'
        b'<HARDWARE><UPTIME>12 days</UPTIME></HARDWARE>', 1)

    assert parse_xml(document).digest == parse_xml(FI_FULL).digest


def test_digest_of_a_reencoded_document_is_the_same():
    text = FI_FULL.decode()
    latin1 = text.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"', 1)

    assert parse_xml(latin1.encode('latin-1')).digest == (
        parse_xml(FI_FULL).digest)


@pytest.mark.parametrize('section, field, value', [
        ('SOFTWARES', 'VERSION', '3.135'),
        ('HARDWARE', 'MEMORY', '32768'),
        ('HARDWARE', 'NAME', 'vm2'),
        ('STORAGES', 'DISKSIZE', '500000'),
        ('OPERATINGSYSTEM', 'VERSION', '12.12'),
        ('BIOS', 'SSN', 'ABC1234'),
        ])
def test_digest_changes_when_a_fact_changes(section, field, value):
    changed = with_section_text(FI_FULL, section, field, value)

    assert parse_xml(changed).digest != parse_xml(FI_FULL).digest


def test_digest_changes_when_a_mac_address_changes():
    changed = FI_FULL.replace(b'02:fc:00:00:00:01', b'02:fc:00:00:00:02')

    assert parse_xml(changed).digest != parse_xml(FI_FULL).digest


def test_digest_changes_when_a_software_is_removed():
    removed = re.sub(rb'<SOFTWARES>.*?</SOFTWARES>', b'', FI_FULL, count=1,
        flags=re.S)

    inventory = parse_xml(removed)

    assert len(inventory.software) == 800
    assert inventory.digest != parse_xml(FI_FULL).digest


def test_digest_is_hex_sha256_of_the_inventory_facts():
    inventory = parse_xml(FI_SMALL)

    assert re.fullmatch('[0-9a-f]{64}', inventory.digest)
    assert inventory_format.digest(inventory) == inventory.digest
    assert inventory_format.digest(dataclasses.replace(
            inventory, memory=1)) != inventory.digest


DIGESTS = {
    document: parse_xml(document).digest
    for document in [FI_FULL, OCS_SMALL, WINDOWS_LATIN1]}


@FULL_PROPERTIES
@given(seed=st.integers(0, 2 ** 32))
def test_digest_is_stable_when_sections_and_software_are_reordered(seed):
    for document, digest in DIGESTS.items():
        assert parse_xml(reordered(document, seed)).digest == digest


@PROPERTIES
@given(seed=st.integers(0, 2 ** 32))
def test_digest_is_stable_when_json_lists_are_reordered(seed):
    message = json.loads(GLPI_JSON)
    shuffler = random.Random(seed)
    for value in message['content'].values():
        if isinstance(value, list):
            shuffler.shuffle(value)

    assert parse_json(message).digest == parse_json(GLPI_JSON).digest


@FULL_PROPERTIES
@given(index=st.integers(0, 800), version=st.text(
        st.characters(blacklist_categories=['Cc', 'Cs', 'Cn']),
        min_size=1, max_size=30).filter(str.strip))
def test_digest_changes_when_any_software_version_changes(index, version):
    root = etree.fromstring(FI_FULL)
    field = root.findall('CONTENT/SOFTWARES')[index].find('VERSION')
    if field.text.strip() == version.strip():
        return
    field.text = version

    changed = parse_xml(etree.tostring(root))

    assert changed.digest != DIGESTS[FI_FULL]


# Refused documents -----------------------------------------------------------

def reason(document, parser=parse_xml):
    with pytest.raises(InventoryError) as info:
        parser(document)
    assert info.value.reason in REASONS
    assert info.value.message.endswith('.')
    return info.value.reason


@pytest.mark.parametrize('document, expected', [
        (b'', 'empty'), (b'  \n\t', 'empty'),
        (b'\xef\xbb\xbf', 'malformed_xml'),
        ])
def test_empty_document_is_refused(document, expected):
    assert reason(document) == expected


def test_blank_document_is_refused_as_empty():
    assert reason(b' \r\n ') == 'empty'
    assert reason(b' ', parse_json) == 'empty'


def test_truncated_xml_is_refused_as_malformed():
    assert reason(FI_FULL[:len(FI_FULL) // 2]) == 'malformed_xml'


def test_garbage_is_refused_as_malformed():
    assert reason(b'\x00\x01hello world') == 'malformed_xml'


def test_prolog_is_not_an_inventory():
    import zlib
    prolog = zlib.decompress(data('fusioninventory-prolog.zlib'))

    with pytest.raises(InventoryError) as info:
        parse_xml(prolog)

    assert info.value.reason == 'not_inventory'
    assert 'PROLOG' in info.value.message


def test_other_root_element_is_not_an_inventory():
    assert reason(b'<html><body>hello</body></html>') == 'not_inventory'


def test_request_without_content_is_not_an_inventory():
    assert reason(
        b'<REQUEST><DEVICEID>a</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>'
        ) == 'not_inventory'


@pytest.mark.parametrize('device_id', ['', '   ', 'x' * 300])
def test_missing_or_invalid_deviceid_is_refused(device_id):
    assert reason(request('', device_id=device_id)) == 'missing_device_id'


def test_request_without_deviceid_is_refused():
    document = FI_SMALL.replace(b'<DEVICEID>', b'<OTHER>').replace(
        b'</DEVICEID>', b'</OTHER>')

    assert reason(document) == 'missing_device_id'


BILLION_LAUGHS = b'''<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<REQUEST><CONTENT><HARDWARE><NAME>&lol9;</NAME></HARDWARE></CONTENT>
<DEVICEID>x</DEVICEID><QUERY>INVENTORY</QUERY></REQUEST>'''


def test_billion_laughs_is_refused_as_forbidden_xml():
    assert reason(BILLION_LAUGHS) == 'forbidden_xml'


def test_dtd_without_entities_is_refused_as_forbidden_xml():
    document = b'<?xml version="1.0"?>\n<!DOCTYPE REQUEST>\n' + (
        request('', declaration=''))

    assert reason(document) == 'forbidden_xml'


def test_external_entity_is_refused_and_the_file_never_read(tmp_path):
    secret = tmp_path / 'secret.txt'
    secret.write_text('TOP-SECRET-MARKER')
    for target in [secret.as_uri(), 'file:///etc/passwd']:
        document = (
            f'<?xml version="1.0"?>\n<!DOCTYPE REQUEST [<!ENTITY x SYSTEM '
            f'"{target}">]>\n' + request(
                '<HARDWARE><NAME>&x;</NAME></HARDWARE>', declaration=''
                ).decode()).encode()

        with pytest.raises(InventoryError) as info:
            parse_xml(document)

        assert info.value.reason == 'forbidden_xml'
        assert 'TOP-SECRET' not in str(info.value)
        assert 'root:' not in str(info.value)


@pytest.fixture
def listener():
    "A TCP socket on 127.0.0.1 that records whether anyone connected"
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(5)
    server.settimeout(0.2)
    connections = []
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            connections.append(connection.recv(1024))
            connection.close()
    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


def test_external_dtd_and_entities_never_reach_the_network(listener):
    port, connections = listener
    url = f'http://127.0.0.1:{port}/evil'
    documents = [
        f'<!DOCTYPE REQUEST SYSTEM "{url}.dtd">',
        f'<!DOCTYPE REQUEST [<!ENTITY % p SYSTEM "{url}.ent"> %p;]>',
        f'<!DOCTYPE REQUEST [<!ENTITY x SYSTEM "{url}.txt">]>',
        ]
    for doctype in documents:
        document = (f'<?xml version="1.0"?>\n{doctype}\n' + request(
                '<HARDWARE><NAME>&x;</NAME></HARDWARE>', declaration=''
                ).decode()).encode()
        assert reason(document) == 'forbidden_xml'
    # Also when the document is read again after repairs
    assert reason(b'<?xml version="1.0" encoding="klingon"?>\n'
        b'<!DOCTYPE REQUEST SYSTEM "' + url.encode() + b'"><REQUEST/>'
        ) == 'forbidden_xml'

    assert connections == []


def test_doctype_after_the_root_is_malformed():
    document = request('') + b'<!DOCTYPE REQUEST>'

    assert reason(document) == 'malformed_xml'


def test_too_many_software_entries_are_refused_with_the_limit():
    document = request(software_xml(
            *({'NAME': f's{i}'} for i in range(
                    inventory_format.MAX_SOFTWARE + 1))))

    with pytest.raises(InventoryError) as info:
        parse_xml(document)

    assert info.value.reason == 'too_many_items'
    assert '20,001 software entries' in info.value.message
    assert 'at most 20,000' in info.value.message


def test_software_list_at_the_limit_is_accepted():
    document = request(software_xml(
            *({'NAME': f's{i}', 'VERSION': '1'} for i in range(
                    inventory_format.MAX_SOFTWARE))))

    assert len(parse_xml(document).software) == inventory_format.MAX_SOFTWARE


def test_too_many_json_software_entries_are_refused():
    message = {'deviceid': 'd', 'content': {'softwares': [
                {'name': 'x'}] * (inventory_format.MAX_SOFTWARE + 1)}}

    assert reason(message, parse_json) == 'too_many_items'


@pytest.mark.parametrize('section, limit', [
        ('NETWORKS', 'MAX_NETWORKS'), ('STORAGES', 'MAX_STORAGES')])
def test_too_many_interfaces_or_disks_are_refused(
        monkeypatch, section, limit):
    monkeypatch.setattr(inventory_format, limit, 3)
    items = ''.join(f'<{section}><NAME>n{i}</NAME></{section}>'
        for i in range(4))

    assert reason(request(items)) == 'too_many_items'
    assert reason({'deviceid': 'd', 'content': {section.lower(): [
                    {'name': 'x'}] * 4}}, parse_json) == 'too_many_items'


def test_oversized_document_is_refused(monkeypatch):
    monkeypatch.setattr(inventory_format, 'MAX_DOCUMENT_SIZE', 1000)

    assert reason(FI_SMALL) == 'too_large'
    assert reason(GLPI_JSON, parse_json) == 'too_large'


# Encodings -------------------------------------------------------------------

def test_latin1_bytes_in_a_utf8_document_are_read_as_windows_1252():
    document = request(software_xml(
            {'NAME': 'Société', 'PUBLISHER': 'Éditeur ™'})).replace(
        'é'.encode(), b'\xe9').replace('É'.encode(), b'\xc9').replace(
        '™'.encode(), b'\x99')

    inventory = parse_xml(document)

    assert inventory.software[0].name == 'Société'
    assert inventory.software[0].publisher == 'Éditeur ™'
    assert inventory.warnings == (
        'The document is not valid UTF-8; the invalid bytes were read as '
        'Windows-1252 (ISO-8859-1).',)


def test_undeclared_latin1_document_keeps_its_valid_utf8_text():
    document = request(
        '<HARDWARE><NAME>Réseau</NAME><LASTLOGGEDUSER>zoé</LASTLOGGEDUSER>'
        '</HARDWARE>', declaration='').replace(b'Re\xcc', b'x')
    document = document.replace('zoé'.encode(), b'zo\xe9')

    inventory = parse_xml(document)

    assert (inventory.name, inventory.last_user) == ('Réseau', 'zoé')


def test_utf16_document_is_read():
    text = FI_SMALL.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"')

    inventory = parse_xml(text.encode('utf-16'))

    assert inventory == parse_xml(FI_SMALL)


def test_windows_1252_declared_document_is_read():
    text = FI_SMALL.decode().replace(
        'encoding="UTF-8"', 'encoding="windows-1252"').replace(
        '<NAME>adduser</NAME>', '<NAME>“adduser”</NAME>')

    inventory = parse_xml(text.encode('cp1252'))

    assert '“adduser”' in {s.name for s in inventory.software}


@pytest.mark.parametrize('encoding', ['klingon', 'zlib', 'rot13', 'base64'])
def test_unknown_or_binary_declared_encoding_is_read_as_utf8(encoding):
    text = FI_SMALL.decode().replace(
        'encoding="UTF-8"', f'encoding="{encoding}"')

    inventory = parse_xml(text.encode())

    assert inventory.software == parse_xml(FI_SMALL).software
    assert inventory.warnings


def test_control_characters_and_their_references_are_removed():
    document = request(software_xml(
            {'NAME': 'bad\x01name&#x1b;', 'VERSION': '1&#0;.0'}))

    inventory = parse_xml(document)

    assert inventory.software[0].name == 'badname'
    assert inventory.software[0].version == '1.0'
    assert 'Characters that XML does not allow were removed.' in (
        inventory.warnings)


def test_non_utf8_json_is_read_as_windows_1252():
    document = json.dumps({'deviceid': 'd', 'content': {
                'hardware': {'name': 'Poste comptabilité'}}},
        ensure_ascii=False).encode('cp1252')

    inventory = parse_json(document)

    assert inventory.name == 'Poste comptabilité'
    assert inventory.warnings


def test_utf16_json_is_read():
    assert parse_json(GLPI_JSON.decode().encode('utf-16')) == (
        parse_json(GLPI_JSON))


# JSON documents --------------------------------------------------------------

@pytest.mark.parametrize('document', [
        b'{"deviceid": "d", "content": {', b'{"a": NaN', b'nul',
        b'[' * 100_000 + b']' * 100_000,
        b'{"deviceid": "d", "content": {"hardware": {"memory": '
        + b'9' * 5000 + b'}}}',
        ])
def test_malformed_json_is_refused_as_malformed(document):
    assert reason(document, parse_json) == 'malformed_json'


@pytest.mark.parametrize('message, expected', [
        ({'action': 'contact', 'deviceid': 'd'}, 'not_inventory'),
        ({'deviceid': 'd', 'query': 'SNMP', 'content': {}}, 'not_inventory'),
        ({'deviceid': 'd'}, 'not_inventory'),
        ({'deviceid': 'd', 'content': []}, 'not_inventory'),
        ({'content': {}}, 'missing_device_id'),
        ({'deviceid': None, 'content': {}}, 'missing_device_id'),
        ({'deviceid': float('nan'), 'content': {}}, 'missing_device_id'),
        ])
def test_json_that_is_not_an_inventory_is_refused(message, expected):
    assert reason(message, parse_json) == expected
    assert reason(json.dumps(message), parse_json) == expected


def test_json_array_is_not_an_inventory():
    assert reason(b'[1, 2]', parse_json) == 'not_inventory'


def test_json_with_wrong_types_is_read_without_them():
    message = {
        'deviceid': 123,
        'itemtype': ['Computer'],
        'content': {
            'hardware': {'name': ['x'], 'memory': 'lots', 'uuid': 7},
            'bios': 'nothing',
            'cpus': [{'core': True, 'name': {'a': 1}}, 'junk', None],
            'networks': [{'mac': 5, 'ipaddress': ['10.0.0.1']},
                {'mac': '00:11:22:33:44:55', 'ipaddress': 10,
                    'virtualdev': 'yes'}],
            'storages': [{'disksize': -5, 'name': 'sda'}],
            'softwares': [{'name': 12, 'version': 1.5,
                    'install_date': 20240101}, {'name': None}, [], 'x'],
            'versionclient': {'v': 1},
            },
        }

    inventory = parse_json(message)

    assert inventory.device_id == '123'
    assert inventory.item_type == 'Computer'
    assert inventory.name is None and inventory.memory is None
    assert inventory.uuid == '7'
    assert inventory.cpu_cores is None
    assert [i.mac for i in inventory.network_interfaces] == [
        '00:11:22:33:44:55']
    assert inventory.network_interfaces[0].virtual
    assert inventory.disks == (inventory_format.Disk('sda', None, None, None),)
    # 20240101 reads as a date, as the registry's YYYYMMDD
    assert inventory.software == (
        Software('12', None, '1.5', None, date(2024, 1, 1)),)


def test_glpi_phone_inventory_is_a_phone():
    message = {'deviceid': 'p', 'itemtype': 'Phone', 'content': {
            'hardware': {'name': 'phone-1'}}}

    assert parse_json(message).kind == 'phone'


# Properties ------------------------------------------------------------------

def mutations(document):
    "A strategy of documents derived from document by small corruptions"
    size = len(document)

    def corrupt(edits):
        result = bytearray(document)
        for position, action, byte in edits:
            position %= len(result) or 1
            if action == 0 and result:
                result[position] = byte
            elif action == 1:
                result.insert(position, byte)
            elif result:
                del result[position]
        return bytes(result)
    edit = st.tuples(
        st.integers(0, size), st.integers(0, 2), st.integers(0, 255))
    return st.one_of(
        st.lists(edit, min_size=1, max_size=8).map(corrupt),
        st.integers(0, size).map(lambda n: document[:n]),
        st.integers(0, size).map(lambda n: document[n:]),
        )


def assert_only_inventory_error(parser, document):
    try:
        inventory = parser(document)
    except InventoryError as error:
        assert error.reason in REASONS
    else:
        assert isinstance(inventory, Inventory)
        assert len(inventory.digest) == 64


@PROPERTIES
@given(document=st.binary(max_size=2000))
def test_parse_xml_raises_only_inventory_error_on_any_bytes(document):
    assert_only_inventory_error(parse_xml, document)


@PROPERTIES
@given(document=st.binary(max_size=2000))
def test_parse_json_raises_only_inventory_error_on_any_bytes(document):
    assert_only_inventory_error(parse_json, document)


@PROPERTIES
@given(document=st.one_of(
        mutations(FI_SMALL), mutations(OCS_SMALL), mutations(WINDOWS_LATIN1)))
def test_parse_xml_raises_only_inventory_error_on_mutated_documents(
        document):
    assert_only_inventory_error(parse_xml, document)


@PROPERTIES
@given(document=mutations(GLPI_JSON))
def test_parse_json_raises_only_inventory_error_on_mutated_documents(
        document):
    assert_only_inventory_error(parse_json, document)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats()
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
SECTIONS = st.sampled_from([
        'hardware', 'bios', 'cpus', 'networks', 'storages', 'softwares',
        'operatingsystem', 'memories', 'users', 'accountinfo',
        'versionclient'])
FIELDS = st.sampled_from([
        'name', 'mac', 'ipaddress', 'ipaddress6', 'uuid', 'ssn', 'memory',
        'core', 'disksize', 'serial', 'install_date', 'version', 'arch',
        'virtualdev', 'type', 'chassis_type', 'vmsystem', 'description',
        'capacity', 'keyname', 'keyvalue', 'login', 'lastloggeduser'])


@PROPERTIES
@given(message=st.fixed_dictionaries({
            'deviceid': JSON_VALUES,
            'content': st.dictionaries(SECTIONS, st.one_of(
                    JSON_VALUES,
                    st.dictionaries(FIELDS, JSON_VALUES),
                    st.lists(st.dictionaries(FIELDS, JSON_VALUES),
                        max_size=5))),
            }, optional={'itemtype': JSON_VALUES, 'action': JSON_VALUES}))
def test_parse_json_raises_only_inventory_error_on_any_content(message):
    assert_only_inventory_error(parse_json, message)
    assert_only_inventory_error(parse_json, json.dumps(message).encode())


XML_TEXT = st.text(max_size=30).map(
    lambda t: t.replace('&', '&amp;').replace('<', '&lt;'))


@PROPERTIES
@given(sections=st.lists(st.tuples(
            SECTIONS.map(str.upper),
            st.lists(st.tuples(FIELDS.map(str.upper), XML_TEXT), max_size=6)),
        max_size=12))
def test_parse_xml_reads_any_fields_of_known_sections(sections):
    content = ''.join(
        f'<{s}>' + ''.join(f'<{f}>{v}</{f}>' for f, v in fields) + f'</{s}>'
        for s, fields in sections)
    document = request(content).replace(b'\r', b'')

    assert_only_inventory_error(parse_xml, document)
