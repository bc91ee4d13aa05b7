# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""What the inventory agents send, kept first, then applied to the assets.

An endpoint (``itsm.inventory.endpoint``) is the address an agent reports
to: its company, how agents authenticate, in which order an inventory is
matched to an asset and what a machine seen for the first time becomes.
Every inventory that is not a plain repetition is stored as it came
(``itsm.inventory``, the decoded document in the filestore) in the state
*received*; a queued task then parses it again and applies it to its
asset as a diff. A request that cannot be used (malformed, refused,
oversized) is kept *failed* with its reason, and one that matches several
assets *unmatched*: nothing is dropped, the administrators review them.

The decisions are pure functions at the top of this file: which asset an
inventory is (:func:`choose_asset`, :func:`plan_matches`), what changed in
the software (:func:`diff_software`), the hardware facts
(:func:`diff_facts`) and the disks and interfaces (:func:`diff_rows`). The
ORM glue around them is set-based: one query per kind of row for a batch
of inventories, not one ORM call per software entry. An inventory equal to
the last one of its asset (same digest of the normalised content) costs one
SELECT and one UPDATE of the asset's last inventory date, and is not
stored again.
"""
import datetime as dt
import logging
import re
import threading
import traceback
import uuid
from collections import Counter, OrderedDict, defaultdict
from functools import lru_cache
from typing import NamedTuple

from sql import Conflict, Null
from sql.conditionals import Coalesce
from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin,
    Index,
    ModelSQL,
    ModelView,
    Unique,
    fields,
)
from trytond.model.exceptions import ValidationError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.url import http_host

from itsm_ticket.search import rec_name_domain

from .agent_protocol import (
    DEFAULT_MAX_SIZE,
    ProtocolError,
    check_basic_auth,
    check_secret,
    decode_body,
    parse_secrets,
    request_secret,
)
from .asset import KINDS
from .inventory_format import InventoryError, parse_document
from .software import publisher_key, software_key

logger = logging.getLogger(__name__)

MATCH_KEYS = ('device', 'uuid', 'serial', 'mac', 'name')
"""What an inventory can be matched to an asset by: the agent's device ID,
the firmware's UUID, the serial number, the MAC address of a physical
interface, the host name."""
DEFAULT_MATCH_ORDER = 'uuid, serial, mac, name'
FACT_FIELDS = (
    'uuid', 'serial', 'manufacturer', 'model', 'cpu', 'cpu_cores', 'memory',
    'os_name', 'os_version', 'os_architecture')
"""The asset's fields an inventory writes. The name and the kind are only
set when the inventory creates the asset: people rename and reclassify."""
STATES = [
    ('received', "Received"),
    ('done', "Done"),
    ('unchanged', "Unchanged"),
    ('failed', "Failed"),
    ('unmatched', "Unmatched"),
    ]
REVIEW_STATES = {'failed', 'unmatched'}
FORMATS = [
    (None, ""),
    ('ocs-xml', "OCS Inventory XML"),
    ('fusioninventory-xml', "FusionInventory XML"),
    ('glpi-json', "GLPI-Agent JSON"),
    ]
STORED_AS = [
    ('plain', "Decoded"),
    ('zlib', "zlib, as received"),
    ('gzip', "gzip, as received"),
    ]
MAX_FREQUENCY = 24 * 366
_SLICE = backend.MAX_QUERY_PARAMS


# Pure decisions ---------------------------------------------------------

def parse_match_order(text):
    """Return the matching keys of text ("uuid, serial, mac, name") as a
    tuple; raise ValueError for an unknown or repeated key or none"""
    keys = [k for k in re.split(r'[\s,;]+', (text or '').lower()) if k]
    if not keys:
        raise ValueError("no matching key")
    for key in keys:
        if key not in MATCH_KEYS:
            raise ValueError(f"unknown matching key {key!r}")
    if len(set(keys)) != len(keys):
        raise ValueError("a matching key is repeated")
    return tuple(keys)


def match_keys(inventory):
    """Return what identifies the machine of an inventory_format.Inventory:
    {key: frozenset of values}. Only physical interfaces count for the MAC:
    bridges, tunnels and container interfaces repeat from one machine to
    another."""
    def one(value):
        return frozenset([value]) if value else frozenset()
    return {
        'device': one(inventory.device_id),
        'uuid': one(inventory.uuid),
        'serial': one(inventory.serial),
        'mac': frozenset(i.mac for i in inventory.network_interfaces
            if i.mac and not i.virtual),
        'name': one(inventory.name),
        }


class Candidate(NamedTuple):
    "An asset an inventory may be, as read for matching"
    id: int
    device: str | None = None
    uuid: str | None = None
    serial: str | None = None
    name: str | None = None
    macs: frozenset = frozenset()
    active: bool = True


class Match(NamedTuple):
    """What an inventory is: an asset (a negative id for the asset that the
    inventory at index -id - 1 of the batch creates), None for a new one,
    or several (ambiguous)"""
    asset: int | None
    key: str | None = None
    ambiguous: tuple = ()


def _matches(candidate, key, values):
    if key == 'mac':
        return bool(candidate.macs & values)
    return getattr(candidate, key) in values


def choose_asset(keys, candidates, order):
    """Return the Match of an inventory with the keys (from
    :func:`match_keys`) among the candidates, trying the keys in order.

    The first key that matches narrows the candidates; the next keys narrow
    them further while they still match some. One left is the asset; none
    matched is a new asset; several left are ambiguous, unless one only is
    active (a retired machine whose identity was taken over)."""
    remaining = list(candidates)
    matched_by = None
    for key in order:
        values = keys.get(key)
        if not values:
            continue
        found = [c for c in remaining if _matches(c, key, values)]
        if not found:
            continue
        remaining = found
        matched_by = matched_by or key
        if len(found) == 1:
            return Match(found[0].id, matched_by)
    if matched_by is None:
        return Match(None)
    active = [c for c in remaining if c.active]
    if len(active) == 1:
        return Match(active[0].id, matched_by)
    return Match(None, matched_by, tuple(sorted(c.id for c in remaining)))


def plan_matches(items, candidates, order):
    """Return the Match of each item ({key: values}) of a batch, in order.

    A machine seen for the first time becomes a candidate for the next
    items, with the id -(index + 1): two inventories of one new machine in
    a batch make one asset."""
    candidates = list(candidates)
    plan = []
    for index, keys in enumerate(items):
        match = choose_asset(keys, candidates, order)
        if match.asset is None and not match.ambiguous:
            match = Match(-(index + 1))
            candidates.append(Candidate(
                    match.asset,
                    device=next(iter(keys.get('device') or ()), None),
                    uuid=next(iter(keys.get('uuid') or ()), None),
                    serial=next(iter(keys.get('serial') or ()), None),
                    name=next(iter(keys.get('name') or ()), None),
                    macs=frozenset(keys.get('mac') or ())))
        plan.append(match)
    return plan


def schedule(targets):
    """Return the rounds in which to apply the items of a batch: lists of
    indexes, each target (not None) once a round, in their order, so that
    the inventories of one asset apply one after the other"""
    seen = Counter()
    rounds = []
    for index, target in enumerate(targets):
        if target is None:
            continue
        number = seen[target]
        seen[target] += 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(index)
    return rounds


class Installed(NamedTuple):
    "An installation as the database has it"
    id: int
    software: int
    name: str
    version: str | None
    architecture: str | None
    install_date: dt.date | None
    source: str


class Reported(NamedTuple):
    "A software an inventory reports, with its catalog entry"
    software: int
    name: str
    version: str | None
    architecture: str | None
    install_date: dt.date | None = None


def _version_order(item):
    return (item.version is None, item.version or '')


def diff_software(old_rows, new_software):
    """Compare the installations of an asset (Installed) with what its
    inventory reports (Reported); return (to_insert, to_delete, upgrades).

    ``software`` identifies the catalog entry, ``name`` the software's
    normalised name (the entry's key without publisher), so that a software
    catalogued under another publisher by another agent is the same
    installation. Reported entries are merged on (software, version,
    architecture), keeping the earliest installation date. Then, in order:

    1. the same software, version and architecture: nothing to do, except
       an update when the installation date changed;
    2. the same name, version and architecture under another catalog
       entry: an update of the row (no version change);
    3. the same software and architecture, another version: an upgrade;
    4. the same name and architecture, another version: an upgrade;
    5. what is left is installed or removed.

    Installations recorded by hand (source other than 'inventory') are
    never removed nor changed; a reported entry equal to one of them is
    not installed again. ``upgrades`` are (Installed, Reported) pairs: the
    row takes the reported values; the version changed unless the names of
    both versions are equal.
    """
    reported = {}
    for item in new_software:
        key = (item.software, item.version, item.architecture)
        known = reported.get(key)
        if known is None or (item.install_date is not None and (
                    known.install_date is None
                    or item.install_date < known.install_date)):
            reported[key] = Reported(*item)
    old_by_key = {}
    old_left = []
    for row in old_rows:
        key = (row.software, row.version, row.architecture)
        if key in old_by_key:
            old_left.append(row)
        else:
            old_by_key[key] = row
    upgrades = []
    new_left = []
    for key, item in reported.items():
        row = old_by_key.pop(key, None)
        if row is None:
            new_left.append(item)
        elif (row.source == 'inventory'
                and row.install_date != item.install_date):
            upgrades.append((row, item))
    old_left.extend(r for r in old_by_key.values()
        if r.source == 'inventory')
    for fields_ in [
            ('name', 'version', 'architecture'),
            ('software', 'architecture'),
            ('name', 'architecture'),
            ]:
        if not old_left or not new_left:
            break
        olds, news = defaultdict(list), defaultdict(list)
        for row in old_left:
            olds[tuple(getattr(row, f) for f in fields_)].append(row)
        for item in new_left:
            news[tuple(getattr(item, f) for f in fields_)].append(item)
        old_left, new_left = [], []
        for key in olds.keys() | news.keys():
            rows = sorted(olds.get(key, []), key=_version_order)
            items = sorted(news.get(key, []), key=_version_order)
            upgrades.extend(zip(rows, items, strict=False))
            old_left.extend(rows[len(items):])
            new_left.extend(items[len(rows):])
    return (
        sorted(new_left, key=lambda i: (i.name, _version_order(i),
                i.architecture or '', i.software)),
        sorted(old_left, key=lambda r: r.id),
        sorted(upgrades, key=lambda u: u[0].id))


def diff_facts(current, reported):
    """Return {field: (old, new)} for the facts the inventory reports
    (not None) that differ from the current ones: a fact the inventory does
    not know is left as it is"""
    return {
        name: (current.get(name), value)
        for name, value in reported.items()
        if value is not None and current.get(name) != value}


def diff_rows(old, new):
    """Compare rows keyed alike: old is a list of (id, key, values), new a
    dict {key: values}; return (to_insert [(key, values)], to_delete
    [(id, key, values)], to_update [(id, key, old values, new values)]).
    A key repeated among the old rows is deleted."""
    to_delete, to_update = [], []
    seen = {}
    for id_, key, values in old:
        if key in seen or key not in new:
            to_delete.append((id_, key, values))
            continue
        seen[key] = id_
        if values != new[key]:
            to_update.append((id_, key, values, new[key]))
    to_insert = [(k, v) for k, v in new.items() if k not in seen]
    return to_insert, to_delete, to_update


@lru_cache(maxsize=100_000)
def catalog_keys(publisher, name):
    """Return the publisher's key (None without publisher) and the
    software's key of an inventory entry (cached: the same few thousand
    names come back in every inventory)"""
    return (publisher_key(publisher) if publisher else None,
        software_key(publisher, name))


def _shorter(known, candidate):
    "The name a new catalog entry gets: the shortest spelling seen"
    if known is None or (len(candidate), candidate) < (len(known), known):
        return candidate
    return known


def interface_values(interface):
    "The (key, values) of an inventory_format.NetworkInterface as stored"
    return ((interface.name, interface.mac), (
            interface.type, ', '.join(interface.ip_addresses) or None,
            bool(interface.virtual)))


def disk_values(disk):
    "The (key, values) of an inventory_format.Disk as stored"
    return (disk.name, disk.serial), (disk.type, disk.size)


def _version_text(version, architecture):
    if architecture:
        return f'{version or "?"} ({architecture})'
    return version


def _interface_text(key, values):
    name, mac = key
    interface_type, addresses, virtual = values
    return ', '.join(filter(None, [interface_type, mac, addresses,
                gettext('itsm_asset.msg_inventory_virtual') if virtual
                else None])) or None


def _disk_text(key, values):
    _, serial = key
    disk_type, size = values
    size = f'{size:,} MiB' if size else None
    return ', '.join(filter(None, [disk_type, size, serial])) or None


def _text(value):
    if value is None:
        return None
    return str(value)


class _ParsedCache:
    """The documents parsed when they were received, and the catalog
    entries prepared for them, for the processing task that follows in the
    same process ([queue] worker = False): parsing and reading the catalog
    again cost as much as the rest of an unchanged import. Keyed by the
    inventory and its digest; a few only, the latest."""

    def __init__(self, size=16):
        self.size = size
        self.entries = OrderedDict()
        self.lock = threading.Lock()

    def put(self, database, inventory_id, parsed, catalog=None):
        with self.lock:
            self.entries[(database, inventory_id)] = (parsed, catalog)
            while len(self.entries) > self.size:
                self.entries.popitem(last=False)

    def get(self, database, inventory_id, digest):
        "Return the parsed document and its catalog entries, or Nones"
        with self.lock:
            parsed, catalog = self.entries.pop(
                (database, inventory_id), (None, None))
        if parsed is not None and digest and parsed.digest == digest:
            return parsed, catalog
        return None, None


_parsed = _ParsedCache()


# Endpoints --------------------------------------------------------------

class Endpoint(DeactivableMixin, ModelSQL, ModelView):
    "Where the inventory agents of a company report"
    __name__ = 'itsm.inventory.endpoint'
    __string__ = "Inventory Endpoint"

    name = fields.Char("Name", required=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    identifier = fields.Char(
        "Identifier", readonly=True, strip=False,
        help="The secret part of the endpoint's URL.")
    url = fields.Function(fields.Char(
            "URL",
            help="The server URL to give the agents "
            "(--server of FusionInventory and OCS agents)."),
        'on_change_with_url')
    secrets = fields.Text(
        "Shared Secrets",
        help="Secrets the agents send (Authorization: Bearer, or "
        "?secret= at the end of their server URL), one a line: several "
        "allow a change without interruption. 16 to 256 letters, digits "
        "or . _ ~ -.")
    username = fields.Char(
        "User Name", strip=False,
        help="For HTTP basic authentication (the agents' --user).")
    password = fields.Char(
        "Password", strip=False,
        help="For HTTP basic authentication (the agents' --password).")
    match_order = fields.Char(
        "Matching Order", required=True,
        help="How an inventory finds its asset, in order: uuid (the "
        "firmware's UUID), serial, mac (of a physical interface), name "
        "(the host name), device (the agent's device ID).")
    asset_kind = fields.Selection(
        [(None, "As the Inventory Tells")] + KINDS, "Kind of New Assets",
        sort=False)
    asset_state = fields.Selection([
            ('deployed', "Deployed"),
            ('stock', "In Stock"),
            ], "State of New Assets", required=True, sort=False,
        help="A machine that reports is in use: deployed by default.")
    asset_location = fields.Many2One(
        'itsm.location', "Location of New Assets", ondelete='SET NULL',
        domain=[('company', '=', Eval('company', -1))])
    prolog_frequency = fields.Integer(
        "Contact Every (hours)", required=True,
        domain=[('prolog_frequency', '>=', 1),
            ('prolog_frequency', '<=', MAX_FREQUENCY)],
        help="How often the agents report (PROLOG_FREQ).")
    max_size = fields.Integer(
        "Maximum Size (bytes)", required=True,
        domain=[('max_size', '>=', 1024)],
        help="The largest request body accepted, compressed or not.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        cls._sql_constraints += [
            ('identifier_unique', Unique(table, table.identifier),
                'itsm_asset.msg_inventory_endpoint_identifier_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))
        cls._buttons.update({
                'new_identifier': {
                    'icon': 'tryton-refresh',
                    },
                })

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def create(cls, vlist):
        # A new identifier for each: the defaults are computed once a call
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if not values.get('identifier'):
                values['identifier'] = uuid.uuid4().hex
        return super().create(vlist)

    @classmethod
    def default_match_order(cls):
        return DEFAULT_MATCH_ORDER

    @classmethod
    def default_asset_state(cls):
        return 'deployed'

    @classmethod
    def default_prolog_frequency(cls):
        return 24

    @classmethod
    def default_max_size(cls):
        return DEFAULT_MAX_SIZE

    @fields.depends('identifier')
    def on_change_with_url(self, name=None):
        if self.identifier:
            return (http_host() + '/' + Transaction().database.name
                + '/itsm_asset/inventory/' + self.identifier)

    @classmethod
    @ModelView.button
    def new_identifier(cls, endpoints):
        "Give the endpoints a new URL: the old one stops working"
        for endpoint in endpoints:
            endpoint.identifier = uuid.uuid4().hex
        cls.save(endpoints)

    @classmethod
    def copy(cls, endpoints, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('identifier', lambda data: uuid.uuid4().hex)
        return super().copy(endpoints, default=default)

    @classmethod
    def validate_fields(cls, endpoints, field_names):
        super().validate_fields(endpoints, field_names)
        if field_names & {'secrets', 'match_order', 'username', 'password'}:
            for endpoint in endpoints:
                endpoint.check_settings()

    def check_settings(self):
        try:
            parse_secrets(self.secrets)
        except ValueError:
            raise ValidationError(gettext(
                    'itsm_asset.msg_inventory_endpoint_secret',
                    endpoint=self.rec_name))
        try:
            parse_match_order(self.match_order)
        except ValueError as error:
            raise ValidationError(gettext(
                    'itsm_asset.msg_inventory_endpoint_match_order',
                    endpoint=self.rec_name, error=str(error),
                    keys=', '.join(MATCH_KEYS)))
        if bool(self.username) != bool(self.password):
            raise ValidationError(gettext(
                    'itsm_asset.msg_inventory_endpoint_basic_auth',
                    endpoint=self.rec_name))

    @classmethod
    def from_identifier(cls, identifier):
        "The active endpoint of the identifier, or None"
        if not identifier:
            return None
        endpoints = cls.search([('identifier', '=', identifier)], limit=1)
        return endpoints[0] if endpoints else None

    @property
    def matching_order(self):
        try:
            return parse_match_order(self.match_order)
        except ValueError:
            return parse_match_order(DEFAULT_MATCH_ORDER)

    @property
    def requires_authentication(self):
        return bool(self.secrets or self.username)

    def authenticate(self, authorization=None, query_string=''):
        """Tell whether a request with the Authorization header and the URL
        query may report here: any configured secret or the basic
        credentials; an endpoint without any is open to whoever knows its
        URL, as an inbound_email inbox"""
        if not self.requires_authentication:
            return True
        accepted = False
        if self.secrets:
            accepted |= check_secret(
                request_secret(query_string, authorization),
                parse_secrets(self.secrets))
        if self.username:
            accepted |= check_basic_auth(
                authorization, self.username, self.password)
        return accepted

    def challenge(self):
        """The WWW-Authenticate header value of a refusal. Only the realm:
        FusionInventory 2.6 reads it with /^Basic realm="(.*)"/, so that a
        charset parameter after it ends in the realm, and its credentials
        are then never sent."""
        if self.username:
            realm = re.sub(r'["\\\x00-\x1f\x7f]', '',
                f'Inventory {self.name}')[:100]
            return f'Basic realm="{realm}"'
        return 'Bearer realm="Inventory"'


# Inventories -------------------------------------------------------------

class Inventory(ModelSQL, ModelView):
    "An inventory received from an agent or imported from a file"
    __name__ = 'itsm.inventory'
    __string__ = "Inventory"

    endpoint = fields.Many2One(
        'itsm.inventory.endpoint', "Endpoint", readonly=True,
        ondelete='SET NULL')
    company = fields.Many2One(
        'company.company', "Company", required=True, readonly=True,
        ondelete='CASCADE')
    data = fields.Binary(
        "Document", file_id='data_id', filename='data_filename',
        readonly=True)
    data_id = fields.Char("Document ID", readonly=True)
    data_filename = fields.Function(
        fields.Char("File Name"), 'get_data_filename')
    size = fields.Integer("Size (bytes)", readonly=True)
    stored_as = fields.Selection(
        STORED_AS, "Stored As", readonly=True,
        help="A body that could not be decoded is kept as it came.")
    format = fields.Selection(FORMATS, "Format", readonly=True)
    device_id = fields.Char("Device ID", readonly=True)
    name = fields.Char("Host Name", readonly=True)
    digest = fields.Char("Digest", readonly=True, strip=False)
    agent = fields.Char("Agent", readonly=True)
    remote_address = fields.Char("From Address", readonly=True)
    state = fields.Selection(STATES, "State", readonly=True, required=True)
    reason_code = fields.Char("Reason Code", readonly=True)
    reason = fields.Text(
        "Reason", readonly=True,
        states={'invisible': ~Eval('reason')})
    warnings = fields.Text(
        "Repairs", readonly=True,
        states={'invisible': ~Eval('warnings')},
        help="What was wrong with the document and how it was read "
        "anyway.")
    asset = fields.Many2One(
        'itsm.asset', "Asset", readonly=True, ondelete='SET NULL')
    asset_created = fields.Boolean("Asset Created", readonly=True)
    software_count = fields.Integer("Software", readonly=True)
    installed = fields.Integer("Installed", readonly=True)
    removed = fields.Integer("Removed", readonly=True)
    upgraded = fields.Integer("Upgraded", readonly=True)
    processed_at = fields.DateTime("Processed at", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        cls._order = [
            ('create_date', 'DESC'),
            ('id', 'DESC'),
            ]
        cls._sql_indexes.update({
                Index(table, (table.asset, Index.Range())),
                Index(table, (table.device_id, Index.Equality())),
                Index(table, (table.create_date, Index.Range())),
                Index(table, (table.state, Index.Equality()),
                    where=table.state.in_(
                        sorted(REVIEW_STATES | {'received'}))),
                })
        cls._buttons.update({
                'retry': {
                    'invisible': ~Eval('state').in_(sorted(REVIEW_STATES)),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'received'

    @classmethod
    def default_stored_as(cls):
        return 'plain'

    @classmethod
    def default_asset_created(cls):
        return False

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state') == 'failed', 'danger',
                    If(Eval('state') == 'unmatched', 'warning', ''))),
            ]

    def get_rec_name(self, name):
        return self.name or self.device_id or str(self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, 'name', 'device_id')

    def get_data_filename(self, name):
        if self.stored_as == 'zlib':
            suffix = 'zlib'
        elif self.stored_as == 'gzip':
            suffix = 'gz'
        elif self.format == 'glpi-json':
            suffix = 'json'
        else:
            suffix = 'xml'
        return f'inventory-{self.id}.{suffix}'

    # Receiving

    @classmethod
    def receive(cls, endpoint, payload, remote_address=None, agent=None,
            queue=True, prepare=None):
        """Take an agent's decoded document for the endpoint; return the
        stored inventory (None when it is unchanged) and what became of it:
        'received' (stored, processing queued), 'unchanged' (the asset's
        last inventory is the same: only its date moves) or 'failed' (kept
        with the reason: the error is the inventory's reason).

        queue: queue the processing. prepare (by default as queue): the
        processing will run in a later transaction, so the catalog entries
        it needs are inserted now (prepare_catalog)."""
        payload = bytes(payload)
        try:
            parsed = parse_document(payload)
        except InventoryError as error:
            inventory = cls.refuse(endpoint, payload, error.reason,
                error.message, remote_address=remote_address, agent=agent)
            return inventory, 'failed'
        assets = cls.unchanged_assets(
            endpoint.company.id, [(parsed.device_id, parsed.digest)])
        if assets:
            cls.touch(assets)
            return None, 'unchanged'
        catalog = None
        if queue if prepare is None else prepare:
            catalog = cls.prepare_catalog(parsed.software)
        inventory = cls(
            endpoint=endpoint,
            company=endpoint.company,
            data=payload,
            size=len(payload),
            stored_as='plain',
            format=parsed.source,
            device_id=parsed.device_id,
            name=parsed.name,
            digest=parsed.digest,
            agent=_short(agent),
            remote_address=_short(remote_address),
            state='received',
            warnings='\n'.join(parsed.warnings) or None,
            software_count=len(parsed.software),
            )
        inventory.save()
        _parsed.put(
            Transaction().database.name, inventory.id, parsed, catalog)
        if queue:
            cls.queue_processing([inventory])
        return inventory, 'received'

    @classmethod
    def refuse(cls, endpoint, data, reason_code, message, stored_as='plain',
            remote_address=None, agent=None):
        """Keep a request that cannot be used, failed with its reason: data
        is what to keep, at most the endpoint's maximum size"""
        data = bytes(data or b'')[:endpoint.max_size or DEFAULT_MAX_SIZE]
        inventory = cls(
            endpoint=endpoint,
            company=endpoint.company,
            data=data or None,
            size=len(data),
            stored_as=stored_as,
            agent=_short(agent),
            remote_address=_short(remote_address),
            state='failed',
            reason_code=reason_code,
            reason=gettext('itsm_asset.msg_inventory_refused',
                reason=message),
            processed_at=dt.datetime.now(),
            )
        inventory.save()
        logger.info("inventory %s refused: %s", inventory.id, reason_code)
        return inventory

    @classmethod
    def prepare_catalog(cls, software):
        """Insert the catalog entries the software needs, on PostgreSQL in
        a transaction of its own, committed at once.

        Machines reporting at the same time bring the same new software:
        inserted by their processing, the second of two would fail (its
        snapshot does not see the first's rows, so an insert that skips
        the conflict ends in a serialization failure, and a retry redoes
        the whole inventory). Here, before the inventory is stored, the
        inserts wait for each other (READ COMMITTED) and skip what the
        other committed; the processing, in a later transaction, finds
        every entry. SQLite has one writer at a time: nothing to do."""
        if backend.name != 'postgresql' or not software:
            return None
        transaction = Transaction()
        with transaction.new_transaction() as new:
            new.connection.cursor().execute(
                'SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
            catalog = cls._resolve_catalog(software)
            new.commit()
        return catalog

    @classmethod
    def unchanged_assets(cls, company, identities):
        """Return the ids of the assets of the company whose last inventory
        came from one of the (device ID, digest)"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        asset = Asset.__table__()
        cursor = Transaction().connection.cursor()
        ids = []
        for device_id, digest in identities:
            cursor.execute(*asset.select(asset.id,
                    where=(asset.company == company)
                    & (asset.inventory_device_id == device_id)
                    & (asset.inventory_digest == digest),
                    limit=1))
            ids.extend(i for i, in cursor)
        return ids

    @classmethod
    def touch(cls, asset_ids, when=None):
        "Record that the assets reported, without changing anything else"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        asset = Asset.__table__()
        cursor = Transaction().connection.cursor()
        when = when or dt.datetime.now()
        for sub_ids in grouped_slice(asset_ids, _SLICE):
            cursor.execute(*asset.update([asset.last_inventory], [when],
                    where=_in(asset.id, list(sub_ids))))
        _forget(Asset, asset_ids)

    @classmethod
    def queue_processing(cls, inventories):
        for inventory in inventories:
            cls.__queue__.process([inventory])

    @classmethod
    @ModelView.button
    def retry(cls, inventories):
        "Process the kept inventories again, after a fix"
        inventories = [i for i in inventories if i.state in REVIEW_STATES]
        cls.write(inventories, {
                'state': 'received',
                'reason': None,
                'reason_code': None,
                })
        cls.queue_processing(inventories)

    # Processing

    @classmethod
    def process(cls, inventories):
        """Process the inventories as a task of the queue. An unexpected
        error undoes the task's work; alone, the inventory is kept failed
        with the error; with others, each is queued again on its own."""
        transaction = Transaction()
        inventories = [i for i in inventories if i.state == 'received']
        if not inventories:
            return
        try:
            cls.process_batch(inventories)
        except (backend.DatabaseOperationalError,
                backend.DatabaseIntegrityError):
            # Concurrent writers: the queue runs the task again.
            raise
        except Exception as exception:
            transaction.rollback()
            if len(inventories) > 1:
                cls.queue_processing([cls(i.id) for i in inventories])
                return
            inventory, = inventories
            cls.fail(cls(inventory.id), exception)

    @classmethod
    def fail(cls, inventory, exception):
        "Keep the inventory failed with the error that stopped it"
        if isinstance(exception, UserError):
            message = exception.message
        else:
            logger.exception("cannot process inventory %s", inventory.id)
            message = ''.join(
                traceback.format_exception_only(exception)).strip()
        cls.write([inventory], {
                'state': 'failed',
                'reason_code': 'error',
                'reason': gettext(
                    'itsm_asset.msg_inventory_error', error=message),
                'processed_at': dt.datetime.now(),
                })

    def parse(self):
        """Return the inventory_format.Inventory of the stored document and
        the catalog entries prepared for it when it was received (None when
        they are not at hand)"""
        parsed, catalog = _parsed.get(Transaction().database.name, self.id,
            self.digest)
        if parsed is not None:
            return parsed, catalog
        if self.data is None:
            raise InventoryError('empty', 'The document is empty.')
        data = bytes(self.data)
        if self.stored_as in {'zlib', 'gzip'}:
            max_size = (self.endpoint.max_size if self.endpoint
                else DEFAULT_MAX_SIZE)
            data, _ = decode_body(data, 'application/x-compress', max_size)
        return parse_document(data), None

    @classmethod
    def process_batch(cls, inventories):
        """Apply the received inventories to their assets, set-based; every
        inventory ends done, unchanged, failed or unmatched"""
        now = dt.datetime.now()
        results = {}
        groups = defaultdict(list)
        prepared = {}
        for inventory in inventories:
            try:
                parsed, prepared[inventory.id] = inventory.parse()
            except (InventoryError, ProtocolError) as error:
                results[inventory] = {
                    'state': 'failed',
                    'reason_code': error.reason,
                    'reason': gettext('itsm_asset.msg_inventory_refused',
                        reason=error.message),
                    }
                continue
            results[inventory] = {
                'format': parsed.source,
                'device_id': parsed.device_id,
                'name': parsed.name,
                'digest': parsed.digest,
                'software_count': len(parsed.software),
                'warnings': '\n'.join(parsed.warnings) or None,
                }
            groups[(inventory.company.id, inventory.endpoint)].append(
                (inventory, parsed))
        for (company, endpoint), items in groups.items():
            with Transaction().set_context(company=company):
                cls._process_group(
                    company, endpoint, items, results, now, prepared)
        to_write = []
        for inventory, values in results.items():
            values.setdefault('processed_at', now)
            to_write.extend([[inventory], values])
        if to_write:
            cls.write(*to_write)

    @classmethod
    def _process_group(
            cls, company, endpoint, items, results, now, prepared):
        order = (endpoint.matching_order if endpoint
            else parse_match_order(DEFAULT_MATCH_ORDER))
        keys = [match_keys(parsed) for _, parsed in items]
        candidates = cls._candidates(company, keys, order)
        plan = plan_matches(keys, candidates, order)
        names = cls._asset_names(
            {i for m in plan for i in m.ambiguous})
        for index, match in enumerate(plan):
            if match.ambiguous:
                inventory, _ = items[index]
                results[inventory].update({
                        'state': 'unmatched',
                        'reason_code': 'ambiguous',
                        'reason': gettext(
                            'itsm_asset.msg_inventory_ambiguous',
                            key=match.key,
                            assets=', '.join(
                                names.get(i, str(i))
                                for i in match.ambiguous)),
                        })
        created = {}
        for round_ in schedule([m.asset for m in plan]):
            cls._apply(company, endpoint,
                [(items[i][0], items[i][1], plan[i].asset, i)
                    for i in round_],
                created, results, now, prepared)

    @classmethod
    def _candidates(cls, company, keys, order):
        "The assets of the company that one of the keys designates"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Interface = pool.get('itsm.asset.network_interface')
        asset = Asset.__table__()
        interface = Interface.__table__()
        cursor = Transaction().connection.cursor()
        columns = {
            'device': asset.inventory_device_id,
            'uuid': asset.uuid,
            'serial': asset.serial,
            'name': asset.name,
            }
        ids = set()
        for key in order:
            values = sorted({v for k in keys for v in k.get(key, ())})
            if not values:
                continue
            for sub_values in grouped_slice(values, _SLICE):
                sub_values = list(sub_values)
                if key == 'mac':
                    cursor.execute(*interface.join(asset,
                            condition=interface.asset == asset.id
                            ).select(interface.asset,
                            where=_in(interface.mac, sub_values)
                            & (asset.company == company)))
                else:
                    cursor.execute(*asset.select(asset.id,
                            where=_in(columns[key], sub_values)
                            & (asset.company == company)))
                ids.update(i for i, in cursor)
        macs = defaultdict(set)
        rows = []
        for sub_ids in grouped_slice(sorted(ids), _SLICE):
            sub_ids = list(sub_ids)
            cursor.execute(*asset.select(asset.id,
                    asset.inventory_device_id, asset.uuid, asset.serial,
                    asset.name, asset.active,
                    where=_in(asset.id, sub_ids)))
            rows.extend(cursor)
            if 'mac' in order:
                cursor.execute(*interface.select(
                        interface.asset, interface.mac,
                        where=_in(interface.asset, sub_ids)
                        & (interface.mac != Null)))
                for asset_id, mac in cursor:
                    macs[asset_id].add(mac)
        return [Candidate(id_, device, uuid_, serial, name,
                frozenset(macs[id_]), bool(active))
            for id_, device, uuid_, serial, name, active in rows]

    @classmethod
    def _asset_names(cls, ids):
        pool = Pool()
        Asset = pool.get('itsm.asset')
        asset = Asset.__table__()
        cursor = Transaction().connection.cursor()
        names = {}
        for sub_ids in grouped_slice(sorted(ids), _SLICE):
            cursor.execute(*asset.select(asset.id, asset.name,
                    where=_in(asset.id, list(sub_ids))))
            names.update(cursor)
        return names

    @classmethod
    def _apply(cls, company, endpoint, items, created, results, now,
            prepared):
        """Apply one round of a batch: items are (inventory, parsed, planned
        asset id, index), at most one per asset"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        asset_table = Asset.__table__()
        cursor = Transaction().connection.cursor()

        to_create = []
        existing = []
        for inventory, parsed, target, index in items:
            if target < 0 and target == -(index + 1):
                to_create.append((inventory, parsed, target))
            else:
                existing.append(
                    (inventory, parsed, created.get(target, target)))

        # The assets as they are, to find what is unchanged
        current = {}
        fact_columns = [getattr(asset_table, f) for f in FACT_FIELDS]
        for sub_ids in grouped_slice(
                sorted({a for _, _, a in existing}), _SLICE):
            cursor.execute(*asset_table.select(
                    asset_table.id, asset_table.inventory_device_id,
                    asset_table.inventory_digest, *fact_columns,
                    where=_in(asset_table.id, list(sub_ids))))
            for id_, device_id, digest, *facts in cursor:
                current[id_] = {
                    'device_id': device_id,
                    'digest': digest,
                    'facts': dict(zip(FACT_FIELDS, facts, strict=True)),
                    }
        changed = []
        unchanged = []
        for inventory, parsed, asset_id in existing:
            state = current.get(asset_id)
            if state is None:
                # Deleted meanwhile: a new asset
                to_create.append((inventory, parsed, asset_id))
            elif state['digest'] == parsed.digest:
                unchanged.append((inventory, parsed, asset_id))
            else:
                changed.append((inventory, parsed, asset_id))

        new_ids = cls._create_assets(
            company, endpoint, [p for _, p, _ in to_create])
        for (inventory, parsed, target), asset_id in zip(
                to_create, new_ids, strict=True):
            created[target] = asset_id
            changed.append((inventory, parsed, asset_id))
        new_assets = set(new_ids)

        events = []
        counts = {}
        if changed:
            counts = cls._apply_software(
                changed, new_assets, events, now, prepared)
            cls._apply_hardware(changed, current, new_assets, events, now)
            for _, parsed, asset_id in changed:
                if asset_id in new_assets:
                    events.append((asset_id, 'inventory', gettext(
                                'itsm_asset.msg_inventory_event_first',
                                software=len(parsed.software),
                                format=_format_label(parsed.source)),
                            None, None))
                elif (current[asset_id]['device_id']
                        and current[asset_id]['device_id']
                        != parsed.device_id):
                    events.append((asset_id, 'inventory', gettext(
                                'itsm_asset.msg_inventory_event_device'),
                            current[asset_id]['device_id'],
                            parsed.device_id))
        cls._insert_events(events, now)

        # What the next inventories compare with
        tracked = changed + unchanged
        if tracked:
            query = asset_table.update([
                    asset_table.last_inventory,
                    asset_table.inventory_device_id,
                    asset_table.inventory_digest,
                    ], [now, 0, 0], where=asset_table.id == 0)
            _execute_many(cursor, query, [
                    (inventory.create_date or now, parsed.device_id,
                        parsed.digest, asset_id)
                    for inventory, parsed, asset_id in tracked])
            _forget(Asset, [a for _, _, a in tracked])
        for inventory, _, asset_id in unchanged:
            results[inventory].update({
                    'state': 'unchanged',
                    'asset': asset_id,
                    })
        for inventory, _, asset_id in changed:
            installed, removed, upgraded = counts.get(asset_id, (0, 0, 0))
            results[inventory].update({
                    'state': 'done',
                    'asset': asset_id,
                    'asset_created': asset_id in new_assets,
                    'installed': installed,
                    'removed': removed,
                    'upgraded': upgraded,
                    'reason': None,
                    'reason_code': None,
                    })

    @classmethod
    def _create_assets(cls, company, endpoint, items):
        "Create the assets of the machines seen for the first time"
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Company = pool.get('company.company')
        if not items:
            return []
        company = Company(company)
        kinds = {k for k, _ in KINDS}
        vlist = []
        for parsed in items:
            kind = (endpoint.asset_kind if endpoint and endpoint.asset_kind
                else parsed.kind)
            values = {
                'company': company.id,
                'currency': company.currency.id,
                'name': parsed.name or parsed.device_id,
                'kind': kind if kind in kinds else 'other',
                'state': endpoint.asset_state if endpoint else 'deployed',
                }
            if endpoint and endpoint.asset_location:
                values['location'] = endpoint.asset_location.id
            for name in FACT_FIELDS:
                value = getattr(parsed, name)
                if value is not None:
                    values[name] = value
            vlist.append(values)
        return [a.id for a in Asset.create(vlist)]

    @classmethod
    def _apply_hardware(cls, changed, current, new_assets, events, now):
        """Write the facts, disks and interfaces that changed; new assets
        were created with their facts"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Interface = pool.get('itsm.asset.network_interface')
        Disk = pool.get('itsm.asset.disk')
        interface = Interface.__table__()
        disk = Disk.__table__()
        cursor = Transaction().connection.cursor()
        asset_ids = [a for _, _, a in changed]

        to_write = []
        for _, parsed, asset_id in changed:
            if asset_id in new_assets:
                continue
            changes = diff_facts(current[asset_id]['facts'],
                {n: getattr(parsed, n) for n in FACT_FIELDS})
            if changes:
                to_write.extend([[Asset(asset_id)],
                        {n: new for n, (_, new) in changes.items()}])
                for name, (old, new) in changes.items():
                    events.append((asset_id, 'hardware',
                            Asset.__names__(name)['field'],
                            _text(old), _text(new)))
        if to_write:
            Asset.write(*to_write)

        old_interfaces = defaultdict(list)
        old_disks = defaultdict(list)
        for sub_ids in grouped_slice(
                sorted(set(asset_ids) - new_assets), _SLICE):
            sub_ids = list(sub_ids)
            cursor.execute(*interface.select(interface.id, interface.asset,
                    interface.name, interface.mac, interface.type,
                    interface.ip_addresses, interface.virtual,
                    where=_in(interface.asset, sub_ids),
                    order_by=[interface.id.asc]))
            for id_, asset_id, name, mac, type_, addresses, virtual in (
                    cursor):
                old_interfaces[asset_id].append(
                    (id_, (name, mac), (type_, addresses, bool(virtual))))
            cursor.execute(*disk.select(disk.id, disk.asset, disk.name,
                    disk.serial, disk.type, disk.size,
                    where=_in(disk.asset, sub_ids),
                    order_by=[disk.id.asc]))
            for id_, asset_id, name, serial, type_, size in cursor:
                old_disks[asset_id].append(
                    (id_, (name, serial), (type_, size)))

        for table, olds, values_of, text, message, columns in [
                (interface, old_interfaces, interface_values,
                    _interface_text,
                    'itsm_asset.msg_inventory_event_interface',
                    ['name', 'mac', 'type', 'ip_addresses', 'virtual']),
                (disk, old_disks, disk_values, _disk_text,
                    'itsm_asset.msg_inventory_event_disk',
                    ['name', 'serial', 'type', 'size']),
                ]:
            inserts, deletes, updates = [], [], []
            for _, parsed, asset_id in changed:
                rows = (parsed.network_interfaces if table is interface
                    else parsed.disks)
                new = dict(values_of(r) for r in rows)
                to_insert, to_delete, to_update = diff_rows(
                    olds.get(asset_id, []), new)
                inserts.extend((asset_id, *k, *v) for k, v in to_insert)
                deletes.extend(i for i, _, _ in to_delete)
                updates.extend((*new_values, id_)
                    for id_, _, _, new_values in to_update)
                if asset_id in new_assets:
                    continue
                for key, values in to_insert:
                    events.append((asset_id, 'hardware', gettext(
                                message, name=key[0] or key[1] or '?'),
                            None, text(key, values)))
                for _, key, values in to_delete:
                    events.append((asset_id, 'hardware', gettext(
                                message, name=key[0] or key[1] or '?'),
                            text(key, values), None))
                for _, key, old_values, new_values in to_update:
                    events.append((asset_id, 'hardware', gettext(
                                message, name=key[0] or key[1] or '?'),
                            text(key, old_values), text(key, new_values)))
            for sub_ids in grouped_slice(deletes, _SLICE):
                cursor.execute(*table.delete(
                        where=_in(table.id, list(sub_ids))))
            value_columns = [getattr(table, c) for c in columns[2:]]
            if updates:
                query = table.update(value_columns,
                    [0] * len(value_columns), where=table.id == 0)
                _execute_many(cursor, query, updates)
            _insert(cursor, Interface if table is interface else Disk,
                ['asset'] + columns, inserts, now)
            _forget(Interface if table is interface else Disk,
                deletes + [u[-1] for u in updates])

    @classmethod
    def _apply_software(cls, changed, new_assets, events, now, prepared):
        """Diff and apply the installations of the assets; return
        {asset: (installed, removed, upgraded)}. prepared: the catalog
        entries of inventories resolved when they were received."""
        pool = Pool()
        Installation = pool.get('itsm.software.installation')
        Software = pool.get('itsm.software')
        Version = pool.get('itsm.software.version')
        installation = Installation.__table__()
        software = Software.__table__()
        version = Version.__table__()
        cursor = Transaction().connection.cursor()

        if all(prepared.get(i.id) for i, _, _ in changed):
            catalog, versions, names = {}, {}, {}
            for inventory, _, _ in changed:
                for mapping, part in zip((catalog, versions, names),
                        prepared[inventory.id], strict=True):
                    mapping.update(part)
        else:
            catalog, versions, names = cls._resolve_catalog(
                [s for _, parsed, _ in changed for s in parsed.software])
        old_rows = defaultdict(list)
        existing = sorted({a for _, _, a in changed} - new_assets)
        for sub_ids in grouped_slice(existing, _SLICE):
            cursor.execute(*installation.join(software,
                    condition=installation.software == software.id
                    ).join(version, 'LEFT',
                    condition=installation.version == version.id
                    ).select(installation.id, installation.asset,
                    installation.software, software.key, software.name,
                    version.name, installation.architecture,
                    installation.install_date, installation.source,
                    where=_in(installation.asset, list(sub_ids))))
            for (id_, asset_id, software_id, key, name, version_name,
                    architecture, install_date, source) in cursor:
                names.setdefault(software_id, name)
                old_rows[asset_id].append(Installed(id_, software_id,
                        _name_part(key), version_name, architecture,
                        _date(install_date), source))

        inserts, deletes, updates = [], [], []
        counts = {}
        for _, parsed, asset_id in changed:
            reported = []
            for entry in parsed.software:
                software_id, name = catalog[(entry.publisher, entry.name)]
                reported.append(Reported(software_id, name, entry.version,
                        entry.architecture, entry.install_date))
            to_insert, to_delete, upgrades = diff_software(
                old_rows.get(asset_id, []), reported)
            for item in to_insert:
                inserts.append((asset_id, item.software,
                        versions.get((item.software, item.version)),
                        item.architecture, item.install_date, 'inventory'))
            deletes.extend(r.id for r in to_delete)
            for row, item in upgrades:
                updates.append((item.software,
                        versions.get((item.software, item.version)),
                        item.install_date, row.id))
            upgraded = [(r, i) for r, i in upgrades if r.version != i.version]
            counts[asset_id] = (len(to_insert), len(to_delete), len(upgraded))
            if asset_id in new_assets:
                continue
            for item in to_insert:
                events.append((asset_id, 'installed', names[item.software],
                        None, _version_text(item.version, item.architecture)))
            for row in to_delete:
                events.append((asset_id, 'removed', names[row.software],
                        _version_text(row.version, row.architecture), None))
            for row, item in upgraded:
                events.append((asset_id, 'upgraded', names[item.software],
                        _version_text(row.version, row.architecture),
                        _version_text(item.version, item.architecture)))

        for sub_ids in grouped_slice(deletes, _SLICE):
            cursor.execute(*installation.delete(
                    where=_in(installation.id, list(sub_ids))))
        if updates:
            query = installation.update([
                    installation.software, installation.version,
                    installation.install_date, installation.write_uid,
                    installation.write_date],
                [0, 0, 0, 0, 0],
                where=installation.id == 0)
            _execute_many(cursor, query,
                [(s, v, d, Transaction().user, now, i)
                    for s, v, d, i in updates])
        _insert(cursor, Installation, ['asset', 'software', 'version',
                'architecture', 'install_date', 'source'], inserts, now)
        _forget(Installation, deletes + [u[-1] for u in updates])
        return counts

    @classmethod
    def _resolve_catalog(cls, entries):
        """Return the catalog entries of the inventory entries, inserting
        the publishers, software and versions not yet known, set-based:
        {(publisher, name): (software id, name key)},
        {(software id, version): version id} and {software id: name}"""
        pool = Pool()
        Publisher = pool.get('itsm.software.publisher')
        Software = pool.get('itsm.software')
        Version = pool.get('itsm.software.version')

        publishers = {}
        software = {}
        by_entry = {}
        for entry in entries:
            key = (entry.publisher, entry.name)
            if key in by_entry:
                continue
            publisher, name = catalog_keys(*key)
            by_entry[key] = name
            if publisher:
                publishers[publisher] = _shorter(
                    publishers.get(publisher), entry.publisher)
            known_publisher, known_name = software.get(name, (None, None))
            software[name] = (publisher, _shorter(known_name, entry.name))

        publisher_ids, _ = cls._ensure_keys(Publisher, {
                k: {'name': n} for k, n in publishers.items()})
        software_ids, names = cls._ensure_keys(Software, {
                k: {
                    'name': n,
                    'publisher': publisher_ids.get(p),
                    'license_required': False,
                    } for k, (p, n) in software.items()})
        catalog = {e: (software_ids[k], _name_part(k))
            for e, k in by_entry.items()}
        wanted = {(catalog[(e.publisher, e.name)][0], e.version)
            for e in entries if e.version}
        versions = cls._ensure_versions(Version, wanted)
        return catalog, versions, names

    @classmethod
    def _ensure_keys(cls, Model, rows):
        """Return {key: id} and {id: name} of the catalog rows, inserting
        those missing. Concurrent imports may insert the same keys: the
        insert skips the conflicts and, on PostgreSQL, a conflict with a
        transaction committed meanwhile fails this one, which the server
        or the queue runs again (then the rows are visible)."""
        table = Model.__table__()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        ids, names = {}, {}

        def select(keys):
            for sub_keys in grouped_slice(sorted(keys), _SLICE):
                cursor.execute(*table.select(table.id, table.key, table.name,
                        where=_in(table.key, list(sub_keys))))
                for id_, key, name in cursor:
                    ids[key] = id_
                    names[id_] = name
        select(rows)
        missing = sorted(set(rows) - set(ids))
        if missing:
            columns = sorted(rows[missing[0]])
            _insert(cursor, Model, ['key'] + columns,
                [(k, *(rows[k][c] for c in columns)) for k in missing],
                dt.datetime.now(), conflict=True)
            select(missing)
        return ids, names

    @classmethod
    def _ensure_versions(cls, Version, wanted):
        "Return {(software id, name): id}, inserting the versions missing"
        table = Version.__table__()
        cursor = Transaction().connection.cursor()
        ids = {}
        by_software = defaultdict(set)
        for software_id, name in wanted:
            by_software[software_id].add(name)

        def select(software_ids):
            if backend.name == 'postgresql':
                # The pairs only, through the unique index
                pairs = sorted(p for p in wanted if p[0] in software_ids)
                cursor.execute(f'SELECT v.id, v.software, v.name '
                    f'FROM "{Version._table}" AS v JOIN unnest('
                    '%s::INTEGER[], %s::VARCHAR[]) AS w (software, name) '
                    'ON v.software = w.software AND v.name = w.name',
                    [[s for s, _ in pairs], [n for _, n in pairs]])
                for id_, software_id, name in cursor:
                    ids[(software_id, name)] = id_
                return
            for sub_ids in grouped_slice(sorted(software_ids), _SLICE):
                cursor.execute(*table.select(
                        table.id, table.software, table.name,
                        where=_in(table.software, list(sub_ids))))
                for id_, software_id, name in cursor:
                    if name in by_software.get(software_id, ()):
                        ids[(software_id, name)] = id_
        select(by_software)
        missing = sorted(wanted - set(ids))
        if missing:
            _insert(cursor, Version, ['software', 'name'], missing,
                dt.datetime.now(), conflict=True)
            select({s for s, _ in missing})
        return ids

    @classmethod
    def _insert_events(cls, events, now):
        "Insert the events (asset, kind, description, old, new) at once"
        pool = Pool()
        Event = pool.get('itsm.asset.event')
        user = Transaction().user or None
        _insert(Transaction().connection.cursor(), Event, [
                'asset', 'date', 'kind', 'description', 'old_value',
                'new_value', 'user'],
            [(a, now, k, d, o, n, user) for a, k, d, o, n in events], now)


def _short(text, length=250):
    if not text:
        return None
    text = str(text)
    return text if len(text) <= length else text[:length - 1] + '…'


def _name_part(key):
    return key.split('|', 1)[1] if '|' in key else key


def _date(value):
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _format_label(source):
    return dict(FORMATS).get(source) or source or '?'


def _in(column, values):
    "column IN values; on PostgreSQL = ANY(one array parameter)"
    return SQL_OPERATORS['in'](column, values)


def _insert(cursor, Model, names, rows, now, conflict=False):
    """Insert rows (tuples of the named columns) with their creation, at
    once; with conflict, the rows that break a unique constraint are
    skipped"""
    if not rows:
        return
    transaction = Transaction()
    database = transaction.database
    table = Model.__table__()
    names = list(names) + ['create_uid', 'create_date']
    user = transaction.user
    rows = [(*r, user, now) for r in rows]
    if backend.name == 'postgresql':
        # One parameter a column: psycopg parses a query of thousands of
        # place holders slower than PostgreSQL inserts the rows.
        casts = ', '.join(
            f'%s::{database.sql_type(Model._fields[n]._sql_type).base}[]'
            for n in names)
        query = (f'INSERT INTO "{Model._table}" '
            f'({", ".join(f"{chr(34)}{n}{chr(34)}" for n in names)}) '
            f'SELECT * FROM unnest({casts})')
        if conflict:
            query += ' ON CONFLICT DO NOTHING'
        cursor.execute(query, [list(c) for c in zip(*rows, strict=True)])
        return
    on_conflict = None
    if conflict and database.has_insert_on_conflict():
        on_conflict = Conflict(table)
    columns = [getattr(table, n) for n in names]
    size = max(1, min(500, 30_000 // len(columns)))
    for start in range(0, len(rows), size):
        cursor.execute(*table.insert(columns, rows[start:start + size],
                on_conflict=on_conflict))


def _forget(Model, ids):
    """Drop what the transaction caches of the records changed by SQL, as
    the ORM does after its own writes"""
    transaction = Transaction()
    transaction.counter += 1
    for cache in transaction.cache.values():
        if Model.__name__ in cache:
            records = cache[Model.__name__]
            for id_ in ids:
                records.pop(id_, None)


def _execute_many(cursor, query, rows):
    """Run the python-sql query (its parameters in order are the place
    holders) once per row of parameters"""
    sql, _ = tuple(query)
    cursor.executemany(sql, [tuple(r) for r in rows])


class Asset(metaclass=PoolMeta):
    __name__ = 'itsm.asset'

    inventory_digest = fields.Char(
        "Inventory Digest", readonly=True, strip=False,
        help="The digest of the last inventory applied: an equal one is "
        "only dated.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        # Found by bench/inventory.py on 100,000 assets (PostgreSQL): the
        # list's order (name, id) walks an index instead of sorting every
        # asset of the filter (46 -> 5 ms), and the search of the list
        # (name, tag or serial containing a word, compared as Coalesce)
        # uses trigram indexes instead of reading every asset (82 -> 7 ms).
        cls._sql_indexes.update({
                Index(table, (table.name, Index.Range()),
                    (table.id, Index.Range())),
                Index(table,
                    (Coalesce(table.asset_tag, ''), Index.Similarity())),
                Index(table,
                    (Coalesce(table.serial, ''), Index.Similarity())),
                })

    @classmethod
    def copy(cls, assets, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('inventory_digest', None)
        return super().copy(assets, default=default)
