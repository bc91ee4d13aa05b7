# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Demo data: the inventory endpoint of Oriale's agents and what they sent.

The endpoint is ready for a real agent (Service Desk > Configuration >
Inventory Endpoints gives its URL and secret). Two machines have reported
through it, in documents real agents wrote (tests/data): a Windows laptop
by FusionInventory, a Windows PC by GLPI-Agent; they wait in the IT room to
be handed over. One request that was not an inventory waits in To Review
with its reason. (Not the Debian fixtures: they describe the development
machine, which the end-to-end tests inventory as a new computer.)
"""
from pathlib import Path

from trytond.pool import Pool

DATA = Path(__file__).parent / 'tests' / 'data'
REPORTS = [
    ('fusioninventory-windows-latin1.xml', 'FusionInventory-Agent_v2.6'),
    ('glpi-agent-windows.json', 'GLPI-Agent_v1.7.3'),
    ]
BROKEN = b'<?xml version="1.0"?>\n<REQUEST><QUERY>INVENTORY</QUERY>\n'


def generate_inventories(demo):
    pool = Pool()
    Endpoint = pool.get('itsm.inventory.endpoint')
    Inventory = pool.get('itsm.inventory')
    rng = demo.rng
    endpoint, = Endpoint.create([{
                'name': "Oriale workstations",
                'company': demo.company.id,
                'identifier': f'{rng.getrandbits(128):032x}',
                'secrets': f'{rng.getrandbits(128):032x}',
                # Where IT prepares machines before they are handed over
                'asset_location': demo.records['rooms'][0].id,
                }])
    received = []
    for number, (filename, agent) in enumerate(REPORTS, 21):
        inventory, outcome = Inventory.receive(
            endpoint, (DATA / filename).read_bytes(),
            remote_address=f'10.20.1.{number}', agent=agent, queue=False)
        if outcome == 'received':
            received.append(inventory)
    Inventory.process_batch(received)
    Inventory.receive(endpoint, BROKEN, remote_address='10.20.1.99',
        agent='curl/7.88.1', queue=False)
    demo.records['inventory_endpoint'] = endpoint
    demo.step(f"inventory endpoint {endpoint.name!r}: {len(received)} "
        "machines reported by their agents, 1 request to review")
