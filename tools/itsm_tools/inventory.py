"""`itsm inventory import`: import inventory files in bulk.

    itsm inventory import [--endpoint NAME] [--batch N] FILE|DIR...

reads the files an agent writes with --local (.ocs, .xml, .json, also
gzipped or zlib-compressed; folders are searched), and gives each to the
endpoint's company as if the agent had sent it over HTTP, calling the same
model methods as the server does (itsm.inventory receive, then process)
in batches: one transaction stores a batch, another applies it, set-based.
A file that cannot be used is kept as a failed inventory with its reason,
for an administrator, like a bad request of an agent. Prints a progress
bar (lines when the output is not a terminal) and a summary; exits with 1
when an inventory failed or matched several assets, 2 when nothing could
be imported at all.
"""
import os
import sys
import time
from collections import Counter
from pathlib import Path

from .settings import SetupError

SUFFIXES = ('.ocs', '.xml', '.json')
COMPRESSED = ('.gz', '.zlib')
OUTCOMES = ['created', 'updated', 'unchanged', 'unmatched', 'failed']


def collect(paths):
    """The inventory files among paths, folders searched recursively, in
    a stable order; raise SetupError for a path that does not exist"""
    files = []
    for path in map(Path, paths):
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob('*')
                    if p.is_file() and _is_inventory(p)))
        elif path.is_file():
            files.append(path)
        else:
            raise SetupError(f"no such file or folder: {path}")
    seen = set()
    return [f for f in files
        if not (f.resolve() in seen or seen.add(f.resolve()))]


def _is_inventory(path):
    name = path.name.lower()
    for suffix in COMPRESSED:
        if name.endswith(suffix):
            name = name[:-len(suffix)]
    return name.endswith(SUFFIXES)


class Progress:
    "A progress bar on a terminal, a line a batch otherwise"

    def __init__(self, total, stream=None, width=30):
        self.total = total
        self.stream = stream or sys.stdout
        self.width = width
        self.tty = self.stream.isatty()
        self.started = time.monotonic()

    def line(self, done, counts):
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = done / elapsed
        summary = '  '.join(f'{n} {counts.get(n, 0)}' for n in OUTCOMES)
        return f'{done}/{self.total} files  {summary}  ({rate:.1f}/s)'

    def update(self, done, counts):
        text = self.line(done, counts)
        if self.tty:
            filled = self.width * done // max(self.total, 1)
            bar = '#' * filled + '-' * (self.width - filled)
            self.stream.write(f'\r[{bar}] {text}\x1b[K')
            if done >= self.total:
                self.stream.write('\n')
        else:
            self.stream.write(f'itsm: inventory import: {text}\n')
        self.stream.flush()


def import_files(database, files, endpoint=None, batch=50, progress=None):
    """Import the inventory files into the database (initialised pool
    expected): return the Counter of outcomes and the (file, reason) of
    those kept failed or unmatched"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    pool = Pool(database)
    Endpoint = pool.get('itsm.inventory.endpoint')
    Inventory = pool.get('itsm.inventory')
    counts = Counter()
    problems = []
    with Transaction().start(database, 0, readonly=True):
        endpoint_id = find_endpoint(Endpoint, endpoint).id
    for start in range(0, len(files), batch):
        chunk = files[start:start + batch]
        stored = {}
        with Transaction().start(database, 0) as transaction:
            target = Endpoint(endpoint_id)
            for path in chunk:
                inventory, outcome = receive_file(Inventory, target, path)
                if outcome == 'unchanged':
                    counts['unchanged'] += 1
                else:
                    stored[inventory.id] = path
            transaction.commit()
        received = list(stored)
        try:
            with Transaction().start(database, 0) as transaction:
                Inventory.process_batch([i for i in Inventory.browse(received)
                        if i.state == 'received'])
                transaction.commit()
        except Exception:
            # One of them is broken: each on its own, the culprit kept
            # failed with the error
            for inventory_id in received:
                process_one(database, Inventory, inventory_id)
        with Transaction().start(database, 0, readonly=True):
            for inventory in Inventory.browse(received):
                outcome = outcome_of(inventory)
                counts[outcome] += 1
                if outcome in {'failed', 'unmatched'}:
                    problems.append((stored[inventory.id], inventory.reason))
        if progress:
            progress.update(min(start + batch, len(files)), counts)
    return counts, problems


def find_endpoint(Endpoint, name=None):
    "The endpoint named (name or identifier), or the only one"
    if name:
        endpoints = Endpoint.search(['OR',
                ('name', '=', name), ('identifier', '=', name)])
    else:
        endpoints = Endpoint.search([])
    if len(endpoints) == 1:
        return endpoints[0]
    if not endpoints:
        if name:
            raise SetupError(f"no inventory endpoint named {name!r}")
        raise SetupError("no inventory endpoint: create one in Service "
            "Desk > Configuration > Inventory Endpoints (it gives the "
            "company and the matching rules)")
    raise SetupError("several inventory endpoints, choose one with "
        "--endpoint: " + ', '.join(repr(e.name) for e in endpoints))


def receive_file(Inventory, endpoint, path):
    "Store the file's inventory as the server stores an agent's"
    from itsm_asset.agent_protocol import ProtocolError, decode_body
    from itsm_asset.routes import body_encoding
    agent = _short(f'file {path}')
    try:
        with open(path, 'rb') as file:
            data = file.read(endpoint.max_size + 1)
    except OSError as error:
        return Inventory.refuse(endpoint, b'', 'unreadable',
            f'The file cannot be read: {error.strerror}.',
            agent=agent), 'failed'
    if len(data) > endpoint.max_size:
        return Inventory.refuse(endpoint, data, 'too_large',
            f'The file is larger than {endpoint.max_size:,} bytes, the '
            'limit of the endpoint.', stored_as=body_encoding(data),
            agent=agent), 'failed'
    try:
        payload, _ = decode_body(data, 'application/x-compress',
            endpoint.max_size)
    except ProtocolError as error:
        return Inventory.refuse(endpoint, data, error.reason,
            error.message, stored_as=body_encoding(data),
            agent=agent), 'failed'
    # Processed in the next transaction: the catalog is prepared now
    return Inventory.receive(endpoint, payload, agent=agent, queue=False,
        prepare=True)


def process_one(database, Inventory, inventory_id):
    from trytond.transaction import Transaction
    try:
        with Transaction().start(database, 0) as transaction:
            inventory = Inventory(inventory_id)
            if inventory.state == 'received':
                Inventory.process_batch([inventory])
            transaction.commit()
    except Exception as exception:
        with Transaction().start(database, 0) as transaction:
            Inventory.fail(Inventory(inventory_id), exception)
            transaction.commit()


def outcome_of(inventory):
    if inventory.state == 'done':
        return 'created' if inventory.asset_created else 'updated'
    return inventory.state


def _short(text, length=250):
    return text if len(text) <= length else '…' + text[-(length - 1):]


def import_command(settings, paths, endpoint=None, batch=50, stream=None):
    """Run the import in this process on the settings' database; return
    the exit status"""
    stream = stream or sys.stdout
    if batch < 1:
        raise SetupError("the batch size is at least 1")
    files = collect(paths)
    if not files:
        raise SetupError("no inventory file (.ocs, .xml, .json, gzipped or "
            "not) in " + ' '.join(map(str, paths)))
    os.environ['TRYTOND_CONFIG'] = str(settings.config_file)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    Pool.start()
    pool = Pool(settings.database)
    with Transaction().start(settings.database, 0, readonly=True):
        pool.init()
    try:
        pool.get('itsm.inventory')
    except KeyError:
        raise SetupError(f"the database {settings.database!r} has no "
            "asset module (itsm_asset)")
    started = time.monotonic()
    counts, problems = import_files(settings.database, files,
        endpoint=endpoint, batch=batch, progress=Progress(len(files),
            stream))
    elapsed = time.monotonic() - started
    for path, reason in problems:
        stream.write(f'itsm: {path}: {reason}\n')
    stream.write(f"itsm: imported {len(files)} file(s) in {elapsed:.1f} s: "
        + ', '.join(f'{counts.get(n, 0)} {n}' for n in OUTCOMES) + '\n')
    if problems:
        stream.write("itsm: the failed and unmatched inventories are kept "
            "in Service Desk > Assets > Inventories > To Review\n")
    stream.flush()
    if counts.get('failed', 0) + counts.get('unmatched', 0) == len(files):
        return 2
    return 1 if problems else 0
