/**
 * Child-process entry for the physical limit: one raw `ws` stream of 64 KiB binary messages
 * between two processes, no protocol, no encoding. One process serves (`listen`), the other
 * receives (`receive`); the sender keeps at most the same 4 MiB buffered as a Cattail session.
 */
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { serveIpc } from './ipc.ts';

const MESSAGE_BYTES = 64 * 1024;
const HIGH_WATER_MARK = 4 * 1024 * 1024;

function listen(totalBytes: number): Promise<number> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  const payload = Buffer.alloc(MESSAGE_BYTES, 0x5a);
  wss.on('connection', (ws) => {
    let sent = 0;
    const pump = () => {
      while (sent < totalBytes && ws.bufferedAmount < HIGH_WATER_MARK) {
        sent += payload.length;
        ws.send(payload, { binary: true }, sent >= totalBytes || ws.bufferedAmount + payload.length >= HIGH_WATER_MARK ? pump : undefined);
      }
    };
    pump();
  });
  return new Promise((resolve) => wss.on('listening', () => resolve((wss.address() as AddressInfo).port)));
}

function receive(port: number, totalBytes: number): Promise<{ bytes: number; seconds: number }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
    let bytes = 0;
    let started = 0;
    ws.on('open', () => {
      started = performance.now();
    });
    ws.on('message', (data: Buffer) => {
      bytes += data.length;
      if (bytes >= totalBytes) {
        const seconds = (performance.now() - started) / 1000;
        ws.terminate();
        resolve({ bytes, seconds });
      }
    });
    ws.on('error', reject);
  });
}

if (import.meta.main) {
  serveIpc({
    listen: (a: { totalBytes: number }) => listen(a.totalBytes),
    receive: (a: { port: number; totalBytes: number }) => receive(a.port, a.totalBytes),
  });
}
