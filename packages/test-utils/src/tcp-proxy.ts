import { connect, createServer, type Server, type Socket } from 'node:net';

/*
 * A TCP proxy for network faults between a client and Redis (or anything else).
 *
 * Each accepted client socket gets its own upstream socket; bytes are forwarded chunk by
 * chunk (never `pipe()`), so every chunk can be delayed, discarded, or turned into a cut.
 * Both sockets are half-open capable: a FIN is forwarded as a FIN, an error as an RST.
 *
 * Faults are sticky per connection, because a byte stream cannot resume mid-way:
 * - a connection that was open (or opened) while the mode was `blackhole` stays silent
 *   forever, in both directions, even after `setMode('pass')`: no data, no FIN, no RST
 *   (a peer that vanished, a NAT entry that was dropped). Only a new connection works again.
 * - a connection that had a reply discarded in `drop-replies` never gets another
 *   server->client byte (its next reply would be matched to the lost one); requests keep
 *   flowing to the server.
 * The proxy's kernel still answers TCP keepalive probes for such a connection, so only an
 * application-level timeout can notice the hang, not SO_KEEPALIVE.
 */

/** What the proxy does with the bytes it receives. */
export type TcpProxyMode = 'pass' | 'blackhole' | 'drop-replies';

/** A running TCP proxy. Close it with `await using` or `close()`. */
export interface TcpProxy extends AsyncDisposable {
  /** The port it listens on (127.0.0.1). */
  readonly port: number;
  /** Where it forwards to. */
  readonly target: { readonly host: string; readonly port: number };
  /** Live client connections (neither closed nor half-closed by the client). */
  readonly connections: number;
  /** The current mode. */
  readonly mode: TcpProxyMode;
  /** Bytes delivered to the server, all connections together. */
  readonly bytesToServer: number;
  /** Bytes delivered to clients, all connections together. */
  readonly bytesToClient: number;
  /** Client->server bytes discarded (blackhole). */
  readonly droppedToServer: number;
  /** Server->client bytes discarded (blackhole, drop-replies, a cut). */
  readonly droppedToClient: number;
  /**
   * `redis://127.0.0.1:<port>[/<db>]`.
   *
   * @param db - database number to put in the path
   * @returns the URL of the proxy
   */
  url(db?: number): string;
  /**
   * Switches the mode for all traffic from now on:
   * `pass` forwards both ways; `blackhole` forwards nothing either way and keeps every
   * socket open (a hung network: no FIN, no RST), and every connection open at that moment
   * or accepted during it stays dead for good; `drop-replies` forwards client->server and
   * discards server->client bytes (lost replies; such a connection never gets replies
   * again).
   *
   * @param mode - the new mode
   */
  setMode(mode: TcpProxyMode): void;
  /**
   * Delays every chunk, both ways, by `ms` from when the proxy received it (order kept).
   *
   * @param ms - 0 (the default) for none
   */
  delay(ms: number): void;
  /** Destroys every current connection with an RST, to the client and to the server. */
  cutAll(): void;
  /**
   * One shot: the next server->client chunk for which `predicate` is true is not forwarded,
   * and its connection is reset on both sides (the server ran the command, the client
   * never hears back). Chunks are TCP reads: one reply may span chunks and one chunk may
   * hold several replies.
   *
   * @param predicate - tested on each server->client chunk of a live connection
   * @returns the matching chunk, once the cut happened (never settles if none matches)
   */
  cutAfterServerBytes(predicate: (chunk: Buffer) => boolean): Promise<Buffer>;
  /** Stops listening and resets every connection. Idempotent. */
  close(): Promise<void>;
}

const END = Symbol('end');
type Item = Buffer | typeof END;

interface Queued {
  readonly item: Item;
  readonly at: number;
}

interface Cut {
  readonly predicate: (chunk: Buffer) => boolean;
  readonly resolve: (chunk: Buffer) => void;
  readonly reject: (error: unknown) => void;
}

function reset(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/** One client connection and its upstream connection. */
class Link {
  /** Silent forever (blackhole). */
  frozen = false;
  /** A reply was discarded: no more server->client bytes. */
  repliesLost = false;
  readonly #queues = { toServer: [] as Queued[], toClient: [] as Queued[] };
  readonly #timers: { toServer?: NodeJS.Timeout; toClient?: NodeJS.Timeout } = {};

  constructor(
    readonly proxy: TcpProxyImpl,
    readonly client: Socket,
    readonly server: Socket,
  ) {}

  get closed(): boolean {
    return this.client.destroyed && this.server.destroyed;
  }

  receive(direction: 'toServer' | 'toClient', item: Item): void {
    const queue = this.#queues[direction];
    const delayMs = this.proxy.delayMs;
    if (delayMs <= 0 && queue.length === 0) {
      this.#deliver(direction, item);
      return;
    }
    queue.push({ item, at: performance.now() + delayMs });
    this.#schedule(direction);
  }

  #schedule(direction: 'toServer' | 'toClient'): void {
    if (this.#timers[direction] !== undefined) return;
    const head = this.#queues[direction][0];
    if (head === undefined) return;
    this.#timers[direction] = setTimeout(
      () => {
        this.#timers[direction] = undefined;
        const queue = this.#queues[direction];
        const now = performance.now();
        while (queue[0] !== undefined && queue[0].at <= now) {
          const next = queue.shift();
          if (next !== undefined) this.#deliver(direction, next.item);
        }
        this.#schedule(direction);
      },
      Math.max(0, head.at - performance.now()),
    );
  }

  #deliver(direction: 'toServer' | 'toClient', item: Item): void {
    const proxy = this.proxy;
    const [from, to] = direction === 'toServer' ? [this.client, this.server] : [this.server, this.client];
    if (to.destroyed) return;
    if (item === END) {
      if (!this.frozen) to.end();
      return;
    }
    if (this.frozen || proxy.mode === 'blackhole') {
      this.frozen = true;
      proxy.drop(direction, item.length);
      return;
    }
    if (direction === 'toClient') {
      if (proxy.takeCut(item)) {
        proxy.drop(direction, item.length);
        this.cut();
        return;
      }
      if (this.repliesLost || proxy.mode === 'drop-replies') {
        this.repliesLost = true;
        proxy.drop(direction, item.length);
        return;
      }
    }
    proxy.count(direction, item.length);
    if (!to.write(item) && !from.isPaused()) {
      from.pause();
      to.once('drain', () => from.resume());
    }
  }

  /** RST both sides, drop whatever is still queued. */
  cut(): void {
    clearTimeout(this.#timers.toServer);
    clearTimeout(this.#timers.toClient);
    this.#queues.toServer.length = 0;
    this.#queues.toClient.length = 0;
    reset(this.client);
    reset(this.server);
  }

  /** One side closed: tell the other, unless this connection is blackholed. */
  onClose(other: Socket, hadError: boolean): void {
    if (this.frozen || other.destroyed) return;
    if (hadError) {
      this.cut();
      return;
    }
    // A clean close after both FINs: let queued bytes (delay) go out, then close.
    const direction = other === this.server ? 'toServer' : 'toClient';
    this.receive(direction, END);
  }
}

class TcpProxyImpl implements TcpProxy {
  readonly target: { readonly host: string; readonly port: number };
  readonly #server: Server;
  readonly #links = new Set<Link>();
  readonly #cuts: Cut[] = [];
  #mode: TcpProxyMode = 'pass';
  #closing: Promise<void> | undefined;
  port = 0;
  delayMs = 0;
  bytesToServer = 0;
  bytesToClient = 0;
  droppedToServer = 0;
  droppedToClient = 0;

  constructor(target: { readonly host: string; readonly port: number }) {
    this.target = { host: target.host, port: target.port };
    this.#server = createServer({ allowHalfOpen: true }, (client) => this.#accept(client));
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(0, '127.0.0.1', () => {
        this.#server.off('error', reject);
        const address = this.#server.address();
        if (typeof address === 'object' && address !== null) this.port = address.port;
        resolve();
      });
    });
  }

  #accept(client: Socket): void {
    const server = connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true });
    client.setNoDelay(true);
    server.setNoDelay(true);
    const link = new Link(this, client, server);
    if (this.#mode === 'blackhole') link.frozen = true;
    this.#links.add(link);
    client.on('data', (chunk: Buffer) => link.receive('toServer', chunk));
    server.on('data', (chunk: Buffer) => link.receive('toClient', chunk));
    client.on('end', () => link.receive('toServer', END));
    server.on('end', () => link.receive('toClient', END));
    // Errors (ECONNRESET, ECONNREFUSED) surface as 'close' with hadError.
    client.on('error', () => {});
    server.on('error', () => {});
    client.on('close', (hadError) => {
      link.onClose(server, hadError);
      if (link.closed) this.#links.delete(link);
    });
    server.on('close', (hadError) => {
      link.onClose(client, hadError);
      if (link.closed) this.#links.delete(link);
    });
  }

  get connections(): number {
    let n = 0;
    // A client that sent its FIN is gone even if a blackholed link keeps our side open.
    for (const link of this.#links) if (!link.client.destroyed && !link.client.readableEnded) n += 1;
    return n;
  }

  get mode(): TcpProxyMode {
    return this.#mode;
  }

  url(db?: number): string {
    return `redis://127.0.0.1:${this.port}${db === undefined ? '' : `/${db}`}`;
  }

  setMode(mode: TcpProxyMode): void {
    this.#mode = mode;
    if (mode === 'blackhole') for (const link of this.#links) link.frozen = true;
  }

  delay(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) {
      throw new RangeError(`TcpProxy.delay: expected milliseconds >= 0, received ${String(ms)}`);
    }
    this.delayMs = ms;
  }

  count(direction: 'toServer' | 'toClient', bytes: number): void {
    if (direction === 'toServer') this.bytesToServer += bytes;
    else this.bytesToClient += bytes;
  }

  drop(direction: 'toServer' | 'toClient', bytes: number): void {
    if (direction === 'toServer') this.droppedToServer += bytes;
    else this.droppedToClient += bytes;
  }

  /** Whether a pending cutAfterServerBytes matches this chunk (and consumes it). */
  takeCut(chunk: Buffer): boolean {
    const cut = this.#cuts[0];
    if (cut === undefined) return false;
    let matched: boolean;
    try {
      matched = cut.predicate(chunk);
    } catch (error) {
      this.#cuts.shift();
      cut.reject(error);
      return false;
    }
    if (!matched) return false;
    this.#cuts.shift();
    // Resolve after the reset, so the awaiting test sees the connection gone.
    setImmediate(() => cut.resolve(chunk));
    return true;
  }

  cutAll(): void {
    for (const link of this.#links) link.cut();
  }

  cutAfterServerBytes(predicate: (chunk: Buffer) => boolean): Promise<Buffer> {
    return new Promise((resolve, reject) => this.#cuts.push({ predicate, resolve, reject }));
  }

  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.cutAll();
    });
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Starts a TCP proxy on a free 127.0.0.1 port in front of `target`, in `pass` mode. Point
 * the client under test at {@link TcpProxy.url}, and talk to Redis directly to check what
 * really happened.
 *
 * @param target - where to forward (e.g. `{ host: '127.0.0.1', port: server.port }`)
 * @returns the listening proxy; `await using` closes it
 */
export async function createTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const proxy = new TcpProxyImpl(target);
  await proxy.listen();
  return proxy;
}
