# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Demo data: a portal account for every employee of Oriale"
from trytond.pool import Pool

from itsm_ticket.demo import create_in_batches


def generate(demo):
    pool = Pool()
    WebUser = pool.get('web.user')
    employees = demo.records['employees']
    demo.step(f"{len(employees)} portal users")
    # One hash for all: argon2 is slow on purpose, and the demo accounts
    # share their password.
    password_hash = WebUser.hash_password(demo.password)
    create_in_batches(WebUser, [{
                'email': employee.party.email,
                'email_valid': True,
                'password_hash': password_hash,
                'party': employee.party.id,
                } for employee in employees])
