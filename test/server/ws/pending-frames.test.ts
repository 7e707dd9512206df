import { connect } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { eventually, Peer, startTestRuntime, type TestRuntime } from './harness.ts';

// Unfinished WebSocket frames count against one budget per replica: clients that each begin a
// large message and never finish it cannot together hold more than wsMaxPendingBytes.

let runtime: TestRuntime;
beforeAll(async () => {
  runtime = await startTestRuntime({ wsMaxPendingBytes: 256 * 1024 });
});
afterAll(async () => {
  await runtime?.close();
});

/** A raw WebSocket that announces a 900 KB text frame and sends only its first `bytes`. */
async function partialFrame(bytes: number) {
  const { port } = new URL(runtime.url);
  const socket = connect(Number(port), '127.0.0.1');
  socket.on('error', () => {});
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await eventually(() => text.includes('"welcome"'), 10_000, 'the welcome');
  const length = 900 * 1024;
  const header = Buffer.alloc(14);
  header[0] = 0x81; // FIN, text
  header[1] = 0x80 | 127; // masked, 64-bit length
  header.writeBigUInt64BE(BigInt(length), 2);
  header.writeUInt32BE(0x01020304, 10); // mask
  socket.write(Buffer.concat([header, Buffer.alloc(bytes, 0x20)]));
  /** The status code of the server's close frame (opcode 0x8, unmasked, code first), if one came. */
  const closeCode = () => {
    const bytes = Buffer.from(text, 'latin1');
    const at = bytes.lastIndexOf(0x88);
    return at >= 0 && bytes.length >= at + 4 ? bytes.readUInt16BE(at + 2) : undefined;
  };
  return { socket, closed, closeCode };
}

it('closes the connection holding the most unfinished bytes with 1013 once over the budget', async () => {
  const first = await partialFrame(100 * 1024);
  const second = await partialFrame(180 * 1024); // 280 KB > 256 KB: the largest holder goes
  await Promise.race([second.closed, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  expect(second.socket.destroyed).toBe(true);
  expect(second.closeCode()).toBe(1013);
  expect(first.socket.destroyed).toBe(false);
  // The budget has room again: a new client is served.
  const peer = await Peer.connect(runtime.wsUrl);
  expect(await peer.request({ type: 'ping' })).toMatchObject({ type: 'pong' });
  await peer.close();
  first.socket.destroy();
});
