"""The inventory agents end to end, against the real server.

Debian's fusioninventory-agent and ocsinventory-agent inventory this
machine and report to an endpoint of the demo company created over
JSON-RPC, as an administrator would in sao; fusioninventory-injector
replays a saved inventory with one package taken out. What the agents
sent is checked over JSON-RPC as the backend users see it. The server runs
as shipped ([queue] worker = False): the processing task runs right after
the request, so the result is there when the agent exits.
"""
import datetime as dt
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from lxml import etree

from itsm_tools.demo import DEMO_PASSWORD
from itsm_tools.rpc import Client

from .conftest import missing

pytestmark = pytest.mark.e2e

USER, PASSWORD = 'agent', 'e2e-agent-password'
SECRET = 'e2e-shared-secret-0123456789'
TIMEOUT = 180
PACKAGES = {
    'fusioninventory-injector': 'fusioninventory-agent',
    }
INVENTORY_FIELDS = ['state', 'reason', 'reason_code', 'asset',
    'asset_created', 'format', 'device_id', 'software_count', 'installed',
    'removed', 'upgraded']


def program(name):
    path = shutil.which(name)
    if not path:
        missing(f"{name} is not installed (Debian package "
            f"{PACKAGES.get(name, name)})")
    return path


def run(command, what):
    result = subprocess.run(command, capture_output=True, text=True,
        timeout=TIMEOUT)
    assert result.returncode == 0, (
        f"{what} failed ({result.returncode}):\n{result.stdout}\n"
        f"{result.stderr}")
    return result.stdout + result.stderr


def moment(value):
    "A datetime as the JSON-RPC answer spells it"
    return dt.datetime(*(value[k] for k in ['year', 'month', 'day', 'hour',
                'minute', 'second', 'microsecond']))


def physical_macs():
    "The MAC addresses of this machine's physical interfaces"
    macs = set()
    for interface in Path('/sys/class/net').iterdir():
        if (interface / 'device').exists():
            macs.add((interface / 'address').read_text().strip().lower())
    return macs


@pytest.fixture(scope='module')
def admin(server):
    return Client(server, server.database, 'admin', DEMO_PASSWORD)


@pytest.fixture(scope='module')
def endpoint(admin, server):
    """An endpoint of the demo company, with basic authentication (for
    FusionInventory) and a shared secret (for OCS)"""
    endpoint_id, = admin.model('itsm.inventory.endpoint', 'create', [{
                'name': "E2E agents",
                'company': admin.context['company'],
                'username': USER,
                'password': PASSWORD,
                'secrets': SECRET,
                }])
    endpoint, = admin.model('itsm.inventory.endpoint', 'read',
        [endpoint_id], ['identifier', 'url', 'match_order'])
    assert endpoint['match_order'] == 'uuid, serial, mac, name'
    url = (f'{server}/{server.database}/itsm_asset/inventory/'
        f'{endpoint["identifier"]}')
    assert endpoint['url'].endswith(urlsplit(url).path)
    endpoint['server_url'] = url
    return endpoint


@pytest.fixture(scope='module')
def agent_config(tmp_path_factory):
    "fusioninventory-agent's own configuration file, empty: the options"
    folder = tmp_path_factory.mktemp('fusioninventory')
    config = folder / 'agent.cfg'
    config.write_text('')
    return folder


def fusioninventory(endpoint, agent_config, *options):
    command = [program('fusioninventory-agent'), '--config=file',
        f'--conf-file={agent_config / "agent.cfg"}', '--no-httpd',
        '--logger=stderr', '--tasks=inventory',
        # What changes at every run and is not an asset's fact
        '--no-category=environment,process', *options]
    return run(command, "fusioninventory-agent")


def inventories(admin, endpoint):
    return admin.model('itsm.inventory', 'search_read',
        [('endpoint', '=', endpoint['id'])], 0, None, [('id', 'ASC')],
        INVENTORY_FIELDS)


def asset_state(admin, asset_id):
    asset, = admin.model('itsm.asset', 'read', [asset_id], [
            'name', 'kind', 'state', 'os_name', 'os_version', 'cpu',
            'cpu_cores', 'memory', 'last_inventory', 'inventory_device_id',
            'network_interfaces', 'installations', 'events'])
    return asset


def events(admin, asset_id, kinds=None):
    domain = [('asset', '=', asset_id)]
    if kinds:
        domain.append(('kind', 'in', kinds))
    return admin.model('itsm.asset.event', 'search_read', domain, 0, None,
        [('id', 'ASC')], ['kind', 'description', 'old_value', 'new_value'])


@pytest.fixture(scope='module')
def first_run(admin, endpoint, agent_config):
    "FusionInventory inventories this machine and sends it, with -u/-p"
    output = fusioninventory(endpoint, agent_config, '--force',
        '--server', endpoint['server_url'], '--user', USER,
        '--password', PASSWORD)
    assert 'sending prolog request' in output, output
    inventory, = inventories(admin, endpoint)
    return inventory


def test_fusioninventory_registers_this_machine(admin, first_run):
    "This machine appears as a computer with its OS, CPU and packages"
    inventory = first_run
    assert inventory['state'] == 'done', inventory
    assert inventory['asset_created']
    assert inventory['format'] == 'fusioninventory-xml'
    asset = asset_state(admin, inventory['asset'])
    assert asset['name'] == socket.gethostname().split('.')[0]
    assert asset['state'] == 'deployed'
    assert asset['kind'] in {'server', 'desktop', 'laptop', 'other'}
    os_release = Path('/etc/os-release').read_text()
    assert re.search(r'^NAME="?Debian', os_release, re.M)
    assert asset['os_name'].startswith('Debian GNU/Linux')
    assert asset['cpu']
    assert asset['memory'] > 0
    interfaces = admin.model('itsm.asset.network_interface', 'read',
        asset['network_interfaces'], ['name', 'mac', 'ip_addresses'])
    assert physical_macs() <= {i['mac'] for i in interfaces}
    # Every package dpkg knows, as one installation each
    packages = subprocess.run(['dpkg-query', '-W', '-f', '.'],
        capture_output=True, text=True).stdout.count('.')
    assert len(asset['installations']) == inventory['software_count']
    assert packages > 0
    assert abs(len(asset['installations']) - packages) <= 5
    assert [e['kind'] for e in events(admin, inventory['asset'])] == [
        'state', 'inventory']


def test_second_run_writes_nothing(admin, endpoint, agent_config,
        first_run):
    "The same machine again: no duplicate, nothing written but the date"
    asset_id = first_run['asset']
    before = asset_state(admin, asset_id)
    history = admin.model('itsm.asset', 'history_revisions', [asset_id])
    # The dates are kept to the second on PostgreSQL
    time.sleep(1.1)
    output = fusioninventory(endpoint, agent_config, '--force',
        '--server', endpoint['server_url'], '--user', USER,
        '--password', PASSWORD)
    assert 'New inventory' in output, output
    after = asset_state(admin, asset_id)
    assert len(inventories(admin, endpoint)) == 1, "stored again"
    assert moment(after['last_inventory']) > moment(
        before['last_inventory'])
    for name in ['installations', 'events', 'network_interfaces']:
        assert after[name] == before[name], name
    assert admin.model('itsm.asset', 'history_revisions',
        [asset_id]) == history
    assert admin.model('itsm.asset', 'search_count',
        [('name', '=', before['name'])]) == 1


def test_removed_package_shows_in_history(admin, endpoint, agent_config,
        first_run, tmp_path):
    """A package gone between two runs: a saved inventory without it is
    replayed with fusioninventory-injector, then the agent runs again"""
    asset_id = first_run['asset']
    fusioninventory(endpoint, agent_config, '--local', str(tmp_path))
    saved, = tmp_path.glob('*.ocs')
    root = etree.fromstring(saved.read_bytes())
    content = root.find('CONTENT')
    software = content.findall('SOFTWARES')
    gone = next(s for s in software if s.findtext('NAME') == 'adduser')
    content.remove(gone)
    saved.write_bytes(etree.tostring(root, xml_declaration=True,
            encoding='UTF-8'))
    installed = len(asset_state(admin, asset_id)['installations'])

    # The injector takes the credentials in the URL
    parts = urlsplit(endpoint['server_url'])
    url = urlunsplit(parts._replace(
            netloc=f'{USER}:{PASSWORD}@{parts.netloc}'))
    run([program('fusioninventory-injector'), '-v', '-f', str(saved),
            '--url', url], "fusioninventory-injector")
    replayed = inventories(admin, endpoint)[-1]
    assert replayed['state'] == 'done', replayed
    assert replayed['asset'] == asset_id
    assert replayed['removed'] == 1
    assert len(asset_state(admin, asset_id)['installations']) == (
        installed - 1)
    version = gone.findtext('VERSION')
    architecture = gone.findtext('ARCH')
    assert [(e['description'], e['old_value'], e['new_value'])
        for e in events(admin, asset_id, ['removed'])] == [
        ('adduser', f'{version} ({architecture})', None)]

    # The agent's next run finds it installed again
    fusioninventory(endpoint, agent_config, '--force', '--server',
        endpoint['server_url'], '--user', USER, '--password', PASSWORD)
    assert len(asset_state(admin, asset_id)['installations']) == installed
    assert [e['description'] for e in events(
            admin, asset_id, ['installed'])] == ['adduser']


def test_ocs_agent_reports_the_same_machine(admin, endpoint, first_run,
        tmp_path):
    "OCS Inventory's agent, with the secret in the URL: the same asset"
    asset_id = first_run['asset']
    name = asset_state(admin, asset_id)['name']
    count = len(inventories(admin, endpoint))
    run([program('ocsinventory-agent'),
            f'--server={endpoint["server_url"]}?secret={SECRET}',
            '--nolocal', f'--basevardir={tmp_path}',
            f'--logfile={tmp_path / "agent.log"}'],
        "ocsinventory-agent")
    stored = inventories(admin, endpoint)
    assert len(stored) == count + 1, (tmp_path / 'agent.log').read_text()
    ocs = stored[-1]
    assert ocs['state'] == 'done', ocs
    assert ocs['format'] == 'ocs-xml'
    assert ocs['asset'] == asset_id
    assert not ocs['asset_created']
    assert admin.model('itsm.asset', 'search_count',
        [('name', '=', name)]) == 1
    asset = asset_state(admin, asset_id)
    assert asset['inventory_device_id'] == ocs['device_id']
    # The packages OCS catalogues under other publishers are the same
    # installations, not a flood of removals and installations
    assert ocs['removed'] + ocs['installed'] < 20, ocs


def test_bad_request_is_answered_and_kept(admin, endpoint):
    "What an agent cannot have meant is refused, and kept for review"
    body = zlib.compress(b'<?xml version="1.0"?><REQUEST><QUERY>INVENTORY'
        b'</QUERY><DEVICEID>broken</DEVICEID><CONTENT><HARDWARE>')
    request = urllib.request.Request(
        f'{endpoint["server_url"]}?secret={SECRET}', data=body,
        headers={'Content-Type': 'application/x-compress-zlib'})
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=30)
    assert error.value.code == 400
    reply = zlib.decompress(error.value.read())
    assert b'<REPLY><ERROR>' in reply and b'not well-formed' in reply
    kept = admin.model('itsm.inventory', 'search_read',
        [('state', 'in', ['failed', 'unmatched'])], 0, None,
        [('id', 'DESC')], INVENTORY_FIELDS)
    assert kept[0]['reason_code'] == 'malformed'
    assert 'not well-formed' in kept[0]['reason']
