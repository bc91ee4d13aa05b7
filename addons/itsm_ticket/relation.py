# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""Typed relations between tickets, read from both sides, and the merge of
duplicate tickets.

A relation is stored once, in its canonical direction, in
itsm.ticket.relation: the problem is the *problem of* its incidents, the
change is *released in* its release. The ticket form lists
itsm.ticket.relation.side instead: an SQL view with one row per relation and
ticket, whose type is the relation as read from that ticket ("Incident" on
the problem, "Problem" on the incident). Creating, changing or deleting a row
of the view writes the canonical relation, so that an agent links tickets
from whichever ticket is open, as in Tryton's party_relationship.
"""
from sql import Literal, Union
from sql.conditionals import Case
from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import ValidationError
from trytond.model.fields import SQL_OPERATORS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from . import workflow

# The canonical types, named as read from the from_ticket.
TYPES = [
    ('relates_to', "Relates to"),
    ('duplicate_of', "Duplicate of"),
    ('caused_by', "Caused by"),
    ('parent_of', "Parent of"),
    ('problem_of', "Problem of"),
    ('fixed_by', "Fixed by Change"),
    ('released_in', "Released in"),
    ]

# A relation as read from one of its tickets, followed by the other ticket:
# "Duplicate of: TCK-00001", "Incident: TCK-00003".
SIDES = [
    ('relates_to', "Relates to"),
    ('duplicate_of', "Duplicate of"),
    ('duplicated_by', "Duplicated by"),
    ('caused_by', "Caused by"),
    ('causes', "Causes"),
    ('parent_of', "Parent of"),
    ('child_of', "Child of"),
    ('incident', "Incident"),
    ('problem', "Problem"),
    ('fixed_by', "Fixed by Change"),
    ('fixes', "Fixes Problem"),
    ('released_in', "Released in"),
    ('includes', "Includes Change"),
    ]

# type -> (how the from_ticket reads it, how the to_ticket reads it)
READINGS = {
    'relates_to': ('relates_to', 'relates_to'),
    'duplicate_of': ('duplicate_of', 'duplicated_by'),
    'caused_by': ('caused_by', 'causes'),
    'parent_of': ('parent_of', 'child_of'),
    # The problem lists its incidents, the incident names its problem.
    'problem_of': ('incident', 'problem'),
    'fixed_by': ('fixed_by', 'fixes'),
    'released_in': ('released_in', 'includes'),
    }

# type -> (the type of the from_ticket, of the to_ticket), where it matters
TICKET_TYPES = {
    'problem_of': ('problem', 'incident'),
    'fixed_by': ('problem', 'change'),
    'released_in': ('change', 'release'),
    }

# type -> the end of the relation that has at most one: an incident has one
# problem, a change goes out in one release.
AT_MOST_ONE = {
    'problem_of': 'to_ticket',
    'released_in': 'from_ticket',
    }


def canonical(side):
    """Return (type, forward) of the relation read as side from a ticket:
    forward when that ticket is the from_ticket of the stored relation"""
    for type_, (from_side, to_side) in READINGS.items():
        if side == from_side:
            return type_, True
        if side == to_side:
            return type_, False
    raise KeyError(side)


def other_ticket_type(side):
    "The type the other ticket must have for the relation read as side"
    type_, forward = canonical(side)
    if type_ in TICKET_TYPES:
        return TICKET_TYPES[type_][1 if forward else 0]


def reaches(start, goal, children):
    """Tell whether goal is start or below it, where children(nodes) returns
    the children of a set of nodes: a hierarchy is walked one query per
    level, not one per ticket"""
    seen = set()
    level = {start}
    while level:
        if goal in level:
            return True
        seen |= level
        level = set(children(level)) - seen
    return False


class Relation(ModelSQL):
    "A typed link between two tickets, stored once in its canonical direction"
    __name__ = 'itsm.ticket.relation'
    __string__ = "Ticket Relation"

    from_ticket = fields.Many2One(
        'itsm.ticket', "From", required=True, ondelete='CASCADE')
    to_ticket = fields.Many2One(
        'itsm.ticket', "To", required=True, ondelete='CASCADE')
    type = fields.Selection(TYPES, "Type", required=True, sort=False)
    type_string = type.translated('type')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('from_ticket')
        cls.__access__.add('to_ticket')
        t = cls.__table__()
        # The side view reads the relations of a ticket from both columns.
        cls._sql_indexes.update({
                Index(t, (t.from_ticket, Index.Range())),
                Index(t, (t.to_ticket, Index.Range())),
                })

    def get_rec_name(self, name):
        return (f'{self.from_ticket.number} {self.type_string} '
            f'{self.to_ticket.number}')

    @classmethod
    def validate_fields(cls, relations, field_names):
        super().validate_fields(relations, field_names)
        if field_names & {'from_ticket', 'to_ticket', 'type'}:
            cls.check_tickets(relations)
            # Before uniqueness, which would name a reversed parent a
            # duplicate.
            cls.check_parent_cycle(relations)
            cls.check_unique(relations)
            cls.check_at_most_one(relations)

    @classmethod
    def check_tickets(cls, relations):
        "Two different tickets of one company, of the types the type links"
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        types = dict(Ticket.fields_get(['type'])['type']['selection'])
        for relation in relations:
            from_, to = relation.from_ticket, relation.to_ticket
            if from_ == to:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_relation_itself',
                        ticket=from_.rec_name))
            if from_.company != to.company:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_relation_company',
                        from_=from_.rec_name, to=to.rec_name))
            if relation.type in TICKET_TYPES:
                from_type, to_type = TICKET_TYPES[relation.type]
                if (from_.type, to.type) != (from_type, to_type):
                    raise ValidationError(gettext(
                            'itsm_ticket.msg_relation_ticket_types',
                            type=relation.type_string,
                            from_type=types[from_type],
                            to_type=types[to_type],
                            from_=from_.rec_name,
                            from_actual=from_.type_string,
                            to=to.rec_name,
                            to_actual=to.type_string))

    @classmethod
    def check_unique(cls, relations):
        "One relation of a type between two tickets, in either direction"
        in_max = backend.MAX_QUERY_PARAMS // 2
        for sub in grouped_slice(relations, in_max):
            sub = list(sub)
            ids = {t.id for r in sub for t in (r.from_ticket, r.to_ticket)}
            others = cls.search([
                    ('type', 'in', list({r.type for r in sub})),
                    ('from_ticket', 'in', list(ids)),
                    ('to_ticket', 'in', list(ids)),
                    ])
            seen = {}
            for other in others:
                key = (other.type, frozenset(
                        [other.from_ticket.id, other.to_ticket.id]))
                seen.setdefault(key, []).append(other)
            for relation in sub:
                key = (relation.type, frozenset(
                        [relation.from_ticket.id, relation.to_ticket.id]))
                if len(seen.get(key, [])) > 1:
                    raise ValidationError(gettext(
                            'itsm_ticket.msg_relation_unique',
                            type=relation.type_string,
                            from_=relation.from_ticket.rec_name,
                            to=relation.to_ticket.rec_name))

    @classmethod
    def check_at_most_one(cls, relations):
        "An incident has one problem and a change goes out in one release"
        in_max = backend.MAX_QUERY_PARAMS // 2
        for type_, end in AT_MOST_ONE.items():
            tickets = list({
                    getattr(r, end) for r in relations if r.type == type_})
            for sub in grouped_slice(tickets, in_max):
                sub = list(sub)
                found = {}
                for other in cls.search([
                            ('type', '=', type_),
                            (end, 'in', [t.id for t in sub]),
                            ]):
                    found.setdefault(getattr(other, end), []).append(other)
                for ticket, links in found.items():
                    if len(links) > 1:
                        far = 'to_ticket' if end == 'from_ticket' \
                            else 'from_ticket'
                        raise ValidationError(gettext(
                                'itsm_ticket.msg_relation_at_most_one',
                                ticket=ticket.rec_name,
                                type=links[0].type_string,
                                tickets=", ".join(sorted(
                                        getattr(link, far).rec_name
                                        for link in links))))

    @classmethod
    def check_parent_cycle(cls, relations):
        "A ticket is never its own ancestor"
        relation = cls.__table__()
        cursor = Transaction().connection.cursor()

        def children(tickets):
            cursor.execute(*relation.select(
                    relation.to_ticket,
                    where=(relation.type == 'parent_of')
                    & SQL_OPERATORS['in'](
                        relation.from_ticket, list(tickets))))
            return [t for t, in cursor]

        for parent in relations:
            if parent.type != 'parent_of':
                continue
            if reaches(
                    parent.to_ticket.id, parent.from_ticket.id, children):
                raise ValidationError(gettext(
                        'itsm_ticket.msg_relation_parent_cycle',
                        parent=parent.from_ticket.rec_name,
                        child=parent.to_ticket.rec_name))


def _other_domain():
    "The type the other ticket must have, as a PYSON domain on the side type"
    domain = ()
    for side, _ in SIDES:
        type_ = other_ticket_type(side)
        if type_:
            domain = If(Eval('type') == side, ('type', '=', type_), domain)
    return domain


class RelationSide(ModelSQL, ModelView):
    """A relation as read from one of its tickets: one row per relation and
    ticket, written through to the relation itself"""
    __name__ = 'itsm.ticket.relation.side'
    __string__ = "Ticket Relation"

    ticket = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE')
    company = fields.Function(
        fields.Many2One('company.company', "Company"),
        'on_change_with_company', searcher='search_company')
    type = fields.Selection(SIDES, "Relation", required=True, sort=False)
    type_string = type.translated('type')
    other = fields.Many2One(
        'itsm.ticket', "Ticket", required=True, ondelete='CASCADE',
        domain=[
            ('company', '=', Eval('company', -1)),
            ('id', '!=', Eval('ticket', -1)),
            _other_domain(),
            ])
    other_type = fields.Function(
        fields.Selection(workflow.TYPES, "Type"), 'on_change_with_other_type')
    other_state = fields.Function(
        fields.Selection(workflow.STATES, "State"),
        'on_change_with_other_state')
    relation = fields.Many2One(
        'itsm.ticket.relation', "Stored Relation", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('ticket')
        cls._order = [('id', 'ASC')]

    @classmethod
    def table_query(cls):
        pool = Pool()
        Relation = pool.get('itsm.ticket.relation')
        Rule = pool.get('ir.rule')

        def side(relation, forward):
            # Each relation gives two rows, told apart by the parity of id.
            if forward:
                id_, ticket, other = (
                    relation.id * 2, relation.from_ticket, relation.to_ticket)
            else:
                id_, ticket, other = (
                    relation.id * 2 + 1,
                    relation.to_ticket, relation.from_ticket)
            type_ = Case(*(
                    (relation.type == t, Literal(r[0 if forward else 1]))
                    for t, r in READINGS.items()))
            # The view is the relations as the user sees them: those to
            # tickets she cannot read are left out, whether or not the
            # caller checks access (function fields never do), or the
            # client would fail on reading their names.
            where = None
            with check_access():
                if Rule.domain_get('itsm.ticket', mode='read'):
                    where = other.in_(Rule.query_get('itsm.ticket'))
            return relation.select(
                id_.as_('id'), ticket.as_('ticket'), other.as_('other'),
                type_.as_('type'), relation.id.as_('relation'),
                where=where)

        return Union(
            side(Relation.__table__(), True),
            side(Relation.__table__(), False),
            all_=True)

    @fields.depends('ticket', '_parent_ticket.company')
    def on_change_with_company(self, name=None):
        return self.ticket.company if self.ticket else None

    @classmethod
    def search_company(cls, name, clause):
        return [('ticket.' + clause[0], *clause[1:])]

    @fields.depends('other')
    def on_change_with_other_type(self, name=None):
        return self.other.type if self.other else None

    @fields.depends('other')
    def on_change_with_other_state(self, name=None):
        return self.other.state if self.other else None

    def get_rec_name(self, name):
        return f'{self.type_string}: {self.other.number}'

    @staticmethod
    def _relation_values(ticket, other, side):
        "The values of the stored relation read as side from ticket"
        if side:
            type_, forward = canonical(side)
        else:
            type_, forward = None, True
        from_, to = (ticket, other) if forward else (other, ticket)
        return {'type': type_, 'from_ticket': from_, 'to_ticket': to}

    @classmethod
    def create(cls, vlist):
        pool = Pool()
        Relation = pool.get('itsm.ticket.relation')
        relations = Relation.create([
                cls._relation_values(
                    v.get('ticket'), v.get('other'), v.get('type'))
                for v in vlist])
        return cls.browse([
                r.id * 2 if r.from_ticket.id == v.get('ticket')
                else r.id * 2 + 1
                for r, v in zip(relations, vlist, strict=True)])

    @classmethod
    def write(cls, *args):
        pool = Pool()
        Relation = pool.get('itsm.ticket.relation')
        actions = iter(args)
        to_write = []
        for sides, values in zip(actions, actions, strict=True):
            for side in sides:
                to_write.extend([
                        [Relation(side.id // 2)],
                        cls._relation_values(
                            values.get('ticket', side.ticket.id),
                            values.get('other', side.other.id),
                            values.get('type', side.type))])
        if to_write:
            Relation.write(*to_write)

    @classmethod
    def delete(cls, sides):
        pool = Pool()
        Relation = pool.get('itsm.ticket.relation')
        Relation.delete(Relation.browse(sorted({s.id // 2 for s in sides})))


class Ticket(metaclass=PoolMeta):
    __name__ = 'itsm.ticket'

    relations = fields.One2Many(
        'itsm.ticket.relation.side', 'ticket', "Relations")
    problem = fields.Function(
        fields.Many2One(
            'itsm.ticket', "Problem",
            states={
                'invisible': Eval('type') != 'incident',
                }),
        'get_itil_links', searcher='search_itil_link')
    incidents = fields.Function(
        fields.Many2Many(
            'itsm.ticket', None, None, "Incidents",
            states={
                'invisible': Eval('type') != 'problem',
                }),
        'get_itil_links', searcher='search_itil_link')
    fixed_by_changes = fields.Function(
        fields.Many2Many(
            'itsm.ticket', None, None, "Fixed by Changes",
            states={
                'invisible': Eval('type') != 'problem',
                }),
        'get_itil_links', searcher='search_itil_link')
    released_in = fields.Function(
        fields.Many2One(
            'itsm.ticket', "Released in",
            states={
                'invisible': Eval('type') != 'change',
                }),
        'get_itil_links', searcher='search_itil_link')

    # field -> the relation as read from the ticket that has the field
    _itil_links = {
        'problem': 'problem',
        'incidents': 'incident',
        'fixed_by_changes': 'fixed_by',
        'released_in': 'released_in',
        }

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'merge': {
                    'invisible': Eval('state').in_(['closed', 'cancelled']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def get_itil_links(cls, tickets, names):
        pool = Pool()
        Side = pool.get('itsm.ticket.relation.side')
        in_max = backend.MAX_QUERY_PARAMS // 2
        wanted = {cls._itil_links[n]: n for n in names}
        result = {n: {t.id: [] if cls._fields[n]._type == 'many2many'
                    else None for t in tickets} for n in names}
        for sub in grouped_slice(tickets, in_max):
            for side in Side.search([
                        ('ticket', 'in', [t.id for t in sub]),
                        ('type', 'in', list(wanted)),
                        ]):
                name = wanted[side.type]
                if cls._fields[name]._type == 'many2many':
                    result[name][side.ticket.id].append(side.other.id)
                else:
                    result[name][side.ticket.id] = side.other.id
        return result

    @classmethod
    def search_itil_link(cls, name, clause):
        side = cls._itil_links[name]
        _, operator, value = clause[:3]
        if value is None and operator in {'=', '!='}:
            where = 'not where' if operator == '=' else 'where'
            return [('relations', where, [('type', '=', side)])]
        nested = clause[0][len(name):]
        return [('relations', 'where', [
                    ('type', '=', side),
                    ('other' + nested, *clause[1:]),
                    ])]

    @classmethod
    def copy(cls, tickets, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('relations', None)
        return super().copy(tickets, default=default)

    @classmethod
    @ModelView.button_action('itsm_ticket.wizard_ticket_merge')
    def merge(cls, tickets):
        pass

    @classmethod
    def merge_into(cls, duplicates, ticket):
        """Merge the duplicates into ticket: move their conversation, notes,
        tasks, watchers and attachments to it, record that each is a
        duplicate of it, and cancel them"""
        pool = Pool()
        Message = pool.get('itsm.ticket.message')
        Note = pool.get('itsm.ticket.note')
        Task = pool.get('itsm.ticket.task')
        Attachment = pool.get('ir.attachment')
        IrNote = pool.get('ir.note')
        Relation = pool.get('itsm.ticket.relation')

        duplicates = cls.browse(sorted({d.id for d in duplicates}))
        cls.check_merge(duplicates, ticket)
        ids = [d.id for d in duplicates]

        for Model in [Message, Note, Task]:
            records = Model.search([('ticket', 'in', ids)])
            if records:
                Model.write(records, {'ticket': ticket.id})
        cls._merge_watchers(duplicates, ticket)
        resources = [str(d) for d in duplicates]
        for Model in [Attachment, IrNote]:
            records = Model.search([('resource', 'in', resources)])
            if records:
                Model.write(records, {'resource': str(ticket)})

        # A duplicate relation the other way round would contradict the
        # merge: turn it into the one the merge records.
        existing = Relation.search([
                ('type', '=', 'duplicate_of'),
                ['OR', [
                        ('from_ticket', 'in', ids),
                        ('to_ticket', '=', ticket.id),
                        ], [
                        ('from_ticket', '=', ticket.id),
                        ('to_ticket', 'in', ids),
                        ]],
                ])
        linked = {r.from_ticket.id for r in existing if r.to_ticket == ticket}
        Relation.delete([r for r in existing if r.from_ticket == ticket])
        Relation.create([{
                    'type': 'duplicate_of',
                    'from_ticket': d.id,
                    'to_ticket': ticket.id,
                    } for d in duplicates if d.id not in linked])

        Note.create([{
                    'ticket': ticket.id,
                    'visibility': 'public',
                    'body': gettext(
                        'itsm_ticket.msg_ticket_merge_note',
                        tickets=", ".join(d.rec_name for d in duplicates)),
                    }] + [{
                    'ticket': d.id,
                    'visibility': 'public',
                    'body': gettext(
                        'itsm_ticket.msg_ticket_merged_into',
                        ticket=ticket.rec_name),
                    } for d in duplicates])
        cls.cancel(duplicates)

    @classmethod
    def check_merge(cls, duplicates, ticket):
        if not duplicates:
            raise ValidationError(gettext(
                    'itsm_ticket.msg_ticket_merge_nothing',
                    ticket=ticket.rec_name))
        if ticket.state in {'closed', 'cancelled'}:
            raise ValidationError(gettext(
                    'itsm_ticket.msg_ticket_merge_into_done',
                    ticket=ticket.rec_name,
                    state=ticket.state_string))
        for duplicate in duplicates:
            if duplicate == ticket:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_merge_itself',
                        ticket=ticket.rec_name))
            if duplicate.company != ticket.company:
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_merge_company',
                        duplicate=duplicate.rec_name,
                        ticket=ticket.rec_name))
            if not workflow.may_go(
                    duplicate.type, duplicate.state, 'cancelled'):
                raise ValidationError(gettext(
                        'itsm_ticket.msg_ticket_merge_state',
                        duplicate=duplicate.rec_name,
                        state=duplicate.state_string))

    @classmethod
    def _merge_watchers(cls, duplicates, ticket):
        """Move the watchers of the duplicates to ticket, each once, and
        make their requesters watch it: their conversation is there now"""
        pool = Pool()
        UserWatcher = pool.get('itsm.ticket-res.user.watcher')
        PartyWatcher = pool.get('itsm.ticket-party.party.watcher')
        ids = [d.id for d in duplicates]
        requesters = {d.requester for d in duplicates if d.requester}
        if ticket.requester:
            requesters.discard(ticket.requester)
        for Watcher, field in [
                (UserWatcher, 'user'), (PartyWatcher, 'party')]:
            rows = Watcher.search([('ticket', 'in', ids + [ticket.id])])
            watching = {getattr(r, field) for r in rows if r.ticket == ticket}
            to_move, to_delete = [], []
            for row in rows:
                if row.ticket == ticket:
                    continue
                elif getattr(row, field) in watching:
                    to_delete.append(row)
                else:
                    watching.add(getattr(row, field))
                    to_move.append(row)
            if to_move:
                Watcher.write(to_move, {'ticket': ticket.id})
            if to_delete:
                Watcher.delete(to_delete)
            if field == 'party':
                requesters -= watching
        PartyWatcher.create([
                {'ticket': ticket.id, 'party': p.id} for p in requesters])


class MergeStart(ModelView):
    "Which ticket to keep and which duplicates to merge into it"
    __name__ = 'itsm.ticket.merge.start'
    __string__ = "Merge Duplicate Tickets"

    company = fields.Many2One('company.company', "Company", readonly=True)
    ticket = fields.Many2One(
        'itsm.ticket', "Ticket to Keep", required=True,
        domain=[
            ('company', '=', Eval('company', -1)),
            ('id', 'not in', Eval('duplicates', [])),
            ('state', 'not in', ['closed', 'cancelled']),
            ],
        help="The ticket that receives the work of the duplicates.")
    duplicates = fields.Many2Many(
        'itsm.ticket', None, None, "Duplicates", required=True,
        domain=[
            ('company', '=', Eval('company', -1)),
            ('id', '!=', Eval('ticket', -1)),
            ],
        help="They are cancelled once their conversation, notes, tasks, "
        "watchers and attachments are moved to the ticket kept.")

    @fields.depends('ticket', 'duplicates')
    def on_change_ticket(self):
        if self.ticket:
            self.duplicates = [
                d for d in self.duplicates or [] if d != self.ticket]


class Merge(Wizard):
    "Merge duplicate tickets into the one kept"
    __name__ = 'itsm.ticket.merge'
    start = StateView(
        'itsm.ticket.merge.start', 'itsm_ticket.ticket_merge_start_view_form',
        [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Merge", 'merge', 'tryton-ok', default=True),
            ])
    merge = StateTransition()

    def default_start(self, fields):
        tickets = sorted(self.records, key=lambda t: (t.create_date, t.id))
        # The oldest open ticket is usually the original.
        open_ = [t for t in tickets
            if t.state not in {'closed', 'cancelled'}]
        keep = open_[0] if len(tickets) > 1 and open_ else None
        return {
            'company': tickets[0].company.id if tickets else None,
            'ticket': keep.id if keep else None,
            'duplicates': [t.id for t in tickets if t != keep],
            }

    def transition_merge(self):
        pool = Pool()
        Ticket = pool.get('itsm.ticket')
        # The wizard runs without access checks; the merge moves records
        # with the rights of the user who asked for it.
        with check_access():
            duplicates = Ticket.browse([d.id for d in self.start.duplicates])
            Ticket.merge_into(duplicates, Ticket(self.start.ticket.id))
        return 'end'

