"""WSGI entry point for production servers (uWSGI, gunicorn, mod_wsgi).

    TRYTOND_CONFIG=/etc/itsm/trytond.conf ITSM_DATABASE=itsm \\
        gunicorn --workers 4 itsm_tools.wsgi:application

serves the backend at / and the portal at /portal/ from each worker.
"""
import os

from .server import make_app

application = make_app(
    os.environ['TRYTOND_CONFIG'], os.environ.get('ITSM_DATABASE', 'itsm'))
