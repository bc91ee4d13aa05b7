"""One WSGI application for the backend (trytond and sao) and the portal.

trytond reads its configuration when it is imported and refuses to start if
another thread runs while it loads the pool: the environment is set and
trytond imported here, before the portal and the HTTP server exist.
"""
import os


def make_app(config_file, database):
    "The backend at / and the portal at /portal/, for one database"
    os.environ['TRYTOND_CONFIG'] = str(config_file)
    os.environ['TRYTOND_DATABASE_NAMES'] = database
    import trytond.config as config
    from trytond import backend as database_backend
    from trytond.application import app as backend
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from itsm_portal.portal import create_app

    from .sqlite_pool import install
    if database_backend.name == 'sqlite':
        install()
    portal = create_app(database, str(config_file))
    if database_backend.name == 'sqlite' and config.getboolean(
            'queue', 'worker', default=False):
        # trytond-worker cannot watch a SQLite database: the server runs
        # the queue itself.
        from .queue_runner import start
        start(database)
    return DispatcherMiddleware(backend, {'/portal': portal})


def serve(settings, banner=''):
    "Serve for development and the demo, on werkzeug's threaded server"
    from werkzeug.serving import run_simple
    app = make_app(settings.config_file, settings.database)
    print(banner, flush=True)
    run_simple(settings.host, settings.port, app, threaded=True)
