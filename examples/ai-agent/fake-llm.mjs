// A stand-in for an LLM chat-completions API, so the demo needs no key and no network.
//
//   node examples/ai-agent/fake-llm.mjs [--port N] [--seed S] [--prose-rate R]
//
// POST /v1/chat/completions answers like OpenAI's API. The assistant is told to answer with JSON
// only, and mostly does; but, like a real model, now and then it answers in prose instead. Which
// requests get prose is random but reproducible: the n-th request to a server started with the
// same --seed always gets the same answer (without --seed, each start picks a seed and prints it).
// Prints `listening <url>` when ready.
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    seed: { type: 'string' },
    'prose-rate': { type: 'string', default: '0.3' },
  },
});
const proseRate = Number(values['prose-rate']);

/** mulberry32: a small seeded generator, so runs with one seed give the same answers. */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const seed = values.seed === undefined ? Date.now() % 100_000 : Number(values.seed);
const random = seededRandom(seed);

const LABELS = [
  { label: 'billing', words: ['charge', 'charged', 'invoice', 'refund', 'billing', 'discount', 'yearly', 'monthly'] },
  { label: 'bug', words: ['button', 'does nothing', 'error', 'crash', 'logging me out', 'broken', 'update'] },
  { label: 'account', words: ['admin', 'team', 'password', 'account', 'login'] },
];

function classify(text) {
  const lower = text.toLowerCase();
  const scored = LABELS.map(({ label, words }) => ({ label, hits: words.filter((w) => lower.includes(w)).length }));
  scored.sort((a, b) => b.hits - a.hits);
  const best = scored[0];
  return best.hits === 0 ? { label: 'other', confidence: 0.41 } : { label: best.label, confidence: Math.min(0.99, 0.62 + 0.12 * best.hits) };
}

let served = 0;
const server = createServer((req, res) => {
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return send(404, { error: { message: `no route ${req.method} ${req.url}` } });
  let raw = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => (raw += chunk));
  req.on('end', () => {
    let request;
    try {
      request = JSON.parse(raw);
    } catch {
      return send(400, { error: { message: 'the body is not JSON' } });
    }
    const userText = request.messages?.findLast?.((m) => m.role === 'user')?.content ?? '';
    const { label, confidence } = classify(userText);
    served++;
    const content =
      random() < proseRate
        ? `Sure! This message looks like a ${label} question to me. The customer seems to want help with it, ` +
          `so I would route it to the ${label} team with fairly high confidence.`
        : JSON.stringify({ label, confidence });
    // A little latency, as the real thing has.
    setTimeout(
      () =>
        send(200, {
          id: `chatcmpl-${served}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: request.model ?? 'fake-llm',
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage: { prompt_tokens: Math.ceil(raw.length / 4), completion_tokens: Math.ceil(content.length / 4), total_tokens: 0 },
        }),
      20 + random() * 80,
    );
  });
});
server.listen(Number(values.port), '127.0.0.1', () => {
  console.error(`fake-llm: seed ${seed}, prose in about ${Math.round(proseRate * 100)}% of answers`);
  console.log(`listening http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
process.on('SIGINT', () => server.close(() => process.exit(0)));
