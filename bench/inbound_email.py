"""How many emails a second the Service Desk turns into tickets and replies.

Builds a demo database (SQLite, or PostgreSQL with --database-uri or
ITSM_DATABASE_URI), registers known senders (parties with an email address),
serves it with `itsm serve` and POSTs messages to the Service Desk mailbox's
inbound_email webhook over HTTP as `itsm-mailgate` does for an MTA (one
connection a message), from 1 and 4 clients at once. With --servers N, N
server processes share the database and the clients spread over them, as
behind a load balancer: one process runs Python on one core at a time.

The server runs as shipped ([queue] worker = False): a request stores the
message and commits, then runs the queued task that parses and threads it,
opens the ticket or adds the reply and queues the acknowledgement; the
acknowledgement's own task then sends it, in the same request, to an SMTP
sink (aiosmtpd) in this process. The SMTP send is not part of the target
path, so the table shows it apart: the mean time of the processing and of
the delivery tasks, from the server's task log, and the rate without the
delivery tasks, N / (elapsed - their total time / clients), exact for one
client and an estimate for more. The server CPU time per message (the
workers' included) comes from /proc and is steadier than the rates on a
busy machine. With --workers K (PostgreSQL) trytond-worker instances run
the queue, with --queue-in-server (SQLite) a thread of each server does
([queue] worker = True): the requests only store and queue, each run waits
until the queue is empty, and the delivery time is divided by the K
workers or the servers.

The mixes: new tickets from known senders (half plain text, half text and
HTML), replies threaded by In-Reply-To (half to the acknowledgement, half to
the requester's own first message), new tickets with a 60 kB attachment, and
a realistic mix (6 new, 3 replies, 1 with an attachment in 10). The baseline
is the same webhook on the same server into a mailbox without company:
Tryton's inbound_email stores the message and nothing processes it. Each
sender stays under the mailbox's and the acknowledgements' hourly limits, and
the outcome column shows what became of the messages.

With --history N, N closed tickets of the past, with their messages,
received emails and people, are inserted by SQL first: a search that reads
every row (an index missing or not matching the query) shows.

With --workers K the servers run as in production ([queue] worker = True):
a request only stores the message and queues the processing task of its
company unless one is waiting already, and K trytond-worker instances (-n 1
each) process the queue: a processing task takes the received messages in
batches, and a delivery task sends up to 20 acknowledgements. A run lasts
until the queue is empty (the acknowledgements sent), and the rate without
delivery is estimated as N / (elapsed - the delivery tasks' total time / K),
the delivery tasks being spread over the K workers; the task columns give
each kind's mean duration and count.

    .venv/bin/python bench/inbound_email.py --messages 200
    .venv/bin/python bench/inbound_email.py --messages 200 --servers 2 \\
        --history 100000 \\
        --database-uri postgresql://postgres@127.0.0.1:5433/
    .venv/bin/python bench/inbound_email.py --messages 200 --workers 4 \\
        --database-uri postgresql://postgres@127.0.0.1:5433/
"""
import argparse
import collections
import datetime as dt
import email
import email.policy
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from itsm_tools.cli import drop_database, set_up
from itsm_tools.demo import DEMO_PASSWORD
from itsm_tools.rpc import Client
from itsm_tools.settings import Settings
from itsm_tools.testing import SMTPSink, free_port

TARGETS = {'sqlite': 30, 'postgresql': 60}
DOMAIN = 'oriale.example'
SENDER_DOMAIN = 'mail.oriale.example'
SUBJECTS = [
    "Printer on floor {n} prints blank pages",
    "VPN drops every few minutes",
    "Outlook asks for my password again and again",
    "Cannot open the shared drive S:",
    "Laptop battery empty after an hour",
    "New starter next Monday needs an account",
    "Teams camera not detected",
    "Invoice scanner is slow since the update",
    ]
BODY = (
    "Hello,\n\n{subject} since this morning. I restarted the computer "
    "twice and it did not help. Colleagues in room {n} have the same "
    "problem, so it is probably not only my machine.\n\n"
    "Could you have a look today? I am at my desk until 17:00, phone "
    "extension {n}.\n\nThank you,\n{name}\n--\n{name}\nOriale, "
    "Accounting\n")
HTML = (
    "<html><body><p>Hello,</p><p>{subject} since this morning. I restarted "
    "the computer twice and it did not help. Colleagues in room {n} have "
    "the same problem, so it is probably not only my machine.</p><p>Could "
    "you have a look today? I am at my desk until 17:00, phone extension "
    "{n}.</p><p>Thank you,<br>{name}</p><div style=\"color:#777\">--<br>"
    "{name}<br>Oriale, Accounting</div></body></html>")
LOG_CONFIG = """\
[loggers]
keys=root,worker
[handlers]
keys=file
[formatters]
keys=plain
[logger_root]
level=WARNING
handlers=file
[logger_worker]
level=INFO
handlers=
qualname=trytond.worker
[handler_file]
class=FileHandler
args=({path!r}, 'a')
formatter=plain
[formatter_plain]
format=%(asctime)s %(levelname)s %(name)s %(message)s
"""
_TASK_LINE = re.compile(r'<Task (\d+)@[^>]*> in (\d+) ms')


class Mail:
    "Writes the messages of the run: new tickets, replies, attachments"

    def __init__(self, service_desk, senders, seed=2026):
        self.service_desk = service_desk
        self.senders = senders
        self.rng = random.Random(seed)
        self.count = 0
        # The first messages and our answers to them, to reply to.
        self.originals = {}
        self.threads = []

    def _next_sender(self):
        self.count += 1
        return self.senders[self.count % len(self.senders)]

    def _message(self, name, address, subject, to=None):
        message = EmailMessage()
        message['From'] = f'{name} <{address}>'
        message['To'] = to or self.service_desk
        message['Subject'] = subject
        message['Date'] = format_datetime(dt.datetime.now(dt.UTC))
        message['Message-ID'] = make_msgid(domain=SENDER_DOMAIN)
        message['MIME-Version'] = '1.0'
        return message

    def new_ticket(self, attachment=False):
        name, address = self._next_sender()
        n = self.rng.randrange(1, 999)
        subject = self.rng.choice(SUBJECTS).format(n=n) + f" ({self.count})"
        message = self._message(name, address, subject)
        values = {'subject': subject, 'n': n, 'name': name}
        message.set_content(BODY.format(**values))
        if attachment or self.count % 2:
            message.add_alternative(HTML.format(**values), subtype='html')
        if attachment:
            message.add_attachment(self.rng.randbytes(60_000),
                maintype='image', subtype='png',
                filename=f'screenshot-{self.count}.png')
        self.originals[message['Message-ID']] = (name, address, subject)
        return message.as_bytes()

    def learn(self, sent):
        "Read the acknowledgements the sink got, to reply to them"
        for _, _, raw in sent:
            ack = email.message_from_bytes(raw, policy=email.policy.default)
            original = str(ack.get('In-Reply-To', '')).strip()
            if original in self.originals:
                self.threads.append((original, str(ack['Message-ID']),
                        str(ack['Subject']), str(ack['Reply-To'])))

    def reply(self):
        original, ack_id, ack_subject, reply_to = self.rng.choice(
            self.threads)
        name, address, subject = self.originals[original]
        self.count += 1
        if self.count % 2:
            # An answer to our acknowledgement, to its plus address.
            message = self._message(
                name, address, f'Re: {ack_subject}', to=reply_to)
            message['In-Reply-To'] = ack_id
            message['References'] = f'{original} {ack_id}'
            quoted = "> Your request was registered."
        else:
            # The requester adds something to the first message.
            message = self._message(name, address, f'Re: {subject}')
            message['In-Reply-To'] = original
            message['References'] = original
            quoted = f"> {subject}"
        message.set_content(
            "One more thing: it also happens on my colleague's computer, "
            f"and the error code is 0x{self.count:08x}.\n\n{name}\n\n"
            f"{quoted}\n")
        return message.as_bytes()

    def mix(self, kind, count):
        "count messages of the kind"
        if kind == 'new':
            return [self.new_ticket() for _ in range(count)]
        if kind == 'reply':
            return [self.reply() for _ in range(count)]
        if kind == 'attachment':
            return [self.new_ticket(attachment=True) for _ in range(count)]
        messages = []
        for i in range(count):
            if i % 10 == 9:
                messages.append(self.new_ticket(attachment=True))
            elif i % 10 in {2, 5, 8}:
                messages.append(self.reply())
            else:
                messages.append(self.new_ticket())
        return messages


MIXES = [
    ('new', "new tickets, known senders"),
    ('reply', "replies by In-Reply-To"),
    ('attachment', "new tickets, 60 kB attachment"),
    ('mix', "mix: 60% new, 30% replies, 10% attachment"),
    ]


def post(url, data):
    "POST one message as itsm-mailgate does; return the status and time"
    request = urllib.request.Request(url, data=data, method='POST',
        headers={'Content-Type': 'message/rfc822'})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError as error:
        status = type(error).__name__
    return status, time.perf_counter() - started


def send_all(urls, messages, clients):
    """Post the messages from clients threads, spread over the urls (one a
    server); return the elapsed time, the times and the statuses"""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as executor:
        results = list(executor.map(
                lambda args: post(urls[args[0] % len(urls)], args[1]),
                enumerate(messages)))
    elapsed = time.perf_counter() - started
    return elapsed, [t for _, t in results], collections.Counter(
        s for s, _ in results)


def cpu_seconds(processes):
    """The CPU time the processes and the other processes of their groups
    (a worker's pool) used so far (Linux), or None"""
    groups = {p.pid for p in processes}
    total = 0
    try:
        for pid in filter(str.isdigit, os.listdir('/proc')):
            try:
                with open(f'/proc/{pid}/stat') as stat:
                    # after the command name in parentheses: the process
                    # group, then utime and stime
                    fields = stat.read().rpartition(')')[2].split()
            except FileNotFoundError:
                continue
            if int(pid) in groups or int(fields[2]) in groups:
                total += int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None
    return total / os.sysconf('SC_CLK_TCK')


def serve(settings, port, smtp_uri, log):
    "Start `itsm serve` on the database; its task durations go to log"
    log_config = log.with_suffix('.ini')
    log_config.write_text(LOG_CONFIG.format(path=str(log)))
    env = settings.environ()
    env.update(ITSM_DATABASE_URI=settings.database_uri,
        ITSM_DATABASE=settings.database, ITSM_PORT=str(port),
        ITSM_HOST='127.0.0.1', TRYTOND_EMAIL__URI=smtp_uri,
        TRYTOND_LOGGING_CONFIG=str(log_config))
    with open(log.with_suffix('.out'), 'w') as output:
        process = subprocess.Popen(
            [sys.executable, '-m', 'itsm_tools.cli', 'serve'], env=env,
            stdout=output, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    for _ in range(600):
        try:
            urllib.request.urlopen(f'{base}/portal/health').close()
            return process, base
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not start:\n"
        + log.with_suffix('.out').read_text()[-2000:])


def start_worker(settings, log):
    "Start one trytond-worker instance of one process; its log goes to log"
    log_config = log.with_suffix('.ini')
    log_config.write_text(LOG_CONFIG.format(path=str(log)))
    worker = Path(sys.executable).with_name('trytond-worker')
    with open(log.with_suffix('.out'), 'w') as output:
        # A group of its own: its pool's processes stop with it.
        return subprocess.Popen(
            [str(worker), '-c', str(settings.config_file),
                '-d', settings.database, '-n', '1',
                '--logconf', str(log_config)],
            env=settings.environ(), stdout=output, stderr=subprocess.STDOUT,
            start_new_session=True)


def last_task_id(settings):
    connection, _ = connect(settings)
    with closing(connection):
        cursor = connection.cursor()
        cursor.execute('SELECT MAX(id) FROM ir_queue')
        last, = cursor.fetchone()
        return last or 0


def wait_for_queue(settings, after_id, timeout=600):
    """Wait until the tasks queued after after_id are done, and the
    received messages processed: a message stored while the processing task
    of its company was waiting queues none, and that task may be older"""
    connection, mark = connect(settings)
    with closing(connection):
        for _ in range(timeout * 20):
            cursor = connection.cursor()
            cursor.execute('SELECT COUNT(*) FROM ir_queue '
                'WHERE finished_at IS NULL '
                f"AND (id > {mark} OR name = 'itsm_email')", (after_id,))
            pending, = cursor.fetchone()
            cursor.execute("SELECT COUNT(*) FROM inbound_email "
                "WHERE state = 'received'")
            pending += cursor.fetchone()[0]
            connection.rollback()
            if not pending:
                return
            time.sleep(0.05)
    raise SystemExit("the workers did not empty the queue")


class TaskLog:
    "The durations of the queued tasks, from the servers' logs"

    def __init__(self, paths, settings):
        self.offsets = dict.fromkeys(paths, 0)
        self.settings = settings

    def read(self):
        "method -> list of milliseconds, of the tasks run since last read"
        durations = {}
        for path, offset in self.offsets.items():
            with open(path) as log:
                log.seek(offset)
                text = log.read()
                self.offsets[path] = log.tell()
            durations.update(
                (int(i), int(ms)) for i, ms in _TASK_LINE.findall(text))
        by_method = collections.defaultdict(list)
        for task_id, data in self._tasks(list(durations)):
            if isinstance(data, str):
                data = json.loads(data)
            by_method[data['method']].append(durations[task_id])
        return by_method

    def _tasks(self, ids):
        "The id and data of the tasks (ir.queue is not readable over RPC)"
        if not ids:
            return []
        connection, _ = connect(self.settings)
        with closing(connection), connection:
            return connection.execute('SELECT id, data FROM ir_queue '
                f'WHERE id IN ({", ".join(map(str, ids))})').fetchall()


def connect(settings):
    "A connection to the database, and the placeholder of its parameters"
    if settings.backend == 'sqlite':
        return sqlite3.connect(
            settings.db_path / f'{settings.database}.sqlite'), '?'
    import psycopg

    from itsm_tools.cli import _postgresql_params
    return psycopg.connect(dbname=settings.database,
        **_postgresql_params(settings)), '%s'


def add_history(settings, count):
    """Insert by SQL what a Service Desk keeps: count closed tickets of the
    past with five messages each, three received emails a ticket and a
    person for five tickets, so that a search that reads every row shows"""
    now = dt.datetime.now().replace(microsecond=0)
    people = max(1, count // 5)
    connection, mark = connect(settings)

    def insert(table, columns, rows):
        connection.cursor().executemany(
            f'INSERT INTO {table} ({", ".join(columns)}) '
            f'VALUES ({", ".join([mark] * len(columns))})', rows)

    def person(n):
        return f'person.{n % people:06d}@{DOMAIN}'

    def created(n):
        return now - dt.timedelta(minutes=90 + n)

    with closing(connection), connection:
        cursor = connection.cursor()
        cursor.execute('SELECT id FROM inbound_email_inbox '
            'WHERE company IS NOT NULL ORDER BY id')
        inbox = cursor.fetchone()[0]
        cursor.execute('SELECT company FROM inbound_email_inbox '
            f'WHERE id = {inbox}')
        company = cursor.fetchone()[0]
        insert('party_party', ['name', 'code', 'active', 'create_uid',
                'create_date'],
            [(f"Person {n}", f'H{n:06d}', True, 0, now)
                for n in range(people)])
        cursor.execute(
            "SELECT id, code FROM party_party WHERE code LIKE 'H%'")
        insert('party_contact_mechanism', ['party', 'type', 'value',
                'active', 'create_uid', 'create_date'],
            [(party, 'email', person(int(code[1:])), True, 0, now)
                for party, code in cursor.fetchall()])
        insert('itsm_ticket', ['number', 'type', 'subject', 'channel',
                'company', 'state', 'impact', 'urgency', 'priority',
                'priority_manual', 'requester_email', 'escalation_level',
                'sla_warned', 'create_uid', 'create_date'],
            [(f'H-{n:07d}', 'incident', f"Old ticket {n}", 'email',
                    company, 'closed', '2', '2', '3', False, person(n), 0,
                    False, 0, created(n))
                for n in range(count)])
        cursor.execute(
            "SELECT id, number FROM itsm_ticket WHERE number LIKE 'H-%'")
        tickets = [(i, number, int(number[2:]))
            for i, number in cursor.fetchall()]
        print(f"  {len(tickets)} tickets, {people} people; messages…",
            flush=True)
        insert('itsm_ticket_message', ['ticket', 'direction', 'date',
                'to_addresses', 'subject', 'body', 'automatic',
                'delivery_state', 'message_id', 'create_uid',
                'create_date', 'delivery_attempts'],
            [(ticket, direction, created(n) + dt.timedelta(minutes=k),
                    person(n) if direction == 'outbound' else None,
                    "Old message", "Old body", k == 1,
                    'sent' if direction == 'outbound' else None,
                    f'<{number}.{k}@{SENDER_DOMAIN}>', 0, created(n), 0)
                for ticket, number, n in tickets
                for k, direction in enumerate(['inbound', 'outbound',
                        'inbound', 'outbound', 'inbound'])])
        print("  received emails…", flush=True)
        insert('inbound_email', ['inbox', 'data_type', 'data_id', 'state',
                'message_key', 'message_id', 'from_address', 'subject',
                'size', 'create_uid', 'create_date'],
            [(inbox, 'raw', 'history', 'done',
                    f'<{number}.{k}@{SENDER_DOMAIN}>',
                    f'<{number}.{k}@{SENDER_DOMAIN}>', person(n),
                    "Old message", 2000, 0,
                    created(n) + dt.timedelta(minutes=k))
                for _, number, n in tickets
                for k in [0, 2, 4]])
        cursor.execute('ANALYZE')


def prepare(admin, senders):
    "The Service Desk webhook, a webhook without company and known senders"
    desk, = admin.model('inbound.email.inbox', 'search_read',
        [('company', '!=', None)], 0, 1, None, ['identifier', 'address'])
    plain, = admin.model('inbound.email.inbox', 'create', [{
                'name': "Bench: store only", 'company': None}])
    admin.model('inbound.email.inbox', 'new_identifier', [plain])
    plain, = admin.model('inbound.email.inbox', 'read', [plain],
        ['identifier'])
    people = [(f"Requester {k:04d}", f'requester.{k:04d}@{DOMAIN}')
        for k in range(senders)]
    admin.model('party.party', 'create', [{
                'name': name,
                'contact_mechanisms': [['create', [{
                                'type': 'email', 'value': address}]]],
                } for name, address in people])
    return desk, plain, people


def outcome(admin, after_id):
    "The states of the inbound emails stored after after_id"
    emails = admin.model('inbound.email', 'search_read',
        [('id', '>', after_id)], 0, None, None, ['state'])
    states = collections.Counter(e['state'] or 'stored' for e in emails)
    return ', '.join(f'{n} {s}' for s, n in sorted(states.items()))


def last_email_id(admin):
    ids = admin.model('inbound.email', 'search', [], 0, 1,
        [['id', 'DESC']])
    return ids[0] if ids else 0


def run(settings, messages, clients, servers, history, workers,
        queue_in_server=False):
    print(f"{settings.database}: building the demo database…", flush=True)
    set_up(settings, reset=True, size=1)
    if history:
        print(f"{settings.database}: adding {history} tickets of the "
            "past…", flush=True)
        started = time.monotonic()
        add_history(settings, history)
        print(f"  done in {time.monotonic() - started:.0f} s", flush=True)
    workdir = Path(tempfile.mkdtemp(prefix='bench-inbound-'))
    sink = SMTPSink()
    processes, bases, logs = [], [], []
    rows = []
    try:
        for number in range(servers):
            log = workdir / f'server-{number}.log'
            log.touch()
            process, base = serve(settings, free_port(), sink.uri, log)
            processes.append(process)
            bases.append(base)
            logs.append(log)
        for number in range(workers):
            log = workdir / f'worker-{number}.log'
            log.touch()
            processes.append(start_worker(settings, log))
            logs.append(log)

        def send(urls, batch, count):
            "Post the batch; with a queue, until it has been run"
            if not workers and not queue_in_server:
                return send_all(urls, batch, count)
            after = last_task_id(settings)
            started = time.perf_counter()
            _, times, statuses = send_all(urls, batch, count)
            wait_for_queue(settings, after)
            return time.perf_counter() - started, times, statuses
        admin = Client(bases[0], settings.database, 'admin', DEMO_PASSWORD)
        print(f"{settings.database}: registering {2 * messages} known "
            "senders…", flush=True)
        desk, plain, people = prepare(admin, max(100, 2 * messages))
        hook = '%s/' + settings.database + '/inbound_email/inbox/%s?type=raw'
        desk_urls = [hook % (b, desk['identifier']) for b in bases]
        plain_urls = [hook % (b, plain['identifier']) for b in bases]
        mail = Mail(desk['address'], people)
        tasks = TaskLog(logs, settings)

        # Warm the caches of the servers and of the workers: parsing, the
        # ORM, the SMTP path.
        warm = max(servers, workers)
        send(desk_urls, mail.mix('new', 5 * warm), 1)
        mail.learn(sink.messages)
        send(desk_urls, mail.mix('reply', 3 * warm), 1)
        send(plain_urls, mail.mix('new', 3 * warm), 1)
        tasks.read()

        plan = [('store', "store only (mailbox without company)")] + MIXES
        for kind, label in plan:
            for count in clients:
                batch = mail.mix('new' if kind == 'store' else kind,
                    messages)
                before, acks = last_email_id(admin), len(sink.messages)
                print(f"  {label}, {count} client(s): {messages} "
                    "messages…", flush=True)
                cpu = cpu_seconds(processes)
                elapsed, times, statuses = send(
                    plain_urls if kind == 'store' else desk_urls, batch,
                    count)
                if cpu is not None:
                    cpu = cpu_seconds(processes) - cpu
                sent = sink.messages[acks:]
                mail.learn(sent)
                durations = tasks.read()
                rows.append({
                        'kind': kind, 'label': label, 'clients': count,
                        'concurrency': workers or (
                            servers if queue_in_server else count),
                        'messages': messages, 'elapsed': elapsed,
                        'times': sorted(times), 'statuses': statuses,
                        'process': durations.get('itsm_process_emails', [])
                        + durations.get('process_queued', []),
                        'deliver': durations.get('deliver', []),
                        'acks': len(sent), 'cpu': cpu,
                        'outcome': outcome(admin, before),
                        })
                print(f"    {messages / elapsed:.1f} messages/s", flush=True)
    finally:
        for process in processes[:servers]:
            process.terminate()
        for process in processes[servers:]:
            # The worker and its pool
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            process.wait()
        sink.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def report(settings, rows, servers, history, workers,
        queue_in_server=False):
    target = TARGETS[settings.backend]
    baseline = {r['clients']: r['messages'] / r['elapsed']
        for r in rows if r['kind'] == 'store'}
    if workers:
        queue = f"{workers} trytond-worker instance(s) of one process"
    elif queue_in_server:
        queue = "the queue run by a thread of each server"
    else:
        queue = "the tasks run by the servers after each request"
    print()
    print(f"{settings.backend}, {servers} `itsm serve` process(es), "
        f"{queue}, {history} tickets of the past, {rows[0]['messages']} "
        f"messages a run; the target (DESIGN.md section 6) is >= {target} "
        "messages/s without the SMTP delivery")
    print()
    print("| mix | clients | messages/s | ratio to store only "
        f"| messages/s without delivery (target >= {target}) "
        "| p50 ms | p95 ms | server CPU ms/message "
        "| processing tasks: ms each (count) | delivery tasks: ms each "
        "(count) | acks sent | outcome |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: | --- |")
    for row in rows:
        count, elapsed = row['messages'], row['elapsed']
        rate = count / elapsed
        times = row['times']
        deliver = sum(row['deliver']) / 1000
        without = count / (elapsed - deliver / row['concurrency'])
        cpu = (f"{row['cpu'] / count * 1000:.1f}"
            if row['cpu'] is not None else '-')
        errors = {s: n for s, n in row['statuses'].items() if s != 204}
        outcome = row['outcome'] + (f"; HTTP {errors}" if errors else '')
        print(f"| {row['label']} | {row['clients']} | {rate:.1f} "
            f"| {rate / baseline[row['clients']]:.2f} | {without:.1f} "
            f"| {statistics.median(times) * 1000:.0f} "
            f"| {times[int(len(times) * 0.95) - 1] * 1000:.0f} | {cpu} "
            f"| {_mean(row['process'])} | {_mean(row['deliver'])} "
            f"| {row['acks']} | {outcome} |")


def _mean(values):
    if not values:
        return '-'
    return f'{statistics.mean(values):.1f} ({len(values)})'


def main():
    parser = argparse.ArgumentParser(description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--database-uri',
        default=os.environ.get('ITSM_DATABASE_URI'),
        help="sqlite:// (default) or postgresql://user@host:port/")
    parser.add_argument('--messages', type=int, default=200,
        help="messages a run (default: %(default)s)")
    parser.add_argument('--clients', type=int, nargs='+', default=[1, 4],
        help="concurrent HTTP clients (default: 1 4)")
    parser.add_argument('--servers', type=int, default=1,
        help="`itsm serve` processes on the database, the clients spread "
        "over them as behind a load balancer (default: 1)")
    parser.add_argument('--history', type=int, default=0,
        help="closed tickets of the past to add by SQL, with their "
        "messages, received emails and people (default: %(default)s)")
    parser.add_argument('--workers', type=int, default=0,
        help="trytond-worker instances (-n 1) that run the queue, the "
        "servers only storing and queuing (default: none, the servers run "
        "the tasks after each request)")
    parser.add_argument('--queue-in-server', action='store_true',
        help="SQLite: [queue] worker = True, each server running the queue "
        "in a thread of its own (trytond-worker cannot watch SQLite)")
    parser.add_argument('--keep', action='store_true',
        help="keep the database afterwards")
    args = parser.parse_args()
    if args.workers or args.queue_in_server:
        # Carried into the configuration that every process reads
        os.environ['TRYTOND_QUEUE__WORKER'] = 'True'

    settings = Settings.from_environ(uri=args.database_uri,
        database='bench_inbound')
    try:
        rows = run(settings, args.messages, args.clients, args.servers,
            args.history, args.workers, args.queue_in_server)
    finally:
        if not args.keep:
            drop_database(settings)
            # The stored emails and attachments (the filestore)
            shutil.rmtree(settings.db_path / settings.database,
                ignore_errors=True)
    report(settings, rows, args.servers, args.history, args.workers,
        args.queue_in_server)


if __name__ == '__main__':
    main()
