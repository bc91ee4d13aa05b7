# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Demo data: the software installed on Oriale's computers and its licenses.

Called at the end of the asset part of the demo (demo.py), with the assets
it created in demo.records['assets']. What it shows in Compliance: Microsoft
365 under-licensed, Adobe Acrobat over-licensed, Windows covered by its OEM
licenses, 7-Zip by a site license, AutoCAD LT needing a license nobody
bought; an Adobe license expired last year, a Zoom subscription expiring
within the warning period. The installations are inserted set-based, as
the inventory import does.
"""
import datetime as dt
from decimal import Decimal

from sql.functions import CurrentTimestamp
from trytond.pool import Pool
from trytond.transaction import Transaction

from .software import software_key

PUBLISHERS = [
    "Microsoft Corporation", "Adobe Inc.", "Mozilla", "Google LLC",
    "Igor Pavlov", "Zoom Video Communications, Inc.", "Autodesk, Inc.",
    "JetBrains s.r.o.", "VideoLAN", "The Document Foundation",
    ]
# (publisher, name, category, versions, needs a license, on which systems,
# share of those computers)
SOFTWARE = [
    ("Microsoft Corporation", "Microsoft 365 Apps for business", "Office",
        ["16.0.17328", "16.0.17531"], True, {'windows', 'macos'}, 0.95),
    ("Microsoft Corporation", "Windows 11 Pro", "Operating System",
        ["23H2"], True, {'windows'}, 1.0),
    ("Microsoft Corporation", "Windows Server 2022 Standard",
        "Operating System", ["21H2"], True, {'windows_server'}, 1.0),
    ("Adobe Inc.", "Adobe Acrobat Pro", "Office",
        ["24.002.20736", "23.008.20533"], True, {'windows', 'macos'}, 0.2),
    ("Autodesk, Inc.", "AutoCAD LT 2024", "Design", ["24.3"], True,
        {'windows'}, 0.1),
    ("JetBrains s.r.o.", "IntelliJ IDEA Ultimate", "Development",
        ["2024.1.2"], True, {'windows', 'macos', 'ubuntu'}, 0.05),
    ("Zoom Video Communications, Inc.", "Zoom Workplace", "Communication",
        ["6.0.11"], True, {'windows', 'macos', 'ubuntu'}, 0.5),
    ("Igor Pavlov", "7-Zip", "Utility", ["23.01", "24.05"], False,
        {'windows', 'windows_server'}, 0.7),
    ("Mozilla", "Mozilla Firefox", "Browser", ["126.0", "127.0.1"], False,
        {'windows', 'macos', 'ubuntu'}, 0.6),
    ("Google LLC", "Google Chrome", "Browser", ["125.0.6422.142"], False,
        {'windows', 'macos', 'ubuntu'}, 0.8),
    ("VideoLAN", "VLC media player", "Multimedia", ["3.0.20"], False,
        {'windows', 'macos', 'ubuntu'}, 0.3),
    ("The Document Foundation", "LibreOffice", "Office", ["24.2.3"], False,
        {'ubuntu'}, 1.0),
    ]
# The demo's systems by the asset's os_name
SYSTEMS = {
    "Windows 11 Pro": 'windows',
    "Ubuntu": 'ubuntu',
    "macOS": 'macos',
    "Debian GNU/Linux": 'debian',
    "Windows Server 2022 Standard": 'windows_server',
    }
ARCHITECTURES = {'macos': 'arm64'}


def generate_licenses(demo):
    "Add the software catalog, the installations and the licenses"
    with Transaction().set_context(company=demo.company.id):
        catalog = _catalog(demo)
        installed = _install(demo, catalog)
        _licenses(demo, catalog, installed)


def _catalog(demo):
    pool = Pool()
    Publisher = pool.get('itsm.software.publisher')
    Software = pool.get('itsm.software')
    publishers = dict(zip(PUBLISHERS,
            Publisher.create([{'name': n} for n in PUBLISHERS]),
            strict=True))
    software = Software.create([{
                'name': name,
                'publisher': publishers[publisher].id,
                'category': category,
                'license_required': required,
                'versions': [('create', [{'name': v} for v in versions])],
                } for publisher, name, category, versions, required, _, _
            in SOFTWARE])
    catalog = {s.name: s for s in software}
    demo.records['software'] = catalog
    assert all(
        catalog[name].key == software_key(publisher, name)
        for publisher, name, *_ in SOFTWARE)
    return catalog


def _install(demo, catalog):
    """Install the software on the computers in use, set-based; return the
    assets of each software"""
    pool = Pool()
    Installation = pool.get('itsm.software.installation')
    rng = demo.rng
    today = dt.date.today()
    computers = [a for a in demo.records.get('assets', [])
        if a.kind in {'laptop', 'desktop', 'server'}
        and a.state not in {'ordered', 'disposed'}
        and a.os_name in SYSTEMS]
    installed = {name: [] for name in catalog}
    rows = []

    def install(asset, software, system):
        version = rng.choice(software.versions)
        installed[software.name].append(asset)
        rows.append([
                asset.id, software.id, version.id,
                ARCHITECTURES.get(system, 'x86_64'),
                (asset.purchase_date or today)
                + dt.timedelta(days=rng.randint(0, 60)),
                'inventory', 0, CurrentTimestamp()])

    for _, name, _, _, required, systems, share in SOFTWARE:
        candidates = [a for a in computers if SYSTEMS[a.os_name] in systems]
        chosen = [a for a in candidates if rng.random() < share]
        if required and candidates and not chosen:
            # What needs a license shows in the compliance
            chosen = candidates[:1]
        for asset in chosen:
            install(asset, catalog[name], SYSTEMS[asset.os_name])
    table = Installation.__table__()
    cursor = Transaction().connection.cursor()
    for start in range(0, len(rows), 500):
        cursor.execute(*table.insert([
                    table.asset, table.software, table.version,
                    table.architecture, table.install_date, table.source,
                    table.create_uid, table.create_date],
                rows[start:start + 500]))
    demo.step(f"{len(catalog)} software, {len(rows)} installations")
    return installed


def _licenses(demo, catalog, installed):
    pool = Pool()
    License = pool.get('itsm.license')
    rng = demo.rng
    today = dt.date.today()
    Party = pool.get('party.party')
    employees = demo.records.get('employees', [])

    def in_use(name):
        return len([a for a in installed[name]
                if a.state not in {'retired', 'disposed'}])

    def bought(days):
        return today - dt.timedelta(days=days)

    office = in_use("Microsoft 365 Apps for business")
    acrobat = in_use("Adobe Acrobat Pro")
    it = [e for e in employees
        if e.department and e.department.name in {
            "IT", "Service Desk", "Infrastructure"}]
    developers = it[:max(2, len(it) // 3)]
    servers = installed["Windows Server 2022 Standard"]
    values = [{
            'name': "Microsoft 365 Business Standard - annual",
            'software': catalog["Microsoft 365 Apps for business"].id,
            'type': 'subscription',
            # Hiring outpaced the renewal: short of seats
            'seats': max(1, office - 3 - demo.size),
            'start_date': bought(200),
            'end_date': bought(200) + dt.timedelta(days=365),
            'cost': Decimal(46 * max(1, office - 3 - demo.size)),
            'key': "M365-ORIALE-TENANT",
            'reference': "MS-EA-2025-0117",
            }, {
            'name': "Windows 11 Pro OEM",
            'software': catalog["Windows 11 Pro"].id,
            'type': 'oem',
            'seats': max(1, in_use("Windows 11 Pro")),
            'notes': "Bundled with the computers.",
            }, {
            'name': "Windows Server 2022 Standard (16 cores)",
            'software': catalog["Windows Server 2022 Standard"].id,
            'type': 'device',
            'seats': max(1, len(servers)),
            'cost': Decimal(4390 * max(1, len(servers))),
            'key': "WS22-XXXXX-XXXXX-XXXXX-00001",
            'start_date': bought(700),
            'assignments': [('create', [
                            {'asset': a.id, 'date': bought(700)}
                            for a in servers])],
            }, {
            'name': "Adobe Acrobat Pro - team",
            'software': catalog["Adobe Acrobat Pro"].id,
            'type': 'subscription',
            # Bought with room to grow: seats unused
            'seats': acrobat + 4,
            'start_date': bought(90),
            'end_date': bought(90) + dt.timedelta(days=365),
            'cost': Decimal(1100 * (acrobat + 4)),
            }, {
            'name': "Adobe Acrobat Pro 2020 - perpetual (retired)",
            'software': catalog["Adobe Acrobat Pro"].id,
            'type': 'device',
            'seats': 10,
            'start_date': bought(3 * 365),
            'end_date': bought(400),
            'notes': "Support ended: replaced by the subscription.",
            }, {
            'name': "Zoom Workplace Business",
            'software': catalog["Zoom Workplace"].id,
            'type': 'subscription',
            'seats': max(1, in_use("Zoom Workplace")),
            'start_date': bought(350),
            # Renewal due: shows in Expiring and warns the asset managers
            'end_date': today + dt.timedelta(days=rng.randint(8, 20)),
            'cost': Decimal(650 * max(1, in_use("Zoom Workplace"))),
            }, {
            'name': "IntelliJ IDEA Ultimate - named users",
            'software': catalog["IntelliJ IDEA Ultimate"].id,
            'type': 'user',
            'seats': len(developers) + 1,
            'start_date': bought(120),
            'end_date': bought(120) + dt.timedelta(days=365),
            'key': "JB-ORIALE-2025",
            'assignments': [('create', [
                            {'employee': e.id, 'date': bought(120)}
                            for e in developers])],
            }, {
            'name': "7-Zip (GNU LGPL)",
            'software': catalog["7-Zip"].id,
            'type': 'site',
            'notes': "Free software: one site license covers it.",
            }]
    resellers = Party.search([('name', '=', "Komputronik")], limit=1)
    for value in values:
        if resellers and value['type'] != 'site':
            value.setdefault('supplier', resellers[0].id)
    licenses = License.create(values)
    demo.records['licenses'] = licenses
    demo.step(f"{len(licenses)} licenses: Microsoft 365 under-licensed, "
        "Adobe Acrobat over-licensed, AutoCAD LT unlicensed")
