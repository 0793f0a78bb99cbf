// A support-inbox agent: asks an LLM to classify each message as billing, bug, account or other,
// expecting JSON back, and prints the routing. The model is reached over HTTP with fetch at
// LLM_BASE_URL (an OpenAI-compatible API; the demo runs a local stand-in, fake-llm.mjs).
//
//   LLM_BASE_URL=http://127.0.0.1:PORT node examples/ai-agent/agent.mjs
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';

const baseUrl = process.env.LLM_BASE_URL ?? 'http://127.0.0.1:8787';
const model = process.env.LLM_MODEL ?? 'gpt-4o-mini';

const SYSTEM_PROMPT =
  'You route customer support messages. Answer with JSON only, exactly ' +
  '{"label": "billing" | "bug" | "account" | "other", "confidence": number between 0 and 1}.';

async function askModel(text) {
  const response = await fetch(`${baseUrl}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${process.env.LLM_API_KEY ?? 'local'}` },
    body: JSON.stringify({
      model,
      temperature: 0.2,
      messages: [
        { role: 'system', content: SYSTEM_PROMPT },
        { role: 'user', content: text },
      ],
    }),
  });
  if (!response.ok) throw new Error(`the model API answered ${response.status}: ${await response.text()}`);
  const completion = await response.json();
  return completion.choices[0].message.content;
}

async function classify(message) {
  const answer = await askModel(message.text);
  const { label, confidence } = JSON.parse(answer);
  return { label, confidence };
}

const run = randomUUID().slice(0, 8);
const messages = JSON.parse(await readFile(new URL('./messages.json', import.meta.url), 'utf8'));
console.log(`run ${run}: classifying ${messages.length} messages with ${model}`);
for (const message of messages) {
  const started = Date.now();
  const { label, confidence } = await classify(message);
  console.log(`${message.id} → ${label.padEnd(8)} (confidence ${confidence.toFixed(2)}, ${Date.now() - started} ms)`);
}
console.log(`run ${run}: done`);
