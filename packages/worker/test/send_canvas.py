"""Applies a canvas with a real Celery 5.2 client (``chain`` / ``group`` / ``chord``).

stdin: a JSON spec, recursively one of
``{"task": "tasks.add", "args": [...], "queue": "..."?, "immutable": bool?}``,
``{"chain": [spec, ...]}``, ``{"group": [spec, ...]}``, ``{"chord": {"header": [spec, ...], "body": spec}}``.
stdout: the result as JSON: ``{"id", "parent"}`` for a task result (``parent`` the same
shape or null), ``{"group", "results", "parent"}`` for a group result.
Run with ``PYTHONPATH`` = test-utils' python/ folder and the env of ``celeryEnv``.
"""

import json
import sys

from celery import chain, chord, group
from celery.result import GroupResult

from tasks import app


def build(spec):
    if "chain" in spec:
        return chain(*[build(s) for s in spec["chain"]])
    if "group" in spec:
        return group([build(s) for s in spec["group"]])
    if "chord" in spec:
        return chord([build(s) for s in spec["chord"]["header"]], build(spec["chord"]["body"]))
    sig = app.signature(spec["task"], args=tuple(spec.get("args", [])), immutable=spec.get("immutable", False))
    if spec.get("queue"):
        sig = sig.set(queue=spec["queue"])
    return sig


def describe(result):
    if result is None:
        return None
    if isinstance(result, GroupResult):
        return {"group": result.id, "results": [describe(r) for r in result.results], "parent": describe(result.parent)}
    return {"id": result.id, "parent": describe(result.parent)}


print(json.dumps(describe(build(json.load(sys.stdin)).apply_async())))
