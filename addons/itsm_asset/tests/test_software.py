# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The software catalog: the normalisation of names (pure), then the
publishers, software, versions and installations on a database.

A plain TestCase for the database: a second ModuleTestCase would run
Tryton's generic tests of the module again.
"""
import string

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from trytond import backend
from trytond.model.exceptions import (
    AccessError,
    ForeignKeyError,
    SQLConstraintError,
    ValidationError,
)
from trytond.modules.company.tests import create_company, set_company
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    with_transaction,
)
from trytond.transaction import Transaction

from itsm_ticket.tests.test_work_hours import as_user, create_agent
from itsm_ticket.tests.tools import ActivatedModuleCase

from ..software import (
    ARCHITECTURES,
    KEY_SEPARATOR,
    LANGUAGES,
    LEGAL_SUFFIXES,
    VERSION_WORDS,
    name_key,
    publisher_key,
    software_key,
)

PROPERTIES = settings(
    max_examples=300, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow])


# Normalisation (pure)

@pytest.mark.parametrize('name, key', [
        ("Mozilla Firefox 120.0 (x64 en-US)", "mozilla firefox"),
        ("Mozilla Firefox (x86 fr)", "mozilla firefox"),
        ("mozilla   FIREFOX", "mozilla firefox"),
        ("Microsoft Visual C++ 2015 Redistributable (x64) - 14.0.24215",
            "microsoft visual c++ 2015 redistributable"),
        ("Microsoft Office Professional Plus 2019 - en-us",
            "microsoft office professional plus 2019"),
        ("Python 3.11.4 (64-bit)", "python"),
        ("Python 3", "python 3"),
        ("7-Zip 19.00 (x64)", "7-zip"),
        ("Notepad++ (64-bit x64)", "notepad++"),
        ("VLC media player 3.0.18", "vlc media player"),
        ("Git version 2.42.0", "git"),
        ("Java(TM) SE Runtime Environment 8 Update 381",
            "java se runtime environment 8 update 381"),
        ("Adobe® Acrobat® Reader DC", "adobe acrobat reader dc"),
        ("Zoom 64 bit", "zoom"),
        ("Zoom x86_64", "zoom"),
        ("libc6:amd64", "libc6"),
        ("bash.x86_64", "bash"),
        ("python3-apt:all", "python3-apt"),
        ("Intel Wi-Fi", "intel wi-fi"),
        ("ＬｉｂｒｅＯｆｆｉｃｅ 7.6.2.1", "libreoffice"),
        # Nothing but noise: the name is all there is
        ("7.0", "7.0"),
        ("(x64)", "(x64)"),
        ("", ""),
        (None, ""),
        ])
def test_name_key(name, key):
    assert name_key(name) == key


@pytest.mark.parametrize('name, key', [
        ("Microsoft Corporation", "microsoft"),
        ("Microsoft Corp.", "microsoft"),
        ("Oracle America, Inc.", "oracle america"),
        ("Foo Co., Ltd.", "foo"),
        ("Adobe Systems Incorporated", "adobe systems"),
        ("Siemens AG", "siemens"),
        ("Nestlé S.A.", "nestlé"),
        ("Canonical Group Limited", "canonical group"),
        ("JetBrains s.r.o.", "jetbrains"),
        ("Mozilla", "mozilla"),
        ("The  Document Foundation", "the document foundation"),
        ("Inc.", "inc"),
        ("", ""),
        (None, ""),
        ])
def test_publisher_key(name, key):
    assert publisher_key(name) == key


def test_software_key():
    "Spellings of one software by one publisher share the key"
    key = software_key("Mozilla", "Mozilla Firefox 120.0 (x64 en-US)")
    assert key == 'mozilla|mozilla firefox'
    assert software_key("MOZILLA Corporation", "Mozilla Firefox") == key
    assert software_key(None, "Firefox") == '|firefox'
    assert software_key("Mozilla", None) == 'mozilla|'
    # The separator stays the only one
    assert software_key("A|B", "C|D") == 'a b|c d'


# What inventories send: any text, sometimes not text at all
anything = st.one_of(
    st.none(), st.text(), st.integers(), st.floats(allow_nan=False))
# Letters-only words that are no noise nor legal form
plain_word = st.text(string.ascii_letters, min_size=3, max_size=8).filter(
    lambda w: w.lower() not in (
        ARCHITECTURES | LANGUAGES | LEGAL_SUFFIXES | VERSION_WORDS))
plain_name = st.lists(plain_word, min_size=1, max_size=4).map(' '.join)
noise = st.lists(st.sampled_from([
            " 1.2.3", " v10.0.1", " (x64)", " (x86 en-US)", " 64-bit",
            " - 14.0.24215", " [amd64]", " (64-bit x64)", " x86_64",
            " fr-FR", " version 2.4.1"]),
    min_size=1, max_size=3).map(''.join)
legal = st.lists(st.sampled_from([
            " Inc.", " Inc", ", Inc.", " Corporation", " Corp.", " Ltd",
            " Co., Ltd.", " GmbH", " LLC", " S.A.", " AG", " Co."]),
    min_size=1, max_size=2).map(''.join)


@PROPERTIES
@given(anything, anything)
def test_keys_never_raise(publisher, name):
    key = software_key(publisher, name)
    assert isinstance(key, str)
    assert key.count(KEY_SEPARATOR) == 1


@PROPERTIES
@given(anything)
def test_name_key_idempotent(name):
    key = name_key(name)
    assert name_key(key) == key
    assert key == key.strip()
    assert '  ' not in key


@PROPERTIES
@given(anything)
def test_publisher_key_idempotent(name):
    key = publisher_key(name)
    assert publisher_key(key) == key
    assert key == key.strip()
    assert '  ' not in key


@PROPERTIES
@given(anything, anything)
def test_software_key_of_keys(publisher, name):
    "The keys of the parts give the same key: the import may use either"
    assert software_key(publisher_key(publisher), name_key(name)) == (
        software_key(publisher, name))


@PROPERTIES
@given(plain_name, noise)
def test_name_key_ignores_noise(name, suffix):
    assert name_key(name + suffix) == name_key(name)


@PROPERTIES
@given(plain_name)
def test_name_key_ignores_case_and_spaces(name):
    assume(name.strip())
    spaced = '  ' + name.upper().replace(' ', ' \t ') + ' '
    assert name_key(spaced) == name_key(name) == name.lower()


@PROPERTIES
@given(plain_name, legal)
def test_publisher_key_ignores_legal_form(name, suffix):
    assert publisher_key(name + suffix) == publisher_key(name)


# The catalog on a database

def create_asset(company, name="PC-001"):
    pool = Pool()
    Asset = pool.get('itsm.asset')
    asset, = Asset.create([{
                'company': company.id, 'name': name, 'kind': 'desktop'}])
    return asset


class SoftwareTestCase(ActivatedModuleCase):
    "Publishers, software, versions and installations"
    module = 'itsm_asset'

    @with_transaction()
    def test_publisher_key(self):
        "A publisher gets its key and refuses a second spelling"
        pool = Pool()
        Publisher = pool.get('itsm.software.publisher')
        microsoft, = Publisher.create([{'name': "Microsoft Corporation"}])
        self.assertEqual(microsoft.key, 'microsoft')
        with self.assertRaisesRegex(
                ValidationError, '"Microsoft Corp." is already in the '
                'catalog as "Microsoft Corporation"'):
            Publisher.create([{'name': "Microsoft Corp."}])
        with self.assertRaises(ValidationError):
            Publisher.create([{'name': "Oracle"}, {'name': "ORACLE Inc."}])
        Publisher.write([microsoft], {'name': "Microsoft"})
        self.assertEqual(microsoft.key, 'microsoft')

    @with_transaction()
    def test_software_key(self):
        "A software's key follows its name and its publisher's"
        pool = Pool()
        Publisher = pool.get('itsm.software.publisher')
        Software = pool.get('itsm.software')
        mozilla, = Publisher.create([{'name': "Mozilla"}])
        firefox, thunderbird = Software.create([{
                    'name': "Mozilla Firefox", 'publisher': mozilla.id,
                    }, {
                    'name': "Thunderbird 115.0 (x64 en-US)",
                    'publisher': mozilla.id,
                    }])
        self.assertEqual(firefox.key, 'mozilla|mozilla firefox')
        self.assertEqual(thunderbird.key, 'mozilla|thunderbird')
        with self.assertRaisesRegex(
                ValidationError, '"Mozilla Firefox 120.0 \\(x64\\)" is '
                'already in the catalog as "Mozilla Firefox"'):
            Software.create([{
                        'name': "Mozilla Firefox 120.0 (x64)",
                        'publisher': mozilla.id}])
        # Without publisher, it is another software
        unknown, = Software.create([{'name': "Mozilla Firefox"}])
        self.assertEqual(unknown.key, '|mozilla firefox')

        Software.write([thunderbird], {'name': "Mozilla Thunderbird"})
        self.assertEqual(thunderbird.key, 'mozilla|mozilla thunderbird')
        with self.assertRaises(ValidationError):
            Software.write([thunderbird], {'name': "Mozilla Firefox"})

        Publisher.write([mozilla], {'name': "Mozilla Foundation"})
        self.assertEqual(
            Software(firefox.id).key, 'mozilla foundation|mozilla firefox')
        self.assertEqual(
            Software.search([('rec_name', 'ilike', '%foundation%')]),
            [firefox, thunderbird])

    @with_transaction()
    def test_keys_unique_in_database(self):
        "The keys are unique for the import's set-based inserts too"
        pool = Pool()
        Publisher = pool.get('itsm.software.publisher')
        Software = pool.get('itsm.software')
        Publisher.create([{'name': "Mozilla"}])
        Software.create([{'name': "Firefox"}])
        cursor = Transaction().connection.cursor()
        for Model, key in [(Publisher, 'mozilla'), (Software, '|firefox')]:
            table = Model.__table__()
            cursor.execute('SAVEPOINT duplicate_key')
            with self.subTest(model=Model.__name__), \
                    self.assertRaises(backend.DatabaseIntegrityError):
                cursor.execute(*table.insert(
                        [table.name, table.key], [["Other", key]]))
            cursor.execute('ROLLBACK TO SAVEPOINT duplicate_key')

    @with_transaction()
    def test_version_unique(self):
        "A software has each version once"
        pool = Pool()
        Software = pool.get('itsm.software')
        Version = pool.get('itsm.software.version')
        firefox, = Software.create([{
                    'name': "Firefox",
                    'versions': [('create', [{'name': "120.0"}])]}])
        other, = Software.create([{'name': "Thunderbird"}])
        Version.create([{'software': other.id, 'name': "120.0"}])
        # A violated constraint ends the transaction: test it last
        with self.assertRaises(SQLConstraintError):
            Version.create([{'software': firefox.id, 'name': "120.0"}])

    def _installation_unique(self, version, architecture):
        "A second installation of the same is refused"
        pool = Pool()
        Software = pool.get('itsm.software')
        Installation = pool.get('itsm.software.installation')
        company = create_company()
        with set_company(company):
            asset = create_asset(company)
            firefox, = Software.create([{
                        'name': "Firefox",
                        'versions': [('create', [
                                        {'name': "120.0"},
                                        {'name': "121.0"}])],
                        }])
            v120, v121 = sorted(firefox.versions, key=lambda v: v.name)
            values = {
                'asset': asset.id, 'software': firefox.id,
                'version': v120.id if version else None,
                'architecture': architecture}
            Installation.create([values])
            # Another version or another architecture is another one
            Installation.create([
                    {**values, 'version': v121.id},
                    {**values, 'architecture': 'i386'},
                    ])
            self.assertEqual(len(asset.installations), 3)
            self.assertTrue(all(
                    i.source == 'manual' for i in asset.installations))
            # A violated constraint ends the transaction: test it last
            with self.assertRaisesRegex(
                    SQLConstraintError, "installed once"):
                Installation.create([values])

    @with_transaction()
    def test_installation_unique(self):
        "An asset has each version and architecture of a software once"
        self._installation_unique(True, 'x86_64')

    @with_transaction()
    def test_installation_unique_without_version(self):
        "An installation without version is unique too"
        self._installation_unique(False, 'x86_64')

    @with_transaction()
    def test_installation_unique_without_architecture(self):
        "An installation without architecture is unique too"
        self._installation_unique(True, None)

    @with_transaction()
    def test_installation_unique_without_version_nor_architecture(self):
        "An installation without version nor architecture is unique too"
        self._installation_unique(False, None)

    @with_transaction()
    def test_installation_follows_asset(self):
        """Installations go with their asset, read by agents and written by
        asset managers of the asset's company only"""
        pool = Pool()
        Asset = pool.get('itsm.asset')
        Software = pool.get('itsm.software')
        Installation = pool.get('itsm.software.installation')
        company = create_company()
        other_company = create_company("Other")
        agent = create_agent('adam', 'group_agent', company)
        manager = create_agent('tom', 'group_asset_manager', company)
        with set_company(company):
            asset = create_asset(company)
            firefox, = Software.create([{'name': "Firefox"}])
            Asset.write([asset], {
                    'installations': [('create', [{
                                    'software': firefox.id,
                                    'architecture': 'x86_64'}])],
                    })
            installation, = asset.installations
            self.assertEqual(installation.rec_name, "Firefox (x86_64)")
        with set_company(other_company):
            foreign = create_asset(other_company, "PC-900")
            Installation.create([{
                        'asset': foreign.id, 'software': firefox.id}])

        with as_user(agent):
            self.assertEqual(
                Installation.search([]), [Installation(installation.id)])
            self.assertEqual(
                [s.name for s in Software.search([])], ["Firefox"])
            with self.assertRaises(AccessError):
                Installation.create([{
                            'asset': asset.id, 'software': firefox.id,
                            'version': None, 'architecture': 'i386'}])
            with self.assertRaises(AccessError):
                Software.create([{'name': "Chrome"}])
        with as_user(manager):
            Installation.create([{
                        'asset': asset.id, 'software': firefox.id,
                        'architecture': 'i386'}])
            Software.create([{'name': "Chrome"}])

        Asset.delete([asset])
        self.assertEqual(
            Installation.search([('software', '=', firefox.id)], count=True),
            1)
        with self.assertRaises(ForeignKeyError):
            Software.delete([firefox])

