// "Last write": where a value that a paused program holds was stored, and the operation that made
// it. The provenance engine answers it (`retrace why --json`, one replay with the program's code
// instrumented): the lineage's root is the value's latest node, and the copy folded into it is the
// assignment, declaration or argument that stored it (`stored`). Used by `retrace dap`
// (retrace/lastWrite, which then runs the replay back to that statement) and open to other
// front ends (an MCP tool): plain data in, plain data out.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface SourcePoint {
  file: string;
  line: number;
  column: number;
}

export interface LastWriteQuery {
  /** The recording (folder or trace), as the CLI takes it. */
  recording: string;
  process?: number;
  /** Where the program is paused, and which time it ran there (from 1). */
  file: string;
  line: number;
  hit: number;
  /** A variable, a property (`order.total`), any side-effect-free expression. */
  expression: string;
  /** The project folder the replay runs from (default: this process's). */
  cwd?: string;
}

export interface LastWrite {
  expression: string;
  value: string;
  /** The statement that stored the value where the expression reads it (null: it was not copied, e.g. a literal read in place). */
  stored: SourcePoint | null;
  /** The operation that made the value (`+`, `call add`, `input`...) and where it ran. */
  op: string;
  made: SourcePoint | null;
  /** The recorded input the value came from directly, in words, when it is one. */
  origin: string | null;
  /** How many times the location ran in the replay, and whether the lineage is complete. */
  hits: number;
  complete: boolean;
  notes: string[];
}

export class LastWriteError extends Error {}

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'retrace.js');

/** `file:line:column` as `why` prints it (relative to cwd) → an absolute point. */
export function parsePoint(at: string | undefined, cwd: string): SourcePoint | null {
  const m = at ? /^(.+):(\d+):(\d+)$/.exec(at) : null;
  return m ? { file: path.resolve(cwd, m[1]!), line: Number(m[2]), column: Number(m[3]) } : null;
}

interface WhyJson {
  value: string;
  hits: number;
  complete: boolean;
  notes: string[];
  lineage: { value: string; op: string; at?: string; stored?: string; origin?: { detail?: string } };
}

export async function lastWrite(q: LastWriteQuery): Promise<LastWrite> {
  const cwd = q.cwd ?? process.cwd();
  const args = [cli, 'why', q.recording, '--at', `${q.file}:${q.line}`, '--expr', q.expression, '--hit', String(q.hit), '--json'];
  if (q.process !== undefined) args.push('--process', String(q.process));
  const env = { ...process.env };
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (c) => resolve({ code: c, stdout, stderr }));
  });
  if (code !== 0) {
    const said = stderr.split('\n').filter((l) => l.startsWith('retrace: ')).pop();
    throw new LastWriteError(said ? said.slice('retrace: '.length) : `the provenance replay failed (exit status ${code})`);
  }
  const answer = JSON.parse(stdout) as WhyJson;
  const root = answer.lineage;
  return {
    expression: q.expression,
    value: root.value,
    stored: parsePoint(root.stored, cwd),
    op: root.op,
    made: parsePoint(root.at, cwd),
    origin: root.origin?.detail ?? null,
    hits: answer.hits,
    complete: answer.complete,
    notes: answer.notes,
  };
}
