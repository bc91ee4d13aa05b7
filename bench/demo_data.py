"""How fast the demo generator builds large databases (SQLite).

The modules are activated once into a template database; each size starts
from a copy of it, so only the generator is timed. The baseline is size 1.
"""
import argparse
import shutil
import subprocess
import sys
import time

from itsm_tools.cli import create_database, drop_database
from itsm_tools.settings import Settings


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--sizes', type=int, nargs='+', default=[1, 10, 50])
    args = parser.parse_args()
    sizes = sorted(set([1] + args.sizes))

    template = Settings.from_environ(uri='sqlite://', database='bench_tpl')
    template.write_config()
    started = time.monotonic()
    drop_database(template)
    create_database(template)
    print(f"modules activated in {time.monotonic() - started:.1f} s")

    rows = []
    for size in sizes:
        settings = Settings.from_environ(
            uri='sqlite://', database=f'bench_demo_{size}')
        drop_database(settings)
        shutil.copy(template.db_path / 'bench_tpl.sqlite',
            settings.db_path / f'{settings.database}.sqlite')
        print(f"size {size}: generating…", flush=True)
        started = time.monotonic()
        subprocess.run([sys.executable, '-m', 'itsm_tools.cli', 'demo',
                '--database', settings.database, '--size', str(size)],
            check=True, stdout=subprocess.DEVNULL, env=settings.environ())
        elapsed = time.monotonic() - started
        employees = 12 * size
        rows.append((size, employees, elapsed, employees / elapsed))
        drop_database(settings)
    drop_database(template)

    baseline = rows[0][3]
    print()
    print("| size | employees | seconds | employees/s | ratio to size 1 |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for size, employees, elapsed, rate in rows:
        print(f"| {size} | {employees} | {elapsed:.2f} | {rate:.0f} "
            f"| {rate / baseline:.2f} |")


if __name__ == '__main__':
    main()
