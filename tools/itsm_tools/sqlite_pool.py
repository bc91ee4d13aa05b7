"""Reuse SQLite connections across the server's transactions.

trytond's SQLite backend opens a new connection for every transaction and
drops it at the end. A new connection parses the whole schema (some 370
tables and indexes) before its first statement and starts with an empty
page cache and statement cache: on the inbound email path, where a message
takes three transactions (the webhook's request, its processing task, the
acknowledgement's delivery), that was a quarter of the server's CPU.

``install()`` gives the backend a pool of idle connections per database, as
its PostgreSQL backend has: a transaction takes one (or opens one as
before) and gives it back, committed or rolled back, when it ends. The
server handles each request in a thread of its own, so that a connection
may serve another thread than the one that opened it; one thread uses it at
a time. A connection whose database file was replaced or removed meanwhile
(`itsm reset`) is closed instead of reused.

The server's processes install it (``server.make_app``); the tests, which
copy databases over one another (``DB_CACHE``), do not.
"""
import logging
import os
import sqlite3
import threading

logger = logging.getLogger(__name__)

#: Idle connections kept a database; more are closed when they are given back
MAX_IDLE = 8
#: Prepared statements kept a connection (sqlite3's default is 128): the ORM
#: issues a few hundred distinct statements
CACHED_STATEMENTS = 512

_idle = {}
_lock = threading.Lock()


def install():
    "Pool the connections of trytond's SQLite backend in this process"
    from trytond.backend.sqlite import database

    Database = database.Database
    if getattr(Database, '_itsm_pooled', False):
        return
    opened = database.SQLiteConnection

    class PooledConnection(opened):
        "A connection that any thread may use, one at a time"

        def __init__(self, *args, **kwargs):
            kwargs['check_same_thread'] = False
            kwargs.setdefault('cached_statements', CACHED_STATEMENTS)
            super().__init__(*args, **kwargs)
            self.file_id = None

    connect = Database.connect
    put_connection = Database.put_connection

    def pooled_connect(self):
        if self._conn is None and self.name != ':memory:':
            self._conn = _take(self.name)
            if self._conn is not None:
                return self
        connect(self)
        if self.name != ':memory:' and isinstance(
                self._conn, PooledConnection):
            self._conn.file_id = _file_id(self.name)
        return self

    def pooled_put_connection(self, connection=None):
        if (self.name != ':memory:' and connection is not None
                and connection is self._conn
                and isinstance(connection, PooledConnection)):
            self._conn = None
            _give_back(self.name, connection)
            return
        put_connection(self, connection)

    database.SQLiteConnection = PooledConnection
    Database.connect = pooled_connect
    Database.put_connection = pooled_put_connection
    Database._itsm_pooled = True


def _file_id(name):
    "What tells the database file apart from one put in its place, or None"
    from trytond import config
    path = os.path.join(config.get('database', 'path'), name + '.sqlite')
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _take(name):
    "An idle connection to the database, or None"
    while True:
        with _lock:
            idle = _idle.get(name)
            connection = idle.pop() if idle else None
        if connection is None:
            return None
        if connection.file_id is not None and (
                connection.file_id == _file_id(name)):
            return connection
        # The database was dropped or replaced since.
        connection.close()


def _give_back(name, connection):
    "Keep the connection for the next transaction, or close it"
    try:
        if connection.in_transaction:
            connection.rollback()
    except sqlite3.Error:
        logger.warning("closing a SQLite connection that could not be "
            "rolled back", exc_info=True)
        connection.close()
        return
    try:
        # What trytond runs on each new connection: the query planner's
        # statistics kept up to date, most often nothing to do.
        connection.execute('PRAGMA optimize')
    except sqlite3.OperationalError:
        pass  # locked by a writer: next time
    with _lock:
        idle = _idle.setdefault(name, [])
        if len(idle) < MAX_IDLE:
            idle.append(connection)
            return
    connection.close()

