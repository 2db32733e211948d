/**
 * HTTP basic auth against bcrypt hashes, as exporter-toolkit's
 * `basic_auth_users` does it. bcrypt costs ~50–100 ms of CPU per check on
 * purpose, so a scraper that sends the same right password every 15 s would
 * pay that on every scrape: successful checks are remembered in memory, keyed
 * by a keyed digest (never the password itself). Checks that miss the cache
 * run one at a time, like exporter-toolkit's mutex, so a flood of wrong
 * passwords cannot take every core; past a bounded queue they are refused
 * outright. Passwords and hashes are never logged.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type bcryptModule from 'bcryptjs';

// Loaded on the first check that needs it: only a web config with users does.
let bcryptLoaded: Promise<typeof bcryptModule> | undefined;
const loadBcrypt = (): Promise<typeof bcryptModule> => (bcryptLoaded ??= import('bcryptjs').then((m) => m.default));

/** `$2a$`, `$2b$` or `$2y$`, a two-digit cost, 22 salt + 31 hash characters. */
const BCRYPT_HASH = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** True when `hash` is a bcrypt hash bcryptjs can check. */
export function isBcryptHash(hash: string): boolean {
  const m = BCRYPT_HASH.exec(hash);
  if (!m) return false;
  const cost = Number(m[1]);
  return cost >= 4 && cost <= 31;
}

/** Credentials from an `Authorization: Basic ...` header, or undefined if absent or malformed. */
export function parseBasicAuthorization(header: string | undefined): { user: string; password: string } | undefined {
  if (!header) return undefined;
  const m = /^basic[ \t]+([A-Za-z0-9+/=_-]+)[ \t]*$/i.exec(header);
  if (!m?.[1]) return undefined;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export interface BasicAuthOptions {
  /** Successful checks remembered (oldest forgotten first). */
  cacheSize?: number;
  /** Uncached checks allowed to wait for the bcrypt worker; more are refused at once. */
  maxPending?: number;
}

/** Checks basic-auth credentials against a user → bcrypt hash table. */
export class BasicAuthVerifier {
  readonly #users: ReadonlyMap<string, string>;
  readonly #cacheKey = randomBytes(32);
  readonly #cache = new Map<string, true>();
  readonly #cacheSize: number;
  readonly #maxPending: number;
  #pending = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #dummyHash: string | undefined;

  /** `users`: user name → bcrypt hash (validate them with `isBcryptHash` first). */
  constructor(users: ReadonlyMap<string, string>, opts: BasicAuthOptions = {}) {
    this.#users = users;
    this.#cacheSize = opts.cacheSize ?? 100;
    this.#maxPending = opts.maxPending ?? 64;
  }

  /** Number of remembered successful checks (for tests). */
  get cachedCount(): number {
    return this.#cache.size;
  }

  /**
   * True when the request carries a known user with the right password.
   * Synchronous (no promise) when the answer is already known: a cached
   * success, or no usable credentials at all.
   */
  authorize(req: IncomingMessage): boolean | Promise<boolean> {
    const creds = parseBasicAuthorization(req.headers.authorization);
    if (!creds) return false;
    return this.check(creds.user, creds.password);
  }

  /** True when `password` is right for `user`; see `authorize`. */
  check(user: string, password: string): boolean | Promise<boolean> {
    const hash = this.#users.get(user);
    const key = this.#digest(user, hash ?? '', password);
    if (hash !== undefined && this.#cache.has(key)) return true;
    if (this.#pending >= this.#maxPending) return false;
    this.#pending++;
    // An unknown user still costs one bcrypt check, so response times do not
    // tell which user names exist.
    const run = async (): Promise<boolean> => {
      const bcrypt = await loadBcrypt();
      const ok = await bcrypt.compare(password, hash ?? this.#dummy(bcrypt));
      return ok && hash !== undefined;
    };
    const result = this.#queue.then(run);
    this.#queue = result.catch(() => false);
    return result.then(
      (ok) => {
        this.#pending--;
        if (ok) this.#remember(key);
        return ok;
      },
      () => {
        this.#pending--;
        return false;
      },
    );
  }

  #remember(key: string): void {
    if (this.#cache.size >= this.#cacheSize) {
      const oldest = this.#cache.keys().next().value;
      if (oldest !== undefined) this.#cache.delete(oldest);
    }
    this.#cache.set(key, true);
  }

  #digest(user: string, hash: string, password: string): string {
    // Length-prefixed fields: ("a:b", "c") and ("a", "b:c") never collide.
    const mac = createHmac('sha256', this.#cacheKey);
    for (const part of [user, hash, password]) mac.update(`${Buffer.byteLength(part)}:`).update(part);
    return mac.digest('hex');
  }

  #dummy(bcrypt: typeof bcryptModule): string {
    this.#dummyHash ??= bcrypt.hashSync(randomBytes(16).toString('hex'), this.#typicalCost());
    return this.#dummyHash;
  }

  #typicalCost(): number {
    const first = this.#users.values().next().value;
    // The cost is the hash's second field (`$2b$12$...`), as bcrypt.getRounds reads it.
    return first !== undefined && isBcryptHash(first) ? Number(first.slice(4, 6)) : 10;
  }
}
