# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"The life cycles and the priority matrix, as pure data and functions"
from itsm_ticket import workflow
from itsm_ticket.priority import (
    IMPACTS,
    PRIORITIES,
    URGENCIES,
    itil_priority,
    matrix_priority,
)

STATE_NAMES = {state for state, _ in workflow.STATES}


def test_every_state_of_every_type_is_declared():
    for type_, table in workflow.TRANSITIONS.items():
        assert set(table) <= STATE_NAMES, type_
        for targets in table.values():
            assert targets <= set(table), type_


def test_initial_states_belong_to_their_type():
    for type_, state in workflow.INITIAL_STATE.items():
        assert state in workflow.TRANSITIONS[type_]


def test_every_state_is_reachable_from_the_initial_one():
    for type_, table in workflow.TRANSITIONS.items():
        seen, todo = set(), [workflow.INITIAL_STATE[type_]]
        while todo:
            state = todo.pop()
            if state not in seen:
                seen.add(state)
                todo.extend(table[state])
        assert seen == set(table), type_


def test_closed_and_cancelled_are_final():
    for table in workflow.TRANSITIONS.values():
        assert table['closed'] == set()
        assert table['cancelled'] == set()


def test_itil_types_follow_itil():
    assert workflow.may_go('incident', 'pending', 'in_progress')
    assert workflow.may_go('incident', 'resolved', 'in_progress')
    assert not workflow.may_go('incident', 'new', 'closed')
    assert workflow.may_go('problem', 'analysis', 'known_error')
    assert not workflow.may_go('problem', 'new', 'known_error')
    assert workflow.may_go('change', 'awaiting_approval', 'approved')
    assert not workflow.may_go('change', 'draft', 'approved')
    assert not workflow.may_go('change', 'approved', 'implemented')
    assert workflow.may_go('release', 'test', 'deploy')
    assert not workflow.may_go('release', 'planned', 'deploy')
    assert not workflow.may_go('unknown', 'new', 'assigned')


def test_sources():
    assert workflow.sources('known_error') == {
        'problem': ['analysis']}
    assert set(workflow.sources('closed')) == {
        'incident', 'request', 'problem', 'change', 'release'}


def test_itil_priority_matrix():
    assert itil_priority('1', '1') == '1'
    assert itil_priority('1', '3') == '3'
    assert itil_priority('3', '3') == '5'
    assert {itil_priority(i, u) for i, _ in IMPACTS for u, _ in URGENCIES
        } == {p for p, _ in PRIORITIES}


def test_matrix_overrides_itil():
    assert matrix_priority({('3', '3'): '4'}, '3', '3') == '4'
    assert matrix_priority({('3', '3'): '4'}, '1', '1') == '1'
