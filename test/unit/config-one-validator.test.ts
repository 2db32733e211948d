/**
 * One validator: the TypeScript API (`new Exporter(source, config)`, in
 * milliseconds) and the flags, env and file accept and refuse the same values,
 * because both come from src/config/schema.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exporterConfigFields, exporterConfigProblems } from '../../src/config/check-exporter-config.js';
import { withDefaults, type ExporterConfigInput } from '../../src/config/exporter-config.js';
import { parseFlags } from '../../src/config/parse-flags.js';
import { CONFIG_SCHEMA, settingOf, SETTING_NAMES } from '../../src/config/schema.js';

function apiProblems(input: ExporterConfigInput): string[] {
  return exporterConfigProblems(withDefaults(input));
}

function flagAccepts(arg: string): boolean {
  return parseFlags([arg]).problems.length === 0;
}

test('every ExporterConfig field is a setting of the schema (its file key), so none goes unchecked', () => {
  const fileKeys = new Set(SETTING_NAMES.map((name) => settingOf(name).file));
  const fields = exporterConfigFields();
  assert.ok(fields.includes('server.port') && fields.includes('collectInterval'), fields.join(', '));
  assert.deepEqual(
    fields.filter((f) => !fileKeys.has(f)),
    [],
    'ExporterConfig fields without a schema entry',
  );
  assert.deepEqual(apiProblems({}), [], 'the defaults are valid');
});

test('host names: one rule for --web.listen-address, server.host and the API', () => {
  const hostKind = CONFIG_SCHEMA.host.kind;
  const cases: Array<[string, boolean]> = [
    ['', true],
    ['127.0.0.1', true],
    ['::1', true],
    ['localhost', true],
    ['node-1.example.com', true],
    ['a'.repeat(63), true],
    ['a'.repeat(64), false],
    ['bad_host', false],
    ['-x', false],
    ['x-', false],
    ['a..b', false],
    ['a.-b', false],
    ['has space', false],
  ];
  for (const [host, valid] of cases) {
    const byFile = (() => {
      try {
        hostKind.fromText(host);
        return true;
      } catch {
        return false;
      }
    })();
    const listen = host.includes(':') ? `[${host}]:9100` : `${host}:9100`;
    assert.equal(byFile, valid, `server.host ${JSON.stringify(host)}`);
    assert.equal(flagAccepts(`--web.listen-address=${listen}`), valid, `--web.listen-address=${listen}`);
    assert.equal(apiProblems({ server: { host } }).length === 0, valid, `API server.host ${JSON.stringify(host)}`);
  }
});

test('ranges: the same limits by flag (a duration) and by the API (milliseconds)', () => {
  const cases: Array<[string, string, ExporterConfigInput, boolean]> = [
    ['--collector.interval=100ms', 'collectInterval', { collectInterval: 100 }, true],
    ['--collector.interval=99ms', 'collectInterval', { collectInterval: 99 }, false],
    ['--collector.interval=1h', 'collectInterval', { collectInterval: 3_600_000 }, true],
    ['--collector.interval=1h1ms', 'collectInterval', { collectInterval: 3_600_001 }, false],
    ['--web.read-timeout=1ms', 'server.readTimeout', { server: { readTimeout: 1 } }, true],
    ['--web.read-timeout=0s', 'server.readTimeout', { server: { readTimeout: 0 } }, false],
    ['--web.max-header-bytes=1024', 'server.maxHeaderBytes', { server: { maxHeaderBytes: 1024 } }, true],
    ['--web.max-header-bytes=1023', 'server.maxHeaderBytes', { server: { maxHeaderBytes: 1023 } }, false],
    ['--web.telemetry-path=/m', 'server.path', { server: { path: '/m' } }, true],
    ['--web.telemetry-path=/health', 'server.path', { server: { path: '/health' } }, false],
    ['--web.telemetry-path=/a?b', 'server.path', { server: { path: '/a?b' } }, false],
    ['--collector.interface-filter=eth*', 'interfaceFilter', { interfaceFilter: ['eth*'] }, true],
    ['--collector.interface-filter=a/b', 'interfaceFilter', { interfaceFilter: ['a/b'] }, false],
    ['--log.level=debug', 'logLevel', { logLevel: 'debug' }, true],
    ['--log.level=loud', 'logLevel', { logLevel: 'loud' as never }, false],
  ];
  for (const [flag, field, input, valid] of cases) {
    assert.equal(flagAccepts(flag), valid, flag);
    const problems = apiProblems(input);
    assert.equal(problems.length === 0, valid, `${field}: ${problems.join('; ')}`);
    if (!valid) assert.match(problems[0] ?? '', new RegExp(`^${field.replace('.', '\\.')}[= ]`), 'the line names the field');
  }
});

test('API problems: one line each, naming the field, the value and what is allowed (milliseconds)', () => {
  assert.deepEqual(apiProblems({ collectInterval: 5, server: { enableGzip: 'yes' as never } }), [
    'server.enableGzip="yes": must be true or false',
    'collectInterval=5: must be an integer from 100 to 3600000 ms',
  ]);
  assert.deepEqual(apiProblems({ interfaceFilter: ['ok', 7 as never] }), ['interfaceFilter entry 7: must be a string']);
  assert.deepEqual(apiProblems({ interfaceFilter: 'eth0' as never }), [
    'interfaceFilter="eth0": must be an array of interface names or globs (eth0, eth*, veth*), comma-separated or repeated',
  ]);
  const noServer = exporterConfigProblems({ ...withDefaults(), server: null });
  assert.equal(noServer[0], 'server=null: must be an object');
});
