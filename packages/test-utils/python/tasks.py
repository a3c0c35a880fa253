"""The Celery peer used by Celeriac's interop tests.

Module name ``tasks``, so the task names are ``tasks.add``, ``tasks.echo``, ... This file is
the interop contract: TypeScript tests call these tasks through a real Celery 5.2 worker, or
a real Celery client sends them to a Celeriac worker.

Configured only from the environment (the TypeScript helpers set these):

==============================  =================================================
``CELERY_BROKER_URL``           broker (default ``$REDIS_URL`` or redis://127.0.0.1:6379)
``CELERY_RESULT_BACKEND``       result backend (default: the broker URL)
``CELERY_TASK_SERIALIZER``      ``json`` (default) or ``msgpack``
``CELERY_RESULT_SERIALIZER``    ``json`` (default) or ``msgpack``
``CELERY_ACCEPT_CONTENT``       comma list, default ``json,msgpack``; also used for
                                ``result_accept_content``
``CELERY_QUEUE``                ``task_default_queue`` (default ``celery``)
``CELERY_VISIBILITY_TIMEOUT``   ``broker_transport_options.visibility_timeout`` (seconds)
``CELERY_CONFIG_JSON``          a JSON object merged into the config last (e.g.
                                ``{"task_acks_late": true}``); its
                                ``broker_transport_options`` are merged key by key
``CELERIAC_PARENT_PID``         if set, this process dies with that parent (Linux
                                ``PR_SET_PDEATHSIG``), so no worker outlives a test run
==============================  =================================================
"""

import json
import os
import signal
import time

from celery import Celery


def _die_with_parent():
    parent = os.environ.get("CELERIAC_PARENT_PID")
    if not parent:
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except Exception:  # not Linux: the TypeScript side still kills us on exit
        return
    # The parent may have died before prctl ran.
    if os.getppid() != int(parent):
        os._exit(1)


def _csv(value):
    return [item.strip() for item in value.split(",") if item.strip()]


def _config_from_env():
    broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get(
        "REDIS_URL", "redis://127.0.0.1:6379"
    )
    accept = _csv(os.environ.get("CELERY_ACCEPT_CONTENT", "json,msgpack"))
    conf = {
        "broker_url": broker,
        "result_backend": os.environ.get("CELERY_RESULT_BACKEND") or broker,
        "task_serializer": os.environ.get("CELERY_TASK_SERIALIZER", "json"),
        "result_serializer": os.environ.get("CELERY_RESULT_SERIALIZER", "json"),
        "accept_content": accept,
        "result_accept_content": accept,
        "task_default_queue": os.environ.get("CELERY_QUEUE", "celery"),
        # Solo/threads pools stall after one task with a multiplier of 1 on Redis
        # (celery-wire.md §5.1); 4 is Celery's default and safe.
        "worker_prefetch_multiplier": 4,
        "result_expires": 3600,
        "worker_hijack_root_logger": False,
    }
    visibility = os.environ.get("CELERY_VISIBILITY_TIMEOUT")
    if visibility:
        conf["broker_transport_options"] = {"visibility_timeout": float(visibility)}
    extra = json.loads(os.environ.get("CELERY_CONFIG_JSON") or "{}")
    # Merged, not replaced, so CELERY_VISIBILITY_TIMEOUT and e.g. global_keyprefix combine.
    transport = {**conf.get("broker_transport_options", {}), **extra.pop("broker_transport_options", {})}
    conf.update(extra)
    if transport:
        conf["broker_transport_options"] = transport
    return conf


_die_with_parent()

app = Celery("tasks")
app.conf.update(_config_from_env())


class InteropError(Exception):
    """The custom exception ``tasks.fail`` raises (stored as exc_module ``tasks``)."""


@app.task
def add(x, y):
    return x + y


@app.task
def echo(*args, **kwargs):
    return [list(args), kwargs]


@app.task
def tsum(values):
    """A chord body: the sum of the header's results."""
    return sum(values)


@app.task
def fail(msg="boom"):
    raise InteropError(msg)


@app.task
def sleep(seconds=1.0, value=None):
    time.sleep(seconds)
    return seconds if value is None else value


@app.task(bind=True)
def retry_once(self, value="ok", countdown=1):
    if self.request.retries == 0:
        raise self.retry(countdown=countdown)
    return [value, self.request.retries]


@app.task
def types(binary=False):
    """One value of each type that crosses the wire.

    ``binary=False`` (json-safe): no bytes, includes ``big_int`` (2**70).
    ``binary=True`` (msgpack-safe): adds ``bytes`` and leaves out ``big_int``, because
    msgpack cannot carry ints beyond 64 bits (EncodeError(OverflowError)).
    """
    value = {
        "unicode": "h\u00e9llo \u2603 \U0001d11e",
        "nested": {"list": [1, [2, [3, None]]], "dict": {"a": {"b": []}}},
        "none": None,
        "int": 42,
        "int64_max": 2**63 - 1,
        "negative": -7,
        "float": -1.5,
        "true": True,
        "false": False,
    }
    if binary:
        value["bytes"] = b"\x00\x01\xfe\xff"
    else:
        value["big_int"] = 2**70
    return value
