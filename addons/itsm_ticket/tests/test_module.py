# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
import datetime as dt

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import (
    CompanyTestMixin,
    create_company,
    set_company,
)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction
from trytond.transaction import Transaction, check_access

from ..location import KINDS, may_contain
from .tools import create_sla_policy, sla_clock


class ItsmTicketTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the ITSM ticket module"
    module = 'itsm_ticket'

    def test_may_contain(self):
        "Each kind holds only the kinds after it"
        kinds = [k for k, _ in KINDS]
        for i, parent in enumerate(kinds):
            for j, child in enumerate(kinds):
                self.assertEqual(may_contain(parent, child), i < j)

    @with_transaction()
    def test_location_tree_path(self):
        "A location's name reads as its path from the site"
        pool = Pool()
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            site, = Location.create([{
                        'name': "HQ", 'kind': 'site',
                        'children': [('create', [{
                                        'name': "A", 'kind': 'building',
                                        'children': [('create', [{
                                                        'name': "2",
                                                        'kind': 'floor',
                                                        }])],
                                        }])],
                        }])
            floor, = Location.search([('kind', '=', 'floor')])
            self.assertEqual(floor.rec_name, "HQ / A / 2")
            self.assertEqual(
                Location.search([('rec_name', 'ilike', '%A / 2%')]), [floor])

    @with_transaction()
    def test_location_refuses_wrong_nesting(self):
        "A building cannot stand in a room, nor a site anywhere"
        pool = Pool()
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            room, = Location.create([{'name': "101", 'kind': 'room'}])
            with self.assertRaisesRegex(
                    ValidationError, 'cannot be placed in "101"'):
                Location.create([{
                            'name': "B", 'kind': 'building',
                            'parent': room.id}])
            site, = Location.create([{'name': "HQ", 'kind': 'site'}])
            with self.assertRaises(ValidationError):
                Location.write([site], {'parent': room.id})

    @with_transaction()
    def test_location_refuses_kind_change_below_children(self):
        "Turning a floor into a room is refused while it holds rooms"
        pool = Pool()
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            floor, = Location.create([{
                        'name': "1", 'kind': 'floor',
                        'children': [('create', [{
                                        'name': "101", 'kind': 'room'}])],
                        }])
            with self.assertRaises(ValidationError):
                Location.write([floor], {'kind': 'room'})

    @with_transaction()
    def test_department_tree(self):
        "Departments nest and employees belong to one"
        pool = Pool()
        Department = pool.get('company.department')
        Employee = pool.get('company.employee')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            it, = Department.create([{
                        'name': "IT",
                        'children': [('create', [{'name': "Service Desk"}])],
                        }])
            desk, = it.children
            party, = Party.create([{'name': "Ada"}])
            employee, = Employee.create([{
                        'party': party.id, 'company': company.id,
                        'department': desk.id}])
            self.assertEqual(desk.rec_name, "IT / Service Desk")
            self.assertEqual(list(desk.employees), [employee])

    @with_transaction()
    def test_list_views_split_datetimes(self):
        "sao has no list column for a datetime: show it as date and time"
        pool = Pool()
        View = pool.get('ir.ui.view')
        for view in View.search([
                    ('module', 'like', 'itsm_%'), ('type', '=', 'tree')]):
            Model = pool.get(view.model)
            arch = Model.fields_view_get(view.id)
            for name, field in arch['fields'].items():
                if field['type'] not in {'datetime', 'timestamp'}:
                    continue
                with self.subTest(view=view.name, field=name):
                    self.assertRegex(
                        arch['arch'],
                        rf'name="{name}"[^>]*widget="(date|time)"')

    @with_transaction()
    def test_groups_exist(self):
        "The suite's access groups are installed"
        pool = Pool()
        Group = pool.get('res.group')
        names = {g.name for g in Group.search([])}
        for name in [
                "Service Desk Agent", "Service Desk Manager",
                "Asset Manager", "Knowledge Editor", "Purchase Approver"]:
            self.assertIn(name, names)
        manager, = Group.search([('name', '=', "Service Desk Manager")])
        self.assertEqual(manager.parent.name, "Service Desk Agent")


    @with_transaction()
    def test_ticket_number_and_priority(self):
        "A ticket gets its number and the priority of the matrix"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Matrix = pool.get('itsm.priority.matrix')
        company = create_company()
        with set_company(company):
            first, second = Ticket.create([
                    {'subject': "Printer jam", 'impact': '3',
                        'urgency': '2'},
                    {'subject': "Mail down", 'impact': '1',
                        'urgency': '1'},
                    ])
            self.assertRegex(first.number, r'^TCK-\d{5}$')
            self.assertNotEqual(first.number, second.number)
            self.assertEqual((first.priority, second.priority), ('4', '1'))
            self.assertEqual(first.state, 'new')

            cell, = Matrix.search([('impact', '=', '3'),
                    ('urgency', '=', '2')])
            Matrix.write([cell], {'priority': '5'})
            Ticket.write([first], {'urgency': '2', 'impact': '3'})
            self.assertEqual(first.priority, '5')
            Ticket.write([first], {'impact': '1'})
            self.assertEqual(first.priority, '2')

    @with_transaction()
    def test_ticket_initial_state_per_type(self):
        "Changes start as drafts, releases as planned"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            change, release = Ticket.create([
                    {'subject': "Upgrade", 'type': 'change'},
                    {'subject': "v2", 'type': 'release'},
                    ])
            self.assertEqual(change.state, 'draft')
            self.assertEqual(release.state, 'planned')

    @with_transaction()
    def test_manual_priority_is_for_managers(self):
        "Only a manager overrides the priority, with a reason, and it sticks"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        agent = create_user('agent', 'group_agent', company)
        manager = create_user('manager', 'group_manager', company)
        with set_company(company):
            ticket, = Ticket.create([{'subject': "VPN"}])
            with Transaction().set_user(agent.id), check_access():
                with self.assertRaisesRegex(AccessError, "Manager"):
                    Ticket.write([Ticket(ticket.id)], {
                            'priority_manual': True, 'priority': '1',
                            'priority_reason': "CEO"})
            with Transaction().set_user(manager.id), check_access():
                Ticket.write([Ticket(ticket.id)], {
                        'priority_manual': True, 'priority': '1',
                        'priority_reason': "The CEO cannot work"})
            Ticket.write([ticket], {'impact': '3', 'urgency': '3'})
            self.assertEqual(ticket.priority, '1')
            with self.assertRaises(ValidationError):
                Ticket.write([ticket], {'priority_reason': None})

    @with_transaction()
    def test_invalid_transition_is_refused(self):
        "A ticket cannot jump over its life cycle"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            incident, change = Ticket.create([
                    {'subject': "Slow PC"},
                    {'subject': "New firewall", 'type': 'change'},
                    ])
            with self.assertRaisesRegex(
                    ValidationError, 'is New: it cannot go to Closed'):
                Ticket.close([incident])
            with self.assertRaisesRegex(ValidationError, 'Approved'):
                Ticket.approve([change])
            self.assertEqual((incident.state, change.state), ('new', 'draft'))

    @with_transaction()
    def test_incident_life_cycle(self):
        "Assign, wait on the requester, answer, resolve, reopen, close"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Party = pool.get('party.party')
        company = create_company()
        agent = create_user('agent', 'group_agent', company)
        with set_company(company):
            requester, = Party.create([{'name': "Ewa"}])
            ticket, = Ticket.create([{
                        'subject': "Outlook crashes", 'requester': requester}])
            with Transaction().set_user(agent.id):
                Ticket.take([ticket])
            self.assertEqual((ticket.state, ticket.assignee), (
                    'assigned', agent))
            self.assertTrue(ticket.assigned_at)
            Ticket.wait_requester([ticket])
            self.assertEqual(
                (ticket.state, ticket.pending_reason),
                ('pending', 'requester'))
            Ticket.reopen_by_requester([ticket])
            self.assertEqual(
                (ticket.state, ticket.pending_reason), ('in_progress', None))
            with self.assertRaisesRegex(ValidationError, 'resolution'):
                Ticket.resolve([ticket])
            ticket.resolution = "Repaired the profile"
            ticket.save()
            Ticket.resolve([ticket])
            self.assertTrue(ticket.resolved_at)
            Ticket.reopen_by_requester([ticket])
            self.assertEqual(ticket.state, 'in_progress')
            Ticket.resolve([ticket])
            Ticket.close([ticket])
            self.assertEqual(ticket.state, 'closed')
            with self.assertRaises(AccessError):
                Ticket.delete([ticket])

    @with_transaction()
    def test_closed_ticket_reopened_by_requester_within_delay(self):
        "An answer reopens a ticket closed within the delay, not later"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Configuration = pool.get('itsm.configuration')
        company = create_company()
        with set_company(company):
            recent, old, problem = Ticket.create([{
                        'subject': "Recent", 'resolution': "Done"}, {
                        'subject': "Old", 'resolution': "Done"}, {
                        'subject': "Problem", 'type': 'problem',
                        'resolution': "Done"}])
            Ticket.analyse([problem])
            Ticket.resolve([recent, old, problem])
            Ticket.close([recent, old, problem])
            Ticket.write([old], {
                    'closed_at': dt.datetime.now() - dt.timedelta(days=15)})

            stay_closed = Ticket.reopen_by_requester([recent, old, problem])

            self.assertEqual(stay_closed, [old, problem])
            self.assertEqual(
                [t.state for t in [recent, old, problem]],
                ['in_progress', 'closed', 'closed'])
            self.assertIsNone(recent.closed_at)
            self.assertIsNone(recent.resolved_at)

            config = Configuration(1)
            config.reopen_closed_within = None
            config.save()
            Ticket.resolve([recent])
            Ticket.close([recent])
            self.assertEqual(Ticket.reopen_by_requester([recent]), [recent])

    @with_transaction()
    def test_category_must_fit_the_type(self):
        "A change category is refused on an incident"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Category = pool.get('itsm.ticket.category')
        company = create_company()
        with set_company(company):
            network, anything = Category.create([
                    {'name': "Network", 'types': ['change']},
                    {'name': "Other"},
                    ])
            with self.assertRaisesRegex(ValidationError, 'not for tickets'):
                Ticket.create([{'subject': "Wi-Fi", 'category': network}])
            ticket, = Ticket.create([{
                        'subject': "Wi-Fi", 'category': anything}])
            self.assertEqual(ticket.category, anything)

    @with_transaction()
    def test_open_tasks_block_resolution(self):
        "Open tasks block resolving unless the configuration allows it"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Task = pool.get('itsm.ticket.task')
        Configuration = pool.get('itsm.configuration')
        company = create_company()
        with set_company(company):
            ticket, = Ticket.create([{
                        'subject': "New hire", 'type': 'request',
                        'resolution': "Done",
                        'tasks': [('create', [
                                        {'name': "Laptop"},
                                        {'name': "Account"}])]}])
            laptop, account = ticket.tasks
            Task.do([laptop])
            self.assertEqual(ticket.progress, 0.5)
            with self.assertRaisesRegex(ValidationError, 'Account'):
                Ticket.resolve([ticket])
            Configuration.write([Configuration(1)], {
                    'resolve_with_open_tasks': True})
            Ticket.resolve([ticket])
            self.assertEqual(ticket.state, 'resolved')

    @with_transaction()
    def test_task_outside_the_company_is_refused(self):
        "A task goes only to somebody who works for the ticket's company"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Task = pool.get('itsm.ticket.task')
        company = create_company()
        other = create_company(name="Elsewhere")
        outsider = create_user('outsider', 'group_agent', other)
        with set_company(company):
            ticket, = Ticket.create([{'subject': "Move desk"}])
            with self.assertRaisesRegex(ValidationError, 'does not work'):
                Task.create([{
                            'ticket': ticket, 'name': "Carry",
                            'assignee': outsider}])
            with self.assertRaises(ValidationError):
                Task.create([{
                            'ticket': ticket, 'name': "Carry",
                            'planned_start': dt.datetime(2026, 1, 2),
                            'planned_end': dt.datetime(2026, 1, 1)}])

    @with_transaction()
    def test_change_needs_assessment_and_window(self):
        "A change asks for approval only when assessed, and is scheduled"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            change, = Ticket.create([{
                        'subject': "Replace core switch", 'type': 'change'}])
            Ticket.assess([change])
            with self.assertRaisesRegex(ValidationError, 'risk'):
                Ticket.request_approval([change])
            change.risk = 'high'
            change.implementation_plan = "Swap at night"
            change.save()
            Ticket.request_approval([change])
            Ticket.approve([change])
            with self.assertRaisesRegex(ValidationError, 'window'):
                Ticket.schedule([change])
            change.window_start = dt.datetime(2026, 12, 12, 22)
            change.window_end = dt.datetime(2026, 12, 13, 2)
            change.save()
            Ticket.schedule([change])
            Ticket.implement([change])
            Ticket.review([change])
            Ticket.close([change])
            self.assertEqual(change.state, 'closed')

    @with_transaction()
    def test_private_notes_stay_with_agents(self):
        "A group given access to notes still never reads a private one"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Note = pool.get('itsm.ticket.note')
        Group = pool.get('res.group')
        ModelAccess = pool.get('ir.model.access')
        company = create_company()
        agent = create_user('agent', 'group_agent', company)
        auditor = create_user('auditor', None, company)
        auditors, = Group.create([{
                    'name': "Auditors", 'users': [('add', [auditor.id])]}])
        ModelAccess.create([{
                    'model': 'itsm.ticket.note', 'group': auditors.id,
                    'perm_read': True}, {
                    'model': 'itsm.ticket', 'group': auditors.id,
                    'perm_read': True}])
        with set_company(company):
            ticket, = Ticket.create([{'subject': "Leak"}])
            private, public = Note.create([
                    {'ticket': ticket, 'body': "Password is hunter2"},
                    {'ticket': ticket, 'body': "We are on it",
                        'visibility': 'public'}])
            with Transaction().set_user(agent.id), check_access():
                self.assertEqual(
                    set(Note.search([])), {Note(private.id), Note(public.id)})
            with Transaction().set_user(auditor.id), check_access():
                self.assertEqual(Note.search([]), [Note(public.id)])
                with self.assertRaises(AccessError):
                    Note.read([private.id], ['body'])
                with self.assertRaises(AccessError):
                    Note.read([public.id], ['body'])

    @with_transaction()
    def test_agents_restricted_to_their_teams(self):
        "When configured, agents see their teams' tickets and their own"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Note = pool.get('itsm.ticket.note')
        Task = pool.get('itsm.ticket.task')
        Team = pool.get('itsm.team')
        Configuration = pool.get('itsm.configuration')
        company = create_company()
        agent = create_user('agent', 'group_agent', company)
        manager = create_user('manager', 'group_manager', company)
        with set_company(company):
            desk, network = Team.create([
                    {'name': "Desk", 'members': [('add', [agent.id])]},
                    {'name': "Network", 'members': [('add', [agent.id])]}])
            tickets = Ticket.create([
                    {'subject': "A", 'team': desk},
                    {'subject': "B", 'team': network},
                    {'subject': "C"},
                    {'subject': "D", 'team': network, 'assignee': agent}])
            Note.create([
                    {'ticket': t, 'body': "Seen", 'visibility': 'public'}
                    for t in tickets])
            Task.create([{'ticket': t, 'name': "Do"} for t in tickets])
            # She left the network team but keeps her ticket.
            Team.write([network], {'members': [('remove', [agent.id])]})
            with Transaction().set_user(agent.id), check_access():
                self.assertEqual(Ticket.search([], count=True), 4)
            Configuration.write([Configuration(1)], {
                    'agents_see_own_teams': True})
            with Transaction().set_user(agent.id), check_access():
                self.assertEqual(
                    {t.subject for t in Ticket.search([])}, {'A', 'C', 'D'})
                # What hangs on a ticket follows the ticket.
                self.assertEqual(
                    {n.ticket.subject for n in Note.search([])},
                    {'A', 'C', 'D'})
                self.assertEqual(
                    {t.ticket.subject for t in Task.search([])},
                    {'A', 'C', 'D'})
            with Transaction().set_user(manager.id), check_access():
                self.assertEqual(Ticket.search([], count=True), 4)

    @with_transaction()
    def test_sla_calendar_needs_hours(self):
        "A business calendar without working hours is refused"
        pool = Pool()
        Calendar = pool.get('itsm.sla.calendar')
        company = create_company()
        with set_company(company):
            with self.assertRaisesRegex(ValidationError, 'no working hours'):
                Calendar.create([{'name': "Empty", 'timezone': 'UTC'}])
            with self.assertRaisesRegex(ValidationError, 'end'):
                Calendar.create([{
                            'name': "Backwards", 'timezone': 'UTC',
                            'hours': [('create', [{
                                            'weekday': '0',
                                            'start_time': dt.time(16),
                                            'end_time': dt.time(8)}])]}])

    @with_transaction()
    def test_sla_clock_pauses_and_survives_priority_change(self):
        "Due dates in business time; the clock pauses; targets change"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Note = pool.get('itsm.ticket.note')
        company = create_company()
        with set_company(company):
            create_sla_policy()
            with clock(2026, 11, 30, 9):  # Monday 09:00
                ticket, = Ticket.create([{'subject': "Slow ERP"}])
            self.assertEqual(ticket.priority, '3')
            self.assertEqual(ticket.response_due, at(2026, 11, 30, 10))
            self.assertEqual(ticket.resolution_due, at(2026, 12, 1, 9))
            self.assertEqual(ticket.sla_next_due, at(2026, 11, 30, 10))

            with clock(2026, 11, 30, 9, 30):
                Note.create([{
                            'ticket': ticket, 'visibility': 'public',
                            'body': "We are looking into it"}])
            self.assertEqual(ticket.first_response_at, at(2026, 11, 30, 9, 30))
            self.assertFalse(ticket.response_breached)
            self.assertEqual(ticket.sla_next_due, at(2026, 12, 1, 9))

            with clock(2026, 11, 30, 11):
                Ticket.write([ticket], {'assignee': None})
                Ticket.wait_requester([ticket])  # 2 h spent
            self.assertIsNone(ticket.resolution_due)
            with clock(2026, 12, 1, 12):  # Tuesday noon, she answers
                self.assertEqual(ticket.sla_status, 'paused')
                self.assertEqual(ticket.sla_elapsed, dt.timedelta(hours=2))
                Ticket.start([ticket])
            # 6 h left: Tuesday 12:00-16:00, Wednesday 08:00-10:00
            self.assertEqual(ticket.resolution_due, at(2026, 12, 2, 10))

            with clock(2026, 12, 1, 13):
                # Critical now: 2 h to resolve, 3 h already spent.
                Ticket.write([ticket], {'impact': '1', 'urgency': '1'})
            self.assertEqual(ticket.resolution_target, dt.timedelta(hours=2))
            self.assertEqual(ticket.resolution_due, at(2026, 11, 30, 11))
            self.assertTrue(ticket.resolution_breached)
            with clock(2026, 12, 1, 13, 5):
                Ticket.write([ticket], {'impact': '2', 'urgency': '2'})
            self.assertEqual(ticket.resolution_due, at(2026, 12, 2, 10))
            self.assertFalse(ticket.resolution_breached)

            with clock(2026, 12, 2, 9):  # 7 h of 8 spent
                ticket.resolution = "Index rebuilt"
                ticket.save()
                Ticket.resolve([ticket])
            self.assertFalse(ticket.resolution_breached)
            with clock(2026, 12, 9, 9):
                Ticket.close([ticket])
                self.assertEqual(ticket.sla_status, 'met')
            self.assertEqual(
                [(p.start, p.end) for p in ticket.sla_periods], [
                    (at(2026, 11, 30, 9), at(2026, 11, 30, 11)),
                    (at(2026, 12, 1, 12), at(2026, 12, 2, 9))])

    @with_transaction()
    def test_sla_cron_warns_then_escalates(self):
        "Before the due date the assignee is warned; after, escalated"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Team = pool.get('itsm.team')
        company = create_company()
        agent = create_user('agent', 'group_agent', company)
        leader = create_user('leader', 'group_manager', company)
        with set_company(company):
            create_sla_policy()
            team, = Team.create([{
                        'name': "Desk", 'leader': leader.id,
                        'members': [('add', [agent.id, leader.id])]}])
            with clock(2026, 11, 30, 9):
                ticket, = Ticket.create([{
                            'subject': "Printer", 'team': team,
                            'assignee': agent}])
            notifications = Transaction().user_notifications
            with clock(2026, 11, 30, 9, 15):
                Ticket.check_sla()
            self.assertEqual(notifications, [])
            with clock(2026, 11, 30, 9, 45):  # 15 min before response due
                Ticket.check_sla()
                Ticket.check_sla()
            self.assertEqual(
                sorted(n.user.id for n in notifications),
                sorted([agent.id, leader.id]))
            self.assertTrue(ticket.sla_warned)
            with clock(2026, 11, 30, 10, 5):
                Ticket.check_sla()
            self.assertTrue(ticket.response_breached)
            self.assertEqual(ticket.escalation_level, 1)
            self.assertEqual(ticket.assignee, leader)
            self.assertEqual(len(notifications), 3)
            with clock(2026, 11, 30, 10, 10):
                Ticket.check_sla()
            self.assertEqual(ticket.escalation_level, 1)

    @with_transaction()
    def test_sla_policy_matching(self):
        "The first policy whose criteria match applies, categories nest"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Policy = pool.get('itsm.sla.policy')
        Category = pool.get('itsm.ticket.category')
        company = create_company()
        with set_company(company):
            standard = create_sla_policy()
            hardware, = Category.create([{
                        'name': "Hardware",
                        'children': [('create', [{'name': "Printer"}])]}])
            printer, = hardware.children
            vip, = Policy.create([{
                        'name': "Hardware", 'sequence': 1,
                        'calendar': standard.calendar.id,
                        'categories': [('add', [hardware.id])],
                        'targets': [('create', [{
                                        'priority': '3',
                                        'response_time': dt.timedelta(
                                            minutes=10)}])]}])
            with clock(2026, 11, 30, 9):
                printing, other, change = Ticket.create([
                        {'subject': "Jam", 'category': printer},
                        {'subject': "Mail"},
                        {'subject': "Patch", 'type': 'change'}])
            self.assertEqual(printing.sla_policy, vip)
            self.assertEqual(printing.response_due, at(2026, 11, 30, 9, 10))
            self.assertIsNone(printing.resolution_due)
            self.assertEqual(other.sla_policy, standard)
            self.assertIsNone(change.sla_policy)

    @with_transaction()
    def test_sla_policy_changes_apply_to_next_tickets(self):
        "The tickets opened after a policy changed get the new terms"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Policy = pool.get('itsm.sla.policy')
        Target = pool.get('itsm.sla.policy.target')
        PolicyCategory = pool.get('itsm.sla.policy-itsm.ticket.category')
        Category = pool.get('itsm.ticket.category')
        company = create_company()
        with set_company(company):
            standard = create_sla_policy()
            hardware, = Category.create([{'name': "Hardware"}])

            def open_ticket():
                with clock(2026, 11, 30, 9):
                    ticket, = Ticket.create([{'subject': "Mail"}])
                return ticket

            self.assertEqual(open_ticket().response_due, at(2026, 11, 30, 10))
            target, = Target.search([
                    ('policy', '=', standard.id), ('priority', '=', '3')])
            Target.write([target], {'response_time': dt.timedelta(hours=2)})
            self.assertEqual(open_ticket().response_due, at(2026, 11, 30, 11))
            # Also when the criteria are edited as records of their own
            link, = PolicyCategory.create([{
                        'policy': standard.id, 'category': hardware.id}])
            self.assertIsNone(open_ticket().sla_policy)
            PolicyCategory.delete([link])
            self.assertEqual(open_ticket().sla_policy, standard)
            Policy.write([standard], {'active': False})
            self.assertIsNone(open_ticket().sla_policy)


clock = sla_clock
at = dt.datetime


def create_user(login, group, company):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    groups = [ModelData.get_id('itsm_ticket', group)] if group else []
    user, = User.create([{
                'login': login, 'name': login.title(),
                'companies': [('add', [company.id])],
                'company': company.id,
                'groups': [('add', groups)],
                }])
    return user


del ModuleTestCase
