# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.model import DeactivableMixin, ModelSQL, ModelView, fields, tree
from trytond.pool import PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction


class Department(DeactivableMixin, tree(separator=" / "), ModelSQL, ModelView):
    "A department of the company: who the people and the assets belong to"
    __name__ = 'company.department'
    __string__ = "Department"

    name = fields.Char("Name", required=True, translate=True)
    code = fields.Char("Code", strip=True)
    company = fields.Many2One(
        'company.company', "Company", required=True, ondelete='CASCADE')
    parent = fields.Many2One(
        'company.department', "Parent", ondelete='RESTRICT',
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    children = fields.One2Many('company.department', 'parent', "Children")
    manager = fields.Many2One(
        'company.employee', "Manager", ondelete='SET NULL',
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    employees = fields.One2Many(
        'company.employee', 'department', "Employees", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def default_company(cls):
        return Transaction().context.get('company')


class Employee(metaclass=PoolMeta):
    __name__ = 'company.employee'

    department = fields.Many2One(
        'company.department', "Department", ondelete='SET NULL',
        domain=[
            ('company', '=', Eval('company', -1)),
            ])
    location = fields.Many2One(
        'itsm.location', "Location", ondelete='SET NULL',
        domain=[
            ('company', '=', Eval('company', -1)),
            ],
        help="Where the employee usually works.")
