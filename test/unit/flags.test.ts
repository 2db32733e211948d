import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../../src/config/parse-flags.js';
import { formatProblem } from '../../src/config/config-problem.js';

function ok(argv: string[]) {
  const result = parseFlags(argv);
  assert.deepEqual(result.problems, [], argv.join(' '));
  return result.values;
}

function problems(argv: string[]): string[] {
  return parseFlags(argv).problems.map(formatProblem);
}

test('reads every kind of flag, with = or as the next argument', () => {
  const { command, settings } = ok([
    '--web.listen-address',
    '127.0.0.1:9100',
    '--web.telemetry-path=/m',
    '--collector.interval=1m30s',
    '--collector.active-window',
    '10s',
    '--web.max-header-bytes=4096',
    '--collector.active-only',
    '--no-web.enable-cors',
    '--web.enable-gzip=false',
    '--source=netdev',
    '--ebpf.attach-mode',
    'tc',
    '--log.level=debug',
    '--log.format=text',
  ]);
  assert.equal(command, 'run');
  assert.deepEqual(settings, {
    listenAddress: { host: '127.0.0.1', port: 9100 },
    path: '/m',
    collectInterval: 90_000,
    activeWindow: 10_000,
    maxHeaderBytes: 4096,
    enableActiveOnly: true,
    enableCors: false,
    enableGzip: false,
    source: 'netdev',
    attachMode: 'tc',
    logLevel: 'debug',
    logFormat: 'text',
  });
});

test('listen addresses: all addresses, IPv4, IPv6, host names, port 0', () => {
  const cases: Array<[string, { host: string; port: number }]> = [
    [':8081', { host: '', port: 8081 }],
    ['0.0.0.0:80', { host: '0.0.0.0', port: 80 }],
    ['[::1]:9100', { host: '::1', port: 9100 }],
    ['[::]:0', { host: '::', port: 0 }],
    ['localhost:65535', { host: 'localhost', port: 65535 }],
  ];
  for (const [text, expected] of cases) assert.deepEqual(ok([`--web.listen-address=${text}`]).settings.listenAddress, expected, text);
});

test('list flags take comma lists and accumulate when repeated; a later scalar flag wins', () => {
  const { settings } = ok([
    '--collector.interface-filter=eth0, wlan0',
    '--collector.interface-filter',
    'veth*',
    '--ebpf.exclude=lo',
    '--log.level=warn',
    '--log.level=error',
  ]);
  assert.deepEqual(settings.interfaceFilter, ['eth0', 'wlan0', 'veth*']);
  assert.deepEqual(settings.exclude, ['lo']);
  assert.equal(settings.logLevel, 'error');
});

test('commands: --help wins over --version, which wins over --check', () => {
  assert.equal(ok(['--check']).command, 'check');
  assert.equal(ok(['--check', '--version']).command, 'version');
  assert.equal(ok(['--version', '-h']).command, 'help');
});

test('every problem is reported, one per mistake, naming the flag, the value and what is allowed', () => {
  const lines = problems([
    '--colector.interval',
    '5s',
    '--web.listen-address=:70000',
    'stray',
    '--collector.interval=5',
    '--web.telemetry-path',
    '--log.level',
    'loud',
    '--collector.active-only=maybe',
    '--no-log.level',
    '--help=yes',
  ]);
  assert.deepEqual(lines, [
    '--colector.interval: unknown flag (did you mean --collector.interval?); see --help',
    '--web.listen-address=":70000": port 70000 is out of range: must be from 0 to 65535',
    'argument="stray": unexpected argument; every setting is a --flag (see --help)',
    '--collector.interval="5": must be a duration like 500ms, 5s, 1m or 1h30m (units ms, s, m, h, d)',
    '--web.telemetry-path: needs a value: a URL path starting with / (--web.telemetry-path=<path>)',
    '--log.level="loud": must be one of debug, info, warn, error',
    '--collector.active-only="maybe": must be true or false',
    '--no-log.level: unknown flag (did you mean --log.level?); see --help',
    '--help="yes": takes no value',
  ]);
});

test('invalid values, one table row each', () => {
  const cases: Array<[string, RegExp]> = [
    ['--web.listen-address=8081', /must be host:port, :port or \[ipv6\]:port/],
    ['--web.listen-address=[1.2.3.4]:80', /must be an IPv6 address/],
    ['--web.listen-address=bad_host!:80', /neither an IP address nor a host name/],
    ['--web.telemetry-path=metrics', /must start with \//],
    ['--web.telemetry-path=/health', /must not be \/health/],
    ['--web.read-timeout=0s', /from 1ms to 1h/],
    ['--collector.interval=10ms', /from 100ms to 1h/],
    ['--collector.active-window=2d', /from 100ms to 24h/],
    ['--web.max-header-bytes=12', /integer from 1024 to 67108864/],
    ['--web.max-header-bytes=1MiB', /integer from 1024/],
    ['--source=bpf', /must be one of auto, ebpf, netdev/],
    ['--ebpf.attach-mode=xdp', /must be one of auto, tcx, tc/],
    ['--log.format=yaml', /must be one of json, text/],
    ['--ebpf.include=eth 0', /interface pattern "eth 0": interface names never contain white space/],
    ['--collector.interface-filter=averyveryverylongname0', /longer than 15 bytes/],
    ['--no-web.enable-cors=true', /takes no value \(write --web.enable-cors=false\)/],
  ];
  for (const [arg, message] of cases) {
    const lines = problems([arg]);
    assert.equal(lines.length, 1, arg);
    assert.match(lines[0] as string, message, arg);
    assert.ok((lines[0] as string).startsWith(arg.split('=')[0] as string), `${arg} names its flag: ${lines[0]}`);
  }
});
