import { connect, type NetConnectOpts, type Socket } from 'node:net';

/*
 * A few bytes of RESP over a bare socket, for what ioredis does badly or not at all here:
 * a PING that must not reconnect or queue, a SHUTDOWN whose answer is a closed socket, and
 * MONITOR lines (ioredis splits them on `" "` and never unescapes `\xHH`).
 */

/** What one raw command got back. */
export type RawReply =
  | { readonly kind: 'line'; readonly line: string }
  | { readonly kind: 'closed' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'error'; readonly error: Error };

/**
 * Encodes a command as a RESP array of bulk strings.
 *
 * @param args - the command and its arguments
 * @returns the bytes to write
 */
export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, 'utf8');
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/**
 * Sends one command on a fresh connection and returns the first reply line (`+PONG`,
 * `-ERR …`, `:1`; a bulk reply yields only its `$<len>` header), or how it failed.
 * Never throws.
 *
 * @param target - where to connect (`{ port, host }` or `{ path }`)
 * @param args - the command
 * @param timeoutMs - give up (and destroy the socket) after this long
 * @returns the reply, `closed` (the server hung up first), `timeout` or `error`
 */
export function rawCommand(
  target: NetConnectOpts,
  args: readonly string[],
  timeoutMs: number,
): Promise<RawReply> {
  return new Promise((resolve) => {
    let buffered = '';
    const socket: Socket = connect(target);
    const finish = (reply: RawReply): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const end = buffered.indexOf('\r\n');
      if (end >= 0) finish({ kind: 'line', line: buffered.slice(0, end) });
    });
    socket.on('error', (error) => finish({ kind: 'error', error }));
    socket.on('close', () => finish({ kind: 'closed' }));
  });
}
