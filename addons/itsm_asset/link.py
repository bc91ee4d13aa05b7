# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"The tables behind the module's Many2Many fields"
from trytond.model import Index, ModelSQL


class LinkMixin(ModelSQL):
    """A row linking two records, read from both sides: its access follows
    both records, and both columns lead an index. _link names the two
    Many2One fields, the one the rows are mostly read from first."""
    __slots__ = ()
    _link = ()

    @classmethod
    def __setup__(cls):
        super().__setup__()
        first, second = cls._link
        cls.__access__.update(cls._link)
        table = cls.__table__()
        cls._sql_indexes.update({
                Index(table,
                    (getattr(table, first), Index.Range()),
                    (getattr(table, second), Index.Range())),
                Index(table, (getattr(table, second), Index.Range())),
                })
