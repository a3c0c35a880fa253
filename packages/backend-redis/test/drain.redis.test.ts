/**
 * An undrained subscriber is killed by Redis's pub/sub output-buffer limit (celery#6963,
 * matrix row 11). The consumer reads continuously, so ~50 MB of metas published to its
 * channels, by a process of its own while this test's event loop is busy-ish, never get it
 * disconnected.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createResultMeta, jsonSerializer } from '@celeriac/protocol';
import { clientList, startRedisServer, waitUntil } from '@celeriac/test-utils';
import { describe, expect, it } from 'vitest';
import { taskKey } from '../src/index.ts';
import { adminFor, backendFor, storeIndexed, taskIds } from './helpers.ts';

/** A publisher process: writes the RESP file to Redis 1 MB every 20 ms, counts the replies. */
const PUBLISHER = `
const [file, port, expected] = process.argv.slice(1);
const data = require('node:fs').readFileSync(file);
const socket = require('node:net').connect({ host: '127.0.0.1', port: Number(port) });
let offset = 0;
let replies = 0;
socket.on('data', (chunk) => {
  for (const byte of chunk) if (byte === 58) replies += 1; // ':' starts each PUBLISH reply
  if (replies >= Number(expected)) {
    console.log('replies ' + replies);
    socket.end();
  }
});
socket.on('connect', function next() {
  if (offset >= data.length) return;
  socket.write(data.subarray(offset, offset + 1048576));
  offset += 1048576;
  setTimeout(next, 20);
});
`;

/** RESP for one command. */
function resp(args: readonly (string | Buffer)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === 'string' ? Buffer.from(arg) : arg;
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Spins the CPU for `ms`, then yields once: a loop that is busy most of the time. */
async function busyFor(totalMs: number, sliceMs: number): Promise<void> {
  const end = performance.now() + totalMs;
  while (performance.now() < end) {
    const sliceEnd = performance.now() + sliceMs;
    while (performance.now() < sliceEnd) {
      // busy
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('slow subscriber', () => {
  it('survives ~50 MB of metas published while the event loop is busy-ish (no output-buffer kill, no reconnect)', async () => {
    await using server = await startRedisServer({ args: ['--client-output-buffer-limit', 'pubsub 32mb 8mb 60'] });
    await using admin = await adminFor(server.url);
    await using backend = backendFor(server.url);
    await using worker = backendFor(server.url);
    const ids = taskIds(100);
    const waits = ids.map((id) => backend.asyncResult<number>(id).get({ timeout: 25_000 }));
    await waitUntil(() => backend.consumer.stats().subscribed === ids.length);
    await waitUntil(async () => (await clientList(admin)).some((c) => c['name'] === 'celeriac:result-subscriber' && c['sub'] === '100'));
    const before = (await clientList(admin)).find((c) => c['name'] === 'celeriac:result-subscriber');

    // The control: a subscriber that never reads (Celery's client between two get() calls).
    const control = connect({ host: '127.0.0.1', port: server.port });
    await once(control, 'connect');
    control.write(resp(['CLIENT', 'SETNAME', 'undrained-control']));
    control.write(resp(['SUBSCRIBE', ...ids.map(taskKey)]));
    await waitUntil(async () => (await clientList(admin)).some((c) => c['name'] === 'undrained-control' && c['sub'] === '100'));
    control.pause();

    // 500 × ~100 KB PROGRESS metas (~50 MB), written by a process of its own at ~50 MB/s
    // (1 MB every 20 ms), whatever this event loop does.
    const payload = 'x'.repeat(100_000);
    const commands: Buffer[] = [];
    for (let i = 0; i < 500; i += 1) {
      const id = ids[i % ids.length] ?? '';
      const meta = createResultMeta({ taskId: id, status: 'PROGRESS', result: { i, payload } });
      commands.push(resp(['PUBLISH', taskKey(id), Buffer.from(jsonSerializer.encode(meta))]));
    }
    const file = join(server.dir, 'publish.resp');
    const data = Buffer.concat(commands);
    writeFileSync(file, data);
    expect(data.length).toBeGreaterThan(50_000_000);
    const publisher = spawn(process.execPath, ['-e', PUBLISHER, file, String(server.port), '500'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let publisherOutput = '';
    publisher.stdout.on('data', (chunk: Buffer) => {
      publisherOutput += chunk.toString();
    });
    const exited = once(publisher, 'exit');
    const started = performance.now();
    await busyFor(1_500, 20);
    const [code] = (await exited) as [number | null];
    expect(publisherOutput.trim()).toBe('replies 500');
    expect(code).toBe(0);

    await waitUntil(() => ids.every((id) => backend.asyncResult(id).state === 'PROGRESS'), { timeoutMs: 10_000 });
    // The undrained control was cut off by the server: the flood was big enough to kill.
    await waitUntil(async () => !(await clientList(admin)).some((c) => c['name'] === 'undrained-control'), { message: 'the control was cut off' });
    control.destroy();
    expect(server.logs().some((line) => line.includes('name=undrained-control') && line.includes('output buffer limits'))).toBe(true);
    await storeIndexed(worker, ids, ids);
    expect(await Promise.all(waits)).toEqual(ids.map((_, i) => i));
    const elapsed = performance.now() - started;

    const after = (await clientList(admin)).find((c) => c['name'] === 'celeriac:result-subscriber');
    expect(after?.['id']).toBe(before?.['id']); // the very same connection
    expect(backend.consumer.stats().reconnects).toBe(0);
    expect(server.logs().filter((line) => line.includes('name=celeriac:result-subscriber'))).toEqual([]);
    console.log(`50 MB drained: ${(data.length / 1e6).toFixed(1)} MB published and decoded in ${elapsed.toFixed(0)} ms, subscriber id ${String(after?.['id'])} unchanged`);
  });
});
