"""The Python Celery 5.2 peer of the bench: module ``bench_tasks``, one task ``bench.noop``.

Run as a worker (``python3 -m celery -A bench_tasks worker ...``) or imported by
``bench_client.py``. Configured only from the environment (``apps/bench/src/peer-python.ts``
sets it):

=======================  ===========================================================
``BENCH_BROKER_URL``     broker URL (the bench's own redis-server)
``BENCH_RESULT_BACKEND`` result backend URL; empty = none (results ignored)
``BENCH_QUEUE``          ``task_default_queue``
``BENCH_EXPECT``         the worker prints one ``BENCH_DONE {json}`` line to stdout when
                         it has run this many tasks (0: never)
``BENCH_PARENT_PID``     if set, this process dies with that parent (``PR_SET_PDEATHSIG``)
=======================  ===========================================================

The worker prints ``BENCH_READY`` once it consumes. Counting happens inside the task, under
a lock (the threads pool runs it concurrently), with no Redis command, so it costs the
same as the counters in the Node peers' handlers.
"""

import json
import os
import signal
import sys
import threading
import time

from celery import Celery
from celery.signals import worker_ready


def _die_with_parent():
    parent = os.environ.get("BENCH_PARENT_PID")
    if not parent:
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        return
    if os.getppid() != int(parent):
        os._exit(1)


_die_with_parent()

_backend = os.environ.get("BENCH_RESULT_BACKEND") or None
app = Celery("bench_tasks", broker=os.environ["BENCH_BROKER_URL"], backend=_backend)
app.conf.update(
    task_default_queue=os.environ.get("BENCH_QUEUE", "celery"),
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    # Celery's default; solo/threads pools stall with 1 on Redis.
    worker_prefetch_multiplier=4,
    task_ignore_result=_backend is None,
    result_expires=3600,
    worker_hijack_root_logger=False,
    broker_connection_retry_on_startup=True,
)

# The worker redirects sys.stdout to its logger: write to the real stdout.
_out = sys.__stdout__

_EXPECT = int(os.environ.get("BENCH_EXPECT") or "0")
_lock = threading.Lock()
_count = 0
_first = 0.0


@app.task(name="bench.noop")
def noop(i=None):
    global _count, _first
    if _EXPECT:
        with _lock:
            _count += 1
            if _count == 1:
                _first = time.perf_counter()
            if _count == _EXPECT:
                seconds = time.perf_counter() - _first
                _out.write("BENCH_DONE " + json.dumps({"count": _count, "seconds": seconds}) + "\n")
                _out.flush()
    return i


@worker_ready.connect
def _ready(**_kwargs):
    _out.write("BENCH_READY\n")
    _out.flush()
