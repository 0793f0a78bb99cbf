// stdin: what the program reads from process.stdin. Record taps the real stream where data enters
// it (Readable#push, called from the event loop); replay gives the program a stream that receives
// the recorded chunks in their recorded turns.
import { Readable } from 'node:stream';
import type { Boundary } from './boundary.js';
import type { Engine } from '../core/engine.js';
import { Shape } from '../core/trace/format.js';

export const stdinBoundary: Boundary = {
  name: 'stdin',
  install(engine: Engine) {
    const desc = Object.getOwnPropertyDescriptor(process, 'stdin');
    if (!desc?.get) return;
    const getReal = desc.get;
    const openCh = engine.channel('stdin.open', Shape.Request);
    const ttyCh = engine.channel('stdin.isTTY', Shape.Value);
    let stream: NodeJS.ReadStream | undefined;

    Object.defineProperty(process, 'stdin', {
      configurable: true,
      enumerable: desc.enumerable ?? false,
      get() {
        if (stream) return stream;
        if (engine.recording) {
          const live = getReal.call(process) as NodeJS.ReadStream;
          engine.value(ttyCh, () => !!live.isTTY);
          const reqId = engine.request(openCh, []);
          const push = live.push;
          live.push = function (chunk: unknown, encoding?: BufferEncoding) {
            engine.deliver(reqId, chunk === null ? null : Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk), encoding));
            return push.call(this, chunk, encoding);
          };
          stream = live;
          return stream;
        }
        const isTTY = engine.value(ttyCh, () => false);
        const reqId = engine.request(openCh, []);
        stream = replayStdin(engine, reqId, isTTY);
        return stream;
      },
    });
  },
};

function replayStdin(engine: Engine, reqId: number, isTTY: boolean): NodeJS.ReadStream {
  const readable = new Readable({ read() {} }) as Readable & { fd: number; isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  readable.fd = 0;
  if (isTTY) {
    readable.isTTY = true;
    readable.setRawMode = () => readable;
  }
  engine.expect(reqId, (payload) => {
    readable.push(payload as Buffer | null);
    if (payload === null) engine.forget(reqId);
  }, true);
  return readable as unknown as NodeJS.ReadStream;
}
