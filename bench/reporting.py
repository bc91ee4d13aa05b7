"""How fast the Service Desk's reports answer on many tickets.

Builds a database (SQLite, or PostgreSQL with ITSM_DATABASE_URI), inserts the
tickets by SQL, spread over two years, then times each report as the web
client asks for it (search, then read of the rows) as a Service Desk Manager
with access checks on, over the last twelve months. The baseline is counting
the tickets the manager may read, in the same run.
"""
import argparse
import datetime as dt
import os
import random
import statistics
import time

from itsm_tools.cli import create_database, drop_database
from itsm_tools.settings import Settings

REPORTS = [
    'itsm.ticket.reporting.backlog.state',
    'itsm.ticket.reporting.backlog.priority',
    'itsm.ticket.reporting.volume',
    'itsm.ticket.reporting.resolution_time',
    'itsm.ticket.reporting.resolution_time.priority',
    'itsm.ticket.reporting.sla',
    ]
TYPES = ['incident'] * 6 + ['request'] * 3 + ['problem', 'change', 'release']
OPEN_STATES = {
    'incident': ['new', 'assigned', 'in_progress', 'pending'],
    'request': ['new', 'assigned', 'in_progress', 'pending'],
    'problem': ['new', 'analysis', 'known_error'],
    'change': ['draft', 'assessment', 'awaiting_approval', 'scheduled'],
    'release': ['planned', 'build', 'test', 'deploy'],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--tickets', type=int, default=200_000)
    parser.add_argument('--repeat', type=int, default=5)
    args = parser.parse_args()

    settings = Settings.from_environ(database='bench_reporting')
    settings.write_config()
    drop_database(settings)
    create_database(settings)
    try:
        rows = measure(settings, args.tickets, args.repeat)
    finally:
        drop_database(settings)

    baseline = rows[0][2]
    print()
    print(f"{args.tickets} tickets on {settings.backend}, median of "
        f"{args.repeat} runs")
    print()
    print("| what | rows | ms | ratio to counting the tickets |")
    print("| --- | ---: | ---: | ---: |")
    for name, count, elapsed in rows:
        print(f"| {name} | {count} | {elapsed * 1000:.0f} "
            f"| {elapsed / baseline:.2f} |")


def measure(settings, tickets, repeat):
    os.environ['TRYTOND_CONFIG'] = str(settings.config_file)
    from trytond.pool import Pool
    from trytond.transaction import Transaction, check_access

    Pool.start()
    pool = Pool(settings.database)
    with Transaction().start(settings.database, 0, readonly=True):
        pool.init()
    with Transaction().start(settings.database, 0) as transaction:
        company, manager = insert_tickets(pool, tickets)
        transaction.connection.cursor().execute('ANALYZE')
        transaction.commit()

    today = dt.date.today()
    context = {
        'company': company,
        'from_date': today.replace(day=1) - dt.timedelta(days=335),
        'to_date': today,
        'period': 'month',
        }

    def timed(function):
        times = []
        for _ in range(repeat):
            with Transaction().start(settings.database, manager,
                    readonly=True, context=context), check_access():
                started = time.perf_counter()
                result = function()
                times.append(time.perf_counter() - started)
        return result, statistics.median(times)

    def count_tickets():
        return pool.get('itsm.ticket').search([], count=True)

    def report(name):
        def run():
            Report = pool.get(name)
            ids = list(map(int, Report.search([])))
            fields = [f for f in Report._fields if f not in {
                    'create_uid', 'create_date', 'write_uid', 'write_date',
                    'rec_name'}]
            return len(Report.read(ids, fields))
        return run

    rows = [("counting the tickets", *timed(count_tickets))]
    for name in REPORTS:
        rows.append((name, *timed(report(name))))
    return rows


def insert_tickets(pool, number):
    "Insert the tickets by SQL; return the company and a manager's ids"
    from trytond.modules.company.tests import create_company
    from trytond.transaction import Transaction

    Ticket = pool.get('itsm.ticket')
    Category = pool.get('itsm.ticket.category')
    Team = pool.get('itsm.team')
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')

    company = create_company()
    manager, = User.create([{
                'login': 'bench_manager', 'name': "Manager",
                'companies': [('add', [company.id])],
                'company': company.id,
                'groups': [('add', [
                            ModelData.get_id('itsm_ticket', 'group_manager')
                            ])],
                }])
    categories = [c.id for c in Category.create([
                {'name': f"Category {i}"} for i in range(20)])] + [None]
    with Transaction().set_context(company=company.id):
        teams = [t.id for t in Team.create([
                    {'name': f"Team {i}", 'company': company.id}
                    for i in range(5)])] + [None]

    rng = random.Random(2026)
    now = dt.datetime.now().replace(microsecond=0)
    table = Ticket.__table__()
    columns = [
        'number', 'type', 'subject', 'channel', 'company', 'state',
        'impact', 'urgency', 'priority', 'priority_manual',
        'escalation_level', 'category', 'team', 'create_uid', 'create_date',
        'resolved_at', 'response_breached', 'resolution_breached',
        ]
    cursor = Transaction().connection.cursor()
    started = time.monotonic()
    batch = []
    for i in range(number):
        type_ = rng.choice(TYPES)
        created = now - dt.timedelta(seconds=rng.randrange(730 * 86400))
        resolved = None
        if rng.random() < 0.1:
            state = rng.choice(OPEN_STATES[type_])
        elif type_ in {'incident', 'request', 'problem'}:
            state = rng.choice(['resolved', 'closed', 'closed', 'cancelled'])
            if state != 'cancelled':
                resolved = min(now, created + dt.timedelta(
                        hours=rng.expovariate(1 / 30)))
        else:
            state = rng.choice(['closed', 'cancelled'])
        sla = rng.random() < 0.8
        batch.append([
                f'B{i:07d}', type_, f"Ticket {i}", 'backend', company.id,
                state, '2', '2', rng.choice('12345'), False, 0,
                rng.choice(categories), rng.choice(teams), 0, created,
                resolved,
                rng.random() < 0.1 if sla else None,
                rng.random() < 0.15 if sla else None,
                ])
        if len(batch) == 1000:
            cursor.execute(*table.insert(
                    [getattr(table, c) for c in columns], batch))
            batch = []
    if batch:
        cursor.execute(*table.insert(
                [getattr(table, c) for c in columns], batch))
    print(f"{number} tickets inserted in {time.monotonic() - started:.1f} s",
        flush=True)
    return company.id, manager.id


if __name__ == '__main__':
    main()
