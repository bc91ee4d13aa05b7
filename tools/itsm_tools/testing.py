"""Helpers shared by the modules' tests.

``SMTPSink`` is a real SMTP server (aiosmtpd) on 127.0.0.1 for the tests of
what the Service Desk sends.

pytest ignores ``load_tests``, so a Tryton scenario (``tests/scenario_*.rst``)
would silently never run under it. ``scenario_tests`` gives both runners what
they need: ``load_tests`` for unittest and one pytest test per scenario file.
"""
import io
import os
import socket
import threading
import unittest
from pathlib import Path

import pytest
from trytond.tests.test_tryton import load_doc_tests


def missing(reason):
    """Skip the test for want of a program, or fail when the end-to-end
    tests are required (ITSM_E2E=required, as in CI)"""
    if os.environ.get('ITSM_E2E') == 'required':
        pytest.fail(f"ITSM_E2E=required but {reason}")
    pytest.skip(reason)


def scenario_tests(name, path):
    "Return (load_tests, test_scenario) for the test module at path"
    directory = Path(path).parent
    scenarios = sorted(p.name for p in directory.glob('scenario_*.rst'))
    if not scenarios:
        raise RuntimeError(f"no scenario_*.rst beside {path}")

    def load_tests(loader, tests, pattern):
        return load_doc_tests(name, path, loader, tests, pattern)

    @pytest.mark.parametrize('scenario', scenarios)
    def test_scenario(scenario):
        loader = unittest.TestLoader()
        loader.testNamePatterns = [scenario]
        suite = load_doc_tests(
            name, path, loader, unittest.TestSuite(), None)
        assert suite.countTestCases(), f"{scenario} was not loaded"
        output = io.StringIO()
        result = unittest.TextTestRunner(stream=output).run(suite)
        assert result.wasSuccessful(), output.getvalue()

    return load_tests, test_scenario


_HANDED_OUT = set()


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now and that
    this process has not handed out before: the system may give the same
    port to two calls in a row (Dovecot then refused a duplicate listener)"""
    while True:
        with socket.socket() as sock:
            sock.bind(('127.0.0.1', 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


class SMTPSink:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it receives.

    .messages lists (mail_from, rcpt_tos, raw bytes) as received; set
    .answer to an SMTP reply ('550 5.1.1 No such user') to refuse the
    messages instead.
    """

    def __init__(self, port=None):
        from aiosmtpd.controller import Controller
        self.port = port or free_port()
        self.messages = []
        self.answer = None
        self._changed = threading.Condition()
        # server_hostname spares a getfqdn() that may wait on DNS.
        self.controller = Controller(self, hostname='127.0.0.1',
            port=self.port, server_hostname='sink.example.test',
            enable_SMTPUTF8=True)
        self.controller.start()

    @property
    def uri(self):
        return f'smtp://127.0.0.1:{self.port}'

    async def handle_DATA(self, server, session, envelope):
        if self.answer:
            return self.answer
        # original_content: the bytes as received, before any decoding.
        message = (envelope.mail_from, list(envelope.rcpt_tos),
            envelope.original_content)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        return '250 OK message accepted'

    def wait_for(self, predicate=bool, timeout=10):
        """Wait until predicate(messages) is true; return the messages.

        The default waits for at least one message.
        """
        with self._changed:
            if not self._changed.wait_for(
                    lambda: predicate(self.messages), timeout):
                raise TimeoutError(
                    f"after {timeout} s the sink has {len(self.messages)} "
                    "message(s), not the ones awaited")
            return list(self.messages)

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
