"""Sends a chain with a real Celery 5.2 client (``celery.chain(...).apply_async()``).

stdin: a JSON list of steps ``{"task": "tasks.add", "args": [...], "queue": "..."?}``.
stdout: a JSON list of the task ids, first step first.
Run with ``PYTHONPATH`` = test-utils' python/ folder and the env of ``celeryEnv``.
"""

import json
import sys

from celery import chain

from tasks import app

steps = json.load(sys.stdin)
sigs = []
for step in steps:
    sig = app.signature(step["task"], args=tuple(step.get("args", [])))
    if step.get("queue"):
        sig = sig.set(queue=step["queue"])
    sigs.append(sig)
result = chain(*sigs).apply_async()
ids = []
node = result
while node is not None:
    ids.append(node.id)
    node = node.parent
print(json.dumps(list(reversed(ids))))
