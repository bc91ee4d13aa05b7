# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from itsm_tools.testing import scenario_tests

load_tests, test_scenario = scenario_tests(__name__, __file__)
