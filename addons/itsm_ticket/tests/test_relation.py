# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Relations between tickets and the merge of duplicates.

The database tests live in their own class, without ModuleTestCase, so that
Tryton's generic module tests are not run a second time: the class only
activates the module, as ModuleTestCase.setUpClass does.
"""

from trytond.model.exceptions import AccessError, ValidationError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    with_transaction,
)
from trytond.transaction import Transaction, check_access

from ..relation import READINGS, SIDES, canonical, other_ticket_type, reaches
from .test_module import create_user
from .tools import ActivatedModuleCase


def test_every_reading_is_a_side_and_reads_back():
    "Each way of reading a relation names its type and its direction"
    sides = {side for side, _ in SIDES}
    for type_, (from_side, to_side) in READINGS.items():
        assert {from_side, to_side} <= sides
        assert canonical(from_side) == (type_, True)
        if from_side != to_side:
            assert canonical(to_side) == (type_, False)
    assert sides == {s for pair in READINGS.values() for s in pair}


def test_other_ticket_type():
    "The problem's incidents are incidents, the incident's problem a problem"
    assert other_ticket_type('incident') == 'incident'
    assert other_ticket_type('problem') == 'problem'
    assert other_ticket_type('fixes') == 'problem'
    assert other_ticket_type('includes') == 'change'
    assert other_ticket_type('relates_to') is None


def test_reaches_walks_one_level_at_a_time():
    tree = {1: [2, 3], 2: [4], 4: [1, 5]}
    calls = []

    def children(nodes):
        calls.append(set(nodes))
        return [c for n in nodes for c in tree.get(n, [])]

    assert reaches(2, 5, children)
    assert calls == [{2}, {4}]
    assert not reaches(3, 1, children)
    assert reaches(7, 7, children)
    # A cycle already there does not loop forever.
    assert not reaches(1, 9, children)


class TicketRelationTestCase(ActivatedModuleCase):
    "Relations between tickets and the merge of duplicates, in a database"

    def relate(self, ticket, side, other):
        "Link other to ticket from ticket's form, as an agent does"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Ticket.write([ticket], {'relations': [('create', [{
                            'type': side, 'other': other.id}])]})

    def labels(self, ticket):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        return sorted(s.rec_name for s in Ticket(ticket.id).relations)

    @with_transaction()
    def test_relation_is_stored_once_and_read_from_both_sides(self):
        "A problem lists its incidents and each incident names its problem"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Relation = pool.get('itsm.ticket.relation')
        company = create_company()
        with set_company(company):
            problem, first, second = Ticket.create([
                    {'subject': "Mail relay drops", 'type': 'problem'},
                    {'subject': "Cannot send"},
                    {'subject': "Outbox stuck"},
                    ])
            # From the problem's side and from the incident's side.
            self.relate(problem, 'incident', first)
            self.relate(second, 'problem', problem)

            relations = Relation.search([])
            self.assertEqual(
                {(r.type, r.from_ticket, r.to_ticket) for r in relations},
                {('problem_of', problem, first),
                    ('problem_of', problem, second)})
            self.assertEqual(self.labels(problem), [
                    f"Incident: {first.number}",
                    f"Incident: {second.number}"])
            self.assertEqual(
                self.labels(first), [f"Problem: {problem.number}"])

            problem, first = Ticket.browse([problem.id, first.id])
            self.assertEqual(set(problem.incidents), {first, second})
            self.assertEqual(first.problem, problem)
            self.assertIsNone(problem.problem)
            self.assertEqual(
                Ticket.search([('problem', '=', problem.id)]),
                Ticket.search([('id', 'in', [first.id, second.id])]))
            self.assertEqual(
                Ticket.search([('incidents', '=', first.id)]), [problem])
            self.assertEqual(
                Ticket.search([('problem.number', '=', problem.number)],
                    count=True), 2)
            self.assertEqual(
                Ticket.search([('problem', '=', None)]), [problem])

    @with_transaction()
    def test_symmetric_relation_reads_the_same_from_both_sides(self):
        "Relates to reads the same from both tickets"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            first, second = Ticket.create([
                    {'subject': "VPN slow"}, {'subject': "Wi-Fi slow"}])
            self.relate(second, 'relates_to', first)
            self.assertEqual(
                self.labels(first), [f"Relates to: {second.number}"])
            self.assertEqual(
                self.labels(second), [f"Relates to: {first.number}"])

    @with_transaction()
    def test_change_and_delete_a_relation_from_either_side(self):
        "Editing a row of the ticket's list edits the stored relation"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Relation = pool.get('itsm.ticket.relation')
        company = create_company()
        with set_company(company):
            first, second, third = Ticket.create([
                    {'subject': "A"}, {'subject': "B"}, {'subject': "C"}])
            self.relate(first, 'caused_by', second)
            side, = Ticket(second.id).relations
            self.assertEqual(side.type, 'causes')

            # From the cause's side, it now causes the third instead.
            Ticket.write([second], {'relations': [('write', [side.id], {
                                'other': third.id})]})
            relation, = Relation.search([])
            self.assertEqual(
                (relation.type, relation.from_ticket, relation.to_ticket),
                ('caused_by', third, second))
            # Read from the third ticket, it turns into a duplicate.
            side, = Ticket(third.id).relations
            Ticket.write([third], {'relations': [('write', [side.id], {
                                'type': 'duplicated_by'})]})
            relation, = Relation.search([])
            self.assertEqual(
                (relation.type, relation.from_ticket, relation.to_ticket),
                ('duplicate_of', second, third))

            side, = Ticket(second.id).relations
            Ticket.write([second], {'relations': [('delete', [side.id])]})
            self.assertEqual(Relation.search([]), [])
            self.assertEqual(Ticket(third.id).relations, ())

    @with_transaction()
    def test_relation_to_itself_is_refused(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            ticket, = Ticket.create([{'subject': "Printer"}])
            with self.assertRaisesRegex(ValidationError, 'to itself'):
                self.relate(ticket, 'relates_to', ticket)

    @with_transaction()
    def test_same_relation_twice_is_refused(self):
        "The same pair and type is refused, whichever way round"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Relation = pool.get('itsm.ticket.relation')
        company = create_company()
        with set_company(company):
            # A refused relation stays in the test's transaction: each
            # attempt gets its own tickets.
            for first_side, second_side in [
                    ('duplicate_of', 'duplicated_by'),
                    ('duplicated_by', 'duplicate_of'),
                    ('duplicate_of', 'duplicate_of'),
                    ('relates_to', 'relates_to'),
                    ]:
                first, second = Ticket.create([
                        {'subject': "A"}, {'subject': "B"}])
                self.relate(first, first_side, second)
                with self.subTest(first=first_side, second=second_side), \
                        self.assertRaisesRegex(
                            ValidationError, 'already related'):
                    self.relate(second, second_side, first)

            first, second = Ticket.create([
                    {'subject': "A"}, {'subject': "B"}])
            with self.assertRaisesRegex(ValidationError, 'already related'):
                Relation.create([
                        {'type': 'relates_to', 'from_ticket': first.id,
                            'to_ticket': second.id},
                        {'type': 'relates_to', 'from_ticket': second.id,
                            'to_ticket': first.id}])

            # Another type between the same tickets is another relation.
            first, second = Ticket.create([
                    {'subject': "A"}, {'subject': "B"}])
            self.relate(first, 'duplicate_of', second)
            self.relate(first, 'relates_to', second)
            self.assertEqual(len(Ticket(first.id).relations), 2)

    @with_transaction()
    def test_itil_relations_need_their_ticket_types(self):
        "Problems have incidents, changes fix problems, releases ship changes"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            specs = {
                'incident': {'subject': "Slow"},
                'problem': {'subject': "Disk full", 'type': 'problem'},
                'change': {'subject': "Bigger disk", 'type': 'change'},
                'release': {'subject': "2026.1", 'type': 'release'},
                }
            for type_, side, other_type in [
                    ('incident', 'incident', 'incident'),
                    ('incident', 'problem', 'change'),
                    ('problem', 'fixed_by', 'release'),
                    ('change', 'fixes', 'incident'),
                    ('problem', 'released_in', 'release'),
                    ('release', 'includes', 'problem'),
                    ]:
                ticket, other = Ticket.create(
                    [specs[type_], specs[other_type]])
                with self.subTest(side=side, other=other_type), \
                        self.assertRaisesRegex(
                            ValidationError, 'goes from a ticket of type'):
                    self.relate(ticket, side, other)

            incident, problem, change, release = Ticket.create(
                list(specs.values()))
            self.relate(incident, 'problem', problem)
            self.relate(change, 'fixes', problem)
            self.relate(release, 'includes', change)
            problem, change, release = Ticket.browse(
                [problem.id, change.id, release.id])
            self.assertEqual(problem.fixed_by_changes, (change,))
            self.assertEqual(change.released_in, release)
            self.assertEqual(self.labels(release), [
                    f"Includes Change: {change.number}"])
            self.assertEqual(self.labels(problem), [
                    f"Fixed by Change: {change.number}",
                    f"Incident: {incident.number}"])

    @with_transaction()
    def test_one_problem_per_incident_and_one_release_per_change(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            incident, problem, other_problem, change, r1, r2 = \
                Ticket.create([
                    {'subject': "Slow"},
                    {'subject': "Disk", 'type': 'problem'},
                    {'subject': "CPU", 'type': 'problem'},
                    {'subject': "Upgrade", 'type': 'change'},
                    {'subject': "R1", 'type': 'release'},
                    {'subject': "R2", 'type': 'release'},
                    ])
            self.relate(problem, 'incident', incident)
            with self.assertRaisesRegex(ValidationError, 'only one relation'):
                self.relate(other_problem, 'incident', incident)
            self.relate(change, 'released_in', r1)
            with self.assertRaisesRegex(ValidationError, 'only one relation'):
                self.relate(r2, 'includes', change)

    @with_transaction()
    def test_parent_cycle_is_refused(self):
        "A ticket cannot be above itself in the parent/child hierarchy"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            def hierarchy():
                "A above B above C, and D above C too"
                a, b, c, d = Ticket.create([
                        {'subject': "A"}, {'subject': "B"},
                        {'subject': "C"}, {'subject': "D"}])
                self.relate(a, 'parent_of', b)
                self.relate(c, 'child_of', b)
                # Several parents are fine as long as nothing loops.
                self.relate(d, 'parent_of', c)
                return a, b, c, d

            for name, side, other in [
                    ('c', 'parent_of', 'a'),
                    ('a', 'child_of', 'c'),
                    ('b', 'parent_of', 'a'),
                    ]:
                tickets = dict(zip('abcd', hierarchy(), strict=True))
                with self.subTest(ticket=name, side=side), \
                        self.assertRaisesRegex(
                            ValidationError, 'already above'):
                    self.relate(tickets[name], side, tickets[other])
            a, b, c, d = hierarchy()
            self.relate(a, 'parent_of', d)

    @with_transaction()
    def test_relation_across_companies_is_refused(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        other_company = create_company(name="Elsewhere")
        with set_company(company):
            ours, = Ticket.create([{'subject': "Ours"}])
        with set_company(other_company):
            theirs, = Ticket.create([{'subject': "Theirs"}])
        with self.assertRaisesRegex(ValidationError, 'different companies'):
            self.relate(ours, 'relates_to', theirs)

    @with_transaction()
    def test_relations_are_not_copied(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        with set_company(company):
            first, second = Ticket.create([
                    {'subject': "A"}, {'subject': "B"}])
            self.relate(first, 'relates_to', second)
            copy, = Ticket.copy([first])
            self.assertEqual(copy.relations, ())

    @with_transaction()
    def test_relations_go_with_a_deleted_ticket(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Relation = pool.get('itsm.ticket.relation')
        company = create_company()
        with set_company(company):
            first, second = Ticket.create([
                    {'subject': "A"}, {'subject': "B"}])
            self.relate(first, 'relates_to', second)
            Ticket.delete([second])
            self.assertEqual(Relation.search([]), [])
            self.assertEqual(Ticket(first.id).relations, ())

    @with_transaction()
    def test_agent_relates_and_sees_only_what_she_may_read(self):
        """An agent links tickets from the form; one who sees only her
        teams' tickets does not see the relations to the others"""
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Side = pool.get('itsm.ticket.relation.side')
        Team = pool.get('itsm.team')
        Configuration = pool.get('itsm.configuration')
        company = create_company()
        agent = create_user('agent', 'group_agent', company)
        outsider = create_user('outsider', None, company)
        with set_company(company):
            desk, problems = Team.create([
                    {'name': "Desk", 'members': [('add', [agent.id])]},
                    {'name': "Problems"}])
            incident, problem = Ticket.create([
                    {'subject': "Slow", 'team': desk},
                    {'subject': "Disk", 'type': 'problem',
                        'team': problems}])
            with Transaction().set_user(agent.id), check_access():
                self.relate(Ticket(incident.id), 'problem', problem)
                # What the client reads, with the agent's rights.
                row, = Ticket.read([incident.id], ['relations', 'problem'])
                self.assertEqual(row['problem'], problem.id)
                side, = Side.read(row['relations'], ['rec_name'])
                self.assertEqual(
                    side['rec_name'], f"Problem: {problem.number}")
            with Transaction().set_user(outsider.id), check_access(), \
                    self.assertRaises(AccessError):
                self.relate(Ticket(incident.id), 'relates_to', problem)

            Configuration.write([Configuration(1)], {
                    'agents_see_own_teams': True})
            with Transaction().set_user(agent.id), check_access():
                row, = Ticket.read([incident.id], ['relations', 'problem'])
                self.assertEqual(list(row['relations']), [])
                self.assertIsNone(row['problem'])

    def merge_fixture(self):
        "A kept ticket and two duplicates with work on them"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Party = pool.get('party.party')
        Attachment = pool.get('ir.attachment')
        admin = pool.get('res.user')(1)
        ewa, jan, ola = Party.create([
                {'name': "Ewa"}, {'name': "Jan"}, {'name': "Ola"}])
        kept, first, second = Ticket.create([{
                    'subject': "Cannot send mail", 'requester': ewa.id,
                    'watchers': [('add', [admin.id])],
                    'watcher_parties': [('add', [ola.id])],
                    }, {
                    'subject': "Mail stuck", 'requester': jan.id,
                    'watchers': [('add', [admin.id])],
                    'watcher_parties': [('add', [ola.id])],
                    'messages': [('create', [{
                                    'direction': 'inbound',
                                    'body': "My mail is stuck"}])],
                    'notes': [('create', [{'body': "Checked the queue"}])],
                    'tasks': [('create', [{'name': "Restart relay"}])],
                    }, {
                    'subject': "Still cannot send", 'requester': ewa.id,
                    'messages': [('create', [
                                    {'direction': 'inbound',
                                        'body': "Again"},
                                    {'body': "We are on it"}])],
                    }])
        Attachment.create([{
                    'resource': str(second), 'name': "screenshot.png",
                    'data': b'png'}])
        return kept, first, second

    @with_transaction()
    def test_merge_moves_the_work_and_cancels_the_duplicates(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Relation = pool.get('itsm.ticket.relation')
        Attachment = pool.get('ir.attachment')
        UserWatcher = pool.get('itsm.ticket-res.user.watcher')
        PartyWatcher = pool.get('itsm.ticket-party.party.watcher')
        company = create_company()
        with set_company(company):
            kept, first, second = self.merge_fixture()
            Ticket.merge_into([first, second], kept)

            kept, first, second = Ticket.browse(
                [kept.id, first.id, second.id])
            self.assertEqual(
                sorted(m.body for m in kept.messages),
                ["Again", "My mail is stuck", "We are on it"])
            self.assertEqual([t.name for t in kept.tasks], ["Restart relay"])
            summary, moved = kept.notes
            self.assertEqual(
                (moved.body, moved.visibility),
                ("Checked the queue", 'private'))
            self.assertEqual(summary.visibility, 'public')
            self.assertTrue(summary.body.startswith(
                    f"Merged the duplicates {first.rec_name}, "
                    f"{second.rec_name} into this ticket"))
            self.assertEqual(
                Attachment.search([('resource', '=', str(kept))],
                    count=True), 1)
            # Each watcher once; Jan, who asked in a duplicate, watches too.
            self.assertEqual(
                [w.login for w in kept.watchers], ['admin'])
            self.assertEqual(
                sorted(p.name for p in kept.watcher_parties), ["Jan", "Ola"])
            self.assertEqual(UserWatcher.search([
                        ('ticket', 'in', [first.id, second.id])]), [])
            self.assertEqual(PartyWatcher.search([
                        ('ticket', 'in', [first.id, second.id])]), [])

            for duplicate in [first, second]:
                self.assertEqual(duplicate.state, 'cancelled')
                self.assertEqual(duplicate.messages, ())
                self.assertEqual(duplicate.tasks, ())
                note, = duplicate.notes
                self.assertIn(kept.number, note.body)
                self.assertEqual(note.visibility, 'public')
                self.assertEqual(
                    self.labels(duplicate), [f"Duplicate of: {kept.number}"])
            self.assertEqual(Relation.search([], count=True), 2)
            self.assertEqual(self.labels(kept), [
                    f"Duplicated by: {first.number}",
                    f"Duplicated by: {second.number}"])

    @with_transaction()
    def test_merge_turns_a_reversed_duplicate_relation(self):
        "Merging B into A replaces 'A duplicate of B' by 'B duplicate of A'"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Relation = pool.get('itsm.ticket.relation')
        company = create_company()
        with set_company(company):
            a, b, c = Ticket.create([
                    {'subject': "A"}, {'subject': "B"}, {'subject': "C"}])
            self.relate(a, 'duplicate_of', b)
            self.relate(c, 'duplicate_of', a)
            Ticket.merge_into([b, c], a)
            self.assertEqual(
                {(r.from_ticket, r.to_ticket) for r in Relation.search([])},
                {(b, a), (c, a)})

    @with_transaction()
    def test_merge_refusals(self):
        "Not into itself, not across companies, not a finished ticket"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        other_company = create_company(name="Elsewhere")
        with set_company(other_company):
            theirs, = Ticket.create([{'subject': "Theirs"}])
        with set_company(company):
            kept, new, closed, cancelled, resolved = Ticket.create([
                    {'subject': "Kept"}, {'subject': "New"},
                    {'subject': "Closed", 'resolution': "Done"},
                    {'subject': "Cancelled"},
                    {'subject': "Resolved", 'resolution': "Done"}])
            Ticket.resolve([closed, resolved])
            Ticket.close([closed])
            Ticket.cancel([cancelled])
            for duplicates, into, message in [
                    ([new, kept], kept, 'into itself'),
                    ([theirs], kept, 'different companies'),
                    ([closed], kept, 'is Closed'),
                    ([cancelled], kept, 'is Cancelled'),
                    ([resolved], kept, 'is Resolved'),
                    ([new], cancelled, 'keep an open ticket'),
                    ([], kept, 'Choose the duplicates'),
                    ]:
                with self.subTest(message=message), \
                        self.assertRaisesRegex(ValidationError, message):
                    Ticket.merge_into(duplicates, into)
            self.assertEqual(new.state, 'new')

    @with_transaction()
    def test_merge_wizard_as_an_agent(self):
        "From a list, the oldest ticket is kept; an agent merges the others"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        Merge = pool.get('itsm.ticket.merge', type='wizard')
        company = create_company()
        agent = create_user('agent', 'group_agent', company)
        with set_company(company):
            kept, first, second = self.merge_fixture()
            context = {
                'active_model': 'itsm.ticket',
                'active_ids': [second.id, kept.id, first.id],
                'active_id': second.id,
                }
            with Transaction().set_user(agent.id), \
                    Transaction().set_context(context):
                session_id, _, _ = Merge.create()
                result = Merge.execute(session_id, {}, 'start')
                defaults = result['view']['defaults']
                self.assertEqual(defaults['ticket'], kept.id)
                self.assertEqual(
                    defaults['duplicates'], [first.id, second.id])
                Merge.execute(session_id, {'start': {
                            'ticket': kept.id,
                            'duplicates': [first.id, second.id],
                            'company': company.id,
                            }}, 'merge')
                Merge.delete(session_id)
            self.assertEqual(
                [t.state for t in Ticket.browse([first.id, second.id])],
                ['cancelled', 'cancelled'])
            self.assertEqual(len(Ticket(kept.id).messages), 3)
