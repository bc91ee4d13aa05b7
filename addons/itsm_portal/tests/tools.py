# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Helpers for tests and scenarios that drive the portal"
import re

from trytond.pool import Pool


def portal_test_client(database):
    "Return a Flask test client of the portal on the database"
    from itsm_portal.portal import create_app

    # flask-tryton freezes Pool.stop for the whole process; the test runner
    # needs it to switch databases between test cases.
    stop = Pool.__dict__['stop']
    try:
        app = create_app(database)
    finally:
        Pool.stop = stop
    app.testing = True
    return app.test_client()


def form_token(response):
    "The anti-forgery token of the form in the page"
    return re.search(
        r'name="csrf_token" value="([^"]+)"', response.text).group(1)
