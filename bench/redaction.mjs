// What redaction adds to recording, per HTTP exchange: the socket redactors (src/redaction/stream.ts)
// run over typical request and response chunks, as the recorder runs them on each read and write.
// Prints the median thread CPU per request/response pair over batches, for a few kinds of traffic,
// next to the same with nothing to parse (a stream of another protocol). Run after `npm run build`:
//   node bench/redaction.mjs
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const dist = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'src', 'redaction');
const { SocketRedactor } = await import(path.join(dist, 'stream.js'));
const { SecretTable } = await import(path.join(dist, 'secrets.js'));
const { RedactionRules } = await import(path.join(dist, 'rules.js'));

const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Tue, 08 Dec 2026 00:53:39 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 2\r\n\r\nok');
const jsonBody = '{"name":"widget","password":"hunter2hunter2","items":[1,2,3,4],"note":"a longer string value"}';
const cases = {
  'GET, small response': [Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1:3000\r\nConnection: keep-alive\r\nUser-Agent: autocannon\r\nAccept: */*\r\n\r\n'), response],
  'POST with Authorization and a JSON body': [Buffer.from(`POST /items HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abcdefghijklmnop\r\nContent-Type: application/json\r\nContent-Length: ${jsonBody.length}\r\n\r\n${jsonBody}`), response],
  'another protocol (passed after its first bytes)': [Buffer.from('\x16\x03\x01\x02\x00'.padEnd(200, 'x')), Buffer.from('\x16\x03\x03'.padEnd(200, 'y'))],
};

const BATCHES = 7;
const N = 50_000;
const rows = [];
for (const [label, [received, sent]] of Object.entries(cases)) {
  const r = new SocketRedactor(new SecretTable(), new RedactionRules({}));
  const perPair = [];
  for (let b = 0; b <= BATCHES; b++) {
    const start = process.threadCpuUsage();
    for (let i = 0; i < N; i++) {
      r.redactReceived(received);
      r.redactSent(sent);
    }
    const used = process.threadCpuUsage(start);
    if (b > 0) perPair.push(((used.user + used.system) * 1000) / N); // the first batch warms the JIT up
  }
  perPair.sort((a, b) => a - b);
  rows.push({ traffic: label, nsPerPair: Math.round(perPair[Math.floor(perPair.length / 2)]) });
}
console.log(JSON.stringify(rows, null, 2));
