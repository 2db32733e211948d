import { test } from 'node:test';
import assert from 'node:assert/strict';
import bcrypt from 'bcryptjs';
import { BasicAuthVerifier, isBcryptHash, parseBasicAuthorization } from '../../src/security/basic-auth.js';

const hash = bcrypt.hashSync('right', 4);

test('parseBasicAuthorization: scheme case, colons in passwords, malformed headers', () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  assert.deepEqual(parseBasicAuthorization(`Basic ${b64('u:p:q')}`), { user: 'u', password: 'p:q' });
  assert.deepEqual(parseBasicAuthorization(`bAsIc   ${b64('ü:ß')}`), { user: 'ü', password: 'ß' });
  assert.deepEqual(parseBasicAuthorization(`Basic ${b64(':')}`), { user: '', password: '' });
  for (const bad of [undefined, '', 'Basic', `Bearer ${b64('u:p')}`, `Basic ${b64('nocolon')}`, 'Basic !!!', `Basic ${b64('u:p')} extra`]) {
    assert.equal(parseBasicAuthorization(bad), undefined, String(bad));
  }
});

test('isBcryptHash accepts the $2a$/$2b$/$2y$ forms and refuses anything else', () => {
  assert.ok(isBcryptHash(hash));
  assert.ok(isBcryptHash(hash.replace(/^\$2.\$/, '$2y$')));
  for (const bad of ['', 'secret', hash.slice(0, -1), hash.replace(/^\$2.\$/, '$1$'), hash.replace(/^\$2(.)\$04/, '$2$1$99')]) {
    assert.equal(isBcryptHash(bad), false, bad);
  }
});

test('a successful check is remembered and then answered without bcrypt; failures are not', async () => {
  const v = new BasicAuthVerifier(new Map([['prom', hash]]));
  const first = v.check('prom', 'right');
  assert.ok(first instanceof Promise, 'the first check runs bcrypt');
  assert.equal(await first, true);
  assert.equal(v.cachedCount, 1);
  assert.equal(v.check('prom', 'right'), true, 'the second check is answered from the cache, synchronously');
  assert.equal(await v.check('prom', 'wrong'), false);
  assert.equal(await v.check('prom', 'wrong'), false);
  assert.equal(v.cachedCount, 1, 'failures are not cached');
  assert.equal(await v.check('prom', 'Right'), false);
});

test('an unknown user costs a bcrypt check too, and never gets in', async () => {
  const v = new BasicAuthVerifier(new Map([['prom', hash]]));
  const r = v.check('nobody', 'right');
  assert.ok(r instanceof Promise);
  assert.equal(await r, false);
  assert.equal(v.cachedCount, 0);
});

test('the cache is bounded and forgets the oldest entry', async () => {
  const users = new Map([
    ['a', bcrypt.hashSync('pa', 4)],
    ['b', bcrypt.hashSync('pb', 4)],
    ['c', bcrypt.hashSync('pc', 4)],
  ]);
  const v = new BasicAuthVerifier(users, { cacheSize: 2 });
  for (const u of ['a', 'b', 'c']) assert.equal(await v.check(u, `p${u}`), true);
  assert.equal(v.cachedCount, 2);
  assert.equal(v.check('c', 'pc'), true);
  assert.ok(v.check('a', 'pa') instanceof Promise, 'the oldest entry was evicted');
});

test('uncached checks queue up to a bound; beyond it they are refused at once', async () => {
  const v = new BasicAuthVerifier(new Map([['prom', hash]]), { maxPending: 2 });
  const results = Array.from({ length: 5 }, () => v.check('prom', 'wrong'));
  assert.equal(results.filter((r) => r === false).length, 3);
  // check() answers a refusal at once (a boolean) and a queued check later (a promise).
  assert.deepEqual(await Promise.all(results.map((r) => Promise.resolve(r))), [false, false, false, false, false]);
  assert.equal(await v.check('prom', 'right'), true, 'the queue drains and works again');
});

test('a changed hash (config reload) does not reuse the old cached success', async () => {
  const v1 = new BasicAuthVerifier(new Map([['prom', hash]]));
  assert.equal(await v1.check('prom', 'right'), true);
  const v2 = new BasicAuthVerifier(new Map([['prom', bcrypt.hashSync('other', 4)]]));
  assert.equal(await v2.check('prom', 'right'), false);
});
