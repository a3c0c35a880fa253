import type { ChildProcess } from 'node:child_process';

/*
 * Safety net for the Python processes these helpers start: if a test forgets to stop one,
 * or fails before it can, the process is killed when this Node process ends. vitest's forks
 * pool ends a test file's process with SIGTERM (SIGKILL 500 ms later), which skips 'exit'
 * listeners, so SIGTERM/SIGINT/SIGHUP are handled too and then re-raised. Against SIGKILL
 * only the kernel helps: python/tasks.py sets PR_SET_PDEATHSIG from CELERIAC_PARENT_PID.
 * Children are spawned `detached`, so each leads its own process group and a group kill
 * also reaches prefork pool processes.
 */

const live = new Set<ChildProcess>();
let hooked = false;

/**
 * Sends a signal to a child's whole process group (falling back to the child alone).
 *
 * @param child - a child spawned with `detached: true`
 * @param signal - the signal
 */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function killAll(): void {
  for (const child of live) signalGroup(child, 'SIGKILL');
  live.clear();
}

function onSignal(signal: NodeJS.Signals): void {
  killAll();
  // Keep the signal's usual effect: when nobody else listens, die of it as if unhandled.
  process.off(signal, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/**
 * Registers a child to be SIGKILLed when this process exits or is told to (SIGTERM,
 * SIGINT, SIGHUP), unless the child exits first.
 *
 * @param child - the spawned child
 */
export function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (hooked) return;
  hooked = true;
  process.on('exit', killAll);
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.once(signal, onSignal);
}
