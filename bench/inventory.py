"""How many inventories a second the server takes from the agents, and how
the asset list holds with a large fleet.

Builds a demo database (SQLite, or PostgreSQL with --database-uri or
ITSM_DATABASE_URI) with the demo generator (--size N: its fleet grows
with the employees), adds --assets assets (100,000 by default) with a
network interface each by SQL, serves it with `itsm serve` as shipped
([queue] worker = False: the processing task runs in the server right after
the request that stored the inventory) and POSTs zlib-compressed
FusionInventory documents to an inventory endpoint over HTTP, as the agent
does (one connection a request):

- first sight: --machines machines never seen (about 800 software each: 600
  Debian packages every machine has, 200 drawn from a pool of 2,400
  applications of 40 publishers in three versions, so that the catalog is
  shared as in a real fleet);
- unchanged: the same machines again, as the agent's next run sends them
  (only what the digest ignores differs);
- a few changes: each machine with 2 software removed, 3 upgraded, 1
  installed and a new IP address.

The baseline, in the same run, is the agent's PROLOG on the same endpoint:
the route, the authentication and the reply, with no inventory. The
inventories are built from the fixtures of addons/itsm_asset/tests/data.
Then, as the asset manager's sao does, the asset list: search_read of 80
rows with the list's fields, filtered and sorted, and the counts of the
tabs, against reading 80 assets by id.

    .venv/bin/python bench/inventory.py --machines 200
    .venv/bin/python bench/inventory.py --machines 200 \\
        --database-uri postgresql://postgres@127.0.0.1:5466/
"""
import argparse
import collections
import datetime as dt
import gzip
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

from inbound_email import TaskLog, connect, cpu_seconds, serve

from itsm_tools.cli import drop_database, set_up
from itsm_tools.demo import DEMO_PASSWORD
from itsm_tools.rpc import Client
from itsm_tools.settings import Settings
from itsm_tools.testing import free_port

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / 'addons' / 'itsm_asset' / 'tests' / 'data'
TARGETS = {'first': 10, 'unchanged': 50}
PUBLISHERS = [f"Vendor {n:02d} Software Ltd" for n in range(40)]
POOL = 2_400
PER_MACHINE = 200
BASE = 600
LIST_FIELDS = [
    'asset_tag', 'name', 'kind', 'model', 'state', 'employee.rec_name',
    'location.rec_name', 'warranty_end', 'warranty_state',
    'last_inventory', 'company.rec_name',
    ]


class Fleet:
    "Writes the inventories of the machines of the run"

    def __init__(self, seed=2026):
        self.rng = random.Random(seed)
        text = gzip.decompress(
            (DATA / 'fusioninventory-debian.xml.gz').read_bytes()).decode()
        entries = re.findall(r'\s*<SOFTWARES>.*?</SOFTWARES>', text, re.S)
        self.base = ''.join(entries[:BASE])
        self.template = re.sub(
            r'\s*<SOFTWARES>.*?</SOFTWARES>', '', text, flags=re.S)
        assert '<SSN></SSN>' in self.template
        assert '<NAME>vm</NAME>' in self.template
        self.pool = [(f"Bench Application {n:04d}", PUBLISHERS[n % 40])
            for n in range(POOL)]
        self.machines = {}

    def _software(self, name, publisher, version):
        return ('\n    <SOFTWARES>\n      <ARCH>amd64</ARCH>\n      '
            f'<NAME>{name}</NAME>\n      <PUBLISHER>{publisher}</PUBLISHER>'
            f'\n      <VERSION>{version}</VERSION>\n    </SOFTWARES>')

    def new(self, number):
        "A machine never seen: its software choice and identity"
        chosen = self.rng.sample(range(POOL), PER_MACHINE)
        self.machines[number] = {
            'software': {n: f'{self.rng.randint(1, 3)}.0' for n in chosen},
            'ip': f'10.{number // 250 % 250}.{number % 250}.10',
            'run': 0,
            }
        return self.document(number)

    def again(self, number):
        "The agent's next run: only the access log date differs"
        self.machines[number]['run'] += 1
        return self.document(number)

    def change(self, number):
        "2 software removed, 3 upgraded, 1 installed, a new IP address"
        machine = self.machines[number]
        software = machine['software']
        names = sorted(software)
        for n in names[:2]:
            del software[n]
        for n in names[2:5]:
            major = int(software[n].split('.')[0])
            software[n] = f'{major}.{machine["run"] + 1}'
        software[next(n for n in self.rng.sample(range(POOL), 10)
                if n not in software)] = '1.0'
        machine['ip'] = machine['ip'].rsplit('.', 1)[0] + '.11'
        machine['run'] += 1
        return self.document(number)

    def document(self, number):
        machine = self.machines[number]
        mac = f'02:be:{number >> 16 & 255:02x}:{number >> 8 & 255:02x}:' \
            f'{number & 255:02x}:01'
        software = ''.join(self._software(*self.pool[n], v)
            for n, v in sorted(machine['software'].items()))
        logdate = (dt.datetime(2026, 1, 1)
            + dt.timedelta(days=machine['run'])).strftime('%Y-%m-%d %H:%M:%S')
        text = (self.template
            .replace('vm-2026-12-04-06-56-05',
                f'bench-{number:06d}-2026-01-01-00-00-00')
            .replace('<NAME>vm</NAME>', f'<NAME>bench-{number:06d}</NAME>'
                f'<UUID>6b1e5d3a-0000-4000-8000-{number:012x}</UUID>')
            .replace('<SSN></SSN>', f'<SSN>BENCH{number:07d}</SSN>')
            .replace('02:fc:00:00:00:01', mac)
            .replace('192.0.2.2', machine['ip'])
            .replace('2026-12-04 07:36:54', logdate)
            .replace('</CONTENT>', self.base + software + '\n  </CONTENT>'))
        return zlib.compress(text.encode(), 6)


def post(url, data):
    "POST as the agent does; return the status and the time"
    request = urllib.request.Request(url, data=data, method='POST',
        headers={'Content-Type': 'application/x-compress-zlib'})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        status = type(error).__name__
    return status, time.perf_counter() - started


def send_all(url, bodies, clients):
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as executor:
        results = list(executor.map(lambda body: post(url, body), bodies))
    elapsed = time.perf_counter() - started
    return elapsed, sorted(t for _, t in results), collections.Counter(
        s for s, _ in results)


def add_assets(settings, count):
    """Insert count assets of the demo company by SQL, each with a network
    interface, spread over kinds, states, employees and locations"""
    connection, mark = connect(settings)
    now = dt.datetime.now().replace(microsecond=0)
    kinds = ['laptop', 'desktop', 'desktop', 'server', 'phone', 'printer']
    states = ['deployed'] * 6 + ['stock', 'repair', 'retired', 'ordered']
    with closing(connection), connection:
        cursor = connection.cursor()
        cursor.execute('SELECT id, currency FROM company_company '
            'ORDER BY id')
        company, currency = cursor.fetchone()
        cursor.execute('SELECT id FROM company_employee ORDER BY id')
        employees = [i for i, in cursor.fetchall()]
        cursor.execute("SELECT id FROM itsm_location WHERE company = "
            f"{company} ORDER BY id")
        locations = [i for i, in cursor.fetchall()]
        columns = ['company', 'currency', 'name', 'kind', 'state', 'active',
            'serial', 'uuid', 'model', 'employee', 'location',
            'os_name', 'last_inventory', 'inventory_device_id',
            'create_uid', 'create_date']
        rows = []
        for n in range(count):
            state = states[n % len(states)]
            rows.append((company, currency, f'fleet-{n:06d}',
                    kinds[n % len(kinds)], state,
                    state not in {'retired', 'disposed'},
                    f'FLEET{n:07d}', f'0f1e2d3c-0000-4000-8000-{n:012x}',
                    f"Model {n % 37}",
                    employees[n % len(employees)] if state == 'deployed'
                    else None,
                    locations[n % len(locations)] if locations else None,
                    'Debian GNU/Linux 12', now - dt.timedelta(minutes=n),
                    f'fleet-{n:06d}-2025-01-01-00-00-00', 0, now))
        statement = (f'INSERT INTO itsm_asset ({", ".join(columns)}) '
            f'VALUES ({", ".join([mark] * len(columns))})')
        for start in range(0, len(rows), 10_000):
            cursor.executemany(statement, rows[start:start + 10_000])
        cursor.execute(
            "SELECT id, name FROM itsm_asset WHERE name LIKE 'fleet-%'")
        interfaces = [(asset_id, 'eth0',
                f'02:f1:{int(name[6:]) >> 16 & 255:02x}:'
                f'{int(name[6:]) >> 8 & 255:02x}:{int(name[6:]) & 255:02x}:01',
                'ethernet', False, 0, now)
            for asset_id, name in cursor.fetchall()]
        statement = ('INSERT INTO itsm_asset_network_interface (asset, name, '
            f'mac, type, virtual, create_uid, create_date) VALUES '
            f'({", ".join([mark] * 7)})')
        for start in range(0, len(interfaces), 10_000):
            cursor.executemany(statement, interfaces[start:start + 10_000])
        cursor.execute('ANALYZE')


def outcome(admin, after_id):
    "The states of the inventories stored after after_id"
    stored = admin.model('itsm.inventory', 'search_read',
        [('id', '>', after_id)], 0, None, None, ['state'])
    states = collections.Counter(i['state'] for i in stored)
    return ', '.join(f'{n} {s}' for s, n in sorted(states.items())) or (
        'nothing stored')


def last_inventory_id(admin):
    ids = admin.model('itsm.inventory', 'search', [], 0, 1,
        [['id', 'DESC']])
    return ids[0] if ids else 0


def lists():
    "The asset lists an asset manager opens, as sao asks for them"
    return {
        'Deployed, by name': ([['state', '=', 'deployed']],
            [['name', 'ASC'], ['id', 'ASC']]),
        'Laptops, last inventory first': ([['kind', '=', 'laptop']],
            [['last_inventory', 'DESC'], ['id', 'DESC']]),
        'In Repair': ([['state', '=', 'repair']],
            [['name', 'ASC'], ['id', 'ASC']]),
        'Search "fleet-0421"': ([['rec_name', 'ilike', '%fleet-0421%']],
            [['name', 'ASC'], ['id', 'ASC']]),
        'All, page 100': ([['active', 'in', [True, False]]],
            [['name', 'ASC'], ['id', 'ASC']]),
        }


def measure_lists(admin, repeat):
    "p50/p95 of each list (80 rows) and of the tabs' counts, in ms"
    def timed(function):
        timings = []
        for _ in range(repeat + 2):
            started = time.perf_counter()
            result = function()
            timings.append((time.perf_counter() - started) * 1000)
        timings = sorted(timings[2:])  # the first ones warm the caches
        return (result, statistics.median(timings),
            timings[max(int(len(timings) * 0.95) - 1, 0)])

    results = {}
    ids = admin.model('itsm.asset', 'search', [], 0, 80, [['id', 'ASC']])
    rows, p50, p95 = timed(lambda: admin.model('itsm.asset', 'read', ids,
            LIST_FIELDS))
    results['baseline: read 80 assets by id'] = (len(rows), p50, p95)
    for name, (domain, order) in lists().items():
        offset = 8000 if 'page 100' in name else 0
        rows, p50, p95 = timed(lambda d=domain, o=order, s=offset:
            admin.model('itsm.asset', 'search_read', d, s, 80, o,
                LIST_FIELDS))
        results[name] = (len(rows), p50, p95)
    tabs = [[['state', '=', s]] for s in
        ['deployed', 'stock', 'repair', 'ordered']]
    count, p50, p95 = timed(lambda: [admin.model('itsm.asset',
                'search_count', d, 0, 1000) for d in tabs])
    results["the tabs' 4 counts (sao, limit 1000)"] = (len(count), p50, p95)
    return results


def run(settings, machines, clients, assets, repeat, size=1):
    print(f"{settings.database}: building the demo database (size {size})…",
        flush=True)
    set_up(settings, reset=True, size=size)
    if assets:
        print(f"{settings.database}: inserting {assets} assets…",
            flush=True)
        started = time.monotonic()
        add_assets(settings, assets)
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix='bench-inventory-'))
    log = workdir / 'server.log'
    log.touch()
    process, base = serve(settings, free_port(), 'smtp://127.0.0.1:9', log)
    fleet = Fleet()
    rows = []
    try:
        admin = Client(base, settings.database, 'admin', DEMO_PASSWORD)
        endpoint, = admin.model('itsm.inventory.endpoint', 'create', [{
                    'name': "Bench", 'company': admin.context['company'],
                    }])
        endpoint, = admin.model('itsm.inventory.endpoint', 'read',
            [endpoint], ['identifier'])
        url = (f'{base}/{settings.database}/itsm_asset/inventory/'
            f'{endpoint["identifier"]}')
        tasks = TaskLog([log], settings)
        prolog = (DATA / 'fusioninventory-prolog.zlib').read_bytes()

        # Warm the caches: the route, parsing, the ORM, the catalog
        warm = range(10**6, 10**6 + 5)
        send_all(url, [fleet.new(n) for n in warm], 1)
        send_all(url, [fleet.again(n) for n in warm], 1)
        send_all(url, [prolog] * 20, 1)
        tasks.read()

        number = 0
        for count in clients:
            numbers = list(range(number, number + machines))
            number += machines
            plan = [
                ('prolog', "PROLOG (baseline)", [prolog] * machines),
                ('first', "first sight, ~800 software",
                    [fleet.new(n) for n in numbers]),
                ('unchanged', "unchanged re-import",
                    [fleet.again(n) for n in numbers]),
                ('change', "re-import, 6 software and 1 IP changed",
                    [fleet.change(n) for n in numbers]),
                ]
            for kind, label, bodies in plan:
                print(f"  {label}, {count} client(s): {len(bodies)} "
                    "requests…", flush=True)
                before = last_inventory_id(admin)
                cpu = cpu_seconds([process])
                elapsed, times, statuses = send_all(url, bodies, count)
                if cpu is not None:
                    cpu = cpu_seconds([process]) - cpu
                durations = tasks.read()
                rows.append({
                        'kind': kind, 'label': label, 'clients': count,
                        'count': len(bodies), 'elapsed': elapsed,
                        'times': times, 'statuses': statuses, 'cpu': cpu,
                        'process': durations.get('process', []),
                        'outcome': ('-' if kind == 'prolog'
                            else outcome(admin, before)),
                        'size': statistics.mean(len(b) for b in bodies),
                        })
                print(f"    {len(bodies) / elapsed:.1f}/s", flush=True)
        print(f"  the asset list, {repeat} times each…", flush=True)
        total = admin.model('itsm.asset', 'search_count',
            [['active', 'in', [True, False]]])
        list_results = measure_lists(admin, repeat)
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows, list_results, total


def report(settings, rows, list_results, total):
    print()
    print(f"{settings.backend}, one `itsm serve` process, {total:,} assets "
        "in the database; targets (DESIGN.md section 6): first sight >= "
        f"{TARGETS['first']}/s, unchanged >= {TARGETS['unchanged']}/s")
    print()
    print("| path | clients | inventories/s | ratio to PROLOG | p50 ms "
        "| p95 ms | server CPU ms/request | processing task ms "
        "| zlib body kB | outcome |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| --- |")
    baseline = {r['clients']: r['count'] / r['elapsed']
        for r in rows if r['kind'] == 'prolog'}
    for row in rows:
        rate = row['count'] / row['elapsed']
        times = row['times']
        cpu = (f"{row['cpu'] / row['count'] * 1000:.1f}"
            if row['cpu'] is not None else '-')
        process = (f"{statistics.mean(row['process']):.0f}"
            if row['process'] else '-')
        errors = {s: n for s, n in row['statuses'].items() if s != 200}
        result = row['outcome'] + (f"; HTTP {errors}" if errors else '')
        target = TARGETS.get(row['kind'])
        label = row['label'] + (f" (target >= {target}/s)" if target
            else '')
        print(f"| {label} | {row['clients']} | {rate:.1f} "
            f"| {rate / baseline[row['clients']]:.2f} "
            f"| {statistics.median(times) * 1000:.0f} "
            f"| {times[max(int(len(times) * 0.95) - 1, 0)] * 1000:.0f} "
            f"| {cpu} | {process} | {row['size'] / 1024:.0f} | {result} |")
    print()
    print(f"| asset list, {total:,} assets (80 rows, sao's fields) | rows "
        "| p50 ms | p95 ms | ratio of p95 to baseline |")
    print("| --- | ---: | ---: | ---: | ---: |")
    base = list_results['baseline: read 80 assets by id'][2]
    for name, (count, p50, p95) in list_results.items():
        print(f"| {name} | {count} | {p50:.0f} | {p95:.0f} "
            f"| {p95 / base:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--database-uri',
        default=os.environ.get('ITSM_DATABASE_URI'),
        help="sqlite:// (default) or postgresql://user@host:port/")
    parser.add_argument('--machines', type=int, default=200,
        help="machines a run (default: %(default)s)")
    parser.add_argument('--clients', type=int, nargs='+', default=[1],
        help="concurrent HTTP clients (default: 1)")
    parser.add_argument('--size', type=int, default=1,
        help="the demo generator's size: its fleet grows with the "
        "employees (default: %(default)s)")
    parser.add_argument('--assets', type=int, default=100_000,
        help="assets added by SQL first (default: %(default)s)")
    parser.add_argument('--repeat', type=int, default=40,
        help="times each asset list is read (default: %(default)s)")
    parser.add_argument('--keep', action='store_true',
        help="keep the database afterwards")
    args = parser.parse_args()
    settings = Settings.from_environ(uri=args.database_uri,
        database='bench_inventory')
    try:
        rows, list_results, total = run(settings, args.machines,
            args.clients, args.assets, args.repeat, size=args.size)
    finally:
        if not args.keep:
            drop_database(settings)
            settings.remove_config()
            shutil.rmtree(settings.db_path / settings.database,
                ignore_errors=True)
    report(settings, rows, list_results, total)


if __name__ == '__main__':
    sys.exit(main())
