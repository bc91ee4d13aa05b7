# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Demo data: Oriale's IT fleet.

Laptops and desktops (with their monitors) for the employees, phones,
printers on every floor, servers and switches, spares in stock, a few on
order, in repair, retired and disposed; their invoices, warranties and
contracts; and the tickets about them. The fleet grows with the demo's
size; everything is drawn from the demo's random generator.

Called by `itsm demo` (itsm_tools.demo) after itsm_ticket's part, whose
company, employees, rooms and tickets it uses.
"""
import datetime as dt
from decimal import Decimal

from trytond.pool import Pool
from trytond.transaction import Transaction

from .inventory_demo import generate_inventories
from .software_demo import generate_licenses

# (kind, manufacturer, model, price, cpu, cores, memory MiB, disk MiB, disk
# type, operating systems)
MODELS = {
    'laptop': [
        ("Dell", "Latitude 5440", '4890', "Intel Core i5-1345U", 10, 16384,
            512000, 'NVMe', ['windows']),
        ("Lenovo", "ThinkPad T14 Gen 4", '5290', "AMD Ryzen 7 PRO 7840U", 8,
            32768, 1024000, 'NVMe', ['windows', 'ubuntu']),
        ("Apple", "MacBook Air M2", '5990', "Apple M2", 8, 16384, 512000,
            'SSD', ['macos']),
        ],
    'desktop': [
        ("HP", "EliteDesk 800 G9", '3890', "Intel Core i7-12700", 12, 32768,
            1024000, 'NVMe', ['windows']),
        ("Dell", "OptiPlex 7010", '3190', "Intel Core i5-13500", 14, 16384,
            512000, 'SSD', ['windows', 'ubuntu']),
        ],
    'server': [
        ("Dell", "PowerEdge R660xs", '28900', "Intel Xeon Silver 4410Y", 12,
            131072, 3840000, 'SSD', ['debian']),
        ("HPE", "ProLiant DL360 Gen11", '31500', "Intel Xeon Gold 5415+", 8,
            262144, 7680000, 'SSD', ['debian', 'windows_server']),
        ],
    'phone': [
        ("Samsung", "Galaxy A55", '1899', None, 8, 8192, 128000, 'Flash',
            ['android']),
        ("Apple", "iPhone 15", '3999', None, 6, 6144, 128000, 'Flash',
            ['ios']),
        ],
    'printer': [
        ("HP", "Color LaserJet Pro MFP 4302fdw", '2790', None, None, None,
            None, None, []),
        ("Brother", "MFC-L8900CDW", '3290', None, None, None, None, None,
            []),
        ],
    'monitor': [
        ("Dell", "P2723D", '1290', None, None, None, None, None, []),
        ("LG", "27BN85U", '1590', None, None, None, None, None, []),
        ],
    'network': [
        ("Cisco", "Catalyst 9200L-24P", '9800', None, None, None, None, None,
            []),
        ],
    }
OPERATING_SYSTEMS = {
    'windows': ("Windows 11 Pro", "23H2", "x86_64"),
    'ubuntu': ("Ubuntu", "24.04 LTS", "x86_64"),
    'macos': ("macOS", "14.5", "arm64"),
    'debian': ("Debian GNU/Linux", "12", "x86_64"),
    'windows_server': ("Windows Server 2022 Standard", "21H2", "x86_64"),
    'android': ("Android", "14", "arm64"),
    'ios': ("iOS", "17.5", "arm64"),
    }
# The MAC prefixes (OUI) of the manufacturers
OUI = {
    "Dell": "d0:94:66", "Lenovo": "8c:16:45", "Apple": "3c:22:fb",
    "HP": "9c:7b:ef", "HPE": "94:40:c9", "Samsung": "a4:30:7a",
    "Brother": "30:05:5c", "Cisco": "00:1b:54", "LG": "00:1e:75",
    }
SUPPLIERS = {
    "Dell": "Dell Technologies Polska", "Lenovo": "Lenovo Polska",
    "Apple": "iSpot Business", "HP": "HP Inc Polska",
    "HPE": "Hewlett Packard Enterprise Polska", "Samsung": "Komputronik",
    "Brother": "Komputronik", "Cisco": "Cisco Systems Poland",
    "LG": "Komputronik",
    }
WARRANTY_YEARS = {
    'laptop': 3, 'desktop': 3, 'server': 5, 'phone': 2, 'printer': 2,
    'monitor': 3, 'network': 5}


def generate(demo):
    with Transaction().set_context(company=demo.company.id):
        Fleet(demo).build()
    # The software installed and its licenses (software_demo.py)
    generate_licenses(demo)
    with Transaction().set_context(company=demo.company.id):
        generate_inventories(demo)


class Fleet:
    "Builds the assets of the demo"

    def __init__(self, demo):
        self.demo = demo
        self.rng = demo.rng
        self.today = dt.date.today()
        self.values = []
        self.tags = 0
        self.suppliers = {}

    def build(self):
        pool = Pool()
        Asset = pool.get('itsm.asset')
        demo = self.demo
        self.create_suppliers()
        self.rooms_by_floor()
        employees = demo.records['employees']
        # Each employee has a computer, many a phone and the desktop users
        # a monitor or two.
        for employee in employees:
            kind = 'laptop' if self.rng.random() < 0.75 else 'desktop'
            computer = self.asset(kind, employee=employee)
            if kind == 'desktop':
                for n in range(self.rng.choice([1, 1, 2])):
                    self.asset('monitor', employee=employee, parent=computer,
                        name=f"{computer['name']} monitor {n + 1}")
            if self.rng.random() < 0.6:
                self.asset('phone', employee=employee)
        for _, rooms in sorted(self.floors.items()):
            self.asset('printer', location=rooms[0],
                name=f"Printer {rooms[0].code}")
        for site, room in sorted(
                self.server_rooms.items(), key=lambda i: i[0].id):
            self.asset('network', location=room,
                name=f"Switch {site.code}-01")
        for n, role in enumerate(["file", "mail", "backup", "erp"]
                * demo.size):
            self.asset('server', location=self.main_server_room,
                name=f"srv-{role}-{n // 4 + 1:02d}")
        spares = [self.asset('laptop', state='stock',
                location=self.storeroom) for _ in range(2 * demo.size)]
        for _ in range(demo.size + 1):
            self.asset('laptop', state='ordered', purchased=False)
        demo.step(f"{len(self.values)} assets: computers, phones, printers, "
            "servers, switches")
        components = [v for v in self.values if '_parent' in v]
        assets = self.create(Asset, self.values)
        by_name = {a.name: a for a in assets}
        for value in components:
            Asset.write([by_name[value['name']]], {
                    'parent': by_name[value['_parent']['name']].id})
        # Walk the life cycles: most are handed out, some are in repair or
        # retired, one was disposed of.
        to_deploy = [a for a in assets
            if a.state == 'stock' and a.id not in {
                by_name[s['name']].id for s in spares}]
        Asset.deploy(to_deploy)
        laptops = [a for a in to_deploy if a.kind == 'laptop']
        in_repair = laptops[:demo.size + 1]
        Asset.repair(in_repair)
        old = sorted(
            [a for a in to_deploy if a.kind == 'desktop'],
            key=lambda a: a.purchase_date)[:demo.size + 1]
        Asset.retire(old)
        Asset.dispose(old[:1])
        # Hand-overs: a laptop changes hands, a printer moves.
        employees = list(demo.records['employees'])
        for asset in laptops[demo.size + 1:demo.size + 3]:
            employee = self.rng.choice(employees)
            Asset.write([asset], {
                    'employee': employee.id,
                    'name': f"{asset.model} ({employee.party.name})",
                    })
        demo.records['assets'] = assets
        self.create_documents(assets)
        self.link_tickets(assets)

    def create_suppliers(self):
        pool = Pool()
        Party = pool.get('party.party')
        names = sorted(set(SUPPLIERS.values()))
        parties = Party.create([{'name': name} for name in names])
        self.suppliers = dict(zip(names, parties, strict=True))

    def rooms_by_floor(self):
        rooms = self.demo.records['rooms']
        self.floors = {}
        self.server_rooms = {}
        for room in rooms:
            self.floors.setdefault(room.parent.id, []).append(room)
            site = room.parent.parent.parent
            # The last room of each site holds its network.
            self.server_rooms[site] = room
        self.main_server_room = rooms[-1]
        self.storeroom = rooms[0]

    def asset(self, kind, state='stock', employee=None, location=None,
            parent=None, name=None, purchased=True):
        "Describe an asset and return its values"
        rng = self.rng
        (manufacturer, model, price, cpu, cores, memory, disk, disk_type,
            systems) = rng.choice(MODELS[kind])
        self.tags += 1
        tag = f"ORI-{self.tags:05d}"
        if name is None:
            if employee:
                name = f"{model} ({employee.party.name})"
            else:
                name = f"{model} {tag}"
        values = {
            'kind': kind,
            'name': name,
            'asset_tag': tag,
            'serial': ''.join(rng.choice('0123456789ABCDEFGHJKLMNPRSTUVWXYZ')
                for _ in range(10)),
            'manufacturer': manufacturer,
            'model': model,
            'state': state,
            'employee': employee.id if employee else None,
            'department': (employee.department.id
                if employee and employee.department else None),
            'location': (location.id if location
                else employee.location.id if employee and employee.location
                else None),
            'supplier': self.suppliers[SUPPLIERS[manufacturer]].id,
            'purchase_price': Decimal(price),
            'running_cost': (Decimal(rng.choice(['120', '240', '480']))
                if kind in {'laptop', 'desktop', 'phone', 'server'}
                else Decimal('600') if kind == 'printer' else None),
            }
        if purchased:
            # Bought in the last four years; a few warranties end within
            # the warning period.
            years = WARRANTY_YEARS[kind]
            if rng.random() < 0.1:
                end = self.today + dt.timedelta(days=rng.randint(3, 25))
                end = end.replace(day=min(end.day, 28))
                bought = end.replace(year=end.year - years)
            else:
                bought = self.today - dt.timedelta(days=rng.randint(20, 1460))
                bought = bought.replace(day=min(bought.day, 28))
                end = bought.replace(year=bought.year + years)
            values['purchase_date'] = bought
            values['warranty_end'] = end
        if cpu or systems:
            os_name, os_version, arch = OPERATING_SYSTEMS[rng.choice(systems)]
            values.update({
                    'cpu': cpu,
                    'cpu_cores': cores,
                    'memory': memory,
                    'os_name': os_name,
                    'os_version': os_version,
                    'os_architecture': arch,
                    'uuid': '-'.join(
                        ''.join(rng.choice('0123456789abcdef')
                            for _ in range(n)) for n in [8, 4, 4, 4, 12]),
                    'disks': [('create', [{
                                    'name': 'disk0', 'type': disk_type,
                                    'size': disk,
                                    'serial': f"S{rng.randint(10**8, 10**9)}",
                                    }])],
                    })
        if kind in {'laptop', 'desktop', 'server', 'printer', 'network'}:
            values['network_interfaces'] = [('create', [{
                            'name': 'eth0' if kind != 'laptop' else 'wlan0',
                            'type': 'ethernet' if kind != 'laptop'
                            else 'wifi',
                            'mac': self.mac(manufacturer),
                            'ip_addresses': (
                                f"10.{rng.randint(1, 9)}."
                                f"{rng.randint(0, 254)}.{rng.randint(2, 254)}"
                                if state != 'ordered' else None),
                            }])]
        if parent is not None:
            values['_parent'] = parent
        self.values.append(values)
        return values

    def mac(self, manufacturer):
        rng = self.rng
        return OUI[manufacturer] + ''.join(
            f':{rng.randint(0, 255):02x}' for _ in range(3))

    @staticmethod
    def create(Model, values, size=100):
        records = []
        clean = [{k: v for k, v in value.items() if not k.startswith('_')}
            for value in values]
        for start in range(0, len(clean), size):
            records += Model.create(clean[start:start + size])
        return records

    def create_documents(self, assets):
        "An invoice per supplier and year, warranties, contracts, manuals"
        pool = Pool()
        Document = pool.get('itsm.asset.document')
        rng = self.rng
        invoices = {}
        for asset in assets:
            if asset.purchase_date and asset.supplier:
                key = (asset.supplier, asset.purchase_date.year)
                invoices.setdefault(key, []).append(asset)
        values = []
        for (supplier, year), bought in sorted(
                invoices.items(), key=lambda i: (i[0][0].name, i[0][1])):
            values.append({
                    'name': f"Invoice {supplier.name} {year}",
                    'type': 'invoice',
                    'reference': f"FV/{year}/{rng.randint(100, 9999):04d}",
                    'start_date': min(a.purchase_date for a in bought),
                    'assets': [('add', [a.id for a in bought])],
                    })
        for server in [a for a in assets if a.kind == 'server']:
            values.append({
                    'name': f"{server.manufacturer} support for "
                    f"{server.name}",
                    'type': 'warranty',
                    'reference': f"SR-{rng.randint(10**5, 10**6)}",
                    'start_date': server.purchase_date,
                    'expiry_date': server.warranty_end,
                    'assets': [('add', [server.id])],
                    })
        printers = [a for a in assets if a.kind == 'printer']
        values.append({
                'name': "Printer lease and service",
                'type': 'contract',
                'reference': "UM/2023/PRN/17",
                'start_date': self.today.replace(day=1)
                - dt.timedelta(days=3 * 365),
                'expiry_date': self.today + dt.timedelta(days=21),
                'assets': [('add', [a.id for a in printers])],
                'notes': "Toner and maintenance included; renew or "
                "return the printers.",
                })
        values.append({
                'name': "Mobile fleet contract",
                'type': 'contract',
                'reference': "ORI/MOB/2024",
                'start_date': self.today - dt.timedelta(days=400),
                'expiry_date': self.today + dt.timedelta(days=330),
                'assets': [('add', [a.id for a in assets
                                if a.kind == 'phone'])],
                })
        for model in sorted({a.model for a in assets
                    if a.kind in {'laptop', 'desktop'}}):
            values.append({
                    'name': f"{model} user guide",
                    'type': 'manual',
                    'filename': f"{model.lower().replace(' ', '-')}.pdf",
                    'assets': [('add', [a.id for a in assets
                                    if a.model == model])],
                    })
        self.demo.step(f"{len(values)} asset documents: invoices, "
            "warranties, contracts, manuals")
        self.demo.records['asset_documents'] = Document.create(values)

    def link_tickets(self, assets):
        """The hardware and software tickets name the requester's device
        (and its invoice or warranty), the printer tickets a printer of the
        floor"""
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        tickets = self.demo.records.get('tickets', [])
        by_party = {}
        for asset in assets:
            if asset.employee:
                by_party.setdefault(
                    asset.employee.party.id, []).append(asset)
        printers = [a for a in assets if a.kind == 'printer']
        computers = {'laptop', 'desktop'}
        sub_kinds = {
            "Laptop": computers, "Monitor": {'monitor'}, "Phone": {'phone'},
            "Email": computers, "Office": computers, "Browser": computers,
            "ERP": computers,
            }
        count = 0
        for ticket in tickets:
            category = ticket.category.name if ticket.category else None
            if category == "Printer":
                floor = ticket.location.parent if ticket.location else None
                linked = [p for p in printers
                    if floor and p.location and p.location.parent == floor]
                linked = linked[:1] or printers[:1]
            elif category in sub_kinds and ticket.requester:
                linked = [a for a in by_party.get(ticket.requester.id, [])
                    if a.kind in sub_kinds[category]][:1]
            else:
                continue
            if not linked:
                continue
            documents = [d for d in linked[0].documents
                if d.type in {'warranty', 'contract'}][:1]
            Ticket.write([ticket], {
                    'assets': [('add', [a.id for a in linked])],
                    'asset_documents': [('add', [d.id for d in documents])],
                    })
            count += 1
        self.demo.step(f"{count} tickets linked to their assets")
