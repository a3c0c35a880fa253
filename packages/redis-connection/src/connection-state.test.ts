import { describe, expect, it } from 'vitest';
import type { LogFields, Logger } from '@celeriac/protocol';
import { ConnectionState, type ConnectionStatus } from './connection-state.ts';

function recordingLogger(): Logger & { lines: [string, string, LogFields | undefined][] } {
  const lines: [string, string, LogFields | undefined][] = [];
  const at = (level: string) => (message: string, fields?: LogFields) => void lines.push([level, message, fields]);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('ConnectionState', () => {
  it('emits and logs every change in one place, and "reconnected" only on a second ready', () => {
    const logger = recordingLogger();
    const state = new ConnectionState('result-subscriber', logger);
    const seen: [ConnectionStatus, ConnectionStatus][] = [];
    let reconnected = 0;
    state.on('status', (next, previous) => seen.push([next, previous]));
    state.on('reconnected', () => reconnected++);
    for (const s of ['connecting', 'connect', 'ready', 'close', 'reconnecting', 'connecting', 'connect', 'ready'] as const) state.setStatus(s);
    expect(seen[0]).toEqual(['connecting', 'wait']);
    expect(seen).toHaveLength(8);
    expect(reconnected).toBe(1);
    expect(state.isReady).toBe(true);
    expect(logger.lines.every(([, , f]) => f?.['connection'] === 'result-subscriber')).toBe(true);
  });

  it('ignores repeats and anything after end', () => {
    const state = new ConnectionState('x');
    let count = 0;
    state.on('status', () => count++);
    state.setStatus('connecting');
    state.setStatus('connecting');
    state.setStatus('end', 'closed by close()');
    state.setStatus('ready');
    expect(count).toBe(2);
    expect(state.status).toBe('end');
  });
});
