/**
 * `--web.config.file`: TLS and basic auth in the format of Prometheus's
 * exporter-toolkit, so the file a fleet already has for node_exporter works
 * for netprobe unchanged:
 *
 * ```yaml
 * tls_server_config:
 *   cert_file: server.crt          # relative paths: to this file's directory
 *   key_file: server.key
 *   client_auth_type: RequireAndVerifyClientCert   # optional mTLS
 *   client_ca_file: ca.crt
 *   min_version: TLS12
 * http_server_config:
 *   headers: { Strict-Transport-Security: max-age=31536000 }
 * basic_auth_users:
 *   prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':')
 * ```
 *
 * Parsing (pure, every problem reported at once, each naming its key) is kept
 * apart from reading the certificate files. Unknown keys are errors, as in
 * exporter-toolkit (it parses strictly): a typo must not silently turn TLS off.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import { createRequire } from 'node:module';
import { NetprobeError } from '../errors/index.js';
import { BasicAuthVerifier, isBcryptHash } from '../security/basic-auth.js';
import {
  CIPHER_SUITES,
  CLIENT_AUTH_TYPES,
  CURVES,
  DEFAULT_TLS12_CIPHERS,
  SETTABLE_HEADERS,
  TLS_VERSIONS,
  type ClientAuthType,
} from '../security/tls-names.js';

// yaml is loaded only when there is a web config file: most runs have none.
const require = createRequire(import.meta.url);
const parseYaml = (text: string, options: import('yaml').ParseOptions): unknown =>
  (require('yaml') as typeof import('yaml')).parse(text, options);

/** Raised for an unreadable or invalid web config file; the message lists every problem. */
export class WebConfigError extends NetprobeError {
  readonly problems: readonly string[];
  constructor(file: string, problems: readonly string[], cause?: unknown) {
    super('NP_ERR_WEB_CONFIG', `web config file ${file}: ${problems.join('; ')}`, { cause });
    this.name = 'WebConfigError';
    this.problems = problems;
  }
}

/** The TLS part of a web config, validated; file paths are absolute. */
export interface TlsServerSettings {
  certFile?: string;
  keyFile?: string;
  /** Inline PEM (`cert` / `key` keys) instead of files. */
  certPem?: string;
  keyPem?: string;
  clientAuthType: ClientAuthType;
  clientCaFile?: string;
  /** Client certificates must carry one of these SANs (DNS, IP, e-mail or URI); empty = any. */
  clientAllowedSans: string[];
  minVersion: SecureContextOptions['minVersion'];
  maxVersion?: SecureContextOptions['maxVersion'];
  /** OpenSSL cipher list for TLS ≤ 1.2 (`cipher_suites`, or DEFAULT_TLS12_CIPHERS when it names none). */
  ciphers?: string;
  /** OpenSSL group list; undefined = Node's defaults. */
  ecdhCurve?: string;
  honorCipherOrder?: boolean;
}

/** A parsed web config (no files read yet). */
export interface WebConfigSpec {
  /** Absolute path of the file, or a label for text parsed directly. */
  source: string;
  /** undefined = plain HTTP. */
  tls: TlsServerSettings | undefined;
  /** Extra response headers (`http_server_config.headers`). */
  headers: Readonly<Record<string, string>>;
  /** User name → bcrypt hash; empty = no authentication. */
  basicAuthUsers: ReadonlyMap<string, string>;
}

/** A web config whose certificate files have been read and checked. */
export interface WebConfig extends WebConfigSpec {
  /** PEM material for Node's TLS server; undefined = plain HTTP. */
  tlsMaterial: { cert: Buffer; key: Buffer; ca?: Buffer } | undefined;
}

/** What the HTTP server factory takes (see `src/http/`). */
export interface WebServerOptions {
  /** Present = serve HTTPS with these options. */
  tls?: SecureContextOptions & { requestCert?: boolean; rejectUnauthorized?: boolean };
  /** Present = every request must pass; false → 401 with `WWW-Authenticate`. */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /** Response headers to add to every answer. */
  headers?: Readonly<Record<string, string>>;
}

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users'];
const TLS_KEYS = [
  'cert_file',
  'key_file',
  'cert',
  'key',
  'client_auth_type',
  'client_ca_file',
  'client_allowed_sans',
  'min_version',
  'max_version',
  'cipher_suites',
  'curve_preferences',
  'prefer_server_cipher_suites',
];
const HTTP_KEYS = ['headers', 'http2'];

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and validates the text of a web config file. Relative paths are
 * resolved against `baseDir` (the file's directory). Throws a WebConfigError
 * listing every problem.
 */
export function parseWebConfig(text: string, baseDir: string, source = '<text>'): WebConfigSpec {
  const problems: string[] = [];
  let doc: unknown;
  try {
    doc = parseYaml(text, { uniqueKeys: true });
  } catch (e) {
    throw new WebConfigError(source, [`not valid YAML: ${(e as Error).message.split('\n')[0]}`]);
  }
  if (doc === null || doc === undefined) doc = {};
  if (!isObj(doc)) throw new WebConfigError(source, ['the top level must be a mapping']);

  unknownKeys(doc, TOP_KEYS, '', problems);
  const tls = parseTls(section(doc, 'tls_server_config', problems), baseDir, problems);
  const headers = parseHeaders(section(doc, 'http_server_config', problems), problems);
  const basicAuthUsers = parseUsers(doc['basic_auth_users'], problems);
  if (problems.length > 0) throw new WebConfigError(source, problems);
  return { source, tls, headers, basicAuthUsers };
}

/** Reads, validates and loads a web config file, including its certificate files. */
export async function loadWebConfig(path: string): Promise<WebConfig> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new WebConfigError(file, [`cannot read it: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`], e);
  }
  const spec = parseWebConfig(text, dirname(file), file);
  return { ...spec, tlsMaterial: spec.tls ? await readTlsMaterial(spec.tls, file) : undefined };
}

/**
 * Turns a loaded web config into the HTTP server's options: TLS settings for
 * `https.createServer`, and an `authorize` check combining basic auth with
 * the client-certificate rules Node's TLS layer cannot enforce by itself
 * (a required-but-unverified certificate, allowed SANs).
 */
export function webConfigToServerOptions(cfg: WebConfig): WebServerOptions {
  const out: WebServerOptions = {};
  const checks: Array<(req: IncomingMessage) => boolean | Promise<boolean>> = [];
  if (cfg.tls && cfg.tlsMaterial) {
    const t = cfg.tls;
    const auth = t.clientAuthType;
    out.tls = {
      cert: cfg.tlsMaterial.cert,
      key: cfg.tlsMaterial.key,
      ...(cfg.tlsMaterial.ca ? { ca: cfg.tlsMaterial.ca } : {}),
      minVersion: t.minVersion,
      ...(t.maxVersion ? { maxVersion: t.maxVersion } : {}),
      ...(t.ciphers ? { ciphers: t.ciphers } : {}),
      ...(t.ecdhCurve ? { ecdhCurve: t.ecdhCurve } : {}),
      ...(t.honorCipherOrder !== undefined ? { honorCipherOrder: t.honorCipherOrder } : {}),
      requestCert: auth !== 'NoClientCert',
      // Only this mode fails the handshake itself; the others are checked per request below.
      rejectUnauthorized: auth === 'RequireAndVerifyClientCert',
    };
    const clientCheck = clientCertCheck(t);
    if (clientCheck) checks.push(clientCheck);
  }
  if (cfg.basicAuthUsers.size > 0) {
    const verifier = new BasicAuthVerifier(cfg.basicAuthUsers);
    checks.push((req) => verifier.authorize(req));
  }
  if (checks.length > 0) out.authorize = allOf(checks);
  if (Object.keys(cfg.headers).length > 0) out.headers = cfg.headers;
  return out;
}

function allOf(checks: Array<(req: IncomingMessage) => boolean | Promise<boolean>>): (req: IncomingMessage) => boolean | Promise<boolean> {
  return (req) => {
    for (let i = 0; i < checks.length; i++) {
      const r = checks[i]!(req);
      if (r === false) return false;
      if (r !== true) {
        const rest = allOf(checks.slice(i + 1));
        return r.then((ok) => ok && rest(req));
      }
    }
    return true;
  };
}

function clientCertCheck(t: TlsServerSettings): ((req: IncomingMessage) => boolean) | undefined {
  const needsCert = t.clientAuthType === 'RequireAnyClientCert' || t.clientAuthType === 'RequireClientCert';
  const verifyIfGiven = t.clientAuthType === 'VerifyClientCertIfGiven';
  const sans = t.clientAllowedSans;
  if (!needsCert && !verifyIfGiven && sans.length === 0) return undefined;
  return (req) => {
    const socket = req.socket as TLSSocket;
    if (typeof socket.getPeerCertificate !== 'function') return false;
    const cert = socket.getPeerCertificate();
    const given = cert !== null && Object.keys(cert).length > 0;
    if (needsCert && !given) return false;
    if (verifyIfGiven && given && !socket.authorized) return false;
    if (sans.length > 0) return given && certificateSans(cert.subjectaltname).some((s) => sans.includes(s));
    return true;
  };
}

/** `DNS:a, IP Address:1.2.3.4, email:x@y, URI:spiffe://...` → the bare values. */
function certificateSans(altnames: string | undefined): string[] {
  if (!altnames) return [];
  return altnames.split(/,\s*/).map((s) => s.slice(s.indexOf(':') + 1));
}

function section(doc: Obj, key: string, problems: string[]): Obj | undefined {
  const v = doc[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) {
    problems.push(`${key}: must be a mapping`);
    return undefined;
  }
  return v;
}

function unknownKeys(o: Obj, known: readonly string[], prefix: string, problems: string[]): void {
  for (const k of Object.keys(o)) {
    if (!known.includes(k)) problems.push(`${prefix}${k}: unknown key (known here: ${known.join(', ')})`);
  }
}

function str(o: Obj, key: string, prefix: string, problems: string[]): string | undefined {
  const v = o[key];
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') {
    problems.push(`${prefix}${key}: must be a string, got ${typeof v}`);
    return undefined;
  }
  return v;
}

function strList(o: Obj, key: string, prefix: string, problems: string[]): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
    problems.push(`${prefix}${key}: must be a list of strings`);
    return [];
  }
  return v as string[];
}

function oneOf<T extends string>(
  value: string | undefined,
  allowed: Readonly<Record<string, T>>,
  key: string,
  problems: string[],
): T | undefined {
  if (value === undefined) return undefined;
  const mapped = Object.hasOwn(allowed, value) ? allowed[value] : undefined;
  if (mapped === undefined) problems.push(`${key}: "${value}" is not one of ${Object.keys(allowed).join(', ')}`);
  return mapped;
}

function parseTls(o: Obj | undefined, baseDir: string, problems: string[]): TlsServerSettings | undefined {
  if (!o) return undefined;
  const p = 'tls_server_config.';
  const before = problems.length;
  unknownKeys(o, TLS_KEYS, p, problems);
  const certFile = str(o, 'cert_file', p, problems);
  const keyFile = str(o, 'key_file', p, problems);
  const certPem = str(o, 'cert', p, problems);
  const keyPem = str(o, 'key', p, problems);
  const clientCaFile = str(o, 'client_ca_file', p, problems);
  const authRaw = str(o, 'client_auth_type', p, problems);
  // An empty section means plain HTTP, as in exporter-toolkit. A section with
  // anything in it but no certificate is a mistake (the user expects TLS): an error.
  const isEmpty = (v: unknown): boolean => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);
  if (Object.values(o).every(isEmpty) && problems.length === before) return undefined;

  if (!certFile && !certPem) problems.push(`${p}cert_file: missing (or give the PEM inline as cert)`);
  if (!keyFile && !keyPem) problems.push(`${p}key_file: missing (or give the PEM inline as key)`);
  if (certFile && certPem) problems.push(`${p}cert: give either cert_file or cert, not both`);
  if (keyFile && keyPem) problems.push(`${p}key: give either key_file or key, not both`);

  let clientAuthType: ClientAuthType = 'NoClientCert';
  if (authRaw !== undefined) {
    if ((CLIENT_AUTH_TYPES as readonly string[]).includes(authRaw)) clientAuthType = authRaw as ClientAuthType;
    else problems.push(`${p}client_auth_type: "${authRaw}" is not one of ${CLIENT_AUTH_TYPES.join(', ')}`);
  }
  const verifies = clientAuthType === 'VerifyClientCertIfGiven' || clientAuthType === 'RequireAndVerifyClientCert';
  if (verifies && !clientCaFile) problems.push(`${p}client_ca_file: required when client_auth_type is ${clientAuthType}`);
  if (clientCaFile && clientAuthType === 'NoClientCert') {
    problems.push(
      `${p}client_auth_type: client_ca_file is set but client certificates are not requested; set client_auth_type (e.g. RequireAndVerifyClientCert)`,
    );
  }
  const clientAllowedSans = strList(o, 'client_allowed_sans', p, problems);
  if (clientAllowedSans.length > 0 && clientAuthType !== 'RequireAndVerifyClientCert') {
    problems.push(`${p}client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert`);
  }

  const minVersion = oneOf(str(o, 'min_version', p, problems) ?? 'TLS12', TLS_VERSIONS, `${p}min_version`, problems) ?? 'TLSv1.2';
  const maxVersion = oneOf(str(o, 'max_version', p, problems), TLS_VERSIONS, `${p}max_version`, problems);
  const order = Object.values(TLS_VERSIONS);
  if (maxVersion && order.indexOf(maxVersion) < order.indexOf(minVersion)) {
    problems.push(`${p}max_version: ${String(o['max_version'])} is below min_version`);
  }
  const suites = strList(o, 'cipher_suites', p, problems).map((s) => oneOf(s, CIPHER_SUITES, `${p}cipher_suites`, problems));
  const curves = strList(o, 'curve_preferences', p, problems).map((c) => oneOf(c, CURVES, `${p}curve_preferences`, problems));
  const prefer = o['prefer_server_cipher_suites'];
  if (prefer !== undefined && typeof prefer !== 'boolean') problems.push(`${p}prefer_server_cipher_suites: must be true or false`);

  const settings: TlsServerSettings = { clientAuthType, clientAllowedSans, minVersion };
  if (certFile) settings.certFile = resolve(baseDir, certFile);
  if (keyFile) settings.keyFile = resolve(baseDir, keyFile);
  if (certPem) settings.certPem = certPem;
  if (keyPem) settings.keyPem = keyPem;
  if (clientCaFile) settings.clientCaFile = resolve(baseDir, clientCaFile);
  if (maxVersion) settings.maxVersion = maxVersion;
  settings.ciphers = suites.length > 0 ? suites.filter(Boolean).join(':') : DEFAULT_TLS12_CIPHERS;
  if (curves.length > 0) settings.ecdhCurve = curves.filter(Boolean).join(':');
  if (typeof prefer === 'boolean') settings.honorCipherOrder = prefer;
  return settings;
}

function parseHeaders(o: Obj | undefined, problems: string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!o) return headers;
  const p = 'http_server_config.';
  unknownKeys(o, HTTP_KEYS, p, problems);
  // http2: accepted for compatibility; netprobe serves HTTP/1.1 only.
  if (o['http2'] !== undefined && typeof o['http2'] !== 'boolean') problems.push(`${p}http2: must be true or false`);
  const h = o['headers'];
  if (h === undefined || h === null) return headers;
  if (!isObj(h)) {
    problems.push(`${p}headers: must be a mapping of header name to value`);
    return headers;
  }
  for (const [name, value] of Object.entries(h)) {
    const canonical = SETTABLE_HEADERS.find((s) => s.toLowerCase() === name.toLowerCase());
    if (!canonical) problems.push(`${p}headers.${name}: cannot be set (settable: ${SETTABLE_HEADERS.join(', ')})`);
    // eslint-disable-next-line no-control-regex -- refusing control characters (tab aside) in a header value is the point
    else if (typeof value !== 'string' || /[\0-\x08\x0a-\x1f\x7f]/.test(value))
      problems.push(`${p}headers.${name}: must be a single-line string`);
    else headers[canonical] = value;
  }
  return headers;
}

function parseUsers(v: unknown, problems: string[]): Map<string, string> {
  const users = new Map<string, string>();
  if (v === undefined || v === null) return users;
  if (!isObj(v)) {
    problems.push('basic_auth_users: must be a mapping of user name to bcrypt hash');
    return users;
  }
  for (const [user, hash] of Object.entries(v)) {
    // The value is a secret: never echo it back in a message.
    if (user.includes(':')) problems.push(`basic_auth_users.${user}: a user name cannot contain ":"`);
    else if (typeof hash !== 'string' || !isBcryptHash(hash))
      problems.push(`basic_auth_users.${user}: not a bcrypt hash ($2a$/$2b$/$2y$, e.g. from htpasswd -nBC 10)`);
    else users.set(user, hash);
  }
  return users;
}

async function readTlsMaterial(t: TlsServerSettings, source: string): Promise<{ cert: Buffer; key: Buffer; ca?: Buffer }> {
  const problems: string[] = [];
  const read = async (file: string | undefined, inline: string | undefined, key: string): Promise<Buffer | undefined> => {
    if (inline !== undefined) return Buffer.from(inline);
    if (file === undefined) return undefined;
    try {
      return await readFile(file);
    } catch (e) {
      problems.push(`tls_server_config.${key}: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return undefined;
    }
  };
  const cert = await read(t.certFile, t.certPem, 'cert_file');
  const key = await read(t.keyFile, t.keyPem, 'key_file');
  const ca = await read(t.clientCaFile, undefined, 'client_ca_file');
  if (problems.length > 0 || !cert || !key) throw new WebConfigError(source, problems);
  try {
    // Fails now, with a clear message, on a bad PEM or a key that does not match the certificate.
    createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  } catch (e) {
    throw new WebConfigError(source, [`tls_server_config: the certificate, key or client CA cannot be used: ${(e as Error).message}`], e);
  }
  return ca ? { cert, key, ca } : { cert, key };
}
