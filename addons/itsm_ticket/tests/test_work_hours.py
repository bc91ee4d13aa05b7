# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Work Hours and the Activity Log of tickets, on a database.

A plain TestCase: a second ModuleTestCase would run Tryton's generic tests
of the module again.
"""
import datetime as dt

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    with_transaction,
)
from trytond.transaction import Transaction, check_access

from .test_module import create_user
from .tools import ActivatedModuleCase

MINUTES = dt.timedelta(minutes=1)


def create_agent(login, group, company, name=None):
    "A backend user who is an employee of the company"
    pool = Pool()
    Party = pool.get('party.party')
    Employee = pool.get('company.employee')
    User = pool.get('res.user')
    user = create_user(login, group, company)
    party, = Party.create([{'name': name or login.title()}])
    employee, = Employee.create([{'party': party.id, 'company': company.id}])
    User.write([user], {
            'employees': [('add', [employee.id])],
            'employee': employee.id,
            })
    return user


def as_user(user):
    "Run as the user, with access checks and the user's preferences"
    pool = Pool()
    User = pool.get('res.user')
    transaction = Transaction()
    with transaction.set_user(user.id):
        context = User.get_preferences(context_only=True)
    return _Stack(
        transaction.set_user(user.id), transaction.set_context(context),
        check_access())


class _Stack:
    def __init__(self, *managers):
        self.managers = managers

    def __enter__(self):
        for manager in self.managers:
            manager.__enter__()

    def __exit__(self, *exc):
        for manager in reversed(self.managers):
            manager.__exit__(*exc)


class WorkHoursTestCase(ActivatedModuleCase):
    "Time logged on tickets and tasks, and the activity log"

    @with_transaction()
    def test_time_logged_on_ticket_and_task(self):
        "Time goes to the work of the ticket or of its task, made once"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Work = pool.get('timesheet.work')
        company = create_company()
        adam = create_agent('adam', 'group_agent', company)
        with set_company(company):
            ticket, = Ticket.create([{
                        'subject': "New hire", 'type': 'request',
                        'tasks': [('create', [{'name': "Laptop"}])]}])
            laptop, = ticket.tasks
            with as_user(adam):
                Ticket.write([Ticket(ticket.id)], {
                        'timesheet_lines': [('create', [
                                    {'duration': 20 * MINUTES,
                                        'description': "Triage"},
                                    {'duration': 40 * MINUTES,
                                        'ticket_task': laptop.id},
                                    {'duration': 5 * MINUTES},
                                    ])]})
            triage, on_laptop, more = sorted(
                ticket.timesheet_lines, key=lambda line: line.id)

            self.assertEqual(triage.employee, adam.employee)
            self.assertEqual(triage.date, dt.date.today())
            self.assertEqual(triage.company, company)
            self.assertEqual(triage.work.origin, ticket)
            self.assertEqual(more.work, triage.work)
            self.assertEqual(on_laptop.work.origin, laptop)
            self.assertEqual(on_laptop.ticket, ticket)
            self.assertEqual(
                Work.search([('origin', 'in', [str(ticket), str(laptop)])],
                    count=True), 2)
            self.assertEqual(ticket.time_spent, 65 * MINUTES)
            self.assertEqual(laptop.time_spent, 40 * MINUTES)
            self.assertEqual(triage.work.rec_name, ticket.rec_name)

    @with_transaction()
    def test_stage_is_the_state_when_logged(self):
        "Each line keeps the state of the ticket it was logged in"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Line = pool.get('timesheet.line')
        company = create_company()
        adam = create_agent('adam', 'group_agent', company)
        with set_company(company):
            ticket, = Ticket.create([{
                        'subject': "Printer", 'assignee': adam.id}])

            def log(minutes):
                line, = Line.create([{
                            'ticket': ticket.id,
                            'employee': adam.employee.id,
                            'duration': minutes * MINUTES}])
                return line

            first = log(10)
            Ticket.assign([ticket])
            Ticket.start([ticket])
            second, third = log(30), log(15)
            ticket.resolution = "Driver"
            ticket.save()
            Ticket.resolve([ticket])
            Ticket.close([ticket])

            self.assertEqual(
                [line.ticket_stage for line in [first, second, third]],
                ['new', 'in_progress', 'in_progress'])
            self.assertEqual(second.ticket_stage_string, "In Progress")
            # The state that follows does not rewrite the past.
            self.assertEqual(Line(first.id).ticket_stage, 'new')
            self.assertEqual(
                [(s.stage, s.duration) for s in ticket.time_by_stage],
                [('new', 10 * MINUTES), ('in_progress', 45 * MINUTES)])
            self.assertEqual(ticket.time_spent, 55 * MINUTES)

    @with_transaction()
    def test_zero_or_negative_time_is_refused(self):
        "Time logged on a ticket is more than zero"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Line = pool.get('timesheet.line')
        company = create_company()
        adam = create_agent('adam', 'group_agent', company)
        with set_company(company):
            ticket, = Ticket.create([{'subject': "VPN"}])
            for duration in [dt.timedelta(0), -5 * MINUTES]:
                with self.subTest(duration=duration), \
                        self.assertRaisesRegex(
                            ValidationError,
                            'time logged on "TCK-.*VPN" must be more '
                            'than zero'):
                    Line.create([{
                                'ticket': ticket.id,
                                'employee': adam.employee.id,
                                'duration': duration}])
            line, = Line.create([{
                        'ticket': ticket.id, 'employee': adam.employee.id,
                        'duration': MINUTES}])
            with self.assertRaisesRegex(ValidationError, 'more than zero'):
                Line.write([line], {'duration': dt.timedelta(0)})

    @with_transaction()
    def test_lines_follow_their_work(self):
        """A line entered in the timesheet on a ticket's work belongs to the
        ticket; moving a line to a task moves it to the task's work"""
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Line = pool.get('timesheet.line')
        Work = pool.get('timesheet.work')
        company = create_company()
        adam = create_agent('adam', 'group_agent', company)
        with set_company(company):
            ticket, = Ticket.create([{
                        'subject': "Move", 'type': 'request',
                        'tasks': [('create', [{'name': "Carry"}])]}])
            carry, = ticket.tasks
            works = Work.of_tickets([ticket])
            line, = Line.create([{
                        'work': works[ticket].id,
                        'employee': adam.employee.id,
                        'duration': 30 * MINUTES}])
            self.assertEqual(
                (line.ticket, line.ticket_task, line.ticket_stage),
                (ticket, None, 'new'))

            Line.write([line], {'ticket_task': carry.id})
            self.assertEqual(line.work.origin, carry)
            Line.write([line], {'ticket_task': None})
            self.assertEqual(line.work, works[ticket])

            other, = Work.create([{'name': "Training"}])
            Line.write([line], {'work': other.id})
            self.assertEqual(
                (line.ticket, line.ticket_task, line.ticket_stage),
                (None, None, None))
            # Back on the ticket, it takes the state the ticket is in.
            Ticket.write([ticket], {'assignee': adam.id})
            Ticket.assign([ticket])
            Line.write([line], {'work': works[ticket].id})
            self.assertEqual(
                (line.ticket, line.ticket_stage), (ticket, 'assigned'))
            Line.write([line], {'work': other.id})
            # Outside tickets the timesheet keeps its own rules.
            Line.write([line], {'duration': dt.timedelta(0)})

    @with_transaction()
    def test_agents_log_their_own_time(self):
        """An agent logs and changes her own time; a manager anybody's on
        tickets"""
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Line = pool.get('timesheet.line')
        company = create_company()
        adam = create_agent('adam', 'group_agent', company)
        kasia = create_agent('kasia', 'group_agent', company)
        marta = create_agent('marta', 'group_manager', company)
        with set_company(company):
            ticket, = Ticket.create([{'subject': "Mail"}])
            with as_user(adam):
                line, = Line.create([{
                            'ticket': ticket.id,
                            'duration': 10 * MINUTES}])
                self.assertEqual(line.employee, adam.employee)
            with as_user(kasia):
                # She reads his time on the ticket.
                self.assertEqual(
                    Ticket(ticket.id).time_spent, 10 * MINUTES)
                self.assertEqual(
                    Line.search([('ticket', '=', ticket.id)]), [line])
            with as_user(marta):
                Line.write([Line(line.id)], {'duration': 15 * MINUTES})
                Line.create([{
                            'ticket': ticket.id,
                            'employee': kasia.employee.id,
                            'duration': 10 * MINUTES}])
            self.assertEqual(ticket.time_spent, 25 * MINUTES)

            # The refused changes are written before the rules refuse
            # them: the transaction is rolled back, so check them last.
            with as_user(kasia), self.assertRaises(AccessError):
                Line.write([Line(line.id)], {'duration': 60 * MINUTES})
            with as_user(adam), self.assertRaises(AccessError):
                Line.create([{
                            'ticket': ticket.id,
                            'employee': kasia.employee.id,
                            'duration': 10 * MINUTES}])

    @with_transaction()
    def test_time_of_other_teams_is_hidden(self):
        "Agents kept to their teams do not see the time of other tickets"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Team = pool.get('itsm.team')
        Line = pool.get('timesheet.line')
        Activity = pool.get('itsm.ticket.activity')
        Configuration = pool.get('itsm.configuration')
        company = create_company()
        adam = create_agent('adam', 'group_agent', company)
        tomasz = create_agent('tomasz', 'group_agent', company)
        with set_company(company):
            desk, network = Team.create([
                    {'name': "Desk", 'members': [('add', [adam.id])]},
                    {'name': "Network", 'members': [('add', [tomasz.id])]}])
            mine, theirs = Ticket.create([
                    {'subject': "Mouse", 'team': desk.id},
                    {'subject': "Switch", 'team': network.id}])
            Line.create([{
                        'ticket': t.id, 'employee': e.id,
                        'duration': 10 * MINUTES}
                    for t, e in [
                        (mine, adam.employee), (theirs, tomasz.employee)]])
            Configuration.write([Configuration(1)], {
                    'agents_see_own_teams': True})
            with as_user(adam):
                self.assertEqual(
                    {line.ticket for line in Line.search([])}, {mine})
                self.assertEqual(
                    {a.ticket for a in Activity.search([])}, {mine})
                with self.assertRaises(AccessError):
                    Line.create([{
                                'ticket': theirs.id,
                                'duration': 10 * MINUTES}])

    @with_transaction()
    def test_time_is_not_deleted_with_its_ticket(self):
        "A ticket or a task with time is cancelled, not deleted"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Task = pool.get('itsm.ticket.task')
        Line = pool.get('timesheet.line')
        Work = pool.get('timesheet.work')
        company = create_company()
        adam = create_agent('adam', 'group_agent', company)
        with set_company(company):
            worked, idle = Ticket.create([{
                        'subject': "Worked", 'type': 'request',
                        'tasks': [('create', [
                                        {'name': "Done"},
                                        {'name': "Dropped"}])]}, {
                        'subject': "Idle"}])
            done, dropped = worked.tasks
            Line.create([{
                        'ticket': worked.id, 'ticket_task': done.id,
                        'employee': adam.employee.id,
                        'duration': 10 * MINUTES}])
            # A work without time, as a line moved away leaves it.
            Work.of_tickets([idle, dropped])

            with self.assertRaisesRegex(
                    AccessError, 'Time has been logged on the task "Done"'):
                Task.delete([done])
            Task.delete([dropped])
            Ticket.cancel([worked, idle])
            with self.assertRaisesRegex(
                    AccessError, 'Time has been logged on the ticket'):
                Ticket.delete([worked])
            Ticket.delete([idle])
            self.assertEqual(
                [w.origin for w in Work.search([])], [done])

    @with_transaction()
    def test_activity_log(self):
        "The log tells who did what and when, with the values before"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Task = pool.get('itsm.ticket.task')
        Note = pool.get('itsm.ticket.note')
        Message = pool.get('itsm.ticket.message')
        Line = pool.get('timesheet.line')
        Party = pool.get('party.party')
        company = create_company()
        adam = create_agent('adam', 'group_agent', company, "Adam Nowicki")
        with set_company(company):
            ewa, = Party.create([{'name': "Ewa Kowalska"}])
            ticket, = Ticket.create([{
                        'subject': "Cannot print", 'requester': ewa.id,
                        'channel': 'phone'}])
            with Transaction().set_user(adam.id):
                Ticket.write([ticket], {'urgency': '1'})
                Ticket.take([ticket])
                Ticket.start([ticket])
                Note.create([
                        {'ticket': ticket.id, 'body': "Password hunter2"},
                        {'ticket': ticket.id, 'body': "On our way",
                            'visibility': 'public'}])
                Message.create([{
                            'ticket': ticket.id, 'direction': 'inbound',
                            'party': ewa.id, 'subject': "Still broken",
                            'body': "It still does not print"}])
                task, = Task.create([{
                            'ticket': ticket.id, 'name': "Swap toner",
                            'assignee': adam.id}])
                Task.do([task])
                Line.create([{
                            'ticket': ticket.id, 'ticket_task': task.id,
                            'duration': 90 * MINUTES,
                            'description': "Toner swapped"}])
                Ticket.write([ticket], {
                        'resolution': "Swapped the toner"})
                Ticket.resolve([ticket])
            Transaction()._store_log_records()

            log = [(a.kind, a.user, a.description, a.public)
                for a in Ticket(ticket.id).activities]
            # Newest first; the test writes all in one transaction, at one
            # instant: the revisions keep their order.
            kinds = [k for k, *_ in log
                if k in {'created', 'transition', 'assignment', 'change'}]
            self.assertEqual(kinds, [
                    'transition', 'change', 'change', 'transition',
                    'transition', 'change', 'assignment', 'change',
                    'created'])
            entries = {}
            for kind, user, description, public in log:
                entries.setdefault(kind, []).append(
                    (user, description, public))

            (root, created, public), = entries['created']
            self.assertTrue(public)
            self.assertIn("Subject: Cannot print", created)
            self.assertIn("Channel: Phone", created)
            self.assertIn("Requester: Ewa Kowalska", created)
            self.assertIn("State: New", created)

            changes = [d for u, d, p in entries['change']]
            self.assertEqual(changes[-1], (
                    "Priority: Medium → High; Urgency: Medium → High"))
            self.assertIn("Resolution: — → Swapped the toner", changes)
            self.assertTrue(any(
                    d.startswith("Assigned at: — → ") for d in changes))
            self.assertEqual({u for u, d, p in entries['change']}, {adam})
            self.assertFalse(any(p for u, d, p in entries['change']))
            self.assertIn(
                (adam, "Assignee: — → Adam", False),
                entries['assignment'])
            self.assertEqual(
                [(d, p) for u, d, p in entries['transition']], [
                    ("State: In Progress → Resolved", True),
                    ("State: Assigned → In Progress", True),
                    ("State: New → Assigned", True),
                    ])
            self.assertEqual(sorted(entries['note'], key=str), sorted([
                        (adam, "Private · Password hunter2", False),
                        (adam, "Public · On our way", True)], key=str))
            self.assertEqual(entries['message'], [
                    (adam, "Received · Ewa Kowalska · Still broken", True)])
            self.assertEqual(entries['task'], [
                    (adam, "Swap toner · Adam", False)])
            self.assertEqual(entries['task_state'], [
                    (adam, "Swap toner · Done", False)])
            self.assertEqual(entries['time'], [
                    (adam, "1:30 · Adam Nowicki · In Progress · "
                        "Swap toner · Toner swapped", False)])

    @with_transaction()
    def test_activity_log_of_a_change(self):
        "A change walked through its life cycle, edited on the way"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Activity = pool.get('itsm.ticket.activity')
        company = create_company()
        with set_company(company):
            change, other = Ticket.create([
                    {'subject': "Replace core switch", 'type': 'change'},
                    {'subject': "Unrelated", 'type': 'change'}])
            Ticket.assess([change])
            Ticket.write([change], {
                    'risk': 'high', 'implementation_plan': "Swap at night"})
            Ticket.request_approval([change])
            Ticket.approve([change])
            Ticket.write([change], {
                    'window_start': dt.datetime(2026, 12, 12, 22),
                    'window_end': dt.datetime(2026, 12, 13, 2)})
            Ticket.write([change], {'risk': 'medium'})
            Ticket.schedule([change])

            activities = Activity.search([('ticket', '=', change.id)])
            self.assertEqual(
                [a.description for a in activities
                    if a.kind != 'created'], [
                    "State: Approved → Scheduled",
                    "Risk: High → Medium",
                    # Tryton writes instants with a no-break space.
                    "Window End: — → 12/13/2026\xa002:00; "
                    "Window Start: — → 12/12/2026\xa022:00",
                    "State: Awaiting Approval → Approved",
                    "State: Assessment → Awaiting Approval",
                    "Implementation Plan: — → Swap at night; Risk: — → High",
                    "State: Draft → Assessment",
                    ])
            self.assertEqual(
                [a.kind for a in activities][:2], ['transition', 'change'])
            self.assertEqual(
                Activity.search([('ticket', '=', other.id)], count=True), 1)

    @with_transaction()
    def test_requester_side_of_the_log(self):
        """Who is no agent reads only the public entries, and never a
        private note"""
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Note = pool.get('itsm.ticket.note')
        Activity = pool.get('itsm.ticket.activity')
        Group = pool.get('res.group')
        ModelAccess = pool.get('ir.model.access')
        company = create_company()
        auditor = create_user('auditor', None, company)
        auditors, = Group.create([{
                    'name': "Auditors", 'users': [('add', [auditor.id])]}])
        ModelAccess.create([{
                    'model': model, 'group': auditors.id,
                    'perm_read': True}
                for model in ['itsm.ticket', 'itsm.ticket.activity']])
        with set_company(company):
            ticket, = Ticket.create([{
                        'subject': "Leak", 'assignee': 1}])
            Note.create([
                    {'ticket': ticket.id, 'body': "Password is hunter2"},
                    {'ticket': ticket.id, 'body': "We are on it",
                        'visibility': 'public'}])
            Ticket.write([ticket], {'urgency': '1'})
            Ticket.start([ticket])
            with as_user(auditor):
                entries = [(a.kind, a.description)
                    for a in Activity.search([('ticket', '=', ticket.id)])]
            # One transaction writes all at the same instant: the
            # revisions are in their order, the other sources in theirs.
            self.assertEqual(sorted(entries), [
                    ('created',
                        "Type: Incident; Subject: Leak; State: New; "
                        "Channel: Backend"),
                    ('note', "Public · We are on it"),
                    ('transition', "State: New → In Progress"),
                    ])

    @with_transaction()
    def test_activity_log_reads_few_queries(self):
        "The log of one ticket costs the same few queries, however long"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Activity = pool.get('itsm.ticket.activity')
        company = create_company()

        def queries(ticket):
            executed = []
            transaction = Transaction()
            connection = transaction.connection
            cursor = connection.cursor

            def counting_cursor(*args, **kwargs):
                real = cursor(*args, **kwargs)
                return _CountingCursor(real, executed)
            connection.cursor = counting_cursor
            try:
                activities = Activity.search([('ticket', '=', ticket.id)])
                Activity.read(
                    [a.id for a in activities],
                    ['date', 'user', 'kind', 'description'])
            finally:
                del connection.cursor
            return len(executed), len(activities)

        with set_company(company):
            short, long = Ticket.create([
                    {'subject': "Short"}, {'subject': "Long"}])
            for n in range(30):
                Ticket.write([long], {
                        'subject': f"Long {n}",
                        'urgency': ['1', '2', '3'][n % 3]})
            Ticket.write([short], {'subject': "Short 1"})
            queries(short)  # fills the caches of labels and languages
            short_count, short_entries = queries(short)
            long_count, long_entries = queries(long)
        self.assertEqual((short_entries, long_entries), (2, 31))
        self.assertEqual(long_count, short_count)
        self.assertLess(long_count, 10)


class _CountingCursor:
    def __init__(self, cursor, executed):
        self._cursor = cursor
        self._executed = executed

    def execute(self, *args, **kwargs):
        self._executed.append(args[0])
        return self._cursor.execute(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def __iter__(self):
        return iter(self._cursor)
