// retrace dap: a Debug Adapter Protocol server for a recording, over stdio or a TCP port. It
// replays the recording under the debugger and can go backwards (src/inspect/dap/adapter.ts).
import * as net from 'node:net';

export interface DapOptions {
  recording: string | undefined;
  port: number | null;
}

export async function run(o: DapOptions): Promise<number> {
  if (o.recording !== undefined) {
    // a recording named on the command line must be readable before we serve: one line now, not a
    // failed launch later in the editor
    const { listTraces, rootProcess } = await import('./recording.js');
    const { TraceFile } = await import('../core/trace/reader.js');
    TraceFile.open(rootProcess(listTraces(o.recording)).file);
  }
  const { RetraceDebugSession } = await import('../inspect/dap/adapter.js');
  // Ended by the client or a signal: the replays it runs end with it (on 'exit').
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => process.exit(0));
  if (o.port === null) {
    const session = new RetraceDebugSession(o.recording);
    session.setRunAsServer(false);
    session.start(process.stdin, process.stdout);
    await new Promise<void>((resolve) => process.stdin.on('close', resolve).on('end', resolve));
    return 0;
  }
  const server = net.createServer((socket) => {
    const session = new RetraceDebugSession(o.recording);
    session.setRunAsServer(true);
    session.start(socket, socket);
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(o.port!, '127.0.0.1', () => resolve()));
  const address = server.address() as net.AddressInfo;
  process.stderr.write(`retrace dap: listening on 127.0.0.1:${address.port}\n`);
  await new Promise<void>(() => {});
  return 0;
}
