# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
from trytond.model.exceptions import ValidationError
from trytond.modules.company.tests import (
    CompanyTestMixin,
    create_company,
    set_company,
)
from trytond.pool import Pool
from trytond.tests.test_tryton import ModuleTestCase, with_transaction

from ..location import KINDS, may_contain


class ItsmTicketTestCase(CompanyTestMixin, ModuleTestCase):
    "Test the ITSM ticket module"
    module = 'itsm_ticket'

    def test_may_contain(self):
        "Each kind holds only the kinds after it"
        kinds = [k for k, _ in KINDS]
        for i, parent in enumerate(kinds):
            for j, child in enumerate(kinds):
                self.assertEqual(may_contain(parent, child), i < j)

    @with_transaction()
    def test_location_tree_path(self):
        "A location's name reads as its path from the site"
        pool = Pool()
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            site, = Location.create([{
                        'name': "HQ", 'kind': 'site',
                        'children': [('create', [{
                                        'name': "A", 'kind': 'building',
                                        'children': [('create', [{
                                                        'name': "2",
                                                        'kind': 'floor',
                                                        }])],
                                        }])],
                        }])
            floor, = Location.search([('kind', '=', 'floor')])
            self.assertEqual(floor.rec_name, "HQ / A / 2")
            self.assertEqual(
                Location.search([('rec_name', 'ilike', '%A / 2%')]), [floor])

    @with_transaction()
    def test_location_refuses_wrong_nesting(self):
        "A building cannot stand in a room, nor a site anywhere"
        pool = Pool()
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            room, = Location.create([{'name': "101", 'kind': 'room'}])
            with self.assertRaisesRegex(
                    ValidationError, 'cannot be placed in "101"'):
                Location.create([{
                            'name': "B", 'kind': 'building',
                            'parent': room.id}])
            site, = Location.create([{'name': "HQ", 'kind': 'site'}])
            with self.assertRaises(ValidationError):
                Location.write([site], {'parent': room.id})

    @with_transaction()
    def test_location_refuses_kind_change_below_children(self):
        "Turning a floor into a room is refused while it holds rooms"
        pool = Pool()
        Location = pool.get('itsm.location')
        company = create_company()
        with set_company(company):
            floor, = Location.create([{
                        'name': "1", 'kind': 'floor',
                        'children': [('create', [{
                                        'name': "101", 'kind': 'room'}])],
                        }])
            with self.assertRaises(ValidationError):
                Location.write([floor], {'kind': 'room'})

    @with_transaction()
    def test_department_tree(self):
        "Departments nest and employees belong to one"
        pool = Pool()
        Department = pool.get('company.department')
        Employee = pool.get('company.employee')
        Party = pool.get('party.party')
        company = create_company()
        with set_company(company):
            it, = Department.create([{
                        'name': "IT",
                        'children': [('create', [{'name': "Service Desk"}])],
                        }])
            desk, = it.children
            party, = Party.create([{'name': "Ada"}])
            employee, = Employee.create([{
                        'party': party.id, 'company': company.id,
                        'department': desk.id}])
            self.assertEqual(desk.rec_name, "IT / Service Desk")
            self.assertEqual(list(desk.employees), [employee])

    @with_transaction()
    def test_groups_exist(self):
        "The suite's access groups are installed"
        pool = Pool()
        Group = pool.get('res.group')
        names = {g.name for g in Group.search([])}
        for name in [
                "Service Desk Agent", "Service Desk Manager",
                "Asset Manager", "Knowledge Editor", "Purchase Approver"]:
            self.assertIn(name, names)
        manager, = Group.search([('name', '=', "Service Desk Manager")])
        self.assertEqual(manager.parent.name, "Service Desk Agent")


del ModuleTestCase
