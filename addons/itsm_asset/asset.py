# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""IT assets: what the company owns, where it is, who uses it, what it
costs and what happened to it.

The normalisation of hardware facts (MAC and IP addresses, hardware UUIDs)
is made of pure functions at the top of this file: the forms and the
inventory import both go through them.
"""
import datetime as dt
import ipaddress
import re
from functools import wraps

from sql import Literal
from sql.conditionals import Case
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.currency.fields import Monetary
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import (
    Transaction,
    inactive_records,
    without_check_access,
)

from itsm_ticket.search import rec_name_domain

KINDS = [
    ('desktop', "Desktop"),
    ('laptop', "Laptop"),
    ('server', "Server"),
    ('phone', "Phone"),
    ('tablet', "Tablet"),
    ('printer', "Printer"),
    ('monitor', "Monitor"),
    ('network', "Network Device"),
    ('peripheral', "Peripheral"),
    ('other', "Other"),
    ]
# The kinds without processor, memory or network: no hardware tab.
NO_HARDWARE_FACTS = {'monitor', 'peripheral'}

STATES = [
    ('ordered', "Ordered"),
    ('stock', "In Stock"),
    ('deployed', "Deployed"),
    ('repair', "In Repair"),
    ('retired', "Retired"),
    ('disposed', "Disposed"),
    ]
# Retired and disposed assets are kept, out of the way: they are inactive.
INACTIVE_STATES = {'retired', 'disposed'}
# (from, to): the life cycle of an asset
TRANSITIONS = {
    ('ordered', 'stock'),
    ('stock', 'deployed'),
    ('deployed', 'stock'),
    ('deployed', 'repair'),
    ('stock', 'repair'),
    ('repair', 'stock'),
    ('repair', 'deployed'),
    ('stock', 'retired'),
    ('deployed', 'retired'),
    ('repair', 'retired'),
    ('retired', 'disposed'),
    ('retired', 'stock'),
    }
# The buttons: the state each leads to, from which states. Two lead to
# stock: Receive what was ordered, Back to Stock what was out.
BUTTONS = {
    'receive': ('stock', {'ordered'}),
    'deploy': ('deployed', {'stock', 'repair'}),
    'store': ('stock', {'deployed', 'repair', 'retired'}),
    'repair': ('repair', {'stock', 'deployed'}),
    'retire': ('retired', {'stock', 'deployed', 'repair'}),
    'dispose': ('disposed', {'retired'}),
    }
# Who or where an asset is: a change of one of them is an assignment event.
ASSIGNMENT_FIELDS = ['employee', 'party', 'location', 'department']

EVENT_KINDS = [
    ('state', "State"),
    ('assignment', "Assignment"),
    ('installed', "Software Installed"),
    ('removed', "Software Removed"),
    ('upgraded', "Software Upgraded"),
    ('hardware', "Hardware"),
    ('inventory', "Inventory"),
    ]

_MAC_SEPARATORS = re.compile(r'[\s:.\-]')
_MAC_HEX = re.compile(r'[0-9a-f]{12}')
_IP_SEPARATORS = re.compile(r'[\s,;]+')


def normalise_mac(value):
    """Return the MAC address as six lower-case pairs joined by colons, or
    None when value is empty.

    Reads the usual spellings: 00-1A-2B-3C-4D-5E (Windows), 001a.2b3c.4d5e
    (Cisco), 001A2B3C4D5E, and 0:1a:2b:3c:4d:5e (leading zeros dropped, as
    macOS prints them). Raise ValueError for anything else.
    """
    if value is None:
        return None
    text = value.strip().lower()
    if not text:
        return None
    if ':' in text or '-' in text:
        parts = _MAC_SEPARATORS.split(text)
        if len(parts) == 6 and all(1 <= len(p) <= 2 for p in parts):
            text = ''.join(p.zfill(2) for p in parts)
    else:
        text = _MAC_SEPARATORS.sub('', text)
    if not _MAC_HEX.fullmatch(text):
        raise ValueError(f"not a MAC address: {value!r}")
    return ':'.join(text[i:i + 2] for i in range(0, 12, 2))


def normalise_ip_addresses(value):
    """Return the IP addresses of value in their canonical form, joined by
    ", ", without duplicates and in their order; None when there is none.

    The addresses are separated by commas, semicolons or spaces; a prefix
    length (192.0.2.7/24) and the zone of a link-local address (%eth0) are
    dropped; IPv6 addresses are compressed. Raise
    ValueError for something that is not an address.
    """
    if value is None:
        return None
    addresses = []
    for item in _IP_SEPARATORS.split(value.strip()):
        if not item:
            continue
        try:
            address = ipaddress.ip_interface(item).ip
        except ValueError:
            raise ValueError(f"not an IP address: {item!r}")
        text = str(address)
        if text not in addresses:
            addresses.append(text)
    return ', '.join(addresses) or None


def normalise_uuid(value):
    """Return a hardware UUID in lower case without braces, or None when
    value is empty (agents print it in upper case, Windows in braces)"""
    if value is None:
        return None
    text = value.strip().strip('{}').strip().lower()
    return text or None


class AssetTransitionError(ValidationError):
    pass


def transition(button):
    """Move the assets to the state of the button, refusing the whole batch
    if one asset may not go there that way (Tryton's own decorator would
    skip it silently)."""
    state, sources = BUTTONS[button]

    def decorator(func):
        moved = Workflow.transition(state)(func)

        @wraps(func)
        def wrapper(cls, assets, *args, **kwargs):
            for asset in assets:
                if asset.state != state and (
                        asset.state not in sources
                        or (asset.state, state) not in cls._transitions):
                    raise AssetTransitionError(gettext(
                            'itsm_asset.msg_asset_transition',
                            asset=asset.rec_name,
                            state=asset.state_string,
                            to=dict(STATES)[state]))
            return moved(cls, assets, *args, **kwargs)
        return wrapper
    return decorator


def button_states(button):
    "Show the button only in the states it leads from"
    _, sources = BUTTONS[button]
    return {
        'invisible': ~Eval('state').in_(sorted(sources)),
        'depends': ['state'],
        }


class Asset(Workflow, ModelSQL, ModelView):
    "An IT asset: a computer, a device, a phone, a printer"
    __name__ = 'itsm.asset'
    __string__ = "Asset"
    _history = True

    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='RESTRICT',
        states={
            'readonly': Eval('id', -1) >= 0,
            })
    name = fields.Char("Name", required=True, strip=True)
    kind = fields.Selection(KINDS, "Kind", required=True, sort=False)
    kind_string = kind.translated('kind')
    asset_tag = fields.Char(
        "Asset Tag", strip=True,
        help="The label stuck on the asset: unique in the company.")
    serial = fields.Char("Serial Number", strip=True)
    manufacturer = fields.Char("Manufacturer", strip=True)
    model = fields.Char("Model", strip=True)
    state = fields.Selection(
        STATES, "State", required=True, sort=False,
        states={
            'readonly': Eval('id', -1) >= 0,
            },
        help="Where the asset is in its life; after its creation the "
        "buttons move it.")
    state_string = state.translated('state')
    active = fields.Boolean(
        "Active", readonly=True,
        help="Retired and disposed assets are inactive: out of the lists, "
        "kept with their history.")

    # Where and who
    location = fields.Many2One(
        'itsm.location', "Location", ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))])
    employee = fields.Many2One(
        'company.employee', "Employee", ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))],
        help="The employee who uses the asset.")
    party = fields.Many2One(
        'party.party', "Party", ondelete='RESTRICT',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'},
        help="Who uses the asset when it is not an employee: a client, a "
        "contractor.")
    department = fields.Many2One(
        'company.department', "Department", ondelete='RESTRICT',
        domain=[('company', '=', Eval('company', -1))])
    parent = fields.Many2One(
        'itsm.asset', "Part of", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ('id', '!=', Eval('id', -1)),
            ],
        help="The asset this one is a component of.")
    components = fields.One2Many(
        'itsm.asset', 'parent', "Components",
        domain=[('company', '=', Eval('company', -1))])

    # What it costs
    supplier = fields.Many2One(
        'party.party', "Supplier", ondelete='RESTRICT',
        context={
            'company': Eval('company', -1),
            },
        depends={'company'})
    purchase_date = fields.Date("Purchase Date")
    currency = fields.Many2One(
        'currency.currency', "Currency", required=True, ondelete='RESTRICT')
    purchase_price = Monetary(
        "Purchase Price", currency='currency', digits='currency',
        domain=[
            If(Bool(Eval('purchase_price')),
                ('purchase_price', '>=', 0),
                ()),
            ])
    running_cost = Monetary(
        "Running Cost", currency='currency', digits='currency',
        domain=[
            If(Bool(Eval('running_cost')),
                ('running_cost', '>=', 0),
                ()),
            ],
        help="What the asset costs per year: support, subscription, "
        "consumables.")
    warranty_end = fields.Date("Warranty End")
    warranty_state = fields.Function(
        fields.Selection([
                (None, ""),
                ('valid', "Valid"),
                ('expiring', "Expiring"),
                ('expired', "Expired"),
                ], "Warranty"),
        'get_warranty_state', searcher='search_warranty_state')
    disposal_date = fields.Date("Disposal Date", readonly=True)

    # Hardware, mostly from the inventory agents
    uuid = fields.Char(
        "Hardware UUID", strip=True,
        help="The UUID of the firmware (SMBIOS), as the inventory agents "
        "report it.")
    cpu = fields.Char("Processor", strip=True)
    cpu_cores = fields.Integer(
        "Cores",
        domain=[
            If(Bool(Eval('cpu_cores')),
                ('cpu_cores', '>', 0),
                ()),
            ])
    memory = fields.Integer(
        "Memory (MiB)",
        domain=[
            If(Bool(Eval('memory')),
                ('memory', '>=', 0),
                ()),
            ])
    os_name = fields.Char("Operating System", strip=True)
    os_version = fields.Char("OS Version", strip=True)
    os_architecture = fields.Char("OS Architecture", strip=True)
    disks = fields.One2Many('itsm.asset.disk', 'asset', "Disks")
    network_interfaces = fields.One2Many(
        'itsm.asset.network_interface', 'asset', "Network Interfaces")
    last_inventory = fields.DateTime(
        "Last Inventory", readonly=True,
        help="When an inventory agent last reported on the asset.")
    inventory_device_id = fields.Char(
        "Inventory Device ID", readonly=True,
        help="The identifier the inventory agent gives the machine.")

    notes = fields.Text("Notes")
    events = fields.One2Many(
        'itsm.asset.event', 'asset', "History", readonly=True,
        order=[('date', 'DESC'), ('id', 'DESC')])
    of_requester = fields.Function(
        fields.Boolean("Used by the Requester",
            help="The asset is used by the requester of the ticket in the "
            "context."),
        'get_of_requester', searcher='search_of_requester')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [
            ('name', 'ASC'),
            ('id', 'ASC'),
            ]
        table = cls.__table__()
        cls._sql_constraints += [
            ('asset_tag_unique',
                Unique(table, table.company, table.asset_tag),
                'itsm_asset.msg_asset_tag_unique_sql'),
            ]
        cls._sql_indexes.update({
                Index(table, (table.name, Index.Similarity())),
                Index(table, (table.serial, Index.Equality())),
                Index(table, (table.uuid, Index.Equality())),
                Index(table, (table.inventory_device_id, Index.Equality())),
                Index(table, (table.last_inventory, Index.Range())),
                Index(table, (table.state, Index.Equality())),
                Index(table, (table.kind, Index.Equality())),
                Index(table, (table.employee, Index.Range())),
                Index(table, (table.party, Index.Range())),
                Index(table, (table.location, Index.Range())),
                Index(table, (table.parent, Index.Range())),
                Index(table, (table.warranty_end, Index.Range())),
                })
        cls._transitions = set(TRANSITIONS)
        cls._buttons.update({
                name: button_states(name) for name in BUTTONS})

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')

    @classmethod
    def default_kind(cls):
        return 'desktop'

    @classmethod
    def default_state(cls):
        return 'stock'

    @classmethod
    def default_active(cls):
        return True

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

    @fields.depends('employee', 'department', 'location', 'party')
    def on_change_employee(self):
        if self.employee:
            self.party = None
            if getattr(self.employee, 'department', None):
                self.department = self.employee.department
            if not self.location and getattr(
                    self.employee, 'location', None):
                self.location = self.employee.location

    def get_rec_name(self, name):
        if self.asset_tag:
            return f'{self.asset_tag} {self.name}'
        return self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, 'name', 'asset_tag', 'serial')

    @classmethod
    def get_warranty_state(cls, assets, name):
        pool = Pool()
        Expiry = pool.get('itsm.asset.expiry')
        today = dt.date.today()
        days = Expiry.warning_days()
        return {
            a.id: Expiry.state_of(a.warranty_end, today, days)
            for a in assets}

    @classmethod
    def search_warranty_state(cls, name, clause):
        pool = Pool()
        Expiry = pool.get('itsm.asset.expiry')
        return Expiry.search_state_of('warranty_end', clause)

    # The requester's assets first (the Assets tab of tickets)

    @classmethod
    def _requester(cls):
        requester = Transaction().context.get('itsm_requester')
        if isinstance(requester, int) and requester >= 0:
            return requester

    def get_of_requester(self, name):
        requester = self._requester()
        if requester is None:
            return False
        return bool(
            (self.party and self.party.id == requester)
            or (self.employee and self.employee.party.id == requester))

    @classmethod
    def _of_requester_condition(cls, table):
        pool = Pool()
        Employee = pool.get('company.employee')
        requester = cls._requester()
        if requester is None:
            return None
        employee = Employee.__table__()
        return ((table.party == requester)
            | table.employee.in_(employee.select(
                    employee.id, where=employee.party == requester)))

    @classmethod
    def search_of_requester(cls, name, clause):
        _, operator, value = clause
        table = cls.__table__()
        condition = cls._of_requester_condition(table)
        wanted = (operator == '=') == bool(value)
        if condition is None:
            return [('id', '=', None)] if wanted else []
        if not wanted:
            condition = ~condition
        return [('id', 'in', table.select(table.id, where=condition))]

    @classmethod
    def order_of_requester(cls, tables):
        "The requester's assets sort after the others, first in DESC order"
        table, _ = tables[None]
        condition = cls._of_requester_condition(table)
        if condition is None:
            return [Literal(0)]
        return [Case((condition, Literal(1)), else_=Literal(0))]

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        for name in ['asset_tag', 'serial']:
            if name in values and not values[name]:
                values[name] = None
        if 'uuid' in values:
            values['uuid'] = normalise_uuid(values['uuid'])
        if 'state' in values:
            values['active'] = values['state'] not in INACTIVE_STATES
        return values

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state').in_(sorted(INACTIVE_STATES)), 'muted',
                    If(Eval('state') == 'repair', 'warning', ''))),
            ('/tree/field[@name="warranty_end"]', 'visual',
                If(Eval('warranty_state') == 'expired', 'danger',
                    If(Eval('warranty_state') == 'expiring', 'warning',
                        ''))),
            ('//page[@id="hardware"]', 'states', {
                    'invisible': Eval('kind').in_(sorted(NO_HARDWARE_FACTS)),
                    }),
            ]

    # Validation: what the user may get wrong, told plainly

    @classmethod
    def _validate(cls, assets, field_names=None):
        # The fields' domains would refuse these with a generic message: say
        # why first.
        def changed(*names):
            return field_names is None or bool(field_names & set(names))
        if changed('company', *ASSIGNMENT_FIELDS):
            cls.check_company(assets)
        if changed('purchase_price', 'running_cost'):
            cls.check_costs(assets)
        if changed('parent'):
            cls.check_parent(assets)
        super()._validate(assets, field_names=field_names)

    @classmethod
    def check_company(cls, assets):
        for asset in assets:
            for name in ['employee', 'location', 'department', 'parent']:
                value = getattr(asset, name)
                if value and value.company != asset.company:
                    raise ValidationError(gettext(
                            'itsm_asset.msg_asset_other_company',
                            asset=asset.rec_name,
                            field=cls.__names__(name)['field'],
                            value=value.rec_name,
                            company=asset.company.rec_name))

    @classmethod
    def check_costs(cls, assets):
        for asset in assets:
            for name in ['purchase_price', 'running_cost']:
                value = getattr(asset, name)
                if value is not None and value < 0:
                    raise ValidationError(gettext(
                            'itsm_asset.msg_asset_negative_cost',
                            asset=asset.rec_name,
                            field=cls.__names__(name)['field'],
                            value=value))

    @classmethod
    def check_parent(cls, assets):
        for asset in assets:
            seen = {asset.id}
            parent = asset.parent
            while parent:
                if parent.id in seen:
                    raise ValidationError(gettext(
                            'itsm_asset.msg_asset_parent_cycle',
                            asset=asset.rec_name,
                            parent=asset.parent.rec_name))
                seen.add(parent.id)
                parent = parent.parent

    @classmethod
    def create(cls, vlist):
        cls.check_asset_tags([
                (values.get('company', cls.default_company()),
                    values.get('asset_tag'), None, values.get('name'))
                for values in vlist])
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        tags = []
        for assets, values in zip(actions, actions, strict=True):
            if values.get('asset_tag'):
                tags.extend(
                    (a.company.id, values['asset_tag'], a.id, a.name)
                    for a in assets)
        cls.check_asset_tags(tags)
        super().write(*args)

    @classmethod
    def check_asset_tags(cls, tags):
        """Refuse tags already used in their company, saying by which asset,
        before the database's unique constraint refuses them without a name.

        tags: (company id, tag, asset id or None, asset name)"""
        tags = [(c, t.strip(), i, n) for c, t, i, n in tags
            if t and t.strip()]
        seen = {}
        for company, tag, _, name in tags:
            if (company, tag) in seen:
                raise ValidationError(gettext(
                        'itsm_asset.msg_asset_tag_unique',
                        tag=tag, asset=name, other=seen[(company, tag)]))
            seen[(company, tag)] = name
        ids = {i for _, _, i, _ in tags if i is not None}
        # One query per slice: imports create hundreds at once.
        for sub_tags in grouped_slice(tags, 500):
            sub_tags = list(sub_tags)
            companies = list({c for c, *_ in sub_tags})
            sub_tags = list({t for _, t, *_ in sub_tags})
            with without_check_access(), inactive_records():
                holders = cls.search([
                        ('company', 'in', companies),
                        ('asset_tag', 'in', sub_tags),
                        ('id', 'not in', list(ids)),
                        ], order=[('id', 'ASC')])
            for holder in holders:
                key = (holder.company.id, holder.asset_tag)
                if key in seen:
                    raise ValidationError(gettext(
                            'itsm_asset.msg_asset_tag_unique',
                            tag=holder.asset_tag, asset=seen[key],
                            other=holder.name))

    @classmethod
    def check_modification(cls, mode, assets, values=None, external=False):
        super().check_modification(
            mode, assets, values=values, external=external)
        if (mode == 'write' and external and 'state' in values
                and any(a.state != values['state'] for a in assets)):
            raise AccessError(gettext('itsm_asset.msg_asset_state_buttons'))
        if mode == 'delete':
            for asset in assets:
                if asset.state not in {'ordered', 'stock'}:
                    raise AccessError(gettext(
                            'itsm_asset.msg_asset_delete',
                            asset=asset.rec_name,
                            state=asset.state_string))

    # The readable history

    @classmethod
    def on_modification(cls, mode, assets, field_names=None):
        pool = Pool()
        Event = pool.get('itsm.asset.event')
        super().on_modification(mode, assets, field_names=field_names)
        if mode == 'create':
            Event.create([{
                        'asset': a.id,
                        'kind': 'state',
                        'description': gettext(
                            'itsm_asset.msg_event_registered'),
                        'new_value': a.state_string,
                        } for a in assets])

    @classmethod
    def on_write(cls, assets, values):
        pool = Pool()
        Event = pool.get('itsm.asset.event')
        callbacks = super().on_write(assets, values)
        tracked = [n for n in ['state'] + ASSIGNMENT_FIELDS if n in values]
        if not tracked:
            return callbacks
        before = {a.id: {n: cls._event_value(a, n) for n in tracked}
            for a in assets}
        ids = list(before)

        def record_events():
            events = []
            for asset in cls.browse(ids):
                for name in tracked:
                    old, new = before[asset.id][name], cls._event_value(
                        asset, name)
                    if old == new:
                        continue
                    events.append({
                            'asset': asset.id,
                            'kind': 'state' if name == 'state'
                            else 'assignment',
                            'description': cls.__names__(name)['field'],
                            'old_value': old,
                            'new_value': new,
                            })
            if events:
                Event.create(events)
        callbacks.append(record_events)
        return callbacks

    @staticmethod
    def _event_value(asset, name):
        if name == 'state':
            return asset.state_string
        value = getattr(asset, name)
        return value.rec_name if value else None

    @classmethod
    def copy(cls, assets, default=None):
        default = default.copy() if default is not None else {}
        for name in ['asset_tag', 'serial', 'uuid', 'inventory_device_id',
                'last_inventory', 'events', 'disposal_date', 'components',
                'employee', 'party', 'disks', 'network_interfaces']:
            default.setdefault(name, None)
        return super().copy(assets, default=default)

    # The life cycle

    @classmethod
    @ModelView.button
    @transition('receive')
    def receive(cls, assets):
        "The ordered asset arrived: it is in stock"
        cls.write([a for a in assets if not a.purchase_date], {
                'purchase_date': dt.date.today()})

    @classmethod
    @ModelView.button
    @transition('deploy')
    def deploy(cls, assets):
        "Hand the asset to its user or install it at its location"
        for asset in assets:
            if not (asset.employee or asset.party or asset.location):
                raise ValidationError(gettext(
                        'itsm_asset.msg_asset_deploy_nowhere',
                        asset=asset.rec_name))

    @classmethod
    @ModelView.button
    @transition('store')
    def store(cls, assets):
        "Back to stock: the asset is no longer anyone's"
        cls._unassign(assets)

    @classmethod
    @ModelView.button
    @transition('repair')
    def repair(cls, assets):
        pass

    @classmethod
    @ModelView.button
    @transition('retire')
    def retire(cls, assets):
        "Out of use: the asset is no longer anyone's"
        cls._unassign(assets)

    @classmethod
    def _unassign(cls, assets):
        cls.write([a for a in assets if a.employee or a.party], {
                'employee': None,
                'party': None,
                })

    @classmethod
    @ModelView.button
    @transition('dispose')
    def dispose(cls, assets):
        cls.write([a for a in assets if not a.disposal_date], {
                'disposal_date': dt.date.today()})


class AssetDisk(ModelSQL, ModelView):
    "A disk of an asset"
    __name__ = 'itsm.asset.disk'
    __string__ = "Asset Disk"

    asset = fields.Many2One(
        'itsm.asset', "Asset", required=True, ondelete='CASCADE')
    name = fields.Char("Name", strip=True)
    type = fields.Char(
        "Type", strip=True, help="As reported: HDD, SSD, NVMe, USB...")
    size = fields.Integer(
        "Size (MiB)",
        domain=[
            If(Bool(Eval('size')),
                ('size', '>=', 0),
                ()),
            ])
    serial = fields.Char("Serial Number", strip=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('asset')
        table = cls.__table__()
        cls._order.insert(0, ('name', 'ASC'))
        cls._sql_indexes.add(Index(table, (table.asset, Index.Range())))


class AssetNetworkInterface(ModelSQL, ModelView):
    "A network interface of an asset, with its MAC and IP addresses"
    __name__ = 'itsm.asset.network_interface'
    __string__ = "Asset Network Interface"

    asset = fields.Many2One(
        'itsm.asset', "Asset", required=True, ondelete='CASCADE')
    name = fields.Char("Name", strip=True)
    type = fields.Char(
        "Type", strip=True, help="As reported: ethernet, wifi, loopback...")
    mac = fields.Char(
        "MAC Address", strip=True,
        help="Stored as six lower-case pairs joined by colons.")
    ip_addresses = fields.Char(
        "IP Addresses", help="Separated by commas.")
    virtual = fields.Boolean("Virtual")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('asset')
        table = cls.__table__()
        cls._order.insert(0, ('name', 'ASC'))
        cls._sql_indexes.update({
                Index(table, (table.asset, Index.Range())),
                Index(table, (table.mac, Index.Equality())),
                })

    @classmethod
    def default_virtual(cls):
        return False

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        if 'mac' in values:
            try:
                values['mac'] = normalise_mac(values['mac'])
            except ValueError:
                raise ValidationError(gettext(
                        'itsm_asset.msg_interface_mac_invalid',
                        mac=values['mac']))
        if 'ip_addresses' in values:
            try:
                values['ip_addresses'] = normalise_ip_addresses(
                    values['ip_addresses'])
            except ValueError:
                raise ValidationError(gettext(
                        'itsm_asset.msg_interface_ip_invalid',
                        addresses=values['ip_addresses']))
        return values

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, 'name', 'mac', 'ip_addresses')


class AssetEvent(ModelSQL, ModelView):
    """What happened to an asset, in words: state and assignment changes,
    software installed, removed or upgraded and hardware changes found by
    the inventories.

    The inventory import writes these rows set-based (python-sql), so
    nothing is computed when one is created."""
    __name__ = 'itsm.asset.event'
    __string__ = "Asset Event"

    asset = fields.Many2One(
        'itsm.asset', "Asset", required=True, ondelete='CASCADE')
    date = fields.DateTime("Date", required=True)
    kind = fields.Selection(EVENT_KINDS, "Kind", required=True, sort=False)
    description = fields.Char("Description")
    old_value = fields.Char("Before")
    new_value = fields.Char("After")
    user = fields.Many2One('res.user', "User", ondelete='SET NULL')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('asset')
        table = cls.__table__()
        cls._order = [
            ('date', 'DESC'),
            ('id', 'DESC'),
            ]
        cls._sql_indexes.add(Index(table,
                (table.asset, Index.Range()),
                (table.date, Index.Range(order='DESC'))))

    @classmethod
    def default_date(cls):
        return dt.datetime.now()

    @classmethod
    def default_user(cls):
        return Transaction().user or None

    def get_rec_name(self, name):
        return f'{self.asset.rec_name}: {self.description or self.kind}'
