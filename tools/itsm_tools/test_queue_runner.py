"""The loop of the server's queue thread; taking and running the tasks is
tested with the email channel (test_queue_run_by_the_server_takes_messages_
together)."""
import time

from itsm_tools.queue_runner import QueueRunner


class Scripted(QueueRunner):
    "Runs the tasks it is given, then finds the queue empty"

    def __init__(self, tasks, interval):
        super().__init__('scripted', interval=interval)
        self.tasks = tasks
        self.looks = []

    def _take(self):
        self.looks.append(time.monotonic())
        return self.tasks.pop(0) if self.tasks else None


def test_tasks_run_back_to_back_then_the_queue_is_watched(monkeypatch):
    ran = []
    monkeypatch.setattr('trytond.worker.run_task',
        lambda database, task_id: ran.append(task_id))
    runner = Scripted([1, 2, 3], interval=0.05)
    runner.start()
    time.sleep(0.3)
    runner.stop(5)
    assert not runner.is_alive()
    assert ran == [1, 2, 3]
    looks = runner.looks
    # No wait between tasks, the interval between looks at an empty queue.
    assert looks[3] - looks[0] < 0.05
    assert 5 <= len(looks) <= 12
    assert all(later - earlier >= 0.04
        for earlier, later in zip(looks[3:], looks[4:], strict=False))


def test_a_failing_task_does_not_stop_the_thread(monkeypatch, caplog):
    ran = []

    def run_task(database, task_id):
        ran.append(task_id)
        if task_id == 1:
            raise RuntimeError("disk on fire")
    monkeypatch.setattr('trytond.worker.run_task', run_task)
    runner = Scripted([1, 2], interval=0.01)
    assert runner.run_one() and runner.run_one()
    assert not runner.run_one()
    assert ran == [1, 2]
    assert "task 1 of scripted failed" in caplog.text


def test_an_unreadable_queue_is_logged_and_looked_at_again(caplog):
    class Broken(QueueRunner):
        def _take(self):
            raise OSError("database locked")
    assert not Broken('broken').run_one()
    assert "cannot read the queue of broken" in caplog.text
