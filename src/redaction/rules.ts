// Redaction rules: the defaults, and what a project adds in `retrace.config.json` or under a
// `retrace` key of its package.json:
//
//   { "redact": { "env": ["STRIPE_*"], "headers": ["x-tenant-key"], "json": ["ssn", "$.card.number"],
//                 "sql": ["users.password_hash", "ssn"], "files": ["secrets/*.json"] } }
//
// Names of variables, headers and files are glob patterns (`*` matches any run of characters),
// compared without regard to case for variables and headers.
import * as path from 'node:path';
import { real } from '../core/originals.js';

export interface RedactConfig {
  env?: string[];
  headers?: string[];
  json?: string[];
  sql?: string[];
  files?: string[];
}

export class RedactionRules {
  private readonly envNames: RegExp[];
  private readonly headerNames: RegExp[];
  /** JSON member names matched at any depth. */
  private readonly jsonKeys: RegExp[];
  /** JSON paths from the root: `$.a.b`, `*` for any one member or element. */
  private readonly jsonPaths: string[][];
  private readonly sqlColumns: string[];
  private readonly files: RegExp[];

  constructor(readonly config: RedactConfig = {}, readonly source: string | null = null) {
    this.envNames = [DEFAULT_ENV, ...(config.env ?? []).map((g) => glob(g, 'i'))];
    this.headerNames = (config.headers ?? []).map((g) => glob(g, 'i'));
    this.jsonKeys = [DEFAULT_JSON_KEY];
    this.jsonPaths = [];
    for (const rule of config.json ?? []) {
      if (rule.startsWith('$.')) this.jsonPaths.push(rule.slice(2).split('.'));
      else this.jsonKeys.push(glob(rule, 'i'));
    }
    this.sqlColumns = (config.sql ?? []).map((c) => c.toLowerCase());
    this.files = [...DEFAULT_FILES, ...(config.files ?? []).map((g) => fileGlob(g))];
  }

  /** An environment variable whose whole value is a secret. */
  secretEnv(name: string): boolean {
    return this.envNames.some((r) => r.test(name));
  }

  /** An HTTP header whose value is a secret (name in any case). */
  secretHeader(name: string): boolean {
    const lower = name.toLowerCase();
    if (NOT_SECRET_HEADERS.has(lower)) return false;
    return DEFAULT_HEADER.test(lower) || this.headerNames.some((r) => r.test(lower));
  }

  get hasHeaderRules(): boolean {
    return this.headerNames.length > 0;
  }

  /** A member of a JSON body, by its path from the root (member names and element indexes). */
  secretJson(pathFromRoot: readonly (string | number)[]): boolean {
    const key = pathFromRoot[pathFromRoot.length - 1];
    if (typeof key === 'string' && this.jsonKeys.some((r) => r.test(key))) return true;
    return this.jsonPaths.some((p) => p.length === pathFromRoot.length && p.every((seg, i) => seg === '*' || seg === String(pathFromRoot[i])));
  }

  /** A column of SQL results: by its name, or `table.column` when the table is known. */
  secretColumn(column: string, table?: string): boolean {
    const c = column.toLowerCase();
    return this.sqlColumns.some((rule) => rule === c || (table !== undefined && rule === `${table.toLowerCase()}.${c}`) || rule === `*.${c}`);
  }

  get hasSqlColumns(): boolean {
    return this.sqlColumns.length > 0;
  }

  /** A file whose contents are secret (matched against its path and its base name). */
  secretFile(file: string): boolean {
    const normalized = file.split(path.sep).join('/');
    return this.files.some((r) => r.test(normalized));
  }

  /** A `.env`-style file: its lines are redacted by variable name, not wholesale. */
  static isDotenv(file: string): boolean {
    return /(^|\/)\.env(\.[^/]*)?$/.test(file.split(path.sep).join('/'));
  }
}

/** Variables named like a secret: *SECRET*, *TOKEN*, *PASSWORD*, *PASSWD*, *_KEY, *CREDENTIAL*, *AUTH*. */
const DEFAULT_ENV = /SECRET|TOKEN|PASSWORD|PASSWD|_KEY$|CREDENTIAL|AUTH/i;
/** Headers that carry credentials: Authorization, Cookie, Set-Cookie, X-Api-Key, X-Auth-Token... */
const DEFAULT_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie)$|auth|token|secret|passw(or)?d|api-?key|credential/;
/** Challenges and descriptions of authentication, not credentials. */
const NOT_SECRET_HEADERS = new Set(['www-authenticate', 'proxy-authenticate', 'authentication-info', 'proxy-authentication-info']);
/** JSON members named like a secret: password, secret, token, apiKey, client_secret, privateKey... */
const DEFAULT_JSON_KEY = /passw(or)?d|passwd|secret|token|api[-_]?key|private[-_]?key|access[-_]?key|credential|authorization|^cookie$/i;
/** Files read whole as secrets: .env files (by variable), keys and certificates' private halves. */
const DEFAULT_FILES = [/(^|\/)\.env(\.[^/]*)?$/, /\.(pem|key|p12|pfx)$/i, /(^|\/)id_(rsa|dsa|ecdsa|ed25519)$/, /(^|\/)\.(npmrc|netrc|pgpass)$/];

function glob(pattern: string, flags = ''): RegExp {
  const body = pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`, flags);
}

/** A file pattern: with a slash it matches the end of the path, without one the base name. */
function fileGlob(pattern: string): RegExp {
  const body = pattern.split('*').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*');
  return new RegExp(pattern.includes('/') ? `(^|/)${body.replace(/^\//, '')}$` : `(^|/)${body}$`);
}

/**
 * The project's rules: `retrace.config.json`, else the `retrace` key of package.json, in the
 * program's folder or the nearest folder above it that has either. Read with the real fs, before
 * the boundaries are installed, so reading it is not part of the recording.
 */
export function loadRules(cwd: string): RedactionRules {
  for (let dir = cwd; ; dir = path.dirname(dir)) {
    const configFile = path.join(dir, 'retrace.config.json');
    if (real.existsSync(configFile)) return new RedactionRules(readConfig(configFile, false), configFile);
    const pkgFile = path.join(dir, 'package.json');
    if (real.existsSync(pkgFile)) {
      const config = readConfig(pkgFile, true);
      if (config) return new RedactionRules(config, pkgFile);
    }
    if (path.dirname(dir) === dir) return new RedactionRules();
  }
}

function readConfig(file: string, underKey: boolean): RedactConfig | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(String(real.readFileSync(file, 'utf8')));
  } catch (err) {
    if (underKey) return undefined; // a package.json we cannot read is not ours to judge
    throw new RedactionConfigError(`${file}: ${(err as Error).message}`);
  }
  const top = underKey ? (parsed as { retrace?: unknown } | null)?.retrace : parsed;
  if (top === undefined) return undefined;
  const redact = (top as { redact?: unknown } | null)?.redact;
  if (redact === undefined) return {};
  if (redact === null || typeof redact !== 'object' || Array.isArray(redact)) throw new RedactionConfigError(`${file}: "redact" must be an object`);
  const out: RedactConfig = {};
  for (const [key, value] of Object.entries(redact)) {
    if (!['env', 'headers', 'json', 'sql', 'files'].includes(key)) throw new RedactionConfigError(`${file}: unknown redaction rule "${key}" (env, headers, json, sql, files)`);
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) throw new RedactionConfigError(`${file}: "redact.${key}" must be a list of names`);
    out[key as keyof RedactConfig] = value as string[];
  }
  return out;
}

export class RedactionConfigError extends Error {}
