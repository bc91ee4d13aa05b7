"""Where things are and how the effective trytond configuration is made.

config/trytond.conf is the template; var/trytond.conf is what every process
started by `itsm` reads: the template with absolute paths and the
environment's overrides applied. Another database than the default one has
a file of its own, var/trytond-<database>.conf, so that tests and
benchmarks running beside each other never read each other's settings.
"""
import configparser
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(os.environ.get('ITSM_ROOT', Path(__file__).resolve().parents[2]))
VAR = ROOT / 'var'
TEMPLATE = ROOT / 'config' / 'trytond.conf'
MODULES = ['itsm_ticket', 'itsm_email', 'itsm_asset', 'itsm_portal']
SAO_VERSION = '8.0.11'
DEFAULT_DATABASE = 'itsm'


class SetupError(Exception):
    "A problem the user can fix, told in one line"


@dataclass
class Settings:
    database_uri: str
    database: str
    host: str
    port: int
    var: Path = VAR

    @classmethod
    def from_environ(cls, uri=None, database=None, host=None, port=None):
        uri = (uri or os.environ.get('ITSM_DATABASE_URI')
            or os.environ.get('TRYTOND_DATABASE__URI')
            or _template().get('database', 'uri', fallback='sqlite://'))
        port = port or os.environ.get('ITSM_PORT') or 8000
        try:
            port = int(port)
        except ValueError:
            raise SetupError(f"the port must be a number, not {port!r}")
        settings = cls(
            database_uri=uri,
            database=(database or os.environ.get('ITSM_DATABASE')
                or DEFAULT_DATABASE),
            host=host or os.environ.get('ITSM_HOST') or '127.0.0.1',
            port=port)
        settings.check_uri()
        return settings

    @property
    def backend(self):
        return urlsplit(self.database_uri).scheme.split('+')[0]

    @property
    def config_file(self):
        if self.database == DEFAULT_DATABASE:
            return self.var / 'trytond.conf'
        return self.var / f'trytond-{self.database}.conf'

    @property
    def sao_root(self):
        return self.var / 'sao' / 'package'

    @property
    def db_path(self):
        return self.var / 'db'

    @property
    def ready_marker(self):
        "Written once the database is fully built, demo data included"
        key = f'{self.backend}-{self.database}'
        return self.var / f'{key}.ready'

    def check_uri(self):
        if self.backend not in {'sqlite', 'postgresql'}:
            raise SetupError(
                f"unsupported database URI {self.database_uri!r}: "
                "use sqlite:// or postgresql://user:password@host:port/")
        if self.backend == 'postgresql':
            path = urlsplit(self.database_uri).path
            if path.strip('/'):
                raise SetupError(
                    "the PostgreSQL URI must not name a database "
                    f"({path.strip('/')!r}): set ITSM_DATABASE instead")

    def write_config(self):
        "Write the configuration file and return its path"
        parser = _template()
        for key, value in os.environ.items():
            # trytond reads its configuration file after the environment:
            # carry the overrides into the file so that they still win.
            if key.startswith('TRYTOND_') and '__' in key:
                section, option = key[len('TRYTOND_'):].lower().split('__', 1)
                if not parser.has_section(section):
                    parser.add_section(section)
                parser.set(section, option, value)
        parser.set('database', 'uri', self.database_uri)
        path = Path(parser.get('database', 'path', fallback='var/db'))
        parser.set('database', 'path', str(_absolute(path)))
        root = Path(parser.get('web', 'root', fallback='var/sao/package'))
        parser.set('web', 'root', str(_absolute(root)))
        parser.set('web', 'listen', f'{self.host}:{self.port}')
        self.var.mkdir(parents=True, exist_ok=True)
        _absolute(path).mkdir(parents=True, exist_ok=True)
        # Replaced at once: a process starting meanwhile reads the old
        # file or the new one, never half of it.
        written = self.config_file.with_name(
            f'{self.config_file.name}.{os.getpid()}')
        with open(written, 'w') as fp:
            fp.write("# Written by `itsm` from config/trytond.conf: "
                "edit the template, not this file.\n")
            parser.write(fp)
        os.replace(written, self.config_file)
        return self.config_file

    def remove_config(self):
        "Remove the configuration file of another database than the default"
        if self.database != DEFAULT_DATABASE:
            self.config_file.unlink(missing_ok=True)

    def environ(self):
        "The environment for trytond processes run on these settings"
        env = os.environ.copy()
        env['TRYTOND_CONFIG'] = str(self.config_file)
        # The generated file holds the URI; an inherited override would
        # otherwise disagree with it.
        env.pop('TRYTOND_DATABASE__URI', None)
        env.pop('TRYTOND_DATABASE_URI', None)
        return env


def _template():
    parser = configparser.ConfigParser(interpolation=None)
    if not parser.read(TEMPLATE):
        raise SetupError(f"missing configuration template {TEMPLATE}")
    return parser


def _absolute(path):
    return path if path.is_absolute() else ROOT / path
