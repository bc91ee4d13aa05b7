"""Run the queued tasks of a SQLite database in the server's own process.

With ``[queue] worker = True`` a request only queues its tasks (``ir.queue``)
and answers; trytond-worker processes run them. trytond-worker waits on the
database's notifications, which PostgreSQL has and SQLite has not: on
SQLite the server runs its queue itself, in a thread that takes the tasks
one at a time as a worker would, and looks again every few hundredths of a
second when none is waiting.

Why: the email webhook then answers once the message is stored, and the
processing task of a company takes the messages stored meanwhile together
(itsm_email's batches); on SQLite a new ticket processed in a batch costs a
quarter of the CPU it does alone. As shipped (``worker = False``) nothing
changes: each request runs its tasks before it answers.

A task that fails is logged and recorded by trytond as a worker's would be;
the thread goes on with the next one. A task taken when the process stops is
not run again (trytond's queue marks it taken); for the email channel its
messages stay received and the company's next task takes them.
"""
import logging
import threading

logger = logging.getLogger(__name__)

#: Seconds between two looks at an empty queue
INTERVAL = 0.05


class QueueRunner(threading.Thread):
    "Runs the queued tasks of one database, one at a time"

    def __init__(self, database_name, interval=INTERVAL):
        super().__init__(name=f'itsm-queue-{database_name}', daemon=True)
        self.database_name = database_name
        self.interval = interval
        self._stopping = threading.Event()

    def stop(self, timeout=None):
        "Stop after the task being run, if any"
        self._stopping.set()
        self.join(timeout)

    def run(self):
        while not self._stopping.is_set():
            if not self.run_one():
                self._stopping.wait(self.interval)

    def run_one(self):
        "Run the next task due, if any; return whether there was one"
        from trytond.worker import run_task
        try:
            task_id = self._take()
        except Exception:
            logger.exception("cannot read the queue of %s", self.database_name)
            return False
        if task_id is None:
            return False
        try:
            run_task(self.database_name, task_id)
        except Exception:
            # run_task has logged it; the next task must not wait.
            logger.exception(
                "task %s of %s failed", task_id, self.database_name)
        return True

    def _take(self):
        "The id of the next task due, marked as taken, or None"
        from sql import Null
        from sql.functions import CurrentTimestamp
        from trytond.pool import Pool
        from trytond.transaction import Transaction

        pool = Pool(self.database_name)
        if self.database_name not in Pool.database_list():
            with Transaction().start(self.database_name, 0, readonly=True):
                pool.init()
        queue = pool.get('ir.queue').__table__()
        # In the order of trytond's Queue.pull, whose query SQLite cannot
        # run (its common table is named in one statement, read in another).
        due = queue.select(queue.id,
            where=(queue.dequeued_at == Null)
            & ((queue.scheduled_at == Null)
                | (queue.scheduled_at <= CurrentTimestamp())),
            order_by=[queue.scheduled_at.nulls_first,
                queue.expected_at.nulls_first, queue.id.asc],
            limit=1)
        # A read first: taking a task writes, and SQLite has one writer.
        with Transaction().start(
                self.database_name, 0, readonly=True) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute(*due)
            if cursor.fetchone() is None:
                return None
        with Transaction().start(self.database_name, 0) as transaction:
            cursor = transaction.connection.cursor()
            cursor.execute(*due)
            row = cursor.fetchone()
            if row is None:
                return None
            task_id, = row
            # Another process serving the database may have taken it.
            cursor.execute(*queue.update(
                    [queue.dequeued_at], [CurrentTimestamp()],
                    where=(queue.id == task_id)
                    & (queue.dequeued_at == Null)))
            taken = cursor.rowcount == 1
            transaction.commit()
        return task_id if taken else None


def start(database_name):
    "Start running the database's queue in this process; return the runner"
    runner = QueueRunner(database_name)
    runner.start()
    return runner
