"""The agent's ticket lists on a large database, through the real server.

Builds a demo database on PostgreSQL, adds tickets in bulk with one SQL
statement (the demo generator's ORM path is for realistic small data), then
serves it and times, over JSON-RPC as the demo agent, what sao asks for when
an agent opens a list: `search_read` of 80 rows, filtered and sorted, with
the list view's fields. The baseline is the same list on the demo database
with its few tickets, measured in the same run. It also times ticket creation
through RPC on both databases.

    .venv/bin/python bench/ticket_list.py \\
        --database-uri postgresql://postgres@127.0.0.1:5433/ --tickets 200000
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request

from itsm_tools.cli import drop_database, set_up
from itsm_tools.demo import DEMO_PASSWORD
from itsm_tools.rpc import Client
from itsm_tools.settings import Settings

LIST_FIELDS = [
    'number', 'subject', 'type', 'priority', 'state', 'category.rec_name',
    'requester.rec_name', 'team.rec_name', 'assignee.rec_name',
    'create_date', 'sla_next_due', 'location.rec_name', 'company.rec_name',
    ]
OPEN = ['state', 'not in', ['resolved', 'closed', 'cancelled', 'rejected']]
ORDER = [['priority', 'ASC'], ['create_date', 'DESC'], ['id', 'DESC']]


def lists(agent_id, team_ids):
    "The lists an agent opens from the menu, as sao asks for them"
    return {
        'All Open': [OPEN],
        'My Tickets': [['assignee', '=', agent_id], OPEN],
        'Team Queue': [['team', 'in', team_ids], OPEN],
        'Unassigned': [['assignee', '=', None], OPEN],
        # A word of one ticket in five, then a rare one (about ten tickets).
        'Search "printer"': [['rec_name', 'ilike', '%printer%']],
        'Search "floor 1999"': [['rec_name', 'ilike', '%floor 1999%']],
        'Incidents, critical': [
            ['type', '=', 'incident'], ['priority', '=', '1'], OPEN],
        }


def bulk_tickets(settings, count):
    "Insert count tickets in one statement, spread over every value"
    import psycopg

    from itsm_tools.cli import _postgresql_params
    statement = """
    WITH
        categories AS (SELECT array_agg(id ORDER BY id) AS ids
            FROM itsm_ticket_category WHERE parent IS NOT NULL),
        parties AS (SELECT array_agg(party ORDER BY id) AS ids
            FROM company_employee),
        agents AS (SELECT array_agg(u.id ORDER BY u.id) AS ids
            FROM res_user u WHERE u.login IN
                ('agent', 'editor', 'manager', 'assets')),
        teams AS (SELECT array_agg(id ORDER BY id) AS ids FROM itsm_team),
        rooms AS (SELECT array_agg(id ORDER BY id) AS ids
            FROM itsm_location WHERE kind = 'room'),
        states AS (SELECT ARRAY['new', 'assigned', 'in_progress', 'pending',
            'resolved', 'closed', 'closed', 'closed', 'closed', 'closed',
            'cancelled'] AS v)
    INSERT INTO itsm_ticket (number, type, subject, channel, company, state,
        category, impact, urgency, priority, priority_manual, requester,
        team, assignee, location, escalation_level, sla_warned,
        create_uid, create_date)
    SELECT 'B-' || lpad(g::text, 7, '0'),
        (ARRAY['incident', 'incident', 'incident', 'request', 'request',
            'problem'])[1 + g %% 6],
        (ARRAY['Printer jam on floor ', 'VPN drops in room ',
            'Laptop battery dead, desk ', 'Outlook crashes, PC ',
            'New monitor for desk '])[1 + g %% 5] || g,
        'email', 1, states.v[1 + (g * 7) %% 11],
        categories.ids[1 + g %% array_length(categories.ids, 1)],
        (1 + g %% 3)::text, (1 + (g / 3) %% 3)::text,
        (1 + (g %% 3) + ((g / 3) %% 3))::text, false,
        parties.ids[1 + g %% array_length(parties.ids, 1)],
        teams.ids[1 + g %% array_length(teams.ids, 1)],
        CASE WHEN g %% 5 = 0 THEN NULL
            ELSE agents.ids[1 + g %% array_length(agents.ids, 1)] END,
        rooms.ids[1 + g %% array_length(rooms.ids, 1)],
        0, false, 0,
        now() - (g || ' minutes')::interval
    FROM generate_series(1, %s) AS g,
        categories, parties, agents, teams, rooms, states
    """
    with psycopg.connect(dbname=settings.database,
            **_postgresql_params(settings)) as connection:
        connection.execute(statement, (count,))
        connection.execute('ANALYZE itsm_ticket')


def serve(settings, port):
    env = settings.environ()
    env.update(ITSM_DATABASE_URI=settings.database_uri,
        ITSM_DATABASE=settings.database, ITSM_PORT=str(port),
        ITSM_HOST='127.0.0.1', TRYTOND_LOGGING_LEVEL='40')
    process = subprocess.Popen(
        [sys.executable, '-m', 'itsm_tools.cli', 'serve'], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f'http://127.0.0.1:{port}'
    for _ in range(300):
        try:
            urllib.request.urlopen(f'{base}/portal/health').close()
            return process, base
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start")


def measure(client, domain, repeat):
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        rows = client.call('model.itsm.ticket.search_read', domain, 0, 80,
            ORDER, LIST_FIELDS, client.context)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        'rows': len(rows),
        'p50': statistics.median(timings),
        'p95': timings[int(len(timings) * 0.95) - 1],
        }


def creation_rate(client, count):
    started = time.perf_counter()
    for n in range(count):
        client.call('model.itsm.ticket.create', [{
                    'subject': f"Bench ticket {n}", 'impact': '2',
                    'urgency': '2'}], client.context)
    return count / (time.perf_counter() - started)


def run(settings, tickets, port, repeat):
    print(f"{settings.database}: building the demo database…", flush=True)
    set_up(settings, reset=True, size=1)
    if tickets:
        print(f"{settings.database}: inserting {tickets} tickets…",
            flush=True)
        started = time.monotonic()
        bulk_tickets(settings, tickets)
        print(f"  done in {time.monotonic() - started:.1f} s", flush=True)
    process, base = serve(settings, port)
    try:
        client = Client(base, settings.database, 'agent', DEMO_PASSWORD)
        teams = client.call('model.itsm.team.search', [], 0, None, None,
            client.context)
        results = {}
        for name, domain in lists(client.uid, teams).items():
            measure(client, domain, 3)  # warm the caches
            results[name] = measure(client, domain, repeat)
        results['create'] = creation_rate(client, 50)
        return results
    finally:
        process.terminate()
        process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--database-uri',
        default=os.environ.get('ITSM_DATABASE_URI'), required=False)
    parser.add_argument('--tickets', type=int, default=200_000)
    parser.add_argument('--repeat', type=int, default=40)
    parser.add_argument('--port', type=int, default=8765)
    parser.add_argument('--keep', action='store_true',
        help="keep the databases afterwards")
    args = parser.parse_args()
    if not (args.database_uri or '').startswith('postgresql://'):
        raise SystemExit("give --database-uri postgresql://…/ "
            "(the target is set for PostgreSQL)")
    small = Settings.from_environ(uri=args.database_uri,
        database='bench_list_small')
    large = Settings.from_environ(uri=args.database_uri,
        database='bench_list_large')
    baseline = run(small, 0, args.port, args.repeat)
    measured = run(large, args.tickets, args.port + 1, args.repeat)
    if not args.keep:
        drop_database(small)
        drop_database(large)

    print()
    print(f"| list (80 rows) | rows | p50 ms | p95 ms, {args.tickets} tickets "
        "| p95 ms, demo | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, result in measured.items():
        if name == 'create':
            continue
        base = baseline[name]
        print(f"| {name} | {result['rows']} | {result['p50']:.1f} "
            f"| {result['p95']:.1f} | {base['p95']:.1f} "
            f"| {result['p95'] / base['p95']:.2f} |")
    print()
    print("| ticket creation through RPC (one call each) | tickets/s |")
    print("| --- | ---: |")
    print(f"| demo database | {baseline['create']:.1f} |")
    print(f"| {args.tickets} tickets | {measured['create']:.1f} |")


if __name__ == '__main__':
    main()
