import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { LoadConfigResult } from '../../src/config/load-config.js';
import { loadConfigFrom } from '../support/config-input.js';
import { readConfigFile } from '../../src/config/read-config-file.js';
import { formatProblem } from '../../src/config/config-problem.js';
import { renderConfigDoc, renderHelp } from '../../src/config/describe-settings.js';
import { DEFAULT_EXPORTER_CONFIG } from '../../src/config/exporter-config.js';
import { CONFIG_SCHEMA, envVarOf, SETTING_NAMES } from '../../src/config/schema.js';

const load = loadConfigFrom;

function loaded(result: LoadConfigResult) {
  if (!result.ok) assert.fail(result.problems.map(formatProblem).join('\n'));
  return result;
}

function problemLines(result: LoadConfigResult): string[] {
  assert.equal(result.ok, false, 'expected problems');
  return result.ok ? [] : result.problems.map(formatProblem);
}

test('no input gives the contract defaults', () => {
  const { command, exporter, settings } = loaded(load([]));
  assert.equal(command, 'run');
  assert.deepEqual(exporter, DEFAULT_EXPORTER_CONFIG);
  assert.equal(settings.source, 'auto');
  assert.equal(settings.attachMode, 'auto');
  assert.equal(settings.logFormat, 'json');
  assert.deepEqual([settings.include, settings.exclude], [[], []]);
});

const FULL_FILE = `
server:
  host: 127.0.0.1
  port: 9090
  path: /stats
  readTimeout: 3s
  writeTimeout: 4s
  maxHeaderBytes: 8192
  enableCors: false
  enableGzip: false
  webConfigFile: /etc/netprobe/web.yml
collectInterval: 3s
activeWindow: 1m
interfaceFilter: [eth0, "wlan*"]
uplinks: [bond0, "eth*"]
enableActiveOnly: true
logLevel: debug
logFormat: text
source: netdev
pods:
  enabled: true
  logsDir: /host/var/log/pods
  perInterface: false
  cgroupRoot: /kubelet
  containers: true
departedRetention: 30s
drops:
  enabled: false
  maxSeries: 500
ebpf:
  attachMode: tc
  include: [eth*]
  exclude:
    - lo
`;

test('a config file sets every setting it names', () => {
  const { exporter, settings } = loaded(
    load(['--config.file=/n.yaml'], {}, { '/n.yaml': FULL_FILE, '/etc/netprobe/web.yml': '# plain HTTP\n' }),
  );
  assert.deepEqual(exporter, {
    server: {
      host: '127.0.0.1',
      port: 9090,
      path: '/stats',
      readTimeout: 3_000,
      writeTimeout: 4_000,
      maxHeaderBytes: 8192,
      enableCors: false,
      enableGzip: false,
      webConfigFile: '/etc/netprobe/web.yml',
    },
    collectInterval: 3_000,
    activeWindow: 60_000,
    interfaceFilter: ['eth0', 'wlan*'],
    uplinks: ['bond0', 'eth*'],
    enableActiveOnly: true,
    logLevel: 'debug',
    pods: { enabled: true, logsDir: '/host/var/log/pods', perInterface: false, cgroupRoot: '/kubelet', containers: true },
    departedRetention: 30_000,
    drops: { enabled: false, maxSeries: 500 },
  });
  assert.deepEqual(
    [settings.source, settings.attachMode, settings.include, settings.exclude, settings.logFormat],
    ['netdev', 'tc', ['eth*'], ['lo'], 'text'],
  );
});

test('precedence: flags > env > file > defaults, setting by setting', () => {
  const files = { '/f.yaml': 'collectInterval: 1s\nactiveWindow: 2s\nlogLevel: warn\nserver:\n  port: 9000\n  host: 127.0.0.1\n' };
  const env = { NETPROBE_CONFIG_FILE: '/f.yaml', NETPROBE_COLLECTOR_INTERVAL: '10s', NETPROBE_LOG_LEVEL: 'error' };
  const { exporter } = loaded(load(['--log.level=debug'], env, files));
  assert.equal(exporter.logLevel, 'debug', 'flag beats env and file');
  assert.equal(exporter.collectInterval, 10_000, 'env beats file');
  assert.equal(exporter.activeWindow, 2_000, 'file beats default');
  assert.deepEqual([exporter.server.host, exporter.server.port], ['127.0.0.1', 9000], 'file host and port apply without a listen address');
  assert.equal(exporter.server.writeTimeout, 10_000, 'default stays');

  const viaEnv = loaded(load([], { ...env, NETPROBE_WEB_LISTEN_ADDRESS: ':7000' }, files)).exporter.server;
  assert.deepEqual([viaEnv.host, viaEnv.port], ['', 7000], 'a listen address from env replaces both host and port of the file');
  const viaFlag = loaded(load(['--web.listen-address=[::1]:7001'], { ...env, NETPROBE_WEB_LISTEN_ADDRESS: ':7000' }, files)).exporter
    .server;
  assert.deepEqual([viaFlag.host, viaFlag.port], ['::1', 7001], 'flag beats env');
  assert.equal(
    loaded(load(['--config.file=/g.yaml'], env, { ...files, '/g.yaml': 'logLevel: info' })).exporter.collectInterval,
    10_000,
    '--config.file beats NETPROBE_CONFIG_FILE',
  );
});

test('file problems: every one reported, with the key, the value and a suggestion where cheap', () => {
  const file = `
server:
  prot: 9000
  port: 99999
  readTimeout: 10
collect_interval: 5s
activeWindow: soon
port: 1
enableActiveOnly: "maybe"
interfaceFilter: [eth0, "a b"]
ebpf: tcx
Server:
  port: 1
`;
  assert.deepEqual(problemLines(load(['--config.file=c.yaml'], {}, { 'c.yaml': file })), [
    'c.yaml: server.prot: unknown key (did you mean server.port?)',
    'c.yaml: server.port="99999": must be an integer from 0 to 65535',
    'c.yaml: server.readTimeout="10": must be a quoted string with a unit, e.g. "5s" (a bare number has no unit)',
    'c.yaml: collect_interval: unknown key (did you mean collectInterval?)',
    'c.yaml: activeWindow="soon": must be a duration like 500ms, 5s, 1m or 1h30m (units ms, s, m, h, d)',
    'c.yaml: port: unknown key (did you mean server.port?)',
    'c.yaml: enableActiveOnly="maybe": must be true or false',
    'c.yaml: interfaceFilter: interface pattern "a b": interface names never contain white space; use exact interface names or globs such as eth*, veth?*, {eth,ens}*',
    'c.yaml: ebpf="tcx": must be a mapping of ebpf settings (ebpf.attachMode, ebpf.include, ebpf.exclude, ebpf.pinPath, ebpf.cleanup, ebpf.pinLockTimeout, ebpf.object)',
    'c.yaml: Server: unknown key (did you mean server?)',
  ]);
});

test('an unreadable, malformed or non-mapping file is a problem, and is reported with the flag and env problems', () => {
  assert.deepEqual(problemLines(load(['--config.file=/missing.yaml', '--log.level=loud'])), [
    '--log.level="loud": must be one of debug, info, warn, error',
    '--config.file="/missing.yaml": cannot read the config file: no such file',
  ]);
  assert.deepEqual(problemLines(load([], { NETPROBE_CONFIG_FILE: '/missing.yaml' })), [
    'NETPROBE_CONFIG_FILE="/missing.yaml": cannot read the config file: no such file',
  ]);
  const [malformed] = problemLines(load(['--config.file=m.yaml'], {}, { 'm.yaml': 'server:\n  port: 1\n  port: 2\n' }));
  assert.match(malformed as string, /^m\.yaml: not valid YAML: .*unique.* at line 3, column 3/);
  const [unclosed] = problemLines(load(['--config.file=u.yaml'], {}, { 'u.yaml': 'interfaceFilter: [eth0\n' }));
  assert.match(unclosed as string, /^u\.yaml: not valid YAML: /);
  assert.doesNotMatch(unclosed as string, /\n/);
  assert.deepEqual(problemLines(load(['--config.file=l.yaml'], {}, { 'l.yaml': '- a\n- b\n' })), [
    'l.yaml: must be a YAML mapping of settings, e.g. "collectInterval: 5s"',
  ]);
});

test('the web config file is checked with the rest: unreadable or invalid is a problem naming where it was set', () => {
  const webConfigs = {
    '/etc/np/web.yml': 'basic_auth_users:\n  prometheus: $2y$10$abcdefghijklmnopqrstuuJd1y0tkcU6JpOKpGnMdKr5vMqDFvdmu\n',
    '/etc/np/typo.yml': 'tls_server_confg: {}\nbasic_auth_users:\n  prometheus: plain-text\n',
  };
  assert.equal(loaded(load(['--web.config.file=/etc/np/web.yml'], {}, webConfigs)).exporter.server.webConfigFile, '/etc/np/web.yml');
  assert.deepEqual(problemLines(load(['--web.config.file=/etc/np/missing.yml'])), [
    '--web.config.file="/etc/np/missing.yml": cannot read the web config file: no such file',
  ]);
  const lines = problemLines(load([], { NETPROBE_WEB_CONFIG_FILE: '/etc/np/typo.yml' }, webConfigs));
  assert.ok(lines.length >= 2, lines.join('\n'));
  for (const line of lines) assert.match(line, /^NETPROBE_WEB_CONFIG_FILE="\/etc\/np\/typo\.yml": web config file: /);
  assert.match(lines.join('\n'), /tls_server_confg/);
  assert.match(lines.join('\n'), /prometheus/);
  const fromFile = problemLines(load(['--config.file=/n.yaml'], {}, { '/n.yaml': 'server:\n  webConfigFile: /etc/np/missing.yml\n' }));
  assert.deepEqual(fromFile, ['/n.yaml: server.webConfigFile="/etc/np/missing.yml": cannot read the web config file: no such file']);
});

test('an empty file, and keys left empty, keep the defaults', () => {
  assert.deepEqual(readConfigFile('', 'e.yaml'), { values: {}, problems: [] });
  assert.deepEqual(readConfigFile('# nothing yet\n', 'e.yaml'), { values: {}, problems: [] });
  assert.deepEqual(readConfigFile('interfaceFilter:\nserver:\n', 'e.yaml'), { values: {}, problems: [] });
});

test('--help and --version answer even next to invalid input', () => {
  assert.equal(loaded(load(['--bogus', '--help'])).command, 'help');
  assert.equal(loaded(load(['--version'], { NETPROBE_LOG_LEVEL: 'loud' })).command, 'version');
});

test('--help documents every flag with its default and env var', () => {
  const help = renderHelp('1.2.3');
  assert.match(help, /^netprobe 1\.2\.3/);
  for (const name of SETTING_NAMES) {
    const setting = CONFIG_SCHEMA[name];
    if (setting.flag === undefined) {
      assert.ok(help.includes(`${setting.file}:`), `${name} (file only) is documented`);
      continue;
    }
    assert.ok(help.includes(`--${setting.flag}`) || help.includes(`--[no-]${setting.flag}`), `${setting.flag} is documented`);
    assert.ok(help.includes(`env: ${envVarOf(setting.flag)}`), `${setting.flag} names its env var`);
  }
  assert.match(help, /--web\.listen-address=<host:port>\n.*\n\s+\(default: :8081; env: NETPROBE_WEB_LISTEN_ADDRESS\)/);
  assert.match(help, /--collector\.interval=<duration>\n.*\n\s+\(default: 5s; env: NETPROBE_COLLECTOR_INTERVAL; file: collectInterval\)/);
});

test('docs/configuration.md is what the schema generates (run scripts/gen-config-doc.ts after changing it)', () => {
  const committed = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  assert.equal(committed, renderConfigDoc());
});

test('the example config file in the docs loads and equals the defaults', () => {
  const doc = renderConfigDoc();
  const example = /```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(example, 'the doc has an example file');
  const { exporter } = loaded(load(['--config.file=x.yaml'], {}, { 'x.yaml': example }));
  assert.deepEqual(exporter, DEFAULT_EXPORTER_CONFIG);
});
