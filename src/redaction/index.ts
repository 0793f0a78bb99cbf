// Redaction at record time: what the recording stores instead of secrets (docs/security.md).
// One Redaction per process, made by the session (runtime/session.ts) from the project's rules; the
// boundary modules ask it what to store. Replay makes one too, from the rules the recording was
// made with, so that what the program writes is redacted the same way before it is compared.
import { fileURLToPath } from 'node:url';
import { redactDotenv, redactEnv } from './env.js';
import { RedactionRules, type RedactConfig } from './rules.js';
import { isPlaceholder, SecretTable } from './secrets.js';
import { SocketRedactor, type Slot } from './stream.js';

export type { RedactConfig } from './rules.js';
export type { Slot } from './stream.js';

export class Redaction {
  readonly table = new SecretTable();
  private readonly sockets = new WeakMap<object, SocketRedactor>();

  constructor(readonly rules: RedactionRules, readonly replaying = false) {}

  env(env: Record<string, string | undefined>): Record<string, string | undefined> {
    return redactEnv(env, this.rules, this.table);
  }

  /**
   * Environment variables a program gives a child it spawns, as compared in replay: a secret's
   * value (by the variable rules, and URL passwords) is the word [redacted] in both modes, so the
   * comparison holds whether the program passes a placeholder it was given or a constant of its own.
   */
  spawnEnv(changes: Record<string, string>): Record<string, string> {
    let out: Record<string, string> | null = null;
    for (const [name, value] of Object.entries(changes)) {
      let stored = value;
      if (this.rules.secretEnv(name) && !/^(|true|false|yes|no|on|off|0|1)$/i.test(value)) stored = '[redacted]';
      else if (value.includes('://')) stored = value.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/?#\s]+)(@)/gi, '$1[redacted]$3');
      if (stored !== value) (out ??= { ...changes })[name] = stored;
    }
    return out ?? changes;
  }

  /** The redactor of one socket (keyed by the boundary's state object for it). */
  socket(key: object): SocketRedactor {
    let r = this.sockets.get(key);
    if (!r) this.sockets.set(key, (r = new SocketRedactor(this.table, this.rules, this.replaying)));
    return r;
  }

  /** What to store for the contents of a file the program read whole. */
  fileContents(file: unknown, contents: unknown): unknown {
    try {
      return this.fileContentsOf(file, contents);
    } catch {
      // Never the program's problem; and a file we could not take apart is not stored at all.
      if (typeof contents === 'string') return '*'.repeat(contents.length);
      return Buffer.isBuffer(contents) ? Buffer.alloc(contents.length, 0x2a) : contents;
    }
  }

  private fileContentsOf(file: unknown, contents: unknown): unknown {
    const name = typeof file === 'string' ? file : file instanceof URL && file.protocol === 'file:' ? fileURLToPath(file) : Buffer.isBuffer(file) ? file.toString() : null;
    if (name === null || !this.rules.secretFile(name)) return contents;
    const isString = typeof contents === 'string';
    if (!isString && !Buffer.isBuffer(contents)) return contents;
    const text = isString ? (contents as string) : (contents as Buffer).toString('latin1');
    let stored: string;
    if (RedactionRules.isDotenv(name)) {
      // Byte for byte when read as bytes: the text is handled as latin1 so its length is kept.
      stored = redactDotenv(text, this.rules, this.table);
    } else if (PEM_BLOCK.test(text)) {
      // PEM: private keys go, certificates (public, and needed to describe a TLS peer) stay.
      stored = text.replace(new RegExp(PEM_BLOCK.source, 'g'), (block, label: string, body: string) =>
        /PRIVATE KEY/.test(label) ? block.replace(body, this.table.placeholderFor(body)) : block);
    } else stored = text.length === 0 ? text : this.table.placeholderFor(isString ? text : (contents as Buffer));
    if (stored === text) return contents;
    return isString ? stored : Buffer.from(stored, 'latin1');
  }
}

/** A PEM block: its label and the base64 between the armor lines. */
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n-----END \1-----/;

let active: Redaction | null = null;

/** Turns redaction on for this process (config null: recorded with --no-redact, nothing redacted). */
export function startRedaction(config: RedactConfig | null, replaying = false): Redaction | null {
  active = config ? new Redaction(new RedactionRules(config), replaying) : null;
  return active;
}

export function redaction(): Redaction | null {
  return active;
}

/**
 * Replay: what the program wrote, made comparable with the recorded write. The same parsers mark
 * the secret spans; a span holding a placeholder the program was given keeps it (it must be the
 * recorded one), any other value there (a constant of the program's, a token it computed) takes
 * the recorded bytes: the recording cannot say what the value was, so it cannot be checked.
 */
export function comparableWrite(key: object, written: Buffer, recorded: unknown, slots: Slot[]): Buffer {
  const r = active;
  if (!r) return written;
  const redacted = r.socket(key).redactSent(written, slots);
  if (slots.length === 0 || !Buffer.isBuffer(recorded) || recorded.length !== written.length) return redacted;
  for (const s of slots) {
    if (!isPlaceholder(written.toString('latin1', s.start, s.end))) recorded.copy(redacted, s.start, s.start, s.end);
  }
  return redacted;
}
