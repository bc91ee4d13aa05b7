# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The reports of the Service Desk: the figures they compute in SQL from
tickets of known dates, states and SLA outcomes, on the backend of the run
(SQLite, or PostgreSQL with TRYTOND_DATABASE__URI)"""
import datetime as dt
import sqlite3
from unittest.mock import patch
from xml.etree import ElementTree

from sql import Column, Flavor, Literal, Select, Table
from trytond.model.exceptions import AccessError
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder, PYSONEncoder
from trytond.tests.test_tryton import (
    with_transaction,
)
from trytond.transaction import Transaction, check_access

from ..reporting import hours_between, period_start
from ..workflow import TYPES
from .test_module import create_user
from .tools import ActivatedModuleCase, create_sla_policy

D = dt.date
T = dt.datetime
TYPES = dict(TYPES)


def _render(expression, flavor=None):
    """The SQL of the expression in a plain flavor: the tests of the
    database may have set that of their backend"""
    previous = Flavor.get()
    Flavor.set(flavor or Flavor())
    try:
        return tuple(Select([expression]))
    finally:
        Flavor.set(previous)


def _sqlite_select(expression):
    "The value of the expression, computed by a plain SQLite"
    query = _render(expression, Flavor(paramstyle='qmark'))
    value, = sqlite3.connect(':memory:').execute(*query).fetchone()
    return value


def test_period_start_on_sqlite():
    "SQLite's date() gives the first day of the year, month, week or day"
    def start(period, timestamp):
        return _sqlite_select(
            period_start(period, Literal(timestamp), 'sqlite'))
    wednesday = '2024-03-13 15:30:00.123456'
    assert start('year', wednesday) == '2024-01-01'
    assert start('month', wednesday) == '2024-03-01'
    assert start('week', wednesday) == '2024-03-11'
    assert start('day', wednesday) == '2024-03-13'
    # Weeks start on Monday
    assert start('week', '2024-03-11 00:00:00') == '2024-03-11'
    assert start('week', '2024-03-17 23:59:59') == '2024-03-11'


def test_period_start_on_postgresql_truncates():
    table = Table('itsm_ticket')
    sql, params = _render(
        period_start('week', table.create_date, 'postgresql'))
    assert sql.startswith('SELECT CAST(DATE_TRUNC(%s, "a"."create_date")')
    assert sql.endswith('AS DATE)')
    assert params == ('week',)


def test_period_start_refuses_unknown_period():
    table = Table('itsm_ticket')
    try:
        period_start('fortnight', table.create_date, 'sqlite')
    except ValueError:
        pass
    else:
        raise AssertionError("no error")


def test_hours_between_on_sqlite():
    "julianday() arithmetic on SQLite"
    hours = _sqlite_select(hours_between(
                Literal('2024-01-30 12:00:00'),
                Literal('2024-02-01 18:30:00.000000'), 'sqlite'))
    assert abs(hours - 54.5) < 1e-6


def test_hours_between_on_postgresql_uses_epoch():
    table = Table('itsm_ticket')
    sql, params = _render(hours_between(
            table.create_date, table.resolved_at, 'postgresql'))
    assert sql == (
        'SELECT EXTRACT(EPOCH FROM "a"."resolved_at" - "a"."create_date") '
        '/ %s')
    assert params == (3600,)


SQL_VALUES = {
    'state', 'priority', 'create_date', 'resolved_at',
    'response_breached', 'resolution_breached', 'sla_policy',
    }


def create_tickets(company, *rows):
    """Create a ticket per row, then set by SQL what the workflow, the clock
    and the SLA engine set: state, priority, create_date, resolved_at and
    the breach flags"""
    pool = Pool()
    Ticket = pool.get('itsm.ticket')
    table = Ticket.__table__()
    cursor = Transaction().connection.cursor()
    tickets = Ticket.create([{
                'subject': f"Ticket {i}",
                'company': company.id,
                **{k: v for k, v in row.items() if k not in SQL_VALUES},
                } for i, row in enumerate(rows)])
    for ticket, row in zip(tickets, rows, strict=True):
        values = {k: v for k, v in row.items() if k in SQL_VALUES}
        if values:
            cursor.execute(*table.update(
                    [Column(table, k) for k in values],
                    list(values.values()),
                    where=table.id == ticket.id))
    return tickets


def report(model, names, **context):
    "The rows of the report as tuples of the names, in the report's order"
    pool = Pool()
    Report = pool.get(model)
    with Transaction().set_context(context):
        return [
            tuple(getattr(r, n) for n in names) for r in Report.search([])]


def totals(model, key, **context):
    "The number of tickets of the report per value of the key"
    result = {}
    for value, number in report(model, [key, 'number'], **context):
        result[value] = result.get(value, 0) + number
    return result


class ReportingTestCase(ActivatedModuleCase):
    "The figures of the Service Desk's reports"

    @with_transaction()
    def test_backlog_per_state(self):
        "The open tickets of the company per state and type"
        pool = Pool()
        Backlog = pool.get('itsm.ticket.reporting.backlog.state')
        Ticket = pool.get('itsm.ticket')
        company = create_company()
        other = create_company(name="Elsewhere")
        with set_company(company):
            first, second, *_ = create_tickets(company,
                {'state': 'new'},
                {'state': 'new'},
                {'state': 'in_progress'},
                {'state': 'resolved'},
                {'type': 'problem', 'state': 'analysis'},
                {'type': 'change', 'state': 'draft'},
                {'type': 'change', 'state': 'rejected'},
                {'type': 'request', 'state': 'closed'},
                {'type': 'request', 'state': 'cancelled'})
        with set_company(other):
            create_tickets(other, {'state': 'new'})

        names = ['state', 'type', 'number']
        self.assertEqual(
            report(Backlog.__name__, names, company=company.id), [
                ('new', 'incident', 2),
                ('in_progress', 'incident', 1),
                ('analysis', 'problem', 1),
                ('draft', 'change', 1),
                ])
        self.assertEqual(
            report(Backlog.__name__, names, company=other.id),
            [('new', 'incident', 1)])

        # The ids are unique, stable and read back
        with Transaction().set_context(company=company.id):
            rows = Backlog.search([])
            self.assertEqual(len({r.id for r in rows}), len(rows))
            self.assertEqual(rows, Backlog.search([]))
            self.assertEqual(rows[0].id, min(first.id, second.id))
            self.assertEqual(Backlog(rows[0].id).number, 2)
            self.assertEqual(
                Backlog.search([('type', '=', 'incident')], count=True), 2)
        self.assertEqual(Ticket.search([], count=True), 10)

    @with_transaction()
    def test_backlog_per_priority_of_a_team(self):
        "The open tickets per priority and type, of a team or of all"
        pool = Pool()
        Team = pool.get('itsm.team')
        company = create_company()
        with set_company(company):
            desk, network = Team.create([
                    {'name': "Desk"}, {'name': "Network"}])
            create_tickets(company,
                {'priority': '1', 'team': desk},
                {'priority': '1', 'team': desk},
                {'priority': '3', 'team': desk, 'type': 'request'},
                {'priority': '1', 'team': network},
                {'priority': '2'},
                {'priority': '1', 'team': desk, 'state': 'closed'})

        model = 'itsm.ticket.reporting.backlog.priority'
        names = ['priority', 'type', 'number']
        self.assertEqual(report(model, names, company=company.id), [
                ('1', 'incident', 3),
                ('2', 'incident', 1),
                ('3', 'request', 1),
                ])
        self.assertEqual(
            report(model, names, company=company.id, team=desk.id), [
                ('1', 'incident', 2),
                ('3', 'request', 1),
                ])

    @with_transaction()
    def test_volume_per_period_type_and_category(self):
        "The tickets opened per period, type and category, between dates"
        pool = Pool()
        Category = pool.get('itsm.ticket.category')
        company = create_company()
        with set_company(company):
            hardware, network = Category.create([
                    {'name': "Hardware"}, {'name': "Network"}])
            create_tickets(company,
                {'create_date': T(2023, 12, 31, 23, 59, 59),
                    'category': hardware},
                {'create_date': T(2024, 1, 5, 10), 'category': hardware},
                {'create_date': T(2024, 1, 20, 23, 59, 59),
                    'category': hardware, 'state': 'closed'},
                {'create_date': T(2024, 1, 31, 12), 'type': 'request',
                    'category': network},
                {'create_date': T(2024, 2, 1)},
                {'create_date': T(2024, 2, 29, 23, 59, 59),
                    'category': hardware},
                {'create_date': T(2024, 3, 1), 'category': hardware})

        model = 'itsm.ticket.reporting.volume'
        context = {
            'company': company.id,
            'from_date': D(2024, 1, 1),
            'to_date': D(2024, 2, 29),
            'period': 'month',
            }
        rows = report(model, ['date', 'type', 'category', 'number'],
            **context)
        self.assertEqual(sorted(rows, key=str), sorted([
                    (D(2024, 1, 1), 'incident', hardware, 2),
                    (D(2024, 1, 1), 'request', network, 1),
                    (D(2024, 2, 1), 'incident', None, 1),
                    (D(2024, 2, 1), 'incident', hardware, 1),
                    ], key=str))
        self.assertEqual([r[0] for r in rows], sorted(r[0] for r in rows))
        self.assertEqual(totals(model, 'category', **context), {
                hardware: 3, network: 1, None: 1})
        self.assertEqual(totals(model, 'type', **context), {
                'incident': 4, 'request': 1})

        context = {'company': company.id}
        self.assertEqual(totals(model, 'date', period='year', **context), {
                D(2023, 1, 1): 1, D(2024, 1, 1): 6})
        self.assertEqual(totals(model, 'date', period='week', **context), {
                D(2023, 12, 25): 1,
                D(2024, 1, 1): 1,
                D(2024, 1, 15): 1,
                D(2024, 1, 29): 2,
                D(2024, 2, 26): 2,
                })
        self.assertEqual(totals(model, 'date', period='day', **context), {
                D(2023, 12, 31): 1,
                D(2024, 1, 5): 1,
                D(2024, 1, 20): 1,
                D(2024, 1, 31): 1,
                D(2024, 2, 1): 1,
                D(2024, 2, 29): 1,
                D(2024, 3, 1): 1,
                })

    @with_transaction()
    def test_mean_time_to_resolve(self):
        "The mean hours from opening to resolution, per month of resolution"
        company = create_company()
        with set_company(company):
            create_tickets(company,
                {'priority': '1', 'state': 'resolved',
                    'create_date': T(2024, 1, 10, 8),
                    'resolved_at': T(2024, 1, 10, 10)},
                {'priority': '1', 'state': 'closed',
                    'create_date': T(2024, 1, 11, 8),
                    'resolved_at': T(2024, 1, 11, 12)},
                {'priority': '1', 'state': 'resolved',
                    'create_date': T(2023, 12, 31, 23),
                    'resolved_at': T(2024, 1, 1, 1)},
                {'priority': '3', 'state': 'resolved', 'type': 'request',
                    'create_date': T(2024, 1, 2),
                    'resolved_at': T(2024, 1, 2, 10, 30)},
                {'priority': '2', 'state': 'closed',
                    'create_date': T(2024, 1, 30, 12),
                    'resolved_at': T(2024, 2, 1, 18)},
                {'priority': '1', 'state': 'in_progress',
                    'create_date': T(2024, 1, 3)},
                {'priority': '1', 'state': 'resolved',
                    'create_date': T(2024, 2, 20),
                    'resolved_at': T(2024, 3, 1)})

        context = {
            'company': company.id,
            'from_date': D(2024, 1, 1),
            'to_date': D(2024, 2, 29),
            }
        for model, key, expected in [
                ('itsm.ticket.reporting.resolution_time', 'type', [
                        (D(2024, 1, 1), 'incident', 3, 8 / 3),
                        (D(2024, 1, 1), 'request', 1, 10.5),
                        (D(2024, 2, 1), 'incident', 1, 54),
                        ]),
                ('itsm.ticket.reporting.resolution_time.priority',
                    'priority', [
                        (D(2024, 1, 1), '1', 3, 8 / 3),
                        (D(2024, 1, 1), '3', 1, 10.5),
                        (D(2024, 2, 1), '2', 1, 54),
                        ]),
                ]:
            with self.subTest(model=model):
                rows = report(
                    model, ['date', key, 'number', 'mean_hours'], **context)
                self.assertEqual(
                    [r[:3] for r in rows], [e[:3] for e in expected])
                for row, expect in zip(rows, expected, strict=True):
                    self.assertIsInstance(row[3], float)
                    self.assertAlmostEqual(row[3], expect[3], places=6)

    @with_transaction()
    def test_sla_compliance(self):
        "The share of the decided SLA targets that were met, per month"
        company = create_company()
        with set_company(company):
            policy = create_sla_policy()
            # What the SLA engine leaves: NULL while a target is undecided,
            # True once late, False when met.
            create_tickets(company, *[{
                        'create_date': created,
                        'state': state,
                        'sla_policy': policy.id if has_sla else None,
                        'response_breached': response,
                        'resolution_breached': resolution,
                        } for created, state, has_sla, response, resolution
                    in [
                        (T(2024, 1, 2), 'closed', True, False, False),
                        (T(2024, 1, 3), 'resolved', True, True, False),
                        (T(2024, 1, 4), 'closed', True, False, True),
                        # open, answered in time, resolution undecided
                        (T(2024, 1, 5), 'in_progress', True, False, None),
                        # open and late: the breaches count already
                        (T(2024, 1, 6), 'in_progress', True, True, True),
                        # no SLA
                        (T(2024, 1, 7), 'closed', False, None, None),
                        (T(2024, 1, 8), 'cancelled', True, False, None),
                        (T(2024, 1, 9), 'new', True, None, True),
                        (T(2024, 2, 1), 'in_progress', True, False, None),
                        ]])

        names = [
            'date', 'number',
            'response_number', 'response_met', 'response_rate',
            'resolution_number', 'resolution_met', 'resolution_rate',
            ]
        rows = report('itsm.ticket.reporting.sla', names,
            company=company.id)
        self.assertEqual(rows, [
                (D(2024, 1, 1), 7, 6, 4, 400 / 6, 5, 2, 40.0),
                (D(2024, 2, 1), 1, 1, 1, 100.0, 0, 0, None),
                ])

    @with_transaction()
    def test_reports_count_only_readable_tickets(self):
        "The reports count only the tickets their user may read"
        pool = Pool()
        Team = pool.get('itsm.team')
        Configuration = pool.get('itsm.configuration')
        Backlog = pool.get('itsm.ticket.reporting.backlog.state')
        Volume = pool.get('itsm.ticket.reporting.volume')
        Ticket = pool.get('itsm.ticket')
        Category = pool.get('itsm.ticket.category')
        RuleGroup = pool.get('ir.rule.group')
        company = create_company()
        agent = create_user('agent', 'group_agent', company)
        manager = create_user('manager', 'group_manager', company)
        nobody = create_user('nobody', None, company)
        with set_company(company):
            desk, network = Team.create([
                    {'name': "Desk", 'members': [('add', [agent.id])]},
                    {'name': "Network"}])
            secret, = Category.create([{'name': "Secret"}])
            *desk_tickets, _, _ = create_tickets(company,
                {'team': desk}, {'team': desk}, {'team': network}, {})
        Configuration.write([Configuration(1)], {
                'agents_see_own_teams': True})

        def count(user, Report, **context):
            with Transaction().set_user(user.id), check_access(), \
                    Transaction().set_context(company=company.id, **context):
                return sum(r.number for r in Report.search([]))
        self.assertEqual(count(agent, Backlog), 3)
        self.assertEqual(count(agent, Volume, from_date=None), 3)
        self.assertEqual(count(manager, Backlog), 4)
        self.assertEqual(count(manager, Backlog, team=network.id), 1)
        with self.assertRaises(AccessError):
            count(nobody, Backlog)

        # A rule through the category (a join) applies as well
        Ticket.write(desk_tickets[:1], {'category': secret.id})
        RuleGroup.create([{
                    'name': "No secret tickets",
                    'model': 'itsm.ticket',
                    'global_p': True,
                    'rules': [('create', [{
                                    'domain': PYSONEncoder().encode([
                                            'OR',
                                            ('category', '=', None),
                                            ('category.name', '!=', "Secret"),
                                            ]),
                                    }])],
                    }])
        self.assertEqual(count(agent, Backlog), 2)
        self.assertEqual(count(manager, Volume, from_date=None), 3)

        # Rules that would join other tables apply through a subquery
        search_domain = Ticket.search_domain

        def joining(domain, active_test=None, tables=None):
            joins = tables is not None
            tables, expression = search_domain(
                domain, active_test=active_test, tables=tables)
            if joins:
                # An expression that is only true with the joined table
                tables['category'] = {None: (Table('unused'), None)}
                expression = Literal(False)
            return tables, expression
        with patch.object(Ticket, 'search_domain', staticmethod(joining)):
            self.assertEqual(count(agent, Backlog), 2)
            self.assertEqual(count(manager, Volume, from_date=None), 3)

    @with_transaction()
    def test_graph_series_per_value(self):
        "Each series of a graph sums the rows of its own type or priority"
        pool = Pool()
        View = pool.get('ir.ui.view')
        views = View.search([
                ('module', '=', 'itsm_ticket'),
                ('model', 'like', 'itsm.ticket.reporting.%'),
                ('type', '=', 'graph'),
                ])
        self.assertEqual(len(views), 7)
        for view in views:
            Report = pool.get(view.model)
            arch = Report.fields_view_get(view.id)
            root = ElementTree.fromstring(arch['arch'])
            for field in root.iterfind('y/field[@key]'):
                with self.subTest(view=view.name, key=field.get('key')):
                    # sao evaluates the domain on the row's values
                    name = ('type' if field.get('key') in TYPES
                        else 'priority')
                    self.assertIn(name, arch['fields'])
                    domain = field.get('domain')
                    self.assertTrue(PYSONDecoder(
                            {name: field.get('key')}).decode(domain))
                    self.assertFalse(PYSONDecoder(
                            {name: 'other'}).decode(domain))
