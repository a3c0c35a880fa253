import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createTcpProxy } from './tcp-proxy.ts';
import { waitUntil } from './wait-until.ts';

// No Redis: a local echo server that records whether it saw the client's FIN.
let echo: Server | undefined;
const serverSides: Socket[] = [];
let finsSeen = 0;

async function startEcho(): Promise<{ host: string; port: number }> {
  echo = createServer({ allowHalfOpen: true }, (socket) => {
    serverSides.push(socket);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('end', () => {
      finsSeen += 1;
      socket.end();
    });
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => echo?.listen(0, '127.0.0.1', resolve));
  const address = echo.address();
  return { host: '127.0.0.1', port: typeof address === 'object' && address !== null ? address.port : 0 };
}

afterEach(async () => {
  for (const socket of serverSides.splice(0)) socket.destroy();
  finsSeen = 0;
  await new Promise((resolve) => (echo ? echo.close(resolve) : resolve(undefined)));
});

function open(port: number): Promise<{ socket: Socket; received: () => string; ended: Promise<void> }> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {});
    const ended = new Promise<void>((done) => socket.once('end', () => done()));
    socket.once('connect', () => resolve({ socket, received: () => text, ended }));
  });
}

describe('TcpProxy without Redis', () => {
  it('keeps chunk order when the delay shrinks mid-stream', async () => {
    await using proxy = await createTcpProxy(await startEcho());
    const client = await open(proxy.port);
    proxy.delay(80);
    client.socket.write('1');
    await new Promise((resolve) => setTimeout(resolve, 10));
    proxy.delay(0);
    client.socket.write('2');
    await waitUntil(() => client.received().length === 2);
    expect(client.received()).toBe('12');
    client.socket.destroy();
  });

  it('forwards a FIN in pass mode and swallows it in blackhole mode', async () => {
    await using proxy = await createTcpProxy(await startEcho());
    const passing = await open(proxy.port);
    passing.socket.end();
    await passing.ended; // the server's FIN came back through the proxy
    expect(finsSeen).toBe(1);

    const hung = await open(proxy.port);
    hung.socket.write('x');
    await waitUntil(() => hung.received() === 'x');
    proxy.setMode('blackhole');
    hung.socket.write('y');
    hung.socket.end();
    await waitUntil(() => proxy.droppedToServer === 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(finsSeen).toBe(1); // the server never heard of it
    expect(hung.received()).toBe('x');
    proxy.setMode('pass');
    expect(proxy.connections).toBe(0); // the client half-closed
    await proxy.close();
    await waitUntil(() => hung.socket.destroyed);
  });
});
