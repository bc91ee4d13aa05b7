# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The software catalog: publishers, software and their versions, and the
software installed on each asset.

Inventories name the same software in many ways ("Mozilla Firefox 120.0
(x64 en-US)", "Mozilla Firefox (x86 fr)", publisher "Mozilla" or "Mozilla
Corporation"): the catalog keys each publisher and software by a normalised
form of its name, computed by the pure functions below, so that every
spelling lands on one row. The catalog is global (no company): what a
software is does not depend on who owns it. The keys are unique in the
database, so that the inventory import can insert missing rows set-based
with the same functions.
"""
import re
import unicodedata

from sql import Null
from sql.operators import Equal
from trytond import backend
from trytond.i18n import gettext
from trytond.model import Exclude, Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice

from itsm_ticket.search import rec_name_domain

# What separates the publisher from the name in a software's key
KEY_SEPARATOR = '|'
# Legal forms stripped from the end of a publisher's name, compared without
# dots: "Microsoft Corporation" and "Microsoft Corp." are "microsoft".
LEGAL_SUFFIXES = frozenset([
    'inc', 'incorporated', 'corp', 'corporation', 'ltd', 'limited',
    'gmbh', 'llc', 'llp', 'sa', 'ag', 'co', 'plc', 'bv', 'nv', 'srl',
    'sarl', 'sas', 'spa', 'oy', 'ab', 'kg', 'pty', 'kk', 'se', 'sro',
    'spzoo', 'asa', 'aps',
    ])
# Architecture words that end inventory names: "(x64)", "64-bit", "amd64"
ARCHITECTURES = frozenset([
    'x64', 'x86', 'x86_64', 'x86-64', 'amd64', 'i386', 'i486', 'i586',
    'i686', 'ia32', 'ia64', 'arm', 'arm64', 'armhf', 'armel', 'aarch64',
    'ppc64', 'ppc64le', 's390x', 'noarch', 'win32', 'win64',
    '32-bit', '64-bit', '32bit', '64bit', '32 bit', '64 bit',
    ])
# Languages of locale tags ("en-US", "fr_FR", "de") left by installers
LANGUAGES = frozenset([
    'ar', 'bg', 'ca', 'cs', 'da', 'de', 'el', 'en', 'es', 'et', 'fi', 'fr',
    'he', 'hr', 'hu', 'id', 'it', 'ja', 'ko', 'lt', 'lv', 'nb', 'nl', 'nn',
    'no', 'pl', 'pt', 'ro', 'ru', 'sk', 'sl', 'sr', 'sv', 'th', 'tr', 'uk',
    'vi', 'zh',
    ])
# Words that introduce a version: "Git version 2.42.0"
VERSION_WORDS = frozenset(['version', 'build', 'release', 'rev', 'revision'])
# "120.0", "v2.1", "14.0.24215", "1.2.3-beta1", "2:1.0-1ubuntu1"; a bare
# number ("Office 2016", "Python 3") is part of the name and stays.
_VERSION = re.compile(r'^(\d+:)?v?\d+(?:[._]\d+)+[-+~._a-z0-9]*$')
_LOCALE = re.compile(r'^([a-z]{2})([-_][a-z]{2,4})?$')
# dpkg's "libc6:amd64", rpm's "bash.x86_64"
_ATTACHED_ARCHITECTURE = re.compile(
    r'(?<=.)([.:](x86_64|i[3-6]86|amd64|arm64|armhf|armel|aarch64|noarch'
    r'|ppc64le|s390x)|:all)$')
_TRAILING_GROUP = re.compile(r'\s*[(\[][^()\[\]]*[)\]]$')
_MARKS = re.compile(r'\((tm|r|c)\)|[™®©]')
_SEPARATORS = '-–—,;:/|'


def _fold(text):
    "Case-folded, compatibility-normalised, spaces squeezed; a fixed point"
    if not isinstance(text, str):
        text = '' if text is None else str(text)
    for _ in range(5):
        folded = unicodedata.normalize(
            'NFKC', unicodedata.normalize('NFKC', text).casefold())
        folded = ' '.join(folded.replace(KEY_SEPARATOR, ' ').split())
        if folded == text:
            break
        text = folded
    return text


def _fixpoint(step, text):
    "Apply step until the text no longer changes"
    for _ in range(100):
        new = step(text)
        if new == text:
            break
        text = new
    return text


def _is_noise(token):
    "Whether a word at the end of a software's name is no part of it"
    token = token.strip(_SEPARATORS + '.')
    if not token:
        return True
    if token in ARCHITECTURES or _VERSION.match(token):
        return True
    match = _LOCALE.match(token)
    return bool(match and match.group(2) and match.group(1) in LANGUAGES)


def _strip_name_noise(text):
    text = _MARKS.sub(' ', text)
    text = _ATTACHED_ARCHITECTURE.sub('', text)
    # A trailing "(x64 en-US)", "[64-bit]" or "(remove only)"
    stripped = _TRAILING_GROUP.sub('', text)
    if stripped.strip(' ' + _SEPARATORS):
        text = stripped
    words = text.split()
    while len(words) > 1:
        if len(words) > 2 and ' '.join(words[-2:]) in ARCHITECTURES:
            del words[-2:]
        elif _is_noise(words[-1]):
            words.pop()
            # "Git version 2.42.0", "Foo build 1.2"
            if len(words) > 1 and words[-1] in VERSION_WORDS:
                words.pop()
        else:
            break
    text = ' '.join(words).strip(' ' + _SEPARATORS)
    return _fold(text)


def name_key(name):
    """The normalised name of a software: case-folded, spaces squeezed, the
    architecture, version and language noise that inventories append
    removed.

    >>> name_key("Mozilla Firefox 120.0 (x64 en-US)")
    'mozilla firefox'
    """
    folded = _fold(name)
    key = _fixpoint(_strip_name_noise, folded)
    # Nothing but noise ("7.0", "(x64)"): the name is all there is
    return key or folded


def _strip_legal_suffix(text):
    words = text.replace(',', ' ').split()
    while len(words) > 1 and words[-1].replace('.', '') in LEGAL_SUFFIXES:
        words.pop()
    # "Co., Ltd." leaves "co," behind its own comma
    return _fold(' '.join(words).rstrip('.,;: '))


def publisher_key(name):
    """The normalised name of a publisher: case-folded, spaces squeezed,
    the legal form removed.

    >>> publisher_key("Microsoft  Corporation")
    'microsoft'
    """
    folded = _fold(name)
    key = _fixpoint(_strip_legal_suffix, folded)
    return key or folded


def software_key(publisher, name):
    """The key of a software in the catalog: its publisher's key and its
    name's key, separated by a "|" that neither of them holds.

    >>> software_key("Mozilla Corporation", "Mozilla Firefox 120.0 (x64)")
    'mozilla|mozilla firefox'
    """
    def part(key):
        return ' '.join(key.replace(KEY_SEPARATOR, ' ').split())
    return (part(publisher_key(publisher)) + KEY_SEPARATOR
        + part(name_key(name)))


class KeyMixin:
    """A catalog entry keyed by its normalised name: the key is computed
    from the fields of _key_fields at each creation and change, and a second
    entry with the same key is refused with the name of the first."""
    __slots__ = ()
    _key_fields = {'name'}
    _duplicate_message = None

    @classmethod
    def compute_key(cls, values, record=None):
        "The key of the entry with the values (written to the record)"
        raise NotImplementedError

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            values['key'] = cls.compute_key(values)
        cls.check_keys([(v['key'], v.get('name')) for v in vlist])
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        args, keys, ids = [], [], []
        for records, values in zip(actions, actions, strict=True):
            if cls._key_fields & values.keys():
                for record in records:
                    key = cls.compute_key(values, record)
                    args.extend([[record], {**values, 'key': key}])
                    keys.append((key, values.get('name', record.name)))
                    ids.append(record.id)
            else:
                args.extend([records, values])
        cls.check_keys(keys, ids)
        super().write(*args)

    @classmethod
    def check_keys(cls, keys, ids=()):
        """Refuse the keys [(key, name)] that repeat or that other entries
        than ids have: the unique constraint would refuse them without
        naming the entry already in the catalog"""
        names = {}
        for key, name in keys:
            if key in names:
                raise ValidationError(gettext(
                        cls._duplicate_message, name=name,
                        other=names[key]))
            names[key] = name
        for sub_keys in grouped_slice(
                list(names), backend.MAX_QUERY_PARAMS // 2):
            others = cls.search([
                    ('key', 'in', list(sub_keys)),
                    ('id', 'not in', list(ids)),
                    ], limit=1)
            if others:
                other, = others
                raise ValidationError(gettext(
                        cls._duplicate_message, name=names[other.key],
                        other=other.rec_name))

    @classmethod
    def copy(cls, records, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault(
            'name', lambda data: gettext(
                'itsm_asset.msg_software_copy_name', name=data['name']))
        return super().copy(records, default=default)


class Publisher(KeyMixin, ModelSQL, ModelView):
    "Who publishes software: Microsoft, Mozilla, the Debian project"
    __name__ = 'itsm.software.publisher'
    __string__ = "Software Publisher"
    _duplicate_message = 'itsm_asset.msg_software_publisher_duplicate'

    name = fields.Char("Name", required=True)
    key = fields.Char(
        "Key", readonly=True,
        help="The name normalised: case-folded, without its legal form. "
        "Two publishers cannot have the same key.")
    software = fields.One2Many(
        'itsm.software', 'publisher', "Software", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('key_unique', Unique(t, t.key),
                'itsm_asset.msg_software_publisher_key_unique'),
            ]
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def compute_key(cls, values, record=None):
        name = values.get('name', record.name if record else None)
        return publisher_key(name)

    @classmethod
    def write(cls, *args):
        pool = Pool()
        Software = pool.get('itsm.software')
        super().write(*args)
        actions = iter(args)
        renamed = []
        for records, values in zip(actions, actions, strict=True):
            if 'name' in values:
                renamed.extend(records)
        Software.update_keys(
            [s for p in cls.browse(renamed) for s in p.software])

    @classmethod
    def copy(cls, publishers, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('software')
        return super().copy(publishers, default=default)


class Software(KeyMixin, ModelSQL, ModelView):
    "A software of the catalog, whatever its version"
    __name__ = 'itsm.software'
    __string__ = "Software"
    _key_fields = {'name', 'publisher'}
    _duplicate_message = 'itsm_asset.msg_software_duplicate'

    name = fields.Char("Name", required=True)
    publisher = fields.Many2One(
        'itsm.software.publisher', "Publisher", ondelete='RESTRICT')
    key = fields.Char(
        "Key", readonly=True,
        help="The publisher and the name normalised: case-folded, without "
        "version, architecture or legal form. Two software cannot have "
        "the same key.")
    category = fields.Char(
        "Category", help="What the software is for: Office, Browser…")
    license_required = fields.Boolean(
        "Needs a License",
        help="Show the software in the compliance wherever it is "
        "installed, even without any license recorded.")
    versions = fields.One2Many(
        'itsm.software.version', 'software', "Versions")
    installations = fields.One2Many(
        'itsm.software.installation', 'software', "Installations",
        readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('key_unique', Unique(t, t.key),
                'itsm_asset.msg_software_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.publisher, Index.Range())),
                Index(t, (t.category, Index.Equality())),
                })
        cls._order.insert(0, ('name', 'ASC'))

    @classmethod
    def default_license_required(cls):
        return False

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, 'name', 'publisher.name')

    @classmethod
    def compute_key(cls, values, record=None):
        pool = Pool()
        Publisher = pool.get('itsm.software.publisher')
        if 'publisher' in values:
            publisher = values['publisher']
            publisher = Publisher(publisher) if publisher is not None else None
        else:
            publisher = record.publisher if record else None
        name = values.get('name', record.name if record else None)
        return software_key(publisher.name if publisher else None, name)

    @classmethod
    def update_keys(cls, software):
        "Write the keys of the software again, after their publisher's name"
        to_write, keys = [], []
        for record in software:
            key = cls.compute_key({}, record)
            if key != record.key:
                to_write.extend([[record], {'key': key}])
                keys.append((key, record.name))
        if to_write:
            cls.check_keys(keys, [r.id for r in software])
            cls.write(*to_write)

    @classmethod
    def copy(cls, software, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('installations')
        return super().copy(software, default=default)


class Version(ModelSQL, ModelView):
    "A version of a software, as its inventories or its publisher name it"
    __name__ = 'itsm.software.version'
    __string__ = "Software Version"

    software = fields.Many2One(
        'itsm.software', "Software", required=True, ondelete='CASCADE')
    name = fields.Char("Version", required=True, strip=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('software_name_unique', Unique(t, t.software, t.name),
                'itsm_asset.msg_software_version_unique'),
            ]
        cls._order = [
            ('software', 'ASC'), ('name', 'DESC'), ('id', 'DESC')]


SOURCES = [
    ('inventory', "Inventory"),
    ('manual', "Manual"),
    ]


class Installation(ModelSQL, ModelView):
    "A software installed on an asset, found by an inventory or by hand"
    __name__ = 'itsm.software.installation'
    __string__ = "Software Installation"

    asset = fields.Many2One(
        'itsm.asset', "Asset", required=True, ondelete='CASCADE')
    software = fields.Many2One(
        'itsm.software', "Software", required=True, ondelete='RESTRICT')
    version = fields.Many2One(
        'itsm.software.version', "Version", ondelete='RESTRICT',
        domain=[
            ('software', '=', Eval('software', -1)),
            ])
    architecture = fields.Char(
        "Architecture", strip=True, help="x86_64, arm64, i386…")
    install_date = fields.Date("Installed On")
    source = fields.Selection(SOURCES, "Source", required=True, sort=False,
        help="Whether an inventory agent reported the installation or "
        "somebody recorded it by hand.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('asset')
        t = cls.__table__()
        # NULL is unique in SQL: one constraint for each combination of
        # the optional version and architecture.
        cls._sql_constraints += [
            ('asset_software_version_architecture_unique',
                Unique(t, t.asset, t.software, t.version, t.architecture),
                'itsm_asset.msg_software_installation_unique'),
            ('asset_software_architecture_unique',
                Exclude(t, (t.asset, Equal), (t.software, Equal),
                    (t.architecture, Equal),
                    where=(t.version == Null) & (t.architecture != Null)),
                'itsm_asset.msg_software_installation_unique'),
            ('asset_software_version_unique',
                Exclude(t, (t.asset, Equal), (t.software, Equal),
                    (t.version, Equal),
                    where=(t.version != Null) & (t.architecture == Null)),
                'itsm_asset.msg_software_installation_unique'),
            ('asset_software_unique',
                Exclude(t, (t.asset, Equal), (t.software, Equal),
                    where=(t.version == Null) & (t.architecture == Null)),
                'itsm_asset.msg_software_installation_unique'),
            ]
        # The unique constraint above serves the searches by asset; the
        # compliance counts the assets per software from this index alone.
        cls._sql_indexes.update({
                Index(t, (t.software, Index.Range()),
                    (t.asset, Index.Range())),
                Index(t, (t.version, Index.Range())),
                })
        cls._order = [('software', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_source(cls):
        return 'manual'

    @fields.depends('software', 'version')
    def on_change_software(self):
        if self.version and self.version.software != self.software:
            self.version = None

    def get_rec_name(self, name):
        names = [self.software.rec_name]
        if self.version:
            names.append(self.version.rec_name)
        if self.architecture:
            names.append(f'({self.architecture})')
        return ' '.join(names)

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('software.rec_name', *clause[1:])]


class Asset(metaclass=PoolMeta):
    __name__ = 'itsm.asset'

    installations = fields.One2Many(
        'itsm.software.installation', 'asset', "Installations",
        help="The software installed on the asset.")
