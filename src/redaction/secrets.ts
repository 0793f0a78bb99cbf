// Placeholders: what a redacted value becomes in a recording.
//
// A placeholder has the byte length of the value it replaces, so offsets in socket bytes,
// Content-Length and protocol length fields stay right. Within one recorded process the same secret
// always becomes the same placeholder and different secrets different ones (they are numbered in
// the order they are first seen), so a program that compares a header with an environment variable
// decides in replay as it did when recorded. The numbering is kept in memory only: nothing in the
// recording links a placeholder back to its value.

/** The long form: `redacted<N>` padded with '*' to the secret's length. */
export const PLACEHOLDER = /redacted\d+\**/;
const WHOLE_LONG = /^redacted\d+\**$/;
const WHOLE_SHORT = /^\*+\d*$/;

export function placeholder(id: number, length: number): string {
  const long = `redacted${id}`;
  if (length >= long.length) return long + '*'.repeat(length - long.length);
  // Shorter than the long form: stars and as much of the number as fits.
  const digits = String(id);
  if (length > digits.length) return '*'.repeat(length - digits.length) + digits;
  return '*'.repeat(length);
}

/** Whether a whole value is a placeholder (long form, or the short form of stars and digits). */
export function isPlaceholder(value: string): boolean {
  return value.length > 0 && (WHOLE_LONG.test(value) || WHOLE_SHORT.test(value));
}

/** Whether a text holds a long-form placeholder somewhere (`show`, `why`). */
export function containsPlaceholder(text: string): boolean {
  return PLACEHOLDER.test(text);
}

/** The numbering of one process's secrets; in memory only. */
export class SecretTable {
  private readonly ids = new Map<string, number>();

  /** The placeholder for a secret given as text (env values, JSON strings) or bytes (socket data). */
  placeholderFor(secret: string | Buffer): string {
    const key = typeof secret === 'string' ? secret : secret.toString('latin1');
    const length = typeof secret === 'string' ? Buffer.byteLength(secret) : secret.length;
    // Redacting a placeholder gives it back: replay redacts what the program writes the same way.
    if (isPlaceholder(key)) return key;
    let id = this.ids.get(key);
    if (id === undefined) this.ids.set(key, (id = this.ids.size + 1));
    return placeholder(id, length);
  }

  get size(): number {
    return this.ids.size;
  }
}
