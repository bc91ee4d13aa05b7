# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Demo data: Oriale, its departments, sites and people, and the IT team.

Called by `itsm demo` (itsm_tools.demo) with a Demo object; deterministic
for a given seed and size.
"""
import datetime as dt
import unicodedata
from decimal import Decimal

from trytond.pool import Pool
from trytond.transaction import Transaction

from . import workflow

FIRST_NAMES = [
    "Anna", "Piotr", "Maria", "Krzysztof", "Agnieszka", "Paweł", "Joanna",
    "Michał", "Magdalena", "Marcin", "Aleksandra", "Jakub", "Monika",
    "Łukasz", "Natalia", "Grzegorz", "Zofia", "Wojciech", "Julia", "Kamil",
    ]
LAST_NAMES = [
    "Nowak", "Kowalczyk", "Mazur", "Krawczyk", "Kaczmarek", "Piotrowski",
    "Grabowski", "Pawłowski", "Michalski", "Król", "Wieczorek", "Jabłoński",
    "Majewski", "Olszewski", "Stępień", "Dudek", "Jaworski", "Malinowski",
    ]
# (name, code, sub-departments)
DEPARTMENTS = [
    ("Management", "MGT", []),
    ("Finance", "FIN", ["Accounting", "Purchasing"]),
    ("Human Resources", "HR", []),
    ("Sales", "SAL", ["Key Accounts"]),
    ("Operations", "OPS", ["Logistics"]),
    ("IT", "IT", ["Service Desk", "Infrastructure"]),
    ]
SITES = [
    ("Warsaw Head Office", "WAW", "Warszawa", "ul. Prosta 20"),
    ("Kraków Office", "KRK", "Kraków", "ul. Wielicka 28"),
    ("Gdańsk Warehouse", "GDN", "Gdańsk", "ul. Elbląska 70"),
    ("Wrocław Office", "WRO", "Wrocław", "ul. Legnicka 55"),
    ("Poznań Office", "POZ", "Poznań", "ul. Głogowska 41"),
    ]
# The people the README's demo logins belong to:
# (first, last, department, backend login or None, groups)
PERSONAS = [
    ("Ewa", "Kowalska", "Sales", None, []),
    ("Adam", "Nowicki", "Service Desk", 'agent', ['group_agent']),
    ("Marta", "Wiśniewska", "IT", 'manager', ['group_manager']),
    ("Tomasz", "Wójcik", "Infrastructure", 'assets',
        ['group_agent', 'group_asset_manager']),
    ("Katarzyna", "Lewandowska", "Service Desk", 'editor',
        ['group_agent', 'group_knowledge_editor']),
    ("Barbara", "Zielińska", "Finance", 'finance',
        ['group_purchase_approver']),
    ]
EMAIL_DOMAIN = 'oriale.example'


def create_in_batches(Model, values, size=50):
    """Create the records in batches and return them.

    trytond checks a constraint that SQLite cannot enforce (a unique email
    among active users, say) with one OR clause per record: past about a
    hundred records SQLite's parser overflows.
    """
    records = []
    for start in range(0, len(values), size):
        records += Model.create(values[start:start + size])
    return records


def ascii_slug(text):
    "Łukasz Stępień -> lukasz.stepien"
    text = text.replace('ł', 'l').replace('Ł', 'L')
    text = unicodedata.normalize('NFKD', text)
    text = ''.join(c for c in text if not unicodedata.combining(c))
    return '.'.join(text.lower().split())


def email_of(first, last):
    return f'{ascii_slug(first)}.{ascii_slug(last)}@{EMAIL_DOMAIN}'


# (category, sub-categories, ticket types, team, subjects)
CATEGORIES = [
    ("Hardware", ["Laptop", "Printer", "Phone", "Monitor"],
        ['incident', 'request'], "First Line", [
            "{sub} does not start", "{sub} is very slow",
            "New {sub} needed", "{sub} makes a strange noise",
            "Broken screen on my {sub}"]),
    ("Software", ["Email", "ERP", "Office", "Browser"],
        ['incident', 'request'], "First Line", [
            "{sub} crashes on start", "Cannot open attachments in {sub}",
            "Install {sub} add-on", "{sub} asks for a licence",
            "Error message in {sub}"]),
    ("Access", ["Account", "VPN", "Shared drive"],
        ['request', 'incident'], "First Line", [
            "Reset my {sub} password", "{sub} access for a new hire",
            "{sub} locked", "Remove {sub} access for a leaver"]),
    ("Network", ["Wi-Fi", "LAN", "Firewall"],
        ['incident', 'problem', 'change'], "Infrastructure", [
            "{sub} drops every hour", "No {sub} on floor 2",
            "{sub} slow since Monday", "Open a {sub} port for the ERP"]),
    ("Servers", ["File server", "Mail server", "Backup"],
        ['incident', 'problem', 'change', 'release'], "Infrastructure", [
            "{sub} disk almost full", "Upgrade {sub}",
            "{sub} restore test", "Patch {sub}"]),
    ]
TYPE_WEIGHTS = [
    ('incident', 55), ('request', 30), ('problem', 5), ('change', 7),
    ('release', 3)]
# The steps (buttons) that bring a new ticket to where it stands, with how
# often the demo stops there.
PATHS = {
    'incident': [
        ([], 10), (['assign'], 10), (['assign', 'start'], 15),
        (['assign', 'start', 'wait_requester'], 8),
        (['assign', 'start', 'wait_third_party'], 4),
        (['assign', 'start', 'resolve'], 15),
        (['assign', 'start', 'resolve', 'close'], 35), (['cancel'], 3)],
    'request': [
        ([], 10), (['assign'], 10), (['assign', 'start'], 20),
        (['assign', 'start', 'resolve'], 15),
        (['assign', 'start', 'resolve', 'close'], 40), (['cancel'], 5)],
    'problem': [
        ([], 20), (['analyse'], 30), (['analyse', 'declare_known_error'], 30),
        (['analyse', 'resolve'], 10), (['analyse', 'resolve', 'close'], 10)],
    'change': [
        ([], 15), (['assess'], 15), (['assess', 'request_approval'], 15),
        (['assess', 'request_approval', 'approve', 'schedule'], 20),
        (['assess', 'request_approval', 'approve', 'schedule', 'implement',
                'review', 'close'], 30),
        (['assess', 'request_approval', 'reject'], 5)],
    'release': [
        ([], 20), (['build'], 20), (['build', 'test'], 20),
        (['build', 'test', 'deploy'], 10),
        (['build', 'test', 'deploy', 'close'], 30)],
    }
NOTES = [
    "Called the user, no answer.", "Checked the logs: nothing unusual.",
    "Asked the supplier for a quote.", "Remote session done.",
    "Spare part ordered.", "Same as last month, see the problem.",
    ]


def generate(demo):
    company = create_company(demo)
    with Transaction().set_context(company=company.id):
        create_departments(demo)
        create_locations(demo)
        create_employees(demo)
        create_backend_users(demo)
        create_teams_and_categories(demo)
        create_service_levels(demo)
        create_tickets(demo)
    close_configuration_wizard()


def create_company(demo):
    pool = Pool()
    Currency = pool.get('currency.currency')
    Party = pool.get('party.party')
    Company = pool.get('company.company')
    User = pool.get('res.user')
    demo.step("company Oriale")
    currency, = (Currency.search([('code', '=', 'PLN')])
        or Currency.create([{
                    'name': "Polish złoty", 'code': 'PLN', 'symbol': 'zł',
                    'rounding': Decimal('0.01'), 'digits': 2}]))
    party, = Party.create([{
                'name': "Oriale",
                'addresses': [('create', [{
                                'street': "ul. Prosta 20",
                                'postal_code': "00-850",
                                'city': "Warszawa"}])],
                'contact_mechanisms': [('create', [
                            {'type': 'email',
                                'value': f'office@{EMAIL_DOMAIN}'},
                            {'type': 'website',
                                'value': f'https://{EMAIL_DOMAIN}'}])],
                }])
    company, = Company.create([{
                'party': party.id, 'currency': currency.id,
                'timezone': 'Europe/Warsaw'}])
    admin = User(1)
    User.write([admin], {
            'companies': [('add', [company.id])],
            'company': company.id})
    demo.company = company
    return company


def create_departments(demo):
    pool = Pool()
    Department = pool.get('company.department')
    demo.step("departments")
    departments = Department.create([{
                'name': name, 'code': code,
                'children': [('create', [
                            {'name': child} for child in children])],
                } for name, code, children in DEPARTMENTS])
    by_name = {}
    for department in departments:
        by_name[department.name] = department
        for child in department.children:
            by_name[child.name] = child
    demo.records['departments'] = by_name


def create_locations(demo):
    pool = Pool()
    Location = pool.get('itsm.location')
    rng = demo.rng
    n_sites = demo.size + 1
    sites = list(SITES[:n_sites])
    for n in range(len(sites), n_sites):
        sites.append((
                f"Branch {n + 1}", f"B{n + 1:03d}", "Łódź",
                f"ul. Piotrkowska {n}"))
    demo.step(f"{len(sites)} sites with buildings, floors and rooms")
    values = []
    for name, code, city, street in sites:
        buildings = []
        for b in range(rng.randint(1, 2)):
            floors = []
            for f in range(rng.randint(2, 4)):
                rooms = [{
                        'name': f"{f}.{r + 1:02d}", 'kind': 'room',
                        'code': f"{code}-{chr(65 + b)}{f}{r + 1:02d}",
                        } for r in range(rng.randint(3, 6))]
                floors.append({
                        'name': "Ground floor" if not f else f"Floor {f}",
                        'kind': 'floor',
                        'children': [('create', rooms)]})
            buildings.append({
                    'name': f"Building {chr(65 + b)}", 'kind': 'building',
                    'code': f"{code}-{chr(65 + b)}",
                    'children': [('create', floors)]})
        values.append({
                'name': name, 'code': code, 'kind': 'site',
                'notes': f"{street}, {city}",
                'children': [('create', buildings)]})
    Location.create(values)
    demo.records['rooms'] = Location.search(
        [('kind', '=', 'room')], order=[('code', 'ASC')])


def create_employees(demo):
    pool = Pool()
    Party = pool.get('party.party')
    Employee = pool.get('company.employee')
    rng = demo.rng
    departments = demo.records['departments']
    rooms = demo.records['rooms']
    people = [(first, last, department)
        for first, last, department, _, _ in PERSONAS]
    seen = {(first, last) for first, last, _ in people}
    names = sorted(departments)
    while len(people) < max(12 * demo.size, len(PERSONAS)):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        if (first, last) in seen:
            last = f"{last}-{rng.choice(LAST_NAMES)}"
            if (first, last) in seen:
                continue
        seen.add((first, last))
        people.append((first, last, rng.choice(names)))
    demo.step(f"{len(people)} employees")
    parties = Party.create([{
                'name': f"{first} {last}",
                'contact_mechanisms': [('create', [{
                                'type': 'email',
                                'value': email_of(first, last)}])],
                } for first, last, _ in people])
    start = dt.date(2018, 1, 1)
    employees = Employee.create([{
                'party': party.id,
                'company': demo.company.id,
                'department': departments[department].id,
                'location': rng.choice(rooms).id,
                'start_date': start + dt.timedelta(days=rng.randint(0, 2500)),
                }
            for party, (_, _, department)
            in zip(parties, people, strict=True)])
    demo.records['employees'] = employees


def create_backend_users(demo):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    employees = demo.records['employees']
    demo.step("backend users: " + ", ".join(
            p[3] for p in PERSONAS if p[3]))
    password_hash = User.hash_password(demo.password)
    values = []
    for persona, employee in zip(PERSONAS, employees, strict=False):
        _, _, _, login, groups = persona
        if not login:
            continue
        values.append({
                'login': login,
                'name': employee.party.name,
                'email': email_of(*persona[:2]),
                'password_hash': password_hash,
                'company': demo.company.id,
                'companies': [('add', [demo.company.id])],
                'employees': [('add', [employee.id])],
                'employee': employee.id,
                'groups': [('add', [
                            ModelData.get_id('itsm_ticket', g)
                            for g in groups])],
                })
    demo.records['users'] = {
        u.login: u for u in create_in_batches(User, values)}
    admin = User(1)
    User.write([admin], {'password_hash': password_hash})


def create_teams_and_categories(demo):
    pool = Pool()
    Team = pool.get('itsm.team')
    Category = pool.get('itsm.ticket.category')
    users = demo.records['users']
    demo.step("teams and ticket categories")
    first_line, infrastructure = Team.create([{
                'name': "First Line",
                'email': f'servicedesk@{EMAIL_DOMAIN}',
                'leader': users['manager'].id,
                'members': [('add', [users[login].id
                                for login in ['agent', 'editor', 'manager']])],
                }, {
                'name': "Infrastructure",
                'email': f'infra@{EMAIL_DOMAIN}',
                'leader': users['manager'].id,
                'members': [('add', [users[login].id
                                for login in ['assets', 'manager']])],
                }])
    teams = {t.name: t for t in [first_line, infrastructure]}
    categories = Category.create([{
                'name': name,
                'types': types,
                'team': teams[team].id,
                'children': [('create', [{'name': child, 'types': types}
                                for child in children])],
                } for name, children, types, team, _ in CATEGORIES])
    demo.records['teams'] = teams
    demo.records['categories'] = categories


# priority: (first response, resolution) in business hours
SLA_TARGETS = {
    '1': (0.5, 4), '2': (1, 8), '3': (4, 16), '4': (8, 40), '5': (16, 80)}


def create_service_levels(demo):
    pool = Pool()
    Calendar = pool.get('itsm.sla.calendar')
    Policy = pool.get('itsm.sla.policy')
    demo.step("business calendar and SLA policies")
    office, = Calendar.create([{
                'name': "Oriale office hours",
                'timezone': 'Europe/Warsaw',
                'holiday_country': 'PL',
                'hours': [('create', [{
                                'weekday': str(day),
                                'start_time': dt.time(8),
                                'end_time': dt.time(16)}
                            for day in range(5)])],
                'days_off': [('create', [{
                                'date': dt.date(dt.date.today().year, 12, 24),
                                'name': "Christmas Eve"}])],
                }])
    hours = dt.timedelta(hours=1)
    Policy.create([{
                'name': "Standard support",
                'calendar': office.id,
                'types': ['incident', 'request'],
                'warn_before': hours,
                'targets': [('create', [{
                                'priority': priority,
                                'response_time': response * hours,
                                'resolution_time': resolution * hours,
                                } for priority, (response, resolution)
                            in SLA_TARGETS.items()])],
                }])


def create_tickets(demo):
    pool = Pool()
    Ticket = pool.get('itsm.ticket')
    Note = pool.get('itsm.ticket.note')
    rng = demo.rng
    count = 40 * demo.size
    demo.step(f"{count} tickets of every type and state")
    requesters = [e.party for e in demo.records['employees']]
    users = demo.records['users']
    agents_of = {
        "First Line": [users['agent'], users['editor'], users['manager']],
        "Infrastructure": [users['assets'], users['manager']],
        }
    rooms = demo.records['rooms']
    templates = [(category, child, types, team, subjects)
        for category, (_, _, types, team, subjects) in zip(
            demo.records['categories'], CATEGORIES, strict=True)
        for child in category.children]
    now = dt.datetime.now().replace(microsecond=0)
    values, paths = [], []
    for n in range(count):
        if n < len(TYPE_WEIGHTS):
            # Every type shows, whatever the draw.
            type_ = TYPE_WEIGHTS[n][0]
        else:
            type_ = rng.choices(
                [t for t, _ in TYPE_WEIGHTS],
                [w for _, w in TYPE_WEIGHTS])[0]
        category, child, _, team, subjects = rng.choice(
            [t for t in templates if type_ in t[2]])
        path = rng.choices(
            [p for p, _ in PATHS[type_]], [w for _, w in PATHS[type_]])[0]
        requester = rng.choice(requesters)
        ticket = {
            'type': type_,
            'subject': rng.choice(subjects).format(sub=child.name),
            'description': f"Reported by {requester.name}.",
            'channel': rng.choice(['email', 'email', 'portal', 'phone']),
            'category': child.id,
            'impact': rng.choice('1223333'),
            'urgency': rng.choice('122333'),
            'requester': requester.id,
            'requester_email': requester.email,
            'team': demo.records['teams'][team].id,
            'location': rng.choice(rooms).id,
            }
        if path:
            ticket['assignee'] = rng.choice(agents_of[team]).id
        if 'resolve' in path:
            ticket['resolution'] = "Fixed and checked with the requester."
        if type_ == 'problem':
            ticket['workaround'] = "Restart the service."
        if type_ in {'change', 'release'}:
            start = now + dt.timedelta(days=rng.randint(-30, 30), hours=20)
            ticket.update({
                    'risk': rng.choice(['low', 'medium', 'high']),
                    'implementation_plan': "Follow the runbook.",
                    'backout_plan': "Restore the snapshot.",
                    'window_start': start,
                    'window_end': start + dt.timedelta(hours=3),
                    })
        values.append(ticket)
        paths.append(path)
    tickets = create_in_batches(Ticket, values)
    # Walk each ticket through its life cycle, batch by batch.
    for step in range(max(len(p) for p in paths)):
        by_button = {}
        for ticket, path in zip(tickets, paths, strict=True):
            if step < len(path):
                by_button.setdefault(path[step], []).append(ticket)
        for button, batch in by_button.items():
            getattr(Ticket, button)(batch)
    Note.create([{
                'ticket': ticket.id,
                'body': rng.choice(NOTES),
                'visibility': rng.choice(['private', 'private', 'public']),
                } for ticket in tickets if rng.random() < 0.5])
    demo.records['tickets'] = tickets
    link_tickets(demo, tickets)
    log_work_hours(demo, tickets, paths)


def link_tickets(demo, tickets):
    "Each problem gets a few incidents, each change the problem it fixes"
    pool = Pool()
    Relation = pool.get('itsm.ticket.relation')
    rng = demo.rng
    by_type = {}
    for ticket in tickets:
        by_type.setdefault(ticket.type, []).append(ticket)
    incidents = list(by_type.get('incident', []))
    rng.shuffle(incidents)
    values = []
    for problem in by_type.get('problem', []):
        for _ in range(min(3, len(incidents))):
            values.append({
                    'from_ticket': problem.id,
                    'to_ticket': incidents.pop().id,
                    'type': 'problem_of'})
    for change, problem in zip(
            by_type.get('change', []), by_type.get('problem', []),
            strict=False):
        values.append({
                'from_ticket': problem.id, 'to_ticket': change.id,
                'type': 'fixed_by'})
    Relation.create(values)


# The state each button of PATHS brings a ticket to
BUTTON_STATES = {
    'assign': 'assigned', 'start': 'in_progress',
    'wait_requester': 'pending', 'wait_third_party': 'pending',
    'resolve': 'resolved', 'close': 'closed', 'cancel': 'cancelled',
    'analyse': 'analysis', 'declare_known_error': 'known_error',
    'assess': 'assessment', 'request_approval': 'awaiting_approval',
    'approve': 'approved', 'reject': 'rejected', 'schedule': 'scheduled',
    'implement': 'implemented', 'review': 'reviewed', 'build': 'build',
    'test': 'test', 'deploy': 'deploy',
    }
# What an agent writes on a line, by the kind of state
WORK_DESCRIPTIONS = {
    'triage': ["Triage and first call", "Read the request, asked details"],
    'work': [
        "Remote session", "On site with the user", "Checked the logs",
        "Configured and tested", "Called the supplier"],
    'follow_up': ["Reminded the requester", "Chased the supplier"],
    }


def log_work_hours(demo, tickets, paths):
    "The agents' time on the tickets they worked, stage by stage"
    pool = Pool()
    Line = pool.get('timesheet.line')
    rng = demo.rng
    employees = {
        u.id: u.employee.id for u in demo.records['users'].values()
        if u.employee}
    today = dt.date.today()
    by_user = {}
    for ticket, path in zip(tickets, paths, strict=True):
        user = ticket.assignee.id if ticket.assignee else None
        if not path or user not in employees:
            continue
        stages = [workflow.INITIAL_STATE[ticket.type]]
        stages += [BUTTON_STATES[b] for b in path]
        for i, stage in enumerate(stages):
            if stage in {'resolved', 'closed', 'cancelled', 'rejected'}:
                continue
            kind = ('triage' if i == 0
                else 'follow_up' if stage == 'pending' else 'work')
            minutes = (rng.randint(1, 3) if kind != 'work'
                else rng.randint(3, 24)) * 5
            by_user.setdefault(user, []).append({
                    'ticket': ticket.id,
                    'employee': employees[user],
                    'date': today,
                    'duration': dt.timedelta(minutes=minutes),
                    'description': rng.choice(WORK_DESCRIPTIONS[kind]),
                    # The demo walked the tickets before logging: say in
                    # which state the time was spent.
                    'ticket_stage': stage,
                    })
    demo.step(f"{sum(map(len, by_user.values()))} timesheet lines "
        "on the worked tickets")
    for user, values in sorted(by_user.items()):
        # Logged by the agents themselves, as the activity log tells
        with Transaction().set_user(user):
            create_in_batches(Line, values, size=200)


def close_configuration_wizard():
    "The first login would otherwise open the module configuration wizard"
    pool = Pool()
    Item = pool.get('ir.module.config_wizard.item')
    Item.write(Item.search([('state', '=', 'open')]), {'state': 'done'})
