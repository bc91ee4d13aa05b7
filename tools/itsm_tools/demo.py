"""The demo data of Oriale, the fictional company of the product brief.

Deterministic: the same size and seed give the same data. Each of our modules
adds its part in a `demo.py` of its own (a `generate(demo)` function), called
in the order of the modules' dependencies when the module is activated; the
`Demo` object carries the random generator, the size and what earlier parts
created. bench/ uses the size parameter to build large databases.
"""
import importlib
import random
import time
from dataclasses import dataclass, field

from .settings import MODULES

# Shown by `itsm run`; every demo account has the same password.
DEMO_PASSWORD = 'oriale-demo'
DEMO_BACKEND_USERS = [
    ('admin', "administrator, in every group"),
    ('agent', "Service Desk Agent"),
    ('manager', "Service Desk Manager"),
    ('assets', "Asset Manager"),
    ('editor', "Knowledge Editor"),
    ('finance', "Purchase Approver"),
    ]
DEMO_PORTAL_LOGIN = 'ewa.kowalska@oriale.example'


@dataclass
class Demo:
    "What the parts of the generator share"
    size: int
    rng: random.Random
    password: str
    company: object = None
    records: dict = field(default_factory=dict)

    def step(self, message):
        print(f"  demo: {message}", flush=True)


def generate(settings, size=1, seed=2026):
    import os

    os.environ['TRYTOND_CONFIG'] = str(settings.config_file)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    if size < 1:
        raise ValueError("the demo size is at least 1")
    started = time.monotonic()
    Pool.start()
    pool = Pool(settings.database)
    with Transaction().start(settings.database, 0, readonly=True):
        pool.init()
    # The demo writes history: nobody is emailed about it.
    with Transaction().start(settings.database, 0,
            context={'itsm_notify': False}) as transaction:
        Module = pool.get('ir.module')
        activated = {m.name for m in Module.search([
                    ('state', '=', 'activated')])}
        demo = Demo(size=size, rng=random.Random(seed),
            password=DEMO_PASSWORD)
        for name in MODULES:
            if name in activated:
                module = importlib.import_module(f'{name}.demo')
                module.generate(demo)
        transaction.commit()
    print(f"  demo: done in {time.monotonic() - started:.1f} s", flush=True)
