# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Helpers for the tests and scenarios of the Service Desk"
import datetime as dt
from contextlib import contextmanager
from unittest import mock


@contextmanager
def sla_clock(*args):
    """Run the SLA engine as if it were that moment (naive UTC), so that due
    dates read plainly in tests and scenarios"""
    with mock.patch('itsm_ticket.sla.now', return_value=dt.datetime(*args)):
        yield
