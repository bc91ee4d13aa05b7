# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""`itsm-mailgate` against a tiny HTTP server standing in for Tryton."""
import io
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from itsm_tools import mailgate

MESSAGE = (
    b'From: Zo\xc3\xab <zoe@example.test>\r\n'
    b'To: helpdesk@helpdesk.example.test\r\n'
    b'Subject: =?utf-8?q?Drukarka_nie_dzia=C5=82a?=\r\n'
    b'Message-ID: <1@example.test>\r\n'
    b'Content-Type: text/plain; charset=iso-8859-2\r\n'
    b'Content-Transfer-Encoding: 8bit\r\n'
    b'\r\n'
    # 8-bit body (ISO-8859-2 "ó" and "ł"), a NUL and a bare CR: the gate
    # must pass the bytes through, not text.
    b'Drukarka w pokoju 12 nie dzia\xb3a, b\xf3l.\r\n\x00\rend\n')


class Webhook(ThreadingHTTPServer):
    "Records each POST and answers with `status` after `delay` seconds"
    daemon_threads = True
    status = 204
    delay = 0

    def __init__(self):
        self.requests = []
        super().__init__(('127.0.0.1', 0), WebhookHandler)

    @property
    def url(self):
        return (f'http://127.0.0.1:{self.server_address[1]}'
            '/db/inbound_email/inbox/abc?type=raw')


class WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get('Content-Length', 0))
        body = self.rfile.read(length)
        self.server.requests.append((self.path, self.headers, body))
        if self.server.delay:
            time.sleep(self.server.delay)
        status = self.server.status
        self.send_response(status)
        if status in {301, 302, 303}:
            self.send_header('Location', '/elsewhere')
        explanation = b'' if status == 204 else b'Explained here\n'
        self.send_header('Content-Length', str(len(explanation)))
        self.end_headers()
        self.wfile.write(explanation)

    def log_message(self, format, *args):
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    # A proxy from the environment would answer instead of the test server.
    for name in ['http_proxy', 'https_proxy', 'all_proxy']:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture
def webhook():
    server = Webhook()
    thread = threading.Thread(
        target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def gate(monkeypatch, capsys, data, *args):
    "Run main() on data as standard input: (exit status, stderr)"
    stdin = io.TextIOWrapper(io.BytesIO(data))
    monkeypatch.setattr(sys, 'stdin', stdin)
    status = mailgate.main(list(args))
    return status, capsys.readouterr().err


def refused_url():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        port = sock.getsockname()[1]
    return f'http://127.0.0.1:{port}/db/inbound_email/inbox/abc?type=raw'


def test_delivers_bytes_intact(webhook, monkeypatch, capsys):
    "The message reaches the webhook byte for byte as message/rfc822"
    status, err = gate(monkeypatch, capsys, MESSAGE, '--url', webhook.url)
    assert (status, err) == (0, '')
    [(path, headers, body)] = webhook.requests
    assert path == '/db/inbound_email/inbox/abc?type=raw'
    assert headers['Content-Type'] == 'message/rfc822'
    assert body == MESSAGE


@pytest.mark.parametrize('answer', [200, 201, 202, 204])
def test_2xx_is_success(webhook, monkeypatch, capsys, answer):
    webhook.status = answer
    status, err = gate(monkeypatch, capsys, MESSAGE, '--url', webhook.url)
    assert (status, err) == (0, '')


@pytest.mark.parametrize('answer', [500, 502, 503, 429])
def test_server_trouble_is_temporary(webhook, monkeypatch, capsys, answer):
    "5xx and 429: the MTA keeps the message and retries"
    webhook.status = answer
    status, err = gate(monkeypatch, capsys, MESSAGE, '--url', webhook.url)
    assert status == mailgate.EX_TEMPFAIL == 75
    assert f'answered {answer}' in err
    assert 'Explained here' in err
    assert err.count('\n') == 1 and 'Traceback' not in err


@pytest.mark.parametrize('answer', [400, 404, 413, 422])
def test_refused_message_is_data_error(
        webhook, monkeypatch, capsys, answer):
    "4xx (but 429): the message is refused for good and bounces"
    webhook.status = answer
    status, err = gate(monkeypatch, capsys, MESSAGE, '--url', webhook.url)
    assert status == mailgate.EX_DATAERR == 65
    assert f'answered {answer}' in err
    assert err.count('\n') == 1


@pytest.mark.parametrize('answer', [301, 302, 307])
def test_redirect_is_temporary_not_followed(
        webhook, monkeypatch, capsys, answer):
    "A redirect is not followed: urllib would resend a POST as a bodiless GET"
    webhook.status = answer
    status, err = gate(monkeypatch, capsys, MESSAGE, '--url', webhook.url)
    assert status == 75
    assert f'answered {answer}' in err
    assert len(webhook.requests) == 1


def test_connection_refused_is_temporary(monkeypatch, capsys):
    url = refused_url()
    status, err = gate(monkeypatch, capsys, MESSAGE, '--url', url)
    assert status == 75
    assert 'cannot reach' in err and 'refused' in err
    assert err.count('\n') == 1


def test_timeout_is_temporary(webhook, monkeypatch, capsys):
    webhook.delay = 2
    started = time.monotonic()
    status, err = gate(monkeypatch, capsys, MESSAGE,
        '--url', webhook.url, '--timeout', '0.3')
    assert status == 75
    assert 'within 0.3 s' in err
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize('data', [b'', b'\r\n\n'])
def test_empty_input(webhook, monkeypatch, capsys, data):
    status, err = gate(monkeypatch, capsys, data, '--url', webhook.url)
    assert status == mailgate.EX_NOINPUT == 66
    assert err == 'itsm-mailgate: no message on standard input\n'
    assert not webhook.requests


def test_too_large(webhook, monkeypatch, capsys):
    status, err = gate(monkeypatch, capsys, MESSAGE,
        '--url', webhook.url, '--max-size', str(len(MESSAGE) - 1))
    assert status == 65
    assert 'message too large' in err
    assert not webhook.requests

    status, err = gate(monkeypatch, capsys, MESSAGE,
        '--url', webhook.url, '--max-size', str(len(MESSAGE)))
    assert (status, err) == (0, '')
    assert webhook.requests[0][2] == MESSAGE


def test_default_limits():
    args = mailgate.parse_args(['--url', 'http://127.0.0.1/db/x'])
    assert args.timeout == 60
    assert args.max_size == 25 * 1024 * 1024


@pytest.mark.parametrize('args', [
        [],
        ['--url', 'ftp://example.test/x'],
        ['--url', 'http://127.0.0.1/x', '--timeout', '0'],
        ['--url', 'http://127.0.0.1/x', '--max-size', 'big'],
        ])
def test_misconfiguration_keeps_mail(monkeypatch, capsys, args):
    "A broken command line defers the mail instead of bouncing it"
    with pytest.raises(SystemExit) as exit:
        gate(monkeypatch, capsys, MESSAGE, *args)
    assert exit.value.code == 75
    assert 'itsm-mailgate: error:' in capsys.readouterr().err


def test_console_script(webhook):
    "The installed `itsm-mailgate` command, as an MTA runs it"
    script = Path(sys.executable).parent / 'itsm-mailgate'
    if not script.exists():
        pytest.skip(f"{script} is not installed (pip install -e .)")
    webhook.status = 404
    result = subprocess.run([script, '--url', webhook.url],
        input=MESSAGE, capture_output=True, timeout=30)
    assert result.returncode == 65
    assert result.stderr.decode().startswith('itsm-mailgate: ')
    assert result.stderr.count(b'\n') == 1
    assert webhook.requests[0][2] == MESSAGE
