import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readEnv } from '../../src/config/read-env.js';
import { formatProblem } from '../../src/config/config-problem.js';
import { CONFIG_SCHEMA, envVarOf, SETTING_NAMES } from '../../src/config/schema.js';

test('every flag has a NETPROBE_* env var derived from its name', () => {
  assert.equal(envVarOf('web.listen-address'), 'NETPROBE_WEB_LISTEN_ADDRESS');
  assert.equal(envVarOf('collector.active-only'), 'NETPROBE_COLLECTOR_ACTIVE_ONLY');
  const vars = SETTING_NAMES.flatMap((name) => {
    const flag = CONFIG_SCHEMA[name].flag;
    return flag === undefined ? [] : [envVarOf(flag)];
  });
  assert.equal(new Set(vars).size, vars.length, 'env vars are unique');
  // Kubernetes injects <SERVICE>_PORT and <SERVICE>_SERVICE_* for a Service named netprobe.
  for (const injected of ['NETPROBE_PORT', 'NETPROBE_SERVICE_HOST', 'NETPROBE_SERVICE_PORT']) assert.ok(!vars.includes(injected), injected);
});

test('reads values of every kind; empty counts as unset; unrelated NETPROBE_* variables are ignored', () => {
  const { values, problems } = readEnv({
    NETPROBE_WEB_LISTEN_ADDRESS: '127.0.0.1:0',
    NETPROBE_COLLECTOR_INTERVAL: '2s',
    NETPROBE_COLLECTOR_INTERFACE_FILTER: 'eth*,wlan0',
    NETPROBE_COLLECTOR_ACTIVE_ONLY: 'true',
    NETPROBE_WEB_ENABLE_GZIP: 'false',
    NETPROBE_LOG_LEVEL: '',
    NETPROBE_SERVICE_HOST: '10.0.0.1',
    NETPROBE_PORT: 'tcp://10.0.0.1:8081',
    PATH: '/usr/bin',
  });
  assert.deepEqual(problems, []);
  assert.deepEqual(values, {
    listenAddress: { host: '127.0.0.1', port: 0 },
    collectInterval: 2_000,
    interfaceFilter: ['eth*', 'wlan0'],
    enableActiveOnly: true,
    enableGzip: false,
  });
});

test('invalid env values are reported by variable name, all of them', () => {
  const { problems } = readEnv({ NETPROBE_COLLECTOR_INTERVAL: 'fast', NETPROBE_WEB_ENABLE_CORS: 'sometimes', NETPROBE_SOURCE: 'xdp' });
  assert.deepEqual(problems.map(formatProblem), [
    'NETPROBE_WEB_ENABLE_CORS="sometimes": must be true or false',
    'NETPROBE_COLLECTOR_INTERVAL="fast": must be a duration like 500ms, 5s, 1m or 1h30m (units ms, s, m, h, d)',
    'NETPROBE_SOURCE="xdp": must be one of auto, ebpf, netdev',
  ]);
});
