"""`itsm`: set up, fill and serve the ITSM suite.

    itsm run      set everything up if needed, then serve backend and portal
    itsm setup    write the configuration, install sao, build the database
    itsm demo     add the demo data to a database
    itsm serve    serve the backend at / and the portal at /portal/
    itsm drop     drop the database
    itsm inventory import FILE|DIR...
                  import inventory agents' files (.ocs, .xml, .json)

Problems the user can fix end the command with one line on stderr.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from .demo import DEMO_BACKEND_USERS, DEMO_PASSWORD, DEMO_PORTAL_LOGIN
from .settings import MODULES, SAO_VERSION, Settings, SetupError


def say(message):
    print(f"itsm: {message}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='itsm', description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest='command', required=True)

    def common(command):
        command.add_argument('--database-uri',
            help="sqlite:// (default) or postgresql://user:pw@host:port/")
        command.add_argument('--database', help="database name (itsm)")
        command.add_argument('--host', help="address to serve on (127.0.0.1)")
        command.add_argument('--port', help="port to serve on (8000)")
        return command

    run = common(commands.add_parser('run', help="set up and serve"))
    run.add_argument('--reset', action='store_true',
        help="drop the database and build it again")
    run.add_argument('--size', type=int, default=1,
        help="size of the demo data (1)")
    setup = common(commands.add_parser('setup', help="set up, do not serve"))
    setup.add_argument('--reset', action='store_true')
    setup.add_argument('--size', type=int, default=1)
    demo = common(commands.add_parser('demo', help="add demo data"))
    demo.add_argument('--size', type=int, default=1)
    demo.add_argument('--seed', type=int, default=2026)
    common(commands.add_parser('serve', help="serve backend and portal"))
    common(commands.add_parser('drop', help="drop the database"))
    inventory = commands.add_parser('inventory',
        help="inventory agents' files")
    inventory_commands = inventory.add_subparsers(
        dest='inventory_command', required=True)
    inventory_import = common(inventory_commands.add_parser('import',
            help="import inventory files (.ocs, .xml, .json, gzipped or "
            "not; folders are searched) in batches"))
    inventory_import.add_argument('paths', nargs='+', metavar='FILE|DIR')
    inventory_import.add_argument('--endpoint',
        help="the inventory endpoint (name or identifier) whose company "
        "and matching rules apply; needed when there are several")
    inventory_import.add_argument('--batch', type=int, default=50,
        help="inventories a transaction (50)")

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_environ(
            uri=args.database_uri, database=args.database,
            host=args.host, port=args.port)
        if args.command in {'run', 'setup'}:
            if args.command == 'run':
                check_port_free(settings)
            started = time.monotonic()
            set_up(settings, reset=args.reset, size=args.size)
            say(f"ready in {time.monotonic() - started:.0f} s")
            if args.command == 'run':
                return serve_in_child(settings)
        elif args.command == 'demo':
            from .demo import generate
            settings.write_config()
            generate(settings, size=args.size, seed=args.seed)
        elif args.command == 'inventory':
            from .inventory import import_command
            check_database_server(settings)
            if not database_exists(settings):
                raise SetupError(
                    f"no database {settings.database!r}: run itsm setup")
            settings.write_config()
            return import_command(settings, args.paths,
                endpoint=args.endpoint, batch=args.batch)
        elif args.command == 'drop':
            check_database_server(settings)
            drop_database(settings)
            settings.remove_config()
        elif args.command == 'serve':
            settings.write_config()
            check_port_free(settings)
            from .server import serve
            serve(settings, banner=banner(settings))
    except SetupError as error:
        print(f"itsm: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


def set_up(settings, reset=False, size=1):
    check_database_server(settings)
    settings.write_config()
    install_sao(settings)
    if reset:
        drop_database(settings)
    if settings.ready_marker.exists() and database_exists(settings):
        say(f"database {settings.database!r} is ready "
            "(make reset builds it again)")
        return
    drop_database(settings)
    create_database(settings)
    run_step(settings, [sys.executable, '-m', 'itsm_tools.cli', 'demo',
            '--size', str(size)], "demo data")
    settings.ready_marker.write_text(settings.database_uri + '\n')


def run_step(settings, command, what, **environ):
    "Run command in a child process (a pool per process), stop on failure"
    env = settings.environ()
    env.update(environ)
    env['ITSM_DATABASE_URI'] = settings.database_uri
    env['ITSM_DATABASE'] = settings.database
    result = subprocess.run(command, env=env)
    if result.returncode:
        raise SetupError(f"{what} failed (exit {result.returncode}); "
            "the messages above tell why")


def check_port_free(settings):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((settings.host, settings.port))
        except OSError as error:
            raise SetupError(
                f"cannot listen on {settings.host}:{settings.port} "
                f"({error.strerror}): stop what uses it or set ITSM_PORT")


def install_sao(settings):
    "Install the sao web client from the npm registry into var/sao"
    marker = settings.sao_root / f'.itsm-sao-{SAO_VERSION}'
    if marker.exists():
        return
    npm = shutil.which('npm')
    if not npm:
        raise SetupError("npm is not installed: install Node.js and npm "
            "(Debian: apt-get install npm), then try again")
    folder = settings.sao_root.parent
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    say(f"installing the web client sao {SAO_VERSION} from npm…")
    pack = subprocess.run(
        [npm, 'pack', f'tryton-sao@{SAO_VERSION}', '--silent'],
        cwd=folder, capture_output=True, text=True)
    if pack.returncode:
        raise SetupError("npm could not fetch tryton-sao "
            f"{SAO_VERSION}: {_last_line(pack.stderr)}")
    archive = folder / pack.stdout.strip().splitlines()[-1]
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter='data')
    archive.unlink()
    install = subprocess.run(
        [npm, 'install', '--omit=dev', '--legacy-peer-deps',
            '--no-audit', '--no-fund', '--silent'],
        cwd=settings.sao_root, capture_output=True, text=True)
    if install.returncode:
        raise SetupError("npm could not install the dependencies of sao: "
            f"{_last_line(install.stderr)}")
    marker.touch()


def check_database_server(settings):
    if settings.backend != 'postgresql':
        return
    import psycopg
    try:
        _postgresql_databases(settings)
    except psycopg.Error as error:
        params = _postgresql_params(settings)
        raise SetupError(
            f"cannot connect to PostgreSQL at "
            f"{params.get('host', 'localhost')}:{params.get('port', 5432)}: "
            f"{_first_line(str(error))}")


def database_exists(settings):
    if settings.backend == 'sqlite':
        return (settings.db_path / f'{settings.database}.sqlite').exists()
    return settings.database in _postgresql_databases(settings)


def drop_database(settings):
    settings.ready_marker.unlink(missing_ok=True)
    if settings.backend == 'sqlite':
        for suffix in ['', '-wal', '-shm', '-journal']:
            (settings.db_path / f'{settings.database}.sqlite{suffix}').unlink(
                missing_ok=True)
    elif settings.database in _postgresql_databases(settings):
        say(f"dropping database {settings.database!r}")
        _postgresql_execute(settings,
            f'DROP DATABASE "{settings.database}" WITH (FORCE)')
    # Its attachments and received emails: trytond's filestore keeps them
    # in a folder named after the database, beside the SQLite files.
    shutil.rmtree(settings.db_path / settings.database, ignore_errors=True)


def create_database(settings):
    say(f"creating database {settings.database!r} "
        f"({settings.backend}) with {', '.join(MODULES)}…")
    if settings.backend == 'sqlite':
        (settings.db_path / f'{settings.database}.sqlite').touch()
    else:
        _postgresql_execute(settings,
            f'CREATE DATABASE "{settings.database}" ENCODING \'UTF8\'')
        enable_trigram_search(settings)
    # A file of its own: another database may be created meanwhile.
    descriptor, password_file = tempfile.mkstemp(
        prefix='admin-password-', dir=settings.var)
    with os.fdopen(descriptor, 'w') as fp:
        fp.write(DEMO_PASSWORD)
    password_file = Path(password_file)
    try:
        run_step(settings, [shutil.which('trytond-admin')
                or os.path.join(os.path.dirname(sys.executable),
                    'trytond-admin'),
                '-c', str(settings.config_file), '-d', settings.database,
                '-u', *MODULES, '--activate-dependencies',
                '--email', 'admin@oriale.example'],
            "activating the modules", TRYTONPASSFILE=str(password_file))
    finally:
        password_file.unlink(missing_ok=True)


def enable_trigram_search(settings):
    """Let trytond build trigram indexes: searching a word inside a subject
    then uses an index instead of reading every ticket"""
    import psycopg
    try:
        with psycopg.connect(dbname=settings.database, connect_timeout=5,
                autocommit=True, **_postgresql_params(settings)) as conn:
            conn.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    except psycopg.Error as error:
        say("warning: no pg_trgm in this PostgreSQL "
            f"({_first_line(str(error))}): word searches will scan")


def _postgresql_params(settings):
    from urllib.parse import urlsplit
    parts = urlsplit(settings.database_uri)
    return {k: v for k, v in {
            'host': parts.hostname, 'port': parts.port,
            'user': parts.username, 'password': parts.password,
            }.items() if v}


def _postgresql_databases(settings):
    import psycopg
    with psycopg.connect(dbname='postgres', connect_timeout=5,
            **_postgresql_params(settings)) as conn:
        return {name for name, in conn.execute(
                    'SELECT datname FROM pg_database')}


def _postgresql_execute(settings, statement):
    import psycopg
    with psycopg.connect(dbname='postgres', connect_timeout=5,
            autocommit=True, **_postgresql_params(settings)) as conn:
        conn.execute(statement)


def serve_in_child(settings):
    "Serve in a fresh process: trytond must start before any thread"
    command = [sys.executable, '-m', 'itsm_tools.cli', 'serve']
    env = settings.environ()
    env.update(ITSM_DATABASE_URI=settings.database_uri,
        ITSM_DATABASE=settings.database, ITSM_HOST=settings.host,
        ITSM_PORT=str(settings.port))
    try:
        return subprocess.call(command, env=env)
    except KeyboardInterrupt:
        return 0


def banner(settings):
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        "",
        f"  Backend (sao):  {base}/   database: {settings.database}",
        f"  Client portal:  {base}/portal/",
        "",
        f"  Demo logins (password {DEMO_PASSWORD} for all):",
        ]
    for login, role in DEMO_BACKEND_USERS:
        lines.append(f"    backend  {login:<28} {role}")
    lines.append(f"    portal   {DEMO_PORTAL_LOGIN:<28} an Oriale employee")
    lines += ["", "  Ctrl+C stops the server.", ""]
    return "\n".join(lines)


def _first_line(text):
    lines = [line.strip() for line in (text or '').splitlines() if line]
    return lines[0] if lines else "no message"


def _last_line(text):
    lines = [line for line in (text or '').strip().splitlines() if line]
    return lines[-1] if lines else "no message"


if __name__ == '__main__':
    sys.exit(main())
