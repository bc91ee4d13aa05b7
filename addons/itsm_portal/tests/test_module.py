# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, ModuleTestCase, with_transaction
from trytond.transaction import Transaction, check_access

from .tools import form_token, portal_test_client


def create_web_user(email="client@example.com", password="portal-pass-1"):
    pool = Pool()
    WebUser = pool.get('web.user')
    Party = pool.get('party.party')
    party, = Party.create([{'name': "Cora Client"}])
    user, = WebUser.create([{
                'email': email, 'password': password, 'party': party.id}])
    return user


class ItsmPortalTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the ITSM portal module"
    module = 'itsm_portal'

    @with_transaction()
    def test_technical_user_is_not_root(self):
        "The portal runs as a password-less user of the Portal group"
        pool = Pool()
        User = pool.get('res.user')
        WebUser = pool.get('web.user')
        user = User(WebUser.portal_technical_user())
        self.assertNotIn(user.id, {0, 1})
        self.assertEqual(user.login, 'portal')
        self.assertFalse(user.password_hash)
        self.assertEqual(
            [g.name for g in user.groups], ["Portal (technical)"])

    @with_transaction()
    def test_rules_narrow_to_the_web_user(self):
        "Through the portal a web user reads only its own user and party"
        pool = Pool()
        WebUser = pool.get('web.user')
        Party = pool.get('party.party')
        cora = create_web_user()
        other = create_web_user("other@example.com")
        portal = WebUser.portal_technical_user()
        transaction = Transaction()
        with transaction.set_user(portal), \
                transaction.set_context(web_user=cora.id), check_access():
            self.assertEqual(WebUser.search([]), [cora])
            self.assertEqual(Party.search([]), [cora.party])
        with transaction.set_user(portal), check_access():
            self.assertEqual(WebUser.search([]), [])
            self.assertEqual(Party.search([]), [])
        self.assertIn(other.party, Party.search([]))

    @with_transaction()
    def test_login_logout(self):
        "A portal user logs in, sees the home page and logs out"
        create_web_user()
        client = portal_test_client(DB_NAME)
        response = client.get('/')
        self.assertEqual(response.status_code, 302)
        self.assertIn('/login', response.headers['Location'])

        page = client.get('/login')
        self.assertEqual(page.status_code, 200)
        self.assertIn('type="password"', page.text)
        response = client.post('/login', data={
                'email': 'Client@Example.com ',
                'password': 'portal-pass-1',
                'csrf_token': form_token(page),
                })
        self.assertEqual(response.status_code, 302)
        home = client.get('/')
        self.assertEqual(home.status_code, 200)
        self.assertIn("Welcome, Cora Client", home.text)

        response = client.post(
            '/logout', data={'csrf_token': form_token(home)})
        self.assertEqual(response.status_code, 302)
        self.assertEqual(client.get('/').status_code, 302)

    @with_transaction()
    def test_login_refuses_wrong_password(self):
        "A wrong password gets a clear message and no session"
        create_web_user()
        client = portal_test_client(DB_NAME)
        page = client.get('/login')
        response = client.post('/login', data={
                'email': 'client@example.com',
                'password': 'not-the-password',
                'csrf_token': form_token(page),
                })
        self.assertEqual(response.status_code, 401)
        self.assertIn("is not correct", response.text)
        self.assertEqual(client.get('/').status_code, 302)

    @with_transaction()
    def test_login_refuses_forged_form(self):
        "A login posted without the form's token is refused"
        create_web_user()
        client = portal_test_client(DB_NAME)
        client.get('/login')
        response = client.post('/login', data={
                'email': 'client@example.com',
                'password': 'portal-pass-1',
                'csrf_token': 'forged',
                })
        self.assertEqual(response.status_code, 400)
        self.assertIn("expired", response.text)
        self.assertEqual(client.get('/').status_code, 302)

    @with_transaction()
    def test_login_ignores_foreign_next(self):
        "After login the portal never redirects outside itself"
        create_web_user()
        client = portal_test_client(DB_NAME)
        page = client.get('/login')
        response = client.post('/login', data={
                'email': 'client@example.com',
                'password': 'portal-pass-1',
                'next': '//evil.example.com/',
                'csrf_token': form_token(page),
                })
        self.assertEqual(response.status_code, 302)
        self.assertNotIn('evil', response.headers['Location'])

    @with_transaction()
    def test_portal_speaks_the_browser_language(self):
        "The portal's texts follow Accept-Language, English by default"
        client = portal_test_client(DB_NAME)
        polish = client.get('/login', headers={
                'Accept-Language': 'pl-PL,pl;q=0.9,en;q=0.5'})
        self.assertIn('lang="pl"', polish.text)
        self.assertIn("Zaloguj się do portalu klienta", polish.text)
        self.assertIn("Hasło", polish.text)
        other = client.get('/login', headers={'Accept-Language': 'ja'})
        self.assertIn("Log in to the client portal", other.text)

    @with_transaction()
    def test_inactive_user_session_ends(self):
        "Deactivating a portal user ends its sessions"
        pool = Pool()
        WebUser = pool.get('web.user')
        user = create_web_user()
        key = WebUser.portal_login('client@example.com', 'portal-pass-1')
        self.assertEqual(WebUser.portal_session_user(key), user)
        WebUser.write([user], {'active': False})
        self.assertIsNone(WebUser.portal_session_user(key))


    def test_demo_data(self):
        "The demo generator builds Oriale the same way for the same seed"
        first = demo_snapshot(seed=7)
        self.assertEqual(first, demo_snapshot(seed=7))
        self.assertNotEqual(first['people'], demo_snapshot(seed=8)['people'])

        self.assertEqual(len(first['people']), 12)
        self.assertEqual(len(first['tickets']), 40)
        self.assertEqual(
            {t[0] for t in first['tickets']},
            {'incident', 'request', 'problem', 'change', 'release'})
        self.assertEqual(first['portal_users'], 12)
        self.assertIn(('agent', "Service Desk Agent"), first['groups'])
        self.assertIn(('manager', "Service Desk Manager"), first['groups'])
        self.assertIn(('finance', "Purchase Approver"), first['groups'])
        self.assertEqual(first['room_depth'], {4})
        self.assertEqual(first['open_wizard_items'], 0)
        self.assertTrue(first['portal_login'])


def demo_snapshot(seed):
    "Build the demo data of size 1 and tell what it holds, then roll back"
    import random

    from itsm_portal import demo as portal_demo
    from itsm_ticket import demo as ticket_demo
    from itsm_tools.demo import DEMO_PORTAL_LOGIN, Demo

    with Transaction().start(DB_NAME, 0) as transaction:
        pool = Pool()
        Employee = pool.get('company.employee')
        Location = pool.get('itsm.location')
        User = pool.get('res.user')
        WebUser = pool.get('web.user')
        Item = pool.get('ir.module.config_wizard.item')
        demo = Demo(size=1, rng=random.Random(seed), password='demo-pass-1')
        ticket_demo.generate(demo)
        portal_demo.generate(demo)
        snapshot = {
            'people': sorted(
                (e.party.name, e.department.name, e.location.code)
                for e in Employee.search([])),
            'portal_users': WebUser.search([], count=True),
            'tickets': sorted(
                (t.type, t.subject, t.state, t.priority)
                for t in pool.get('itsm.ticket').search([])),
            'groups': {(u.login, g.name)
                for u in User.search([('login', '!=', 'admin')])
                for g in u.groups},
            'room_depth': {len(r.rec_name.split(' / '))
                for r in Location.search([('kind', '=', 'room')])},
            'open_wizard_items': Item.search(
                [('state', '=', 'open')], count=True),
            'portal_login': bool(
                WebUser.authenticate(DEMO_PORTAL_LOGIN, 'demo-pass-1')),
            }
        transaction.rollback()
    return snapshot


del ModuleTestCase
