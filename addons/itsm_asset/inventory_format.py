# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Pure parsing of the inventories sent by the standard inventory agents.

:func:`parse_xml` reads the ``REQUEST``/``CONTENT`` XML of the OCS Inventory
and FusionInventory agents (and of GLPI-Agent in its XML mode),
:func:`parse_json` the JSON of GLPI-Agent (the public
``glpi-project/inventory_format`` schema). Both return the same immutable,
normalised :class:`Inventory`: junk serial numbers and placeholder UUIDs
dropped, MAC addresses in one form, the software list deduplicated and
sorted, and a :attr:`Inventory.digest` of the normalised content that
ignores what changes at every run (dates, uptime, free space, checksums,
processes), so that an unchanged re-import is found by one comparison.

A document that cannot be used raises :class:`InventoryError` with a stable
``reason`` code (for the translated message of the ORM layer) and a clear
English ``message``; nothing else is raised, whatever the bytes. Encodings
are handled leniently: the declared encoding is honoured, bytes that are
not valid UTF-8 are read as Windows-1252 and control characters are
removed; each repair is listed in :attr:`Inventory.warnings`.

XML safety: the prolog is checked with ``defusedxml`` (DTDs, entity
declarations and external references are refused) and the document is then
read by lxml with entity resolution, DTD loading and network access turned
off, and its DTD checked again. The two steps, rather than defusedxml's
ElementTree alone, because the latter is pure Python: 7 ms for an
800-software inventory against under 2 ms for lxml.
"""
import codecs
import hashlib
import ipaddress
import json
import re
import xml.sax
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import NamedTuple
from xml.sax.handler import ContentHandler

from defusedxml import DefusedXmlException
from defusedxml.expatreader import DefusedExpatParser
from lxml import etree

__all__ = [
    'InventoryError', 'Inventory', 'Software', 'Disk', 'NetworkInterface',
    'parse_xml', 'parse_json', 'parse_document', 'read_xml_request',
    'check_prolog', 'load_json', 'sniff_format', 'digest',
    'guess_kind', 'normalize_mac', 'clean_serial', 'clean_uuid',
    'MAX_DOCUMENT_SIZE', 'MAX_SOFTWARE', 'MAX_NETWORKS', 'MAX_STORAGES',
    'KINDS', 'SOURCES',
    ]

MAX_DOCUMENT_SIZE = 64 * 1024 * 1024
"""Largest document accepted, in bytes (an 800-software one is 300 kB)."""
MAX_SOFTWARE = 20_000
"""Most software entries accepted (a Debian desktop has 800 to 3,000, a
Windows workstation 100 to 1,500); more is refused, never truncated."""
MAX_NETWORKS = 4_096
"""Most NETWORKS entries accepted: one per address, so a container host
with a few hundred virtual interfaces fits."""
MAX_STORAGES = 1_024
"""Most STORAGES entries (physical disks) accepted: a SAN host with
multipath LUNs has a few hundred."""
MAX_TEXT = 1_000
"""Longest text kept for one field; longer values are cut."""

KINDS = (
    'desktop', 'laptop', 'server', 'phone', 'tablet', 'printer', 'monitor',
    'network', 'peripheral', 'other')
"""The asset kinds of ``itsm.asset``, which :func:`guess_kind` returns."""
SOURCES = ('ocs-xml', 'fusioninventory-xml', 'glpi-json')
DIGEST_VERSION = 'itsm-inventory-1'
"""Mixed into every digest: change it when the normalisation changes, so
that the next import of every asset is a full comparison."""

_FALLBACK_ERRORS = 'itsm_asset.cp1252'


class InventoryError(Exception):
    "The document cannot be used as an inventory"

    def __init__(self, reason, message):
        super().__init__(reason, message)
        self.reason = reason
        self.message = message

    def __str__(self):
        return f'{self.reason}: {self.message}'


class Software(NamedTuple):
    "One installed software as reported"
    name: str
    publisher: str | None = None
    version: str | None = None
    architecture: str | None = None
    install_date: date | None = None


class Disk(NamedTuple):
    "A physical disk (STORAGES), its size in MiB"
    name: str | None
    type: str | None
    size: int | None
    serial: str | None


class NetworkInterface(NamedTuple):
    "A network interface with all its addresses"
    name: str | None
    mac: str | None
    ip_addresses: tuple[str, ...]
    type: str | None
    virtual: bool


@dataclass(frozen=True)
class Inventory:
    "The normalised content of one inventory"
    device_id: str
    source: str
    agent: str | None
    item_type: str
    tag: str | None
    name: str | None
    uuid: str | None
    serial: str | None
    kind: str
    virtual: bool
    vm_system: str | None
    manufacturer: str | None
    model: str | None
    cpu: str | None
    cpu_cores: int | None
    memory: int | None
    os_name: str | None
    os_version: str | None
    os_architecture: str | None
    last_user: str | None
    disks: tuple[Disk, ...]
    network_interfaces: tuple[NetworkInterface, ...]
    software: tuple[Software, ...]
    digest: str = field(default='', compare=False)
    warnings: tuple[str, ...] = field(default=(), compare=False)

    @property
    def macs(self):
        "The distinct MAC addresses, sorted"
        return tuple(sorted({
                    i.mac for i in self.network_interfaces if i.mac}))

    def as_dict(self):
        "Return the inventory as plain JSON-compatible data"
        result = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == 'software':
                value = [{
                        'name': s.name,
                        'publisher': s.publisher,
                        'version': s.version,
                        'architecture': s.architecture,
                        'install_date': (
                            s.install_date.isoformat()
                            if s.install_date else None),
                        } for s in value]
            elif name in {'disks', 'network_interfaces'}:
                value = [dict(v._asdict()) for v in value]
                for item in value:
                    if 'ip_addresses' in item:
                        item['ip_addresses'] = list(item['ip_addresses'])
            elif name == 'warnings':
                value = list(value)
            result[name] = value
        return result


# Normalisation of text -------------------------------------------------

_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]')


def _clean(value):
    "Return value as a stripped string without control characters, or None"
    if value is None:
        return None
    if type(value) is not str:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        if (value != value or value in {float('inf'), float('-inf')}
                or not -1e18 < value < 1e18):
            return None
        value = str(value)
    if not value.isprintable():
        value = _CONTROL.sub(' ', value)
    value = value.strip()
    if len(value) > MAX_TEXT:
        value = value[:MAX_TEXT].rstrip()
    return value or None


_NUMBER = re.compile(r'\s*\+?(\d{1,15}(?:\.\d*)?)')


def _number(value):
    "Return the leading non-negative number of value as a float, or None"
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return float(value) if 0 <= value < 10 ** 15 else None
    if isinstance(value, float):
        return value if 0 <= value < 1e15 else None
    if not isinstance(value, str):
        return None
    match = _NUMBER.match(value)
    return float(match.group(1)) if match else None


def _integer(value):
    number = _number(value)
    return int(number) if number is not None else None


def _flag(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value == 1
    text = _clean(value)
    return bool(text) and text.lower() in {'1', 'true', 'yes', 'y', 'on'}


# Serial numbers that BIOS vendors leave in place of a real one, compared
# case-folded without spaces, dots, dashes and underscores.
JUNK_SERIALS = frozenset(''.join(c for c in s.casefold() if c.isalnum())
    for s in [
        'To be filled by O.E.M.', 'To Be Filled By O.E.M. by More String',
        'Default string', 'System Serial Number', 'Chassis Serial Number',
        'Base Board Serial Number', 'Serial Number', 'SerialNumber',
        'Not Specified', 'Not Available', 'Not Applicable', 'Not Present',
        'Not Settable', 'Not Defined', 'None', 'Null', 'N/A', 'NA',
        'Unknown', 'Undefined', 'Invalid', 'Empty', 'Default', 'OEM',
        'O.E.M.', 'Type1ProductConfigId', 'To be filled', 'System Name',
        'System Product Name', 'Specified', 'SN', 'S/N', 'Serial',
        '0123456789', '1234567890', '123456789', '12345678', '01234567',
        'ABCDEFGHIJ', 'XXXXXXXXXX', 'Not Settable OEM', 'Desktop',
        ])
# Values that stand for "nothing" in manufacturer and model fields.
JUNK_NAMES = JUNK_SERIALS | frozenset(
    ''.join(c for c in s.casefold() if c.isalnum()) for s in [
        'System manufacturer', 'System Product Name', 'System Version',
        'Motherboard manufacturer', 'Product Name', 'Manufacturer',
        'Vendor', 'Board Vendor', 'Chassis Manufacturer', 'Computer',
        ])
# Placeholder UUIDs: AMI's default in both byte orders; all-zero and
# all-F UUIDs are recognised by their digits.
JUNK_UUIDS = frozenset([
    '03000200-0400-0500-0006-000700080009',
    '00020003-0004-0005-0006-000700080009',
    ])
_ONLY_FILLER = re.compile(r'^[0fx.\-_ ]*$', re.IGNORECASE)
_REPEATED = re.compile(r'^(.)\1*$')


def clean_serial(value, junk=JUNK_SERIALS):
    "Return the serial number value, or None when it is a placeholder"
    text = _clean(value)
    if text is None:
        return None
    letters = ''.join(c for c in text.casefold() if c.isalnum())
    if (not letters or letters in junk
            or _REPEATED.match(letters)
            or _ONLY_FILLER.match(text)):
        return None
    return text


def _clean_name(value):
    return clean_serial(value, JUNK_NAMES)


def clean_uuid(value):
    "Return the hardware UUID lower-cased, or None for a placeholder"
    text = _clean(value)
    if text is None:
        return None
    text = text.strip('{}').strip().lower()
    letters = ''.join(c for c in text if c.isalnum())
    if (not letters or text in JUNK_UUIDS
            or set(letters) <= {'0'} or set(letters) <= {'f'}
            or letters in JUNK_SERIALS):
        return None
    return text


_MAC_SEPARATORS = re.compile(r'[:\-. ]')
_HEX = frozenset('0123456789abcdef')


def normalize_mac(value):
    """Return a MAC address as lower-case colon-separated pairs, or None
    for an invalid, all-zero or broadcast address"""
    text = _clean(value)
    if text is None:
        return None
    text = text.lower()
    parts = _MAC_SEPARATORS.split(text)
    if len(parts) == 1:
        # 001a2b3c4d5e
        digits = parts[0]
        if len(digits) % 2:
            return None
        parts = [digits[i:i + 2] for i in range(0, len(digits), 2)]
    elif len(parts) == 3 and all(len(p) == 4 for p in parts):
        # Cisco's 001a.2b3c.4d5e
        digits = ''.join(parts)
        parts = [digits[i:i + 2] for i in range(0, len(digits), 2)]
    if len(parts) not in {6, 8, 20}:
        return None
    octets = []
    for part in parts:
        # Solaris writes 0:1b:21:a:b:c without leading zeros
        if not 1 <= len(part) <= 2 or not set(part) <= _HEX:
            return None
        octets.append(part.rjust(2, '0'))
    if set(octets) <= {'00'} or set(octets) <= {'ff'}:
        return None
    return ':'.join(octets)


def _ip_addresses(*values):
    "Return the valid, non-loopback IP addresses in values, normalised"
    result = []
    for value in values:
        text = _clean(value)
        if not text:
            continue
        for candidate in re.split(r'[\s,;/]+', text):
            if not candidate:
                continue
            try:
                address = ipaddress.ip_address(candidate.split('%')[0])
            except ValueError:
                continue
            if address.is_loopback or address.is_unspecified:
                continue
            result.append(address.compressed)
    return result


_DATE_YMD = re.compile(r'^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:\D|$)')
_DATE_DMY = re.compile(r'^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:\D|$)')
_DATE_COMPACT = re.compile(r'^(\d{4})(\d{2})(\d{2})$')


@lru_cache(maxsize=4096)
def _parse_date(text):
    """Return the date in text: 2024-05-31 (GLPI JSON), 2024/05/31 12:00:00
    (OCS), 31/05/2024 (FusionInventory), 20240531 (Windows registry)"""
    match = _DATE_YMD.match(text) or _DATE_COMPACT.match(text)
    if match:
        year, month, day = match.groups()
    else:
        match = _DATE_DMY.match(text)
        if not match:
            return None
        day, month, year = match.groups()
    try:
        result = date(int(year), int(month), int(day))
    except ValueError:
        return None
    if not 1980 <= result.year <= 2200:
        return None
    return result


def _date(value):
    text = _clean(value)
    return _parse_date(text) if text else None


# Kinds -----------------------------------------------------------------

_CHASSIS_KINDS = {
    'laptop': 'laptop', 'notebook': 'laptop', 'portable': 'laptop',
    'sub notebook': 'laptop', 'convertible': 'laptop',
    'tablet': 'tablet', 'detachable': 'tablet', 'hand held': 'tablet',
    'main server chassis': 'server', 'rack mount chassis': 'server',
    'blade': 'server', 'blade enclosing': 'server',
    'multi-system': 'server', 'multi-system chassis': 'server',
    'expansion chassis': 'server', 'raid chassis': 'server',
    'compactpci': 'server', 'advancedtca': 'server',
    'desktop': 'desktop', 'low profile desktop': 'desktop',
    'mini tower': 'desktop', 'tower': 'desktop', 'all in one': 'desktop',
    'space-saving': 'desktop', 'lunch box': 'desktop',
    'pizza box': 'desktop', 'sealed-case pc': 'desktop',
    'mini pc': 'desktop', 'stick pc': 'desktop', 'embedded pc': 'desktop',
    'docking station': 'peripheral', 'peripheral chassis': 'peripheral',
    }
_ITEM_TYPE_KINDS = {
    'phone': 'phone', 'printer': 'printer', 'networkequipment': 'network',
    }
_PHYSICAL = {'physical', 'none', 'no', ''}
_VIRTUAL_BIOS = re.compile(
    r'qemu|kvm|vmware|virtualbox|innotek|virtual machine|bochs|xen|'
    r'parallels|bhyve|hyper-v|openstack|amazon ec2|google compute',
    re.IGNORECASE)


def guess_kind(chassis=None, virtual=False, os_name=None,
        item_type='Computer'):
    """Return the asset kind (one of :data:`KINDS`) suggested by the
    chassis type, whether the machine is virtual, its operating system and
    the GLPI item type"""
    by_item = _ITEM_TYPE_KINDS.get((item_type or '').lower())
    if by_item:
        return by_item
    os_name = (os_name or '').lower()
    if 'android' in os_name or os_name.startswith('ios'):
        return 'phone'
    if 'ipados' in os_name:
        return 'tablet'
    if virtual:
        return 'server'
    if 'server' in os_name:
        return 'server'
    return _CHASSIS_KINDS.get((chassis or '').strip().lower(), 'other')


# Virtual network interfaces by name, for agents that do not say (OCS)
_VIRTUAL_INTERFACE = re.compile(
    r'^(ifb|veth|docker|br-|virbr|vnet|tun|tap|dummy|vmnet|vboxnet|'
    r'lxcbr|lxdbr|cni|flannel|cali|weave|kube|wg|zt|tailscale|bond|team|'
    r'vlan|macvlan|ipvlan|sit|gre|ip6tnl|nlmon|br\d)')
_RAM_DISK = re.compile(r'^(zram|ram|loop|nbd)\d+$')
_JUNK_USERS = frozenset(['wtmp', 'reboot', 'shutdown', 'begins'])


# Reading the documents -------------------------------------------------

def _cp1252_fallback(error):
    "Decode the bytes that are not UTF-8 as Windows-1252"
    if not isinstance(error, UnicodeDecodeError):
        raise error
    data = error.object[error.start:error.end]
    return data.decode('cp1252', 'replace'), error.end


codecs.register_error(_FALLBACK_ERRORS, _cp1252_fallback)

_XML_DECLARATION = re.compile(
    rb'^\s*<\?xml[^>]*?encoding\s*=\s*["\']([A-Za-z0-9._:-]{1,40})["\']')
_XML_DECLARATION_TEXT = re.compile(r'^\s*<\?xml[^>]*\?>')
_BOMS = [
    (codecs.BOM_UTF32_LE, 'utf-32'), (codecs.BOM_UTF32_BE, 'utf-32'),
    (codecs.BOM_UTF8, 'utf-8-sig'), (codecs.BOM_UTF16_LE, 'utf-16'),
    (codecs.BOM_UTF16_BE, 'utf-16'),
    ]
_INVALID_XML_CHARS = re.compile(
    '[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_INVALID_CHAR_REFERENCES = re.compile(
    r'&#(?:0*(?:[0-8]|1[124-9]|2\d|3[01])'
    r'|[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]));')


def _decode(data, declared=None):
    """Return data decoded leniently and the notes about what was repaired:
    BOM first, then the declared encoding, then UTF-8 with the invalid
    bytes read as Windows-1252"""
    notes = []
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), notes
            except UnicodeDecodeError:
                notes.append(
                    f'The document starts with a {encoding.upper()} byte '
                    'order mark but is not valid in that encoding; it was '
                    'read as UTF-8.')
                data = data[len(bom):]
                break
    if declared:
        try:
            codec = codecs.lookup(declared).name
        except LookupError:
            notes.append(
                f'The declared encoding "{declared}" is unknown; the '
                'document was read as UTF-8.')
            codec = 'utf-8'
        if codec not in {'utf-8', 'utf-8-sig'}:
            try:
                return data.decode(codec), notes
            except (UnicodeDecodeError, ValueError):
                notes.append(
                    f'The document is not valid {declared}; it was read '
                    'as UTF-8.')
            except LookupError:  # a codec that is not a text encoding
                notes.append(
                    f'The declared encoding "{declared}" cannot decode '
                    'text; the document was read as UTF-8.')
    try:
        return data.decode('utf-8'), notes
    except UnicodeDecodeError:
        notes.append(
            'The document is not valid UTF-8; the invalid bytes were read '
            'as Windows-1252 (ISO-8859-1).')
        return data.decode('utf-8', _FALLBACK_ERRORS), notes


class _RootReached(Exception):
    pass


class _PrologGuard(ContentHandler):
    "Stop at the root element, remembering its name"
    root = None

    def startElement(self, name, attrs):
        self.root = name
        raise _RootReached


def check_prolog(data):
    """Parse the prolog of data with defusedxml, up to the root element.

    Raise InventoryError for a DTD, an entity or an external reference;
    return the root element's name, or raise xml.sax.SAXParseException
    when the prolog is not well-formed."""
    parser = DefusedExpatParser(
        forbid_dtd=True, forbid_entities=True, forbid_external=True)
    guard = _PrologGuard()
    parser.setContentHandler(guard)
    step = 64 * 1024
    try:
        for start in range(0, len(data), step):
            parser.feed(data[start:start + step])
        parser.close()
    except _RootReached:
        return guard.root
    except DefusedXmlException as exception:
        raise InventoryError('forbidden_xml',
            'The document declares a DTD, an entity or an external '
            'reference, which are refused for security: inventory agents '
            f'never send them ({type(exception).__name__}).')
    except (LookupError, ValueError) as exception:
        # expat asks Python's codecs for an encoding it does not know
        raise xml.sax.SAXParseException(str(exception), exception, parser)
    # A document without any element
    raise xml.sax.SAXParseException('no element found', None, parser)


def _xml_parser():
    # A parser per call: lxml parsers must not be shared between threads
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False,
        dtd_validation=False, huge_tree=False, remove_comments=True,
        remove_pis=True, collect_ids=False, recover=False)


def _lxml_root(data):
    root = etree.fromstring(data, _xml_parser())
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD or docinfo.externalDTD:
        raise InventoryError('forbidden_xml',
            'The document declares a DTD, which is refused for security.')
    return root


def _repair_xml(data):
    "Return data decoded leniently, cleaned and encoded as UTF-8"
    match = _XML_DECLARATION.match(data)
    text, notes = _decode(data, match.group(1).decode() if match else None)
    text = _XML_DECLARATION_TEXT.sub('', text, count=1)
    cleaned = _INVALID_XML_CHARS.sub('', text)
    cleaned = _INVALID_CHAR_REFERENCES.sub('', cleaned)
    if cleaned != text:
        notes.append('Characters that XML does not allow were removed.')
    return cleaned.encode('utf-8'), notes


# What the parsers raise on bad input: expat through SAX, libxml2, and
# the codecs behind a declared encoding (LookupError, UnicodeError)
_PARSE_ERRORS = (xml.sax.SAXException, etree.Error, ValueError, LookupError)


def _short(text, length=80):
    text = _clean(str(text)) or ''
    return text if len(text) <= length else text[:length - 1] + '…'


def _xml_error(exception):
    message = _short(exception, 300).rstrip('.') or type(exception).__name__
    return InventoryError('malformed_xml',
        f'The document is not well-formed XML: {message}.')


def read_xml_request(data):
    """Return the root element of an agent's XML request and the notes
    about the repairs made, reading data safely and leniently.

    Raise InventoryError when it is not well-formed XML, declares a DTD or
    is not a REQUEST."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InventoryError('malformed_xml',
            'The document must be given as bytes.')
    data = bytes(data)
    if not data.strip():
        raise InventoryError('empty', 'The document is empty.')
    if len(data) > MAX_DOCUMENT_SIZE:
        raise InventoryError('too_large',
            f'The document has {len(data):,} bytes; at most '
            f'{MAX_DOCUMENT_SIZE:,} are accepted.')
    notes = []
    try:
        check_prolog(data)
        root = _lxml_root(data)
    except _PARSE_ERRORS:
        try:
            repaired, notes = _repair_xml(data)
        except (LookupError, ValueError):
            raise InventoryError('bad_encoding',
                'The document cannot be decoded as text.')
        try:
            check_prolog(repaired)
            root = _lxml_root(repaired)
        except _PARSE_ERRORS as exception:
            raise _xml_error(exception)
    except RecursionError:
        raise InventoryError('malformed_xml',
            'The document is nested too deeply.')
    if root.tag != 'REQUEST':
        raise InventoryError('not_inventory',
            f'The document\'s root element is "{_short(root.tag)}", '
            'not REQUEST: it is not an inventory agent\'s request.')
    return root, notes


def _xml_sections(content):
    """Return the sections of an XML CONTENT element: a dict of section
    names to lists of {field: text}, and a dict of the text-only ones"""
    sections = {}
    scalars = {}
    counts = {'SOFTWARES': 0, 'NETWORKS': 0, 'STORAGES': 0}
    for section in content:
        name = section.tag
        if type(name) is not str:
            continue
        if not len(section):
            scalars.setdefault(name, section.text)
            continue
        if name in counts:
            counts[name] += 1
        # A nested field (TIMEZONE) has blank text, which cleans to None
        values = {item.tag: item.text for item in section}
        bucket = sections.get(name)
        if bucket is None:
            sections[name] = [values]
        else:
            bucket.append(values)
    _check_counts(counts)
    return sections, scalars


def _check_counts(counts):
    for name, limit, label in [
            ('SOFTWARES', MAX_SOFTWARE, 'software entries'),
            ('NETWORKS', MAX_NETWORKS, 'network addresses'),
            ('STORAGES', MAX_STORAGES, 'disks'),
            ]:
        if counts.get(name, 0) > limit:
            raise InventoryError('too_many_items',
                f'The inventory lists {counts[name]:,} {label}; at most '
                f'{limit:,} are accepted.')


def parse_xml(data):
    """Return the :class:`Inventory` of an OCS or FusionInventory XML
    document (``REQUEST`` with ``QUERY`` INVENTORY)"""
    root, notes = read_xml_request(data)
    device_id = query = None
    content = None
    for child in root:
        tag = child.tag
        if tag == 'DEVICEID':
            device_id = child.text
        elif tag == 'QUERY':
            query = _clean(child.text)
        elif tag == 'CONTENT' and content is None:
            content = child
    if query and query.upper() != 'INVENTORY':
        raise InventoryError('not_inventory',
            f'The document is a {_short(query.upper())} request, not an '
            'inventory.')
    if content is None:
        raise InventoryError('not_inventory',
            'The document has no CONTENT: it is not an inventory.')
    sections, scalars = _xml_sections(content)
    agent = _clean(scalars.get('VERSIONCLIENT'))
    if ('VERSIONPROVIDER' in sections
            or (agent and agent.lower().startswith(
                    ('fusioninventory', 'glpi')))):
        source = 'fusioninventory-xml'
    else:
        source = 'ocs-xml'
    return _build(
        device_id, source, agent, 'Computer', sections, notes)


def _json_sections(content):
    sections = {}
    scalars = {}
    for key, value in content.items():
        if not isinstance(key, str):
            continue
        name = key.upper()
        if isinstance(value, dict):
            sections.setdefault(name, []).append(
                {k.upper(): v for k, v in value.items()
                    if isinstance(k, str)})
        elif isinstance(value, list):
            limit = {'SOFTWARES': MAX_SOFTWARE, 'NETWORKS': MAX_NETWORKS,
                'STORAGES': MAX_STORAGES}.get(name)
            if limit is not None and len(value) > limit:
                _check_counts({name: len(value)})
            bucket = sections.setdefault(name, [])
            for item in value:
                if isinstance(item, dict):
                    bucket.append({k.upper(): v for k, v in item.items()
                            if isinstance(k, str)})
        else:
            scalars[name] = value
    return sections, scalars


def load_json(data):
    "Return the JSON value in data (bytes or str), read leniently"
    notes = []
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        if len(data) > MAX_DOCUMENT_SIZE:
            raise InventoryError('too_large',
                f'The document has {len(data):,} bytes; at most '
                f'{MAX_DOCUMENT_SIZE:,} are accepted.')
        data, notes = _decode(data)
    elif not isinstance(data, str):
        raise InventoryError('malformed_json',
            'The document must be given as bytes or text.')
    if not data.strip():
        raise InventoryError('empty', 'The document is empty.')
    try:
        return json.loads(data), notes
    except RecursionError:
        raise InventoryError('malformed_json',
            'The document is nested too deeply.')
    except ValueError as exception:
        raise InventoryError('malformed_json',
            f'The document is not valid JSON: {exception}.')


def parse_json(data):
    """Return the :class:`Inventory` of a GLPI-Agent JSON document (bytes,
    text or the already decoded object)"""
    notes = []
    if isinstance(data, dict):
        document = data
    else:
        document, notes = load_json(data)
    if not isinstance(document, dict):
        raise InventoryError('not_inventory',
            'The document is not a JSON object: it is not an inventory.')
    action = _clean(document.get('action'))
    if action and action.lower() != 'inventory':
        raise InventoryError('not_inventory',
            f'The document is a GLPI-Agent "{_short(action)}" message, not an '
            'inventory.')
    query = _clean(document.get('query'))
    if query and query.upper() != 'INVENTORY':
        raise InventoryError('not_inventory',
            f'The document is a {_short(query.upper())} request, not an '
            'inventory.')
    content = document.get('content')
    if not isinstance(content, dict):
        raise InventoryError('not_inventory',
            'The document has no "content" object: it is not an '
            'inventory.')
    item_type = _clean(document.get('itemtype')) or 'Computer'
    sections, scalars = _json_sections(content)
    agent = _clean(scalars.get('VERSIONCLIENT'))
    return _build(
        document.get('deviceid'), 'glpi-json', agent, item_type, sections,
        notes)


def sniff_format(data):
    """Return 'json' or 'xml' by the first character of data (bytes in any
    encoding with or without BOM), or None when it is neither"""
    head, _ = _decode(bytes(data[:64]))
    head = head.lstrip('\ufeff \t\r\n\x00')[:1]
    if head in {'{', '['}:
        return 'json'
    if head == '<':
        return 'xml'
    return None


def parse_document(data):
    "Return the :class:`Inventory` of an XML or JSON document"
    if isinstance(data, (dict, str)):
        return parse_json(data)
    if sniff_format(data) == 'json':
        return parse_json(data)
    return parse_xml(data)


# Building the inventory ------------------------------------------------

def _first(sections, name):
    """Return the fields of a section that should appear once, merged when
    it is repeated: the first value that is not blank wins"""
    values = sections.get(name)
    if not values:
        return {}
    if len(values) == 1:
        return values[0]
    merged = {}
    for item in values:
        for key, value in item.items():
            if _clean(merged.get(key)) is None:
                merged[key] = value
    return merged


def _get(values, *keys):
    for key in keys:
        value = _clean(values.get(key))
        if value is not None:
            return value
    return None


def _software(sections, notes):
    entries = {}
    unnamed = 0
    clean = _clean
    for values in sections.get('SOFTWARES', ()):
        get = values.get
        name = clean(get('NAME'))
        if name is None:
            unnamed += 1
            continue
        publisher = clean(get('PUBLISHER'))
        version = clean(get('VERSION'))
        architecture = clean(get('ARCH') or get('ARCHITECTURE'))
        install_date = get('INSTALLDATE') or get('INSTALL_DATE')
        if install_date is not None:
            install_date = _date(install_date)
        key = (name, publisher, version, architecture)
        known = entries.get(key)
        # A duplicate keeps the earliest date, whatever the order
        if known is not None and (install_date is None or (
                    known.install_date is not None
                    and known.install_date <= install_date)):
            continue
        entries[key] = Software(
            name, publisher, version, architecture, install_date)
    if unnamed == 1:
        notes.append('1 software entry without a name was ignored.')
    elif unnamed:
        notes.append(
            f'{unnamed} software entries without a name were ignored.')
    return tuple(sorted(entries.values(), key=_software_order))


def _software_order(software):
    name, publisher, version, architecture, install_date = software
    return (name.casefold(), name, version or '', architecture or '',
        publisher or '')


def _disks(sections):
    disks = set()
    for values in sections.get('STORAGES', ()):
        name = _get(values, 'NAME', 'MODEL', 'DESCRIPTION')
        if name and _RAM_DISK.match(name):
            continue
        size = _number(values.get('DISKSIZE'))
        if size is not None:
            # Agents report decimal megabytes (10**6 bytes)
            size = round(size * 1_000_000 / 1_048_576) or None
        serial = clean_serial(values.get('SERIALNUMBER')
            or values.get('SERIAL'))
        disk_type = _get(values, 'TYPE', 'INTERFACE')
        if not (name or serial or size):
            continue
        disks.add(Disk(name, disk_type, size, serial))
    return tuple(sorted(disks, key=lambda d: (
                d.name or '', d.serial or '', d.size or 0, d.type or '')))


def _interface_type(value):
    text = _clean(value)
    if text is None:
        return None
    text = text.lower()
    return {'ether': 'ethernet', 'wireless': 'wifi', 'wlan': 'wifi',
        'loopback': 'loopback'}.get(text, text)


def _interfaces(sections):
    merged = {}
    for values in sections.get('NETWORKS', ()):
        name = _get(values, 'DESCRIPTION', 'NAME')
        kind = _interface_type(values.get('TYPE'))
        lower_name = (name or '').lower()
        if (kind == 'loopback' or lower_name == 'lo'
                or lower_name.startswith(('loopback', 'software loopback'))):
            continue
        mac = normalize_mac(values.get('MACADDR') or values.get('MAC'))
        addresses = _ip_addresses(
            values.get('IPADDRESS'), values.get('IPADDRESS6'))
        virtual_value = values.get('VIRTUALDEV')
        if virtual_value is None or _clean(virtual_value) is None:
            virtual = bool(_VIRTUAL_INTERFACE.match(lower_name))
        else:
            virtual = _flag(virtual_value)
        key = (name, mac)
        known = merged.get(key)
        if known is None:
            merged[key] = [set(addresses), {kind} - {None}, virtual]
        else:
            known[0].update(addresses)
            if kind:
                known[1].add(kind)
            known[2] = known[2] or virtual
    interfaces = []
    for (name, mac), (addresses, kinds, virtual) in merged.items():
        if not mac and not addresses:
            continue
        interfaces.append(NetworkInterface(
                name, mac, tuple(sorted(addresses, key=_address_order)),
                min(kinds) if kinds else None, virtual))
    interfaces.sort(key=lambda i: (i.name or '', i.mac or ''))
    return tuple(interfaces)


def _address_order(text):
    return (':' in text, text)


def _cpu(sections, hardware):
    names = set()
    cores = None
    for values in sections.get('CPUS', ()):
        name = _get(values, 'NAME', 'TYPE', 'MODEL')
        if name and not name.isdigit():
            names.add(name)
        count = _integer(values.get('CORE') or values.get('CORES')
            or values.get('CORECOUNT'))
        if count:
            cores = (cores or 0) + count
    name = min(names) if names else _get(hardware, 'PROCESSORT')
    return name, cores


def _tag(sections):
    for values in sections.get('ACCOUNTINFO', ()):
        if (_clean(values.get('KEYNAME')) or '').upper() == 'TAG':
            return _clean(values.get('KEYVALUE'))
    return None


def _last_user(sections, hardware):
    user = _clean(hardware.get('LASTLOGGEDUSER'))
    if user and user.lower() not in _JUNK_USERS:
        return user
    logins = sorted(filter(None, (
                _clean(v.get('LOGIN')) for v in sections.get('USERS', ()))))
    return logins[0] if logins else None


def _build(device_id, source, agent, item_type, sections, notes):
    device_id = _clean(device_id)
    if device_id is None:
        raise InventoryError('missing_device_id',
            'The inventory has no DEVICEID: the identifier of the agent '
            'is required.')
    if len(device_id) > 255:
        raise InventoryError('missing_device_id',
            'The inventory\'s DEVICEID is longer than 255 characters.')
    bios = _first(sections, 'BIOS')
    hardware = _first(sections, 'HARDWARE')
    system = _first(sections, 'OPERATINGSYSTEM')

    vm_system = _get(hardware, 'VMSYSTEM')
    if vm_system and vm_system.lower() in _PHYSICAL:
        vm_system = None
    manufacturer = (_clean_name(bios.get('SMANUFACTURER'))
        or _clean_name(bios.get('MMANUFACTURER')))
    model = _clean_name(bios.get('SMODEL'))
    if vm_system is None and not hardware.get('VMSYSTEM'):
        # Agents that do not say (OCS): the BIOS of hypervisors tells
        evidence = ' '.join(filter(None, [
                    manufacturer, model, _clean(bios.get('BMANUFACTURER'))]))
        match = _VIRTUAL_BIOS.search(evidence)
        if match:
            vm_system = match.group(0)
    virtual = vm_system is not None
    os_name = (_get(system, 'FULL_NAME') or _get(hardware, 'OSNAME')
        or _get(system, 'NAME'))
    os_version = _get(system, 'VERSION') or _get(hardware, 'OSVERSION')
    cpu, cores = _cpu(sections, hardware)
    os_architecture = (_get(system, 'ARCH') or _get(hardware, 'ARCH')
        or next(filter(None, (_get(v, 'CPUARCH')
                        for v in sections.get('CPUS', ()))), None))
    memory = _integer(hardware.get('MEMORY'))
    if not memory:
        capacities = [_integer(v.get('CAPACITY'))
            for v in sections.get('MEMORIES', ())]
        memory = sum(filter(None, capacities)) or None
    chassis = (_get(hardware, 'CHASSIS_TYPE') or _get(bios, 'TYPE')
        or _get(bios, 'CHASSIS_TYPE'))
    name = _get(hardware, 'NAME')
    if name is None:
        fqdn = _get(system, 'FQDN')
        name = fqdn.split('.')[0] if fqdn else None

    facts = dict(
        device_id=device_id,
        source=source,
        agent=agent,
        item_type=item_type,
        tag=_tag(sections),
        name=name,
        uuid=clean_uuid(hardware.get('UUID') or bios.get('UUID')),
        serial=clean_serial(bios.get('SSN')),
        kind=guess_kind(chassis, virtual, os_name, item_type),
        virtual=virtual,
        vm_system=vm_system,
        manufacturer=manufacturer,
        model=model,
        cpu=cpu,
        cpu_cores=cores,
        memory=memory or None,
        os_name=os_name,
        os_version=os_version,
        os_architecture=os_architecture,
        last_user=_last_user(sections, hardware),
        disks=_disks(sections),
        network_interfaces=_interfaces(sections),
        software=_software(sections, notes),
        )
    return Inventory(**facts, digest=digest(facts), warnings=tuple(notes))


# Digest ----------------------------------------------------------------

_DIGEST_SCALARS = [
    'device_id', 'source', 'agent', 'item_type', 'tag', 'name', 'uuid',
    'serial', 'kind', 'virtual', 'vm_system', 'manufacturer', 'model',
    'cpu', 'cpu_cores', 'memory', 'os_name', 'os_version',
    'os_architecture', 'last_user',
    ]


def _field(value):
    if value is None:
        return ''
    if value is True:
        return '1'
    if value is False:
        return '0'
    if isinstance(value, tuple):
        return ','.join(value)
    return str(value)


def digest(facts):
    """Return the digest of an :class:`Inventory`, or of the mapping of
    its normalised fields: every field but the digest and the warnings.
    Fields are joined by control characters, which the normalised values
    never contain."""
    if isinstance(facts, Inventory):
        facts = {n: getattr(facts, n) for n in Inventory.__dataclass_fields__}
    parts = [DIGEST_VERSION]
    parts.append('\x1f'.join(_field(facts[n]) for n in _DIGEST_SCALARS))
    for items in [facts['disks'], facts['network_interfaces']]:
        parts.append('\x1e'.join(
                '\x1f'.join(_field(v) for v in item) for item in items))
    # The software list is the bulk: joined without a call per field
    parts.append('\x1e'.join([
                f'{n}\x1f{p or ""}\x1f{v or ""}\x1f{a or ""}\x1f{d or ""}'
                for n, p, v, a, d in facts['software']]))
    return hashlib.sha256('\x1d'.join(parts).encode('utf-8')).hexdigest()
