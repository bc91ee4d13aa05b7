"""Helpers shared by the modules' tests.

pytest ignores ``load_tests``, so a Tryton scenario (``tests/scenario_*.rst``)
would silently never run under it. ``scenario_tests`` gives both runners what
they need: ``load_tests`` for unittest and one pytest test per scenario file.
"""
import io
import unittest
from pathlib import Path

import pytest
from trytond.tests.test_tryton import load_doc_tests


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
