# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.cache import Cache
from trytond.model import ModelSQL, ModelView, Unique, fields

IMPACTS = [
    ('1', "High"),
    ('2', "Medium"),
    ('3', "Low"),
    ]
URGENCIES = [
    ('1', "High"),
    ('2', "Medium"),
    ('3', "Low"),
    ]
PRIORITIES = [
    ('1', "Critical"),
    ('2', "High"),
    ('3', "Medium"),
    ('4', "Low"),
    ('5', "Planning"),
    ]


def itil_priority(impact, urgency):
    "The usual ITIL matrix: high impact and high urgency is critical"
    return str(min(int(impact) + int(urgency) - 1, len(PRIORITIES)))


def matrix_priority(matrix, impact, urgency):
    "The priority of the matrix {(impact, urgency): priority}, else ITIL's"
    return matrix.get((impact, urgency)) or itil_priority(impact, urgency)


class PriorityMatrix(ModelSQL, ModelView):
    "One cell of the impact × urgency matrix that sets a ticket's priority"
    __name__ = 'itsm.priority.matrix'
    __string__ = "Priority Matrix"

    impact = fields.Selection(IMPACTS, "Impact", required=True, sort=False)
    urgency = fields.Selection(
        URGENCIES, "Urgency", required=True, sort=False)
    priority = fields.Selection(
        PRIORITIES, "Priority", required=True, sort=False)
    # Every new ticket and every change of impact or urgency reads it.
    _as_dict_cache = Cache('itsm.priority.matrix.as_dict', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        table = cls.__table__()
        cls._sql_constraints += [
            ('impact_urgency_unique', Unique(
                    table, table.impact, table.urgency),
                'itsm_ticket.msg_priority_matrix_unique'),
            ]
        cls._order = [('impact', 'ASC'), ('urgency', 'ASC'), ('id', 'ASC')]

    @classmethod
    def on_modification(cls, mode, cells, field_names=None):
        super().on_modification(mode, cells, field_names=field_names)
        cls._as_dict_cache.clear()

    @classmethod
    def as_dict(cls):
        matrix = cls._as_dict_cache.get(None)
        if matrix is None:
            matrix = cls._as_dict_cache.set(None, {
                    (c.impact, c.urgency): c.priority
                    for c in cls.search([])})
        return matrix
