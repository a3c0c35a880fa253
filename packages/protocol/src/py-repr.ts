/**
 * A small Python `repr` for `argsrepr` / `kwargsrepr`, so Flower and `celery inspect` show
 * TypeScript-sent tasks as they show Python ones. Display only: nothing parses it.
 *
 * @module
 */

/** Celery's saferepr limit for argsrepr/kwargsrepr. */
export const REPR_MAX_LENGTH = 1024;

/**
 * @param value - a wire value
 * @param maxLength - truncate to this many characters (Celery: 1024)
 * @param asTuple - show a top-level array as a Python tuple (`(2, 'x', None)`)
 * @returns the Python-style representation, e.g. `[2, 'x', None]`
 */
export function pyRepr(value: unknown, maxLength = REPR_MAX_LENGTH, asTuple = false): string {
  const out: string[] = [];
  let size = 0;
  const push = (s: string): boolean => {
    out.push(s);
    size += s.length;
    return size <= maxLength;
  };
  const seen = new Set<unknown>();
  const walk = (v: unknown, tuple = false): boolean => {
    if (v === null || v === undefined) return push('None');
    switch (typeof v) {
      case 'boolean':
        return push(v ? 'True' : 'False');
      case 'bigint':
        return push(v.toString());
      case 'number':
        return push(pyFloatOrInt(v));
      case 'string':
        return push(pyStr(v));
      default:
        break;
    }
    if (seen.has(v)) return push('...');
    if (v instanceof Uint8Array) return push(pyBytes(v));
    if (v instanceof Date) return push(`'${v.toISOString()}'`);
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        if (!push(tuple ? '(' : '[')) return false;
        for (let i = 0; i < v.length; i++) {
          if (i > 0 && !push(', ')) return false;
          if (!walk(v[i])) return false;
        }
        return push(tuple && v.length === 1 ? ',)' : tuple ? ')' : ']');
      }
      if (typeof v === 'object') {
        if (!push('{')) return false;
        let first = true;
        for (const [k, item] of Object.entries(v)) {
          if (!first && !push(', ')) return false;
          first = false;
          if (!push(`${pyStr(k)}: `) || !walk(item)) return false;
        }
        return push('}');
      }
      return push(pyStr(Object.prototype.toString.call(v)));
    } finally {
      seen.delete(v);
    }
  };
  walk(value, asTuple);
  const text = out.join('');
  return text.length > maxLength ? `${text.slice(0, maxLength - 3)}...` : text;
}

/**
 * @param args - positional arguments
 * @returns their repr as a Python tuple
 */
export function argsRepr(args: readonly unknown[]): string {
  return pyRepr(args, REPR_MAX_LENGTH, true);
}

/**
 * @param kwargs - keyword arguments
 * @returns their repr as a Python dict
 */
export function kwargsRepr(kwargs: Readonly<Record<string, unknown>>): string {
  return pyRepr(kwargs);
}

function pyFloatOrInt(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
  return String(n);
}

function pyStr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let body = '';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\\') body += '\\\\';
    else if (ch === quote) body += `\\${quote}`;
    else if (ch === '\n') body += '\\n';
    else if (ch === '\r') body += '\\r';
    else if (ch === '\t') body += '\\t';
    else if (code < 0x20 || code === 0x7f) body += `\\x${code.toString(16).padStart(2, '0')}`;
    else body += ch;
  }
  return `${quote}${body}${quote}`;
}

function pyBytes(bytes: Uint8Array): string {
  let body = '';
  for (const b of bytes) {
    if (b === 0x5c) body += '\\\\';
    else if (b === 0x27) body += "\\'";
    else if (b >= 0x20 && b < 0x7f) body += String.fromCharCode(b);
    else body += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return `b'${body}'`;
}
