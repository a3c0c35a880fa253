/**
 * A JavaScript stack as a Python traceback string, the form Celery stores in a meta's
 * `traceback` field (Python clients print it as is, Flower shows it).
 *
 * @module
 */
import { encodeException, pyRepr } from '@celeriac/protocol';

const FRAME_RE = /^\s*at (?:(?<fn>.+?) \()?(?<file>.+?):(?<line>\d+):(?<column>\d+)\)?$/;

/**
 * Formats a thrown value like Python's `traceback.format_exc()`: the frames oldest first
 * (JavaScript lists them newest first), then `<module>.<Type>: <message>`.
 *
 * @param error - what the task threw
 * @returns e.g. `Traceback (most recent call last):\n  File "/app/tasks.js", line 12, in fail\nInteropError: boom\n`
 */
export function formatTraceback(error: unknown): string {
  const info = encodeException(error);
  const frames: string[] = [];
  const stack = error instanceof Error && typeof error.stack === 'string' ? error.stack : '';
  for (const line of stack.split('\n')) {
    const m = FRAME_RE.exec(line);
    if (m?.groups === undefined) continue;
    const { fn, file, line: lineNo } = m.groups;
    frames.push(`  File "${file ?? '?'}", line ${lineNo ?? '?'}, in ${fn ?? '<module>'}\n`);
  }
  frames.reverse();
  const text = info.exc_message.length === 1 && typeof info.exc_message[0] === 'string'
    ? info.exc_message[0]
    : info.exc_message.map((m) => (typeof m === 'string' ? m : pyRepr(m))).join(', ');
  const qualified = info.exc_module === 'builtins' ? info.exc_type : `${info.exc_module}.${info.exc_type}`;
  return `Traceback (most recent call last):\n${frames.join('')}${qualified}${text === '' ? '' : `: ${text}`}\n`;
}
