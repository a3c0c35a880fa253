"""Publish tasks with a real Celery 5.2 client.

stdin: a JSON list of calls, each
``{"task": "tasks.add", "args": [...], "kwargs": {...}, "options": {...}}``, where
``options`` are ``apply_async``/``send_task`` options (queue, countdown, eta, expires,
priority, serializer, task_id, headers, ignore_result, time_limit, soft_time_limit,
shadow, ...). ``eta`` and ``expires`` may be ISO-8601 strings. Values use the tags of
interop_json.py (``{"__bytes_hex__": "00ff"}`` for bytes).

stdout: a JSON list of the task ids, in call order.
The app (broker, backend, serializers) comes from the environment, see tasks.py.
"""

import json
import sys
from datetime import datetime

import interop_json
from tasks import app

DATETIME_OPTIONS = ("eta", "expires")


def _options(raw):
    options = dict(raw or {})
    for name in DATETIME_OPTIONS:
        value = options.get(name)
        if isinstance(value, str):
            options[name] = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return options


def main():
    calls = interop_json.decode(json.load(sys.stdin))
    if not isinstance(calls, list):
        raise SystemExit("publish.py: expected a JSON list of calls on stdin, got %r" % (calls,))
    ids = []
    with app.producer_or_acquire() as producer:
        for call in calls:
            result = app.send_task(
                call["task"],
                args=call.get("args") or [],
                kwargs=call.get("kwargs") or {},
                producer=producer,
                **_options(call.get("options")),
            )
            ids.append(result.id)
    json.dump(ids, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
