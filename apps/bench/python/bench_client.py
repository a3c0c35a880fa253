"""The Python Celery 5.2 producer side of the bench; prints one JSON line on stdout.

    bench_client.py enqueue loop N         apply_async in a loop (a producer from the pool per call)
    bench_client.py enqueue pool N         apply_async with one producer acquired from the pool
    bench_client.py roundtrip N INFLIGHT   apply_async + AsyncResult.get(); INFLIGHT > 1 sends
                                           waves of INFLIGHT and joins each with join_native

Configured like ``bench_tasks`` (``BENCH_BROKER_URL``, ``BENCH_RESULT_BACKEND``,
``BENCH_QUEUE``). Times exclude interpreter start-up and the first connection (one
warm-up message is sent, and consumed or deleted by the caller, before timing starts).
"""

import json
import sys
import time

from celery.result import ResultSet

from bench_tasks import app, noop


def enqueue(mode, n):
    # Warm up the connection pool: the first publish connects and declares the queue.
    noop.apply_async((-1,))
    started = time.perf_counter()
    if mode == "pool":
        with app.producer_or_acquire() as producer:
            for i in range(n):
                noop.apply_async((i,), producer=producer)
    else:
        for i in range(n):
            noop.apply_async((i,))
    return {"seconds": time.perf_counter() - started, "count": n, "warmup": 1}


def roundtrip(n, inflight):
    noop.apply_async((-1,)).get(timeout=30)
    latencies = []
    started = time.perf_counter()
    if inflight <= 1:
        for i in range(n):
            t0 = time.perf_counter()
            noop.apply_async((i,)).get(timeout=30)
            latencies.append((time.perf_counter() - t0) * 1000)
    else:
        done = 0
        while done < n:
            wave = min(inflight, n - done)
            sent_at = {}
            results = []
            for i in range(wave):
                t0 = time.perf_counter()
                r = noop.apply_async((done + i,))
                sent_at[r.id] = t0
                results.append(r)

            def arrived(task_id, _value, sent_at=sent_at):
                latencies.append((time.perf_counter() - sent_at[task_id]) * 1000)

            ResultSet(results).join_native(timeout=60, callback=arrived)
            done += wave
    return {"seconds": time.perf_counter() - started, "count": n, "latenciesMs": latencies}


def main(argv):
    if argv[1] == "enqueue":
        out = enqueue(argv[2], int(argv[3]))
    elif argv[1] == "roundtrip":
        out = roundtrip(int(argv[2]), int(argv[3]))
    else:
        raise SystemExit("usage: bench_client.py enqueue loop|pool N | roundtrip N INFLIGHT")
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
