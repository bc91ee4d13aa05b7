# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The client portal: a Flask application on the Tryton database.

It runs as the technical user of the itsm_portal module (never as root) and
puts the web user of each request in the transaction context, where the
record rules of the Portal group read it.
"""
from .app import create_app

__all__ = ['create_app']
