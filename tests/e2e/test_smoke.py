"""The product's front door, in a real browser against the real server."""
import re

import pytest

from itsm_tools.demo import DEMO_PASSWORD, DEMO_PORTAL_LOGIN

pytestmark = pytest.mark.e2e


def test_agent_logs_into_backend_and_sees_service_desk(server, page):
    "A demo agent logs into sao and finds the Service Desk menu"
    page.goto(server + '/')
    login = page.get_by_role('dialog')
    login.get_by_label('User name').wait_for()
    # With more than one database on the server, sao asks which, once it
    # has fetched the list.
    page.wait_for_load_state('networkidle')
    database = login.get_by_role('combobox', name='Database')
    if database.count():
        database.select_option(server.database)
    login.get_by_label('User name').fill('agent')
    page.get_by_role('button', name='Login').click()
    page.get_by_label('Password').fill(DEMO_PASSWORD)
    page.get_by_role('button', name='OK').click()
    menu = page.locator('#menu')
    service_desk = menu.get_by_role('row', name='Service Desk')
    service_desk.wait_for()
    # Opening the Service Desk shows its submenus, then the locations list.
    organisation = menu.get_by_role('row', name='Organisation')
    for _ in range(5):
        if organisation.is_visible():
            break
        service_desk.click()
        page.wait_for_load_state('networkidle')
    menu.get_by_role('row', name='Organisation').click()
    locations = menu.get_by_role('row', name='Locations').first
    locations.wait_for()
    locations.click()
    page.get_by_role('tab', name='Locations').wait_for()
    page.get_by_text('Warsaw Head Office').first.wait_for()


def test_client_logs_into_portal_and_out(server, page):
    "A demo client logs into the portal, is greeted, and logs out"
    page.goto(server + '/portal/')
    assert re.search(r'/portal/login', page.url)
    page.get_by_label('Email').fill(DEMO_PORTAL_LOGIN)
    page.get_by_label('Password').fill('wrong password')
    page.get_by_role('button', name='Log in').click()
    page.get_by_role('alert').wait_for()
    assert "not correct" in page.get_by_role('alert').inner_text()

    page.get_by_label('Password').fill(DEMO_PASSWORD)
    page.get_by_role('button', name='Log in').click()
    page.get_by_role('heading', name='Welcome, Ewa Kowalska').wait_for()
    assert page.get_by_text('Oriale').first.is_visible()

    page.get_by_role('button', name='Log out').click()
    page.get_by_role('heading', name='Log in to the client portal').wait_for()
    page.goto(server + '/portal/')
    assert '/portal/login' in page.url
