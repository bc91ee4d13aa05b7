"""The `itsm` command: problems a user can fix end in one clear line."""
import re
import socket
import subprocess
import sys

import pytest

from itsm_tools.cli import install_sao
from itsm_tools.settings import Settings, SetupError


def run_itsm(*args, env=None):
    return subprocess.run(
        [sys.executable, '-m', 'itsm_tools.cli', *args],
        capture_output=True, text=True, env=env, timeout=120)


def assert_one_line_error(result, text):
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith('itsm: error: ')
    assert text in lines[0]
    assert 'Traceback' not in result.stdout + result.stderr


def test_unsupported_database_uri():
    with pytest.raises(SetupError, match="unsupported database URI"):
        Settings.from_environ(uri='mysql://root@localhost/')


def test_postgresql_uri_naming_a_database():
    with pytest.raises(SetupError, match="must not name a database"):
        Settings.from_environ(uri='postgresql://u@localhost:5432/prod')


def test_bad_port():
    with pytest.raises(SetupError, match="must be a number"):
        Settings.from_environ(port='http')


def test_run_refuses_port_in_use():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_itsm('run', '--port', str(port))
    assert_one_line_error(result, f"cannot listen on 127.0.0.1:{port}")


def test_setup_refuses_unreachable_postgresql():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]  # nothing listens there
    result = run_itsm('setup', '--database-uri',
        f'postgresql://itsm@127.0.0.1:{port}/')
    assert_one_line_error(result, "cannot connect to PostgreSQL")


def test_setup_refuses_wrong_scheme():
    result = run_itsm('setup', '--database-uri', 'oracle://scott@db/')
    assert_one_line_error(result, "unsupported database URI")


def test_missing_npm(tmp_path, monkeypatch):
    monkeypatch.setenv('PATH', str(tmp_path))
    settings = Settings('sqlite://', 'itsm', '127.0.0.1', 8000, var=tmp_path)
    with pytest.raises(SetupError, match="npm is not installed"):
        install_sao(settings)


def test_config_carries_environment_overrides(tmp_path, monkeypatch):
    "trytond reads its file after the environment: the file must agree"
    monkeypatch.setenv('TRYTOND_EMAIL__FROM', 'desk@example.com')
    settings = Settings(
        'postgresql://u@db:5432/', 'itsm', '0.0.0.0', 8069, var=tmp_path)
    text = settings.write_config().read_text()
    assert 'uri = postgresql://u@db:5432/' in text
    assert 'from = desk@example.com' in text
    assert 'listen = 0.0.0.0:8069' in text
    assert re.search(r'^path = /', text, re.M)  # made absolute


def test_drop_removes_database_and_its_files(tmp_path, monkeypatch):
    "Dropping a SQLite database removes its file and its filestore"
    from itsm_tools.cli import drop_database
    settings = Settings.from_environ(uri='sqlite://', database='dropme')
    monkeypatch.setattr(Settings, 'db_path', property(lambda s: tmp_path))
    (tmp_path / 'dropme.sqlite').write_bytes(b'')
    (tmp_path / 'dropme' / 'ab').mkdir(parents=True)
    (tmp_path / 'dropme' / 'ab' / 'file').write_bytes(b'attachment')
    (tmp_path / 'other.sqlite').write_bytes(b'')
    drop_database(settings)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['other.sqlite']
