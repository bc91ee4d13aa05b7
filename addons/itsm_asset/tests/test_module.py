# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.modules.company.tests import CompanyTestMixin
from trytond.tests.test_tryton import ModuleTestCase


class ItsmAssetTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the asset module"
    module = 'itsm_asset'
    # The links to accounting (account.py) and their views are checked
    # too: account_asset brings account_invoice.
    extras = ['account_asset']


del ModuleTestCase
