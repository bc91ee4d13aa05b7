# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The ITIL life cycles of the ticket types, as data.

Each type has its own states and transitions; the ticket model builds its
Tryton workflow, its buttons and their visibility from these tables, and
refuses any transition that is not in them.
"""
TYPES = [
    ('incident', "Incident"),
    ('request', "Service Request"),
    ('problem', "Problem"),
    ('change', "Change"),
    ('release', "Release"),
    ]

STATES = [
    ('new', "New"),
    ('assigned', "Assigned"),
    ('in_progress', "In Progress"),
    ('pending', "Pending"),
    ('analysis', "Analysis"),
    ('known_error', "Known Error"),
    ('draft', "Draft"),
    ('assessment', "Assessment"),
    ('awaiting_approval', "Awaiting Approval"),
    ('approved', "Approved"),
    ('rejected', "Rejected"),
    ('scheduled', "Scheduled"),
    ('implemented', "Implemented"),
    ('reviewed', "Reviewed"),
    ('planned', "Planned"),
    ('build', "Build"),
    ('test', "Test"),
    ('deploy', "Deploy"),
    ('resolved', "Resolved"),
    ('closed', "Closed"),
    ('cancelled', "Cancelled"),
    ]

_SUPPORT = {
    'new': {'assigned', 'in_progress', 'pending', 'resolved', 'cancelled'},
    'assigned': {'in_progress', 'pending', 'resolved', 'cancelled'},
    'in_progress': {'assigned', 'pending', 'resolved', 'cancelled'},
    'pending': {'in_progress', 'resolved', 'cancelled'},
    'resolved': {'in_progress', 'closed'},
    'closed': set(),
    'cancelled': set(),
    }

# from state -> the states it may go to, per type
TRANSITIONS = {
    'incident': _SUPPORT,
    'request': _SUPPORT,
    'problem': {
        'new': {'analysis', 'cancelled'},
        'analysis': {'known_error', 'resolved', 'cancelled'},
        'known_error': {'analysis', 'resolved', 'cancelled'},
        'resolved': {'analysis', 'closed'},
        'closed': set(),
        'cancelled': set(),
        },
    'change': {
        'draft': {'assessment', 'cancelled'},
        'assessment': {'draft', 'awaiting_approval', 'cancelled'},
        'awaiting_approval': {'approved', 'rejected', 'cancelled'},
        'approved': {'scheduled', 'cancelled'},
        'rejected': {'draft', 'closed'},
        'scheduled': {'implemented', 'approved', 'cancelled'},
        'implemented': {'reviewed'},
        'reviewed': {'closed'},
        'closed': set(),
        'cancelled': set(),
        },
    'release': {
        'planned': {'build', 'cancelled'},
        'build': {'test', 'cancelled'},
        'test': {'build', 'deploy', 'cancelled'},
        'deploy': {'closed', 'test'},
        'closed': set(),
        'cancelled': set(),
        },
    }

INITIAL_STATE = {
    'incident': 'new',
    'request': 'new',
    'problem': 'new',
    'change': 'draft',
    'release': 'planned',
    }

# The types whose closed tickets the requester's answer reopens, within the
# delay of the configuration; agents never move a closed ticket.
REOPENED_BY_REQUESTER = {'incident', 'request'}

# States where the work is over: no SLA clock, no more edits of substance.
DONE_STATES = {'resolved', 'closed', 'cancelled', 'rejected'}
# States where the ticket waits on somebody else than the assignee.
WAITING_STATES = {'pending'}


def states_of(type_):
    "The states a ticket of the type goes through, in the order of STATES"
    names = TRANSITIONS[type_].keys()
    return [state for state, _ in STATES if state in names]


def may_go(type_, from_state, to_state):
    "Tell whether a ticket of the type may go from one state to the other"
    return to_state in TRANSITIONS.get(type_, {}).get(from_state, ())


def sources(to_state):
    "For each type, the states from which a ticket may go to to_state"
    result = {}
    for type_, table in TRANSITIONS.items():
        froms = sorted(f for f, tos in table.items() if to_state in tos)
        if froms:
            result[type_] = froms
    return result


def all_transitions():
    "Every (from, to) pair of any type: the Tryton workflow's _transitions"
    return {(f, t)
        for table in TRANSITIONS.values()
        for f, tos in table.items()
        for t in tos} | {('closed', 'in_progress')}
