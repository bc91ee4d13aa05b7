"""Real programs for the end-to-end tests.

A test whose program is missing is skipped with the reason, or fails when
ITSM_E2E=required (as in CI): a green run never hides an end-to-end test that
did not run.
"""
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from itsm_tools.testing import SMTPSink, free_port, missing

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update',
    '--disable-sync',
    ]


def started(helper, *args, **kwargs):
    """Start a server of itsm_tools.mailservers, or skip (fail under
    ITSM_E2E=required) with the reason"""
    from itsm_tools.mailservers import MissingProgram
    try:
        return helper(*args, **kwargs)
    except MissingProgram as error:
        missing(error.reason)


def wait_until(predicate, timeout=20, what="the condition", interval=0.05):
    "Wait until predicate() returns something true; return it"
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not met after {timeout} s")
        time.sleep(interval)
    return result


def find_program(name, *candidates):
    for candidate in (name, *candidates):
        path = shutil.which(candidate)
        if path:
            return path
    missing(f"{name} is not installed")


def itsm(*args, env=None, **kwargs):
    command = [sys.executable, '-m', 'itsm_tools.cli', *args]
    return subprocess.run(command, cwd=ROOT, env=env, **kwargs)


@pytest.fixture(scope='session')
def chromium():
    return find_program('chromium', 'chromium-browser')


@pytest.fixture(scope='session')
def browser(chromium):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("the playwright package is not installed")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


class Server(str):
    "The server's base URL, which also knows its database"
    def __new__(cls, base, database):
        server = super().__new__(cls, base)
        server.database = database
        return server


@pytest.fixture(scope='session')
def mail_sink():
    "The SMTP server the Service Desk sends to during the end-to-end tests"
    try:
        sink = SMTPSink()
    except ImportError:
        missing("the aiosmtpd package is not installed")
    with sink:
        yield sink


@pytest.fixture(scope='session')
def server(tmp_path_factory, mail_sink):
    """Serve backend and portal on a temporary demo database.

    The database lives beside the development one (SQLite) or in the cluster
    of TRYTOND_DATABASE__URI (PostgreSQL) and is dropped at the end; what
    the server emails goes to mail_sink.
    """
    if not shutil.which('npm') and not list(
            (ROOT / 'var' / 'sao' / 'package').glob('.itsm-sao-*')):
        missing("npm is not installed (needed to install sao)")
    database = f'itsm_e2e_{os.getpid()}'
    port = free_port()
    env = os.environ.copy()
    env.update(ITSM_DATABASE=database, ITSM_PORT=str(port),
        ITSM_HOST='127.0.0.1', TRYTOND_EMAIL__URI=mail_sink.uri)
    if uri := os.environ.get('TRYTOND_DATABASE__URI'):
        env['ITSM_DATABASE_URI'] = uri
    log = tmp_path_factory.mktemp('server') / 'server.log'
    setup = itsm('setup', '--reset', env=env, capture_output=True, text=True)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    with open(log, 'w') as output:
        process = subprocess.Popen(
            [sys.executable, '-m', 'itsm_tools.cli', 'serve'],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f'http://127.0.0.1:{port}'
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f'{base}/portal/health') as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the server did not start:\n" + log.read_text())
            time.sleep(0.3)
        yield Server(base, database)
    finally:
        process.terminate()
        process.wait(timeout=20)
        itsm('drop', env=env, capture_output=True)
