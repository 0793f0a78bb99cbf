// The debugger thread of `retrace dap`: a worker connected to the program thread's V8 inspector
// (inspector.Session#connectToMainThread), relaying Chrome DevTools Protocol commands from the
// adapter and the inspector's replies and events back, as JSON lines over two pipes. It tags every
// event with the number of the last recorded event the replay consumed, and writes what the
// adapter asks into the array it shares with the program's thread (hook.ts).
import * as fs from 'node:fs';
import { Session } from 'node:inspector';
import * as net from 'node:net';
import { workerData } from 'node:worker_threads';
import { DAP_IN_FD, DAP_OUT_FD, Slot, type FromWorker, type ToWorker } from './protocol.js';

const { shared } = workerData as { shared: Int32Array };
const session = new Session();
session.connectToMainThread();

function send(message: FromWorker): void {
  fs.writeSync(DAP_OUT_FD, `${JSON.stringify(message)}\n`);
}

session.on('inspectorNotification', (message: { method: string; params?: unknown }) => {
  if (message.method === 'Debugger.scriptParsed') {
    // Node's own scripts are many and never the program's: only scripts from files matter.
    const p = message.params as { scriptId: string; url: string; sourceMapURL?: string };
    if (!p.url || p.url.startsWith('node:')) return;
    send({ method: message.method, params: { scriptId: p.scriptId, url: p.url, sourceMapURL: p.sourceMapURL ?? '' }, event: Atomics.load(shared, Slot.Event) });
    return;
  }
  send({ method: message.method, params: message.params ?? {}, event: Atomics.load(shared, Slot.Event) });
});

function onMessage(m: ToWorker): void {
  if ('type' in m) {
    if (m.type === 'go') {
      Atomics.store(shared, Slot.State, 3);
      Atomics.notify(shared, Slot.State);
    } else if (m.type === 'shared') {
      for (const [slot, value] of m.set) Atomics.store(shared, slot, value);
      send({ id: m.id, result: {} });
    } else if (m.type === 'read') {
      send({ id: m.id, result: m.slots.map((slot) => Atomics.load(shared, slot)) });
    }
    return;
  }
  session.post(m.method, m.params ?? {}, (err, result) => send(err ? { id: m.id, error: err.message } : { id: m.id, result }));
}

const input = new net.Socket({ fd: DAP_IN_FD, readable: true, writable: false });
let pending = '';
input.setEncoding('utf8');
input.on('data', (chunk: string) => {
  pending += chunk;
  let nl: number;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl);
    pending = pending.slice(nl + 1);
    if (line) onMessage(JSON.parse(line) as ToWorker);
  }
});
// The adapter is gone: so is the reason to replay.
input.on('close', () => {
  Atomics.store(shared, Slot.State, 2);
  Atomics.notify(shared, Slot.State);
  process.exit(0);
});

session.post('Debugger.enable', {}, (err) => {
  if (err) {
    send({ type: 'error', message: `the debugger could not be set up: ${err.message}` });
    Atomics.store(shared, Slot.State, 2);
    Atomics.notify(shared, Slot.State);
    return;
  }
  Atomics.store(shared, Slot.State, 1);
  Atomics.notify(shared, Slot.State);
  send({ type: 'ready' });
});
