import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createJsonLogger, parseLogLevel } from './json-logger.ts';
import { loadApp } from './load-app.ts';
import { ExitCode, runCli, type CliIo } from './run-cli.ts';

function capture(): CliIo & { out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env: {},
    out: () => out,
    err: () => err,
  };
}

describe('runCli', () => {
  it('prints help (exit 0) and usage errors (exit 2) without touching Redis', async () => {
    let io = capture();
    expect(await runCli(['--help'], io)).toBe(ExitCode.OK);
    expect(io.out()).toContain('Usage: celeriac <command>');
    io = capture();
    expect(await runCli([], io)).toBe(ExitCode.USAGE);
    for (const command of ['worker', 'beat', 'call', 'purge', 'result', 'inspect']) {
      io = capture();
      expect(await runCli([command, '--help'], io)).toBe(ExitCode.OK);
      expect(io.out()).toContain(`Usage: celeriac ${command}`);
    }
    const usage: string[][] = [
      ['nope'],
      ['worker'],
      ['worker', '-A', 'x.js', '--concurrency', '0'],
      ['worker', '-A', 'x.js', '--loglevel', 'loud'],
      ['beat'],
      ['beat', '-A', 'x.js', '--loglevel', 'loud'],
      ['beat', '-A', 'x.js', '--max-interval', '0'],
      ['beat', '-A', 'x.js', '--max-interval', 'soon'],
      ['beat', 'extra', '-A', 'x.js'],
      ['beat', '-A', 'x.js', '--queues', 'q'],
      ['call'],
      ['call', 'tasks.add', '--args', '{"not": "an array"}', '--broker', 'redis://127.0.0.1:1'],
      ['call', 'tasks.add', '--kwargs', '[1]', '--broker', 'redis://127.0.0.1:1'],
      ['call', 'tasks.add', '--countdown', 'soon'],
      ['call', 'tasks.add'],
      ['result'],
      ['inspect', 'shutdown'],
      ['call', 'tasks.add', '--bogus'],
    ];
    for (const args of usage) {
      io = capture();
      expect(await runCli(args, io), args.join(' ')).toBe(ExitCode.USAGE);
      expect(io.err()).toMatch(/^celeriac/);
    }
  });

  it('beat: refuses an app that cannot send, and a bad beat_schedule, before touching Redis (exit 1)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'celeriac-beat-cli-'));
    try {
      // Apps as loadApp sees them (conf, tasks, broker), without importing any package.
      const base = "conf: { broker_url: 'redis://127.0.0.1:1/0', beat_schedule: { e: { task: 't', schedule: -1 } } }, tasks: { get() {} }, broker: {}, close: async () => {}";
      writeFileSync(join(dir, 'no-send.mjs'), `export default { ${base} };\n`);
      writeFileSync(join(dir, 'bad-schedule.mjs'), `export default { ${base}, sendTask() { throw new Error('no'); } };\n`);
      let io = capture();
      expect(await runCli(['beat', '-A', join(dir, 'no-send.mjs')], io)).toBe(ExitCode.FAILED);
      expect(io.err()).toMatch(/^celeriac beat: Expected the app of .* to have sendTask/);
      io = capture();
      expect(await runCli(['beat', '-A', join(dir, 'bad-schedule.mjs')], io)).toBe(ExitCode.FAILED);
      expect(io.err()).toMatch(/^celeriac beat: beat_schedule\["e"\]: schedule must be a number of seconds > 0, got -1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints the version', async () => {
    const io = capture();
    expect(await runCli(['--version'], io)).toBe(ExitCode.OK);
    expect(io.out()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('loadApp', () => {
  const fixture = fileURLToPath(new URL('../test/fixtures/pool-tasks.mjs', import.meta.url));

  it('rejects a module without an app, naming what it exports', async () => {
    await expect(loadApp(fixture)).rejects.toThrow(/default export or an export named "app".*got exports: app/);
    await expect(loadApp(`${fixture}:missing`)).rejects.toThrow(/export named "missing"/);
    await expect(loadApp('./does-not-exist.js')).rejects.toMatchObject({ code: 'INVALID_CONFIG' });
  });
});

describe('createJsonLogger', () => {
  it('writes JSON lines at or above its level', () => {
    const lines: string[] = [];
    const logger = createJsonLogger({ level: parseLogLevel('WARNING') ?? 'info', stream: { write: (l: string) => lines.push(l) }, base: { hostname: 'h' } });
    logger.info('hidden');
    logger.warn('shown', { big: 2n ** 70n, error: new Error('e') });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] ?? '')).toMatchObject({ level: 'warn', msg: 'shown', hostname: 'h', big: '1180591620717411303424', error: { message: 'e' } });
    expect(parseLogLevel('critical')).toBe('error');
    expect(parseLogLevel('nope')).toBeUndefined();
  });
});
