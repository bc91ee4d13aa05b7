# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"Helpers for the tests and scenarios of the Service Desk"
import datetime as dt
import unittest
from contextlib import contextmanager
from unittest import mock

from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, drop_db


@contextmanager
def sla_clock(*args):
    """Run the SLA engine as if it were that moment (naive UTC), so that due
    dates read plainly in tests and scenarios"""
    with mock.patch('itsm_ticket.sla.now', return_value=dt.datetime(*args)):
        yield


def create_sla_policy():
    "Monday to Friday 08:00-16:00 UTC; medium priority: 1 h and 8 h"
    pool = Pool()
    Calendar = pool.get('itsm.sla.calendar')
    Policy = pool.get('itsm.sla.policy')
    calendar, = Calendar.create([{
                'name': "Office", 'timezone': 'UTC',
                'hours': [('create', [{
                                'weekday': str(day),
                                'start_time': dt.time(8),
                                'end_time': dt.time(16)}
                            for day in range(5)])]}])
    policy, = Policy.create([{
                'name': "Standard", 'calendar': calendar.id,
                'types': ['incident', 'request'],
                'warn_before': dt.timedelta(minutes=30),
                'targets': [('create', [{
                                'priority': '1',
                                'response_time': dt.timedelta(minutes=15),
                                'resolution_time': dt.timedelta(hours=2)}, {
                                'priority': '3',
                                'response_time': dt.timedelta(hours=1),
                                'resolution_time': dt.timedelta(hours=8)}])],
                }])
    return policy


class ActivatedModuleCase(unittest.TestCase):
    """Tests that share one database with `module` activated (from
    DB_CACHE when set), dropped after the class"""
    module = 'itsm_ticket'

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(cls.module)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()
