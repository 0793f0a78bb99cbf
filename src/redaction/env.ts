// Redaction of environment variables and of `.env` files.
import type { RedactionRules } from './rules.js';
import type { SecretTable } from './secrets.js';

/** Values that switch something on or off rather than hold a secret (DISABLE_AUTH=true). */
const NOT_A_SECRET = /^(|true|false|yes|no|on|off|0|1)$/i;
/** The password in a URL's userinfo: scheme://user:PASSWORD@host. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/?#\s]+)(@)/gi;

/** The value to store for one variable. */
export function redactEnvValue(name: string, value: string, rules: RedactionRules, table: SecretTable): string {
  if (name.startsWith('RETRACE_')) return value;
  if (rules.secretEnv(name) && !NOT_A_SECRET.test(value)) return table.placeholderFor(value);
  return redactUrlPasswords(value, table);
}

export function redactUrlPasswords(value: string, table: SecretTable): string {
  if (!value.includes('://')) return value;
  return value.replace(URL_PASSWORD, (_m, before: string, password: string, at: string) => before + table.placeholderFor(password) + at);
}

/** A copy of an environment object with secrets replaced; the same object when nothing is. */
export function redactEnv(env: Record<string, string | undefined>, rules: RedactionRules, table: SecretTable): Record<string, string | undefined> {
  let out: Record<string, string | undefined> | null = null;
  for (const [name, value] of Object.entries(env)) {
    if (typeof value !== 'string') continue;
    const stored = redactEnvValue(name, value, rules, table);
    if (stored !== value) (out ??= { ...env })[name] = stored;
  }
  return out ?? env;
}

/**
 * A `.env` file as text: NAME=value lines keep their names, secret values (by the variable rules,
 * and URL passwords) become placeholders of the same length, so the file keeps its size.
 */
export function redactDotenv(text: string, rules: RedactionRules, table: SecretTable): string {
  return text.replace(/^([ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_.-]*)([ \t]*[=:][ \t]*)(.*)$/gm, (line, lead: string, name: string, eq: string, raw: string) => {
    let value = raw.replace(/[ \t]+#.*$/, '').trimEnd();
    let quote = '';
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'" || value[0] === '`') && value.endsWith(value[0]!)) {
      quote = value[0]!;
      value = value.slice(1, -1);
    }
    if (value === '') return line;
    const stored = redactEnvValue(name, value, rules, table);
    if (stored === value) return line;
    const at = lead.length + name.length + eq.length + raw.indexOf(value, quote ? 1 : 0);
    return line.slice(0, at) + stored + line.slice(at + value.length);
  });
}
