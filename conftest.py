"""pytest set-up shared by every test of the repository.

Tryton's test framework reads DB_CACHE when it is imported: the database
with the modules activated is built once and restored for each test case.
The cache folder is named after the modules' source, so that a change to a
module never restores a stale database.
"""
import hashlib
import os
from pathlib import Path

ROOT = Path(__file__).parent


def _sources_digest():
    digest = hashlib.sha256()
    for path in sorted((ROOT / 'addons').rglob('*')):
        if path.suffix in {'.py', '.xml', '.cfg', '.po'} \
                and '__pycache__' not in path.parts:
            digest.update(str(path.relative_to(ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


if 'DB_CACHE' not in os.environ:
    backend = os.environ.get('TRYTOND_DATABASE__URI', 'sqlite').split(':')[0]
    os.environ['DB_CACHE'] = str(
        ROOT / 'var' / 'cache' / f'{backend}-{_sources_digest()}')
