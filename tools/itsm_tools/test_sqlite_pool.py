# This file is part of the ITSM suite. See README.md at the top of the
# repository for copyright notices and license terms.
"""The server's pool of SQLite connections, in a child process: the pool
changes trytond's backend for the whole process, and the tests' databases
are copied over one another."""
import os
import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent('''
    import os, shutil, sqlite3, sys, threading
    from itsm_tools import sqlite_pool
    sqlite_pool.install()
    sqlite_pool.install()  # twice: still one pool
    from trytond.backend.sqlite.database import Database

    path = os.environ['TRYTOND_DATABASE__PATH']
    name = 'pooled'
    with sqlite3.connect(os.path.join(path, name + '.sqlite')) as setup:
        setup.execute('CREATE TABLE note (text VARCHAR)')

    def transaction():
        "Start as trytond's Transaction does"
        database = Database(name).connect()
        return database, database.get_connection()

    def end(database, connection, commit):
        (connection.commit if commit else connection.rollback)()
        database.put_connection(connection)

    # Reused from one transaction to the next
    database, first = transaction()
    first.execute("INSERT INTO note VALUES ('kept')")
    end(database, first, commit=True)
    database, second = transaction()
    print('reused', second is first)

    # Given back in the middle of a transaction: rolled back
    second.execute("INSERT INTO note VALUES ('lost')")
    database.put_connection(second)
    database, third = transaction()
    print('rows', [r for r, in third.execute('SELECT text FROM note')])

    # Two transactions at once have two connections
    other_database, other = transaction()
    print('distinct', other is not third)
    end(other_database, other, commit=False)

    # Another thread may take a connection opened by this one
    end(database, third, commit=False)
    seen = []
    def work():
        database, connection = transaction()
        seen.append((connection in (first, other),
            connection.execute('SELECT count(*) FROM note').fetchone()[0]))
        end(database, connection, commit=False)
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    print('thread', seen)

    # The database replaced by another file: not reused
    replaced = os.path.join(path, 'replaced.sqlite')
    with sqlite3.connect(replaced) as setup:
        setup.execute('CREATE TABLE note (text VARCHAR)')
    os.replace(replaced, os.path.join(path, name + '.sqlite'))
    database, fourth = transaction()
    print('after replace', fourth in (first, other))
    end(database, fourth, commit=False)

    # At most MAX_IDLE kept
    opened = [transaction() for _ in range(sqlite_pool.MAX_IDLE + 3)]
    for database, connection in opened:
        end(database, connection, commit=False)
    print('idle', len(sqlite_pool._idle[name]))
    ''')


def test_pool(tmp_path):
    env = dict(os.environ, TRYTOND_DATABASE__URI='sqlite://',
        TRYTOND_DATABASE__PATH=str(tmp_path))
    env.pop('TRYTOND_CONFIG', None)
    result = subprocess.run([sys.executable, '-c', PROGRAM], env=env,
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        'reused True',
        "rows ['kept']",
        'distinct True',
        'thread [(True, 1)]',
        'after replace False',
        'idle 8',
        ]
