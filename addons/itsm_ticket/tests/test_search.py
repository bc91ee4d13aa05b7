# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
import pytest

from ..search import rec_name_domain


@pytest.mark.parametrize('operator, bool_op', [
        ('ilike', 'OR'), ('=', 'OR'), ('in', 'OR'),
        ('not ilike', 'AND'), ('!=', 'AND'), ('not in', 'AND'),
        ])
def test_rec_name_domain(operator, bool_op):
    "Any field matches; for a negative operator, none does"
    assert rec_name_domain(('rec_name', operator, '%x%'), 'a', 'b.c') == [
        bool_op, ('a', operator, '%x%'), ('b.c', operator, '%x%')]
