# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The agents' HTTP endpoint on the trytond server, through its WSGI
application: the protocols, the encodings, the authentication and what
happens to bad input. The PROLOG bodies are those the real agents sent
(tests/data); the end-to-end tests run the agents themselves."""
import base64
import datetime as dt
import gzip
import json
import re
import zlib
from pathlib import Path

from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase
from trytond.transaction import Transaction

DATA = Path(__file__).parent / 'data'
SECRET = 'route-test-secret-0123456789'


def data(name):
    content = (DATA / name).read_bytes()
    return gzip.decompress(content) if name.endswith('.gz') else content


FI_FULL = data('fusioninventory-debian.xml.gz')
FI_SMALL = data('fusioninventory-debian-small.xml')
GLPI_JSON = data('glpi-agent-windows.json')
ZLIB = {'Content-Type': 'application/x-compress-zlib'}


def read(func, *args):
    with Transaction().start(DB_NAME, 0, readonly=True):
        return func(*args)


def inflate(response):
    "The reply's body, decoded as the agents do by its first bytes"
    body = response.data
    if body[:3] == b'\x1f\x8b\x08':
        return gzip.decompress(body)
    if body[:1] == b'\x78':
        return zlib.decompress(body)
    return body


class InventoryRouteTestCase(RouteTestCase):
    "The inventory agents' endpoint"
    module = 'itsm_asset'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Endpoint = pool.get('itsm.inventory.endpoint')
        company = create_company()
        with set_company(company):
            endpoints = Endpoint.create([
                    {'name': "Open"},
                    {'name': "Basic", 'username': 'agent',
                        'password': 'agent-pw'},
                    {'name': "Secret", 'secrets': SECRET},
                    {'name': "Small", 'max_size': 4096},
                    ])
        cls.identifiers = {e.name: e.identifier for e in endpoints}
        cls.company_id = company.id

    def url(self, endpoint='Open', suffix=''):
        return (f'/{self.db_name}/itsm_asset/inventory/'
            f'{self.identifiers[endpoint]}{suffix}')

    def post(self, body, endpoint='Open', suffix='', headers=None,
            **kwargs):
        return self.client().post(self.url(endpoint, suffix), data=body,
            headers={**ZLIB, **(headers or {})}, **kwargs)

    def inventories(self, **domain):
        Inventory = Pool(DB_NAME).get('itsm.inventory')
        return read(lambda: [
                (i.state, i.reason_code, i.size, i.stored_as,
                    i.asset and i.asset.name)
                for i in Inventory.search(
                    [(k, '=', v) for k, v in domain.items()],
                    order=[('id', 'ASC')])])

    def inventory_count(self):
        Inventory = Pool(DB_NAME).get('itsm.inventory')
        return read(lambda: Inventory.search_count([]))

    def assets(self, name):
        Asset = Pool(DB_NAME).get('itsm.asset')
        return read(lambda: [
                (a.id, a.inventory_device_id, len(a.installations),
                    a.last_inventory)
                for a in Asset.search([('name', '=', name)])])

    def test_prolog_answered_send_in_its_encoding(self):
        "The agents' PROLOG gets SEND and the delay, zlib for zlib"
        before = self.inventory_count()
        for name in ['fusioninventory-prolog.zlib', 'ocs-prolog.zlib']:
            with self.subTest(name=name):
                response = self.post(data(name))
                self.assertEqual(response.status_code, 200)
                self.assertEqual(response.data[:2], b'\x78\x9c')
                reply = inflate(response)
                self.assertIn(b'<REPLY><RESPONSE>SEND</RESPONSE>'
                    b'<PROLOG_FREQ>24</PROLOG_FREQ></REPLY>', reply)
        prolog = zlib.decompress(data('ocs-prolog.zlib'))
        response = self.post(gzip.compress(prolog), headers={
                'Content-Type': 'application/x-compress-gzip'})
        self.assertEqual(response.data[:3], b'\x1f\x8b\x08')
        response = self.post(prolog, headers={
                'Content-Type': 'application/xml'})
        self.assertTrue(response.data.startswith(b'<?xml'))
        # A PROLOG stores nothing
        self.assertEqual(self.inventory_count(), before)

    def test_inventory_stored_processed_and_unchanged(self):
        "FusionInventory's run, then the same again, on the agents' path"
        response = self.post(zlib.compress(FI_FULL), suffix='/ocsinventory')
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.data[:2], b'\x78\x9c')
        self.assertIn(b'<REPLY>', inflate(response))
        (asset_id, device_id, count, first), = self.assets('vm')
        self.assertGreater(count, 750)
        self.assertEqual(self.inventories(device_id=device_id),
            [('done', None, len(FI_FULL), 'plain', 'vm')])

        first = dt.datetime(2020, 1, 1)
        Asset = Pool(DB_NAME).get('itsm.asset')
        with Transaction().start(DB_NAME, 0):
            Asset.write([Asset(asset_id)], {'last_inventory': first})
        response = self.post(zlib.compress(FI_FULL))
        self.assertEqual(response.status_code, 200)
        (_, _, again, last), = self.assets('vm')
        self.assertEqual(again, count)
        self.assertGreater(last, first)
        # Nothing stored for the unchanged inventory
        self.assertEqual(len(self.inventories(device_id=device_id)), 1)

    def test_glpi_agent_json(self):
        "GLPI-Agent: PROLOG and contact in JSON, then its JSON inventory"
        headers = {'GLPI-Agent-ID': '3b0f3f7e-1c7a-4a0e-9a3c-1f2d3c4b5a69'}
        response = self.post(data('fusioninventory-prolog.zlib'),
            headers=headers)
        self.assertEqual(json.loads(inflate(response)),
            {'status': 'ok', 'expiration': 24})
        contact = json.dumps({'action': 'contact',
                'deviceid': 'PC-ACME-042-2024-03-01-10-15-00',
                'enabled-tasks': ['inventory', 'deploy']}).encode()
        response = self.post(zlib.compress(contact), headers=headers)
        self.assertEqual(response.headers['Content-Type'],
            'application/x-compress-zlib')
        reply = json.loads(inflate(response))
        self.assertEqual(reply['status'], 'ok')
        self.assertEqual(reply['disabled'], ['deploy'])
        response = self.post(zlib.compress(GLPI_JSON), headers=headers)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(json.loads(inflate(response)),
            {'status': 'ok', 'expiration': 24})
        self.assertEqual(len(self.assets('PC-ACME-042')), 1)

    def test_unknown_endpoint(self):
        response = self.client().post(
            f'/{self.db_name}/itsm_asset/inventory/nope',
            data=b'x', headers=ZLIB)
        self.assertEqual(response.status_code, 404)

    def test_basic_authentication(self):
        "The agents retry with their credentials after a 401 Basic"
        before = self.inventory_count()
        body = data('fusioninventory-prolog.zlib')
        response = self.post(body, endpoint='Basic')
        self.assertEqual(response.status_code, 401)
        # FusionInventory reads the realm with /^Basic realm="(.*)"/: any
        # parameter after it would be taken into it
        self.assertEqual(re.match(r'^Basic realm="(.*)"',
                response.headers['WWW-Authenticate']).group(1),
            "Inventory Basic")
        wrong = 'Basic ' + base64.b64encode(b'agent:nope').decode()
        response = self.post(body, endpoint='Basic',
            headers={'Authorization': wrong})
        self.assertEqual(response.status_code, 401)
        right = 'Basic ' + base64.b64encode(b'agent:agent-pw').decode()
        response = self.post(body, endpoint='Basic',
            headers={'Authorization': right})
        self.assertEqual(response.status_code, 200)
        # Refused requests are not stored
        self.assertEqual(self.inventory_count(), before)

    def test_shared_secret(self):
        body = data('fusioninventory-prolog.zlib')
        response = self.post(body, endpoint='Secret')
        self.assertEqual(response.status_code, 401)
        response = self.post(body, endpoint='Secret',
            query_string={'secret': SECRET})
        self.assertEqual(response.status_code, 200)
        response = self.post(body, endpoint='Secret',
            headers={'Authorization': f'Bearer {SECRET}'})
        self.assertEqual(response.status_code, 200)
        response = self.post(body, endpoint='Secret',
            query_string={'secret': SECRET + 'x'})
        self.assertEqual(response.status_code, 401)

    def test_bad_input_answered_and_kept(self):
        "Each refusal is explained to the agent and kept for an admin"
        laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol '
            b'"lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><REQUEST>'
            b'<QUERY>INVENTORY</QUERY><DEVICEID>x</DEVICEID><CONTENT>'
            b'<HARDWARE><NAME>&lol2;</NAME></HARDWARE></CONTENT></REQUEST>')
        bomb = zlib.compress(b'<' * (64 * 1024 * 1024), 9)
        cases = [
            ('malformed', zlib.compress(FI_SMALL[:-300]), ZLIB, 400,
                'malformed', len(FI_SMALL) - 300, 'plain'),
            ('entities', zlib.compress(laughs), ZLIB, 400,
                'forbidden_xml', len(laughs), 'plain'),
            ('bomb', bomb, ZLIB, 413, 'decompression_bomb', len(bomb),
                'zlib'),
            ('corrupt', b'\x78\x9c' + b'\x00garbage' * 10, ZLIB, 400,
                'corrupt', 82, 'zlib'),
            ('content type', zlib.compress(FI_SMALL),
                {'Content-Type': 'multipart/form-data; boundary=x'}, 415,
                'bad_content_type', None, 'zlib'),
            ('json', zlib.compress(b'{"action": "inventory", "content"'),
                {**ZLIB, 'GLPI-Agent-ID': 'x'}, 400, 'malformed', 33,
                'plain'),
            ('not an inventory', zlib.compress(
                    b'<REQUEST><DEVICEID>x</DEVICEID><QUERY>INVENTORY'
                    b'</QUERY></REQUEST>'), ZLIB, 400, 'not_inventory',
                None, 'plain'),
            ]
        for (label, body, headers, status, reason, size,
                stored_as) in cases:
            with self.subTest(label):
                before = self.inventory_count()
                response = self.client().post(self.url(), data=body,
                    headers=headers)
                self.assertEqual(response.status_code, status)
                reply = inflate(response)
                if 'GLPI-Agent-ID' in headers:
                    self.assertEqual(json.loads(reply)['status'], 'error')
                else:
                    self.assertIn(b'<REPLY><ERROR>', reply)
                self.assertEqual(self.inventory_count(), before + 1)
                kept = self.inventories(reason_code=reason)[-1]
                self.assertEqual(kept[0], 'failed')
                if size is not None:
                    self.assertEqual(kept[2], size)
                self.assertEqual(kept[3], stored_as)

    def test_oversized_body_kept_cut(self):
        body = zlib.compress(FI_FULL, 1)
        self.assertGreater(len(body), 4096)
        response = self.post(body, endpoint='Small')
        self.assertEqual(response.status_code, 413)
        self.assertIn(b'larger than 4,096 bytes', inflate(response))
        self.assertEqual(self.inventories(reason_code='too_large'),
            [('failed', 'too_large', 4096, 'zlib', None)])
