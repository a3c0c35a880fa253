"""Wait for task results with a real Celery 5.2 client.

usage: get_result.py [--timeout SECONDS] TASK_ID...

For each id: ``AsyncResult(id).get(timeout=..., propagate=False)``. The timeout is one
deadline for all ids together. stdout: a JSON list of
``{"id", "status", "result", "traceback"}`` in argument order; values use the tags of
interop_json.py (bytes -> ``{"__bytes_hex__"}``, ints beyond 2**53 -> ``{"__bigint__"}``);
a FAILURE result is Celery's exception dict ``{"exc_type", "exc_message", "exc_module"}``.
An id still not ready at the deadline is reported with its current status (``PENDING``)
and ``"timedOut": true``. Celery's result consumer polls pub/sub in 1 s steps, so a wait
that times out ends up to about 1 s after the deadline. The app comes from the environment, see tasks.py.
"""

import argparse
import sys
import time

from celery.exceptions import TimeoutError as CeleryTimeoutError

import interop_json
from tasks import app


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("ids", nargs="+")
    args = parser.parse_args()

    deadline = time.monotonic() + args.timeout
    out = []
    for task_id in args.ids:
        result = app.AsyncResult(task_id)
        timed_out = False
        value = None
        remaining = deadline - time.monotonic()
        # get() waits in whole 1 s pub/sub polls (Celery's Drainer), so past the deadline
        # only look (one GET) instead of waiting again for each remaining id.
        if remaining > 0 or result.ready():
            try:
                value = result.get(timeout=max(remaining, 0.01), propagate=False)
            except CeleryTimeoutError:
                timed_out = True
        else:
            timed_out = True
        entry = {
            "id": task_id,
            "status": result.state,
            "result": value,
            "traceback": result.traceback,
        }
        if timed_out:
            entry["timedOut"] = True
        out.append(entry)
    sys.stdout.write(interop_json.dumps(out))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
