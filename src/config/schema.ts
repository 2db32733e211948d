/**
 * The one schema of every netprobe setting: its flag, env var, YAML key, kind,
 * default and help. The loader, `--help` and docs/configuration.md are all
 * derived from it, so adding a setting is adding one entry here.
 */
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log/logger.js';
import { DEFAULT_EXPORTER_CONFIG, DEFAULT_SERVER_CONFIG } from './exporter-config.js';
import { checkInterfacePattern } from './interface-pattern.js';
import { checkListenHost } from './listen-host.js';
import { checkCapabilitiesKeep, DEFAULT_CAPABILITIES_KEEP } from '../security/capabilities.js';
import {
  booleanKind,
  durationKind,
  enumKind,
  integerKind,
  listKind,
  listenAddressKind,
  stringKind,
  type ListenAddress,
  type ValueKind,
} from './value-kinds.js';

export interface Setting<T> {
  readonly kind: ValueKind<T>;
  readonly default: T;
  /** One sentence or two: what it does and when to change it. */
  readonly help: string;
  /** Flag name without `--`; absent = not settable by flag (nor env). */
  readonly flag?: string;
  /** Dotted YAML path (`server.port`); absent = not settable in the file. */
  readonly file?: string;
  /** How the default is shown when `kind.format(default)` would mislead. */
  readonly defaultText?: string;
}

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

export const SOURCES = ['auto', 'ebpf', 'netdev'] as const;
export type SourceSetting = (typeof SOURCES)[number];
export const ATTACH_MODES = ['auto', 'tcx', 'tc'] as const;
export type AttachModeSetting = (typeof ATTACH_MODES)[number];

const HOUR = 3_600_000;

const interfacePatterns = listKind({
  placeholder: 'names',
  allowed: 'interface names or globs (eth0, eth*, veth*), comma-separated or repeated',
  checkItem: checkInterfacePattern,
});

function checkTelemetryPath(path: string): string | undefined {
  if (!/^\/[^\s?#]*$/.test(path)) return 'must start with / and contain no spaces, ? or #';
  if (path === '/' || path === '/health')
    return `must not be ${path}: that path serves ${path === '/' ? 'the overview page' : 'the health check'}`;
  return undefined;
}

/** The flag naming the config file (env: NETPROBE_CONFIG_FILE); read before the file can be. */
export const CONFIG_FILE_FLAG = 'config.file';

/** Every setting, in the order `--help` and the docs show them. */
export const CONFIG_SCHEMA = {
  configFile: setting({
    flag: CONFIG_FILE_FLAG,
    kind: stringKind({ placeholder: 'path', allowed: 'a path to a YAML file' }),
    default: '',
    defaultText: 'none',
    help: 'YAML file with any of the file keys below. Flags override env vars, which override the file.',
  }),
  listenAddress: setting<ListenAddress | undefined>({
    flag: 'web.listen-address',
    kind: listenAddressKind,
    default: undefined,
    defaultText: `:${DEFAULT_SERVER_CONFIG.port}`,
    help: 'Address to serve metrics, /health and / on. Port 0 picks a free port. In the file: server.host and server.port.',
  }),
  host: setting({
    file: 'server.host',
    kind: stringKind({ placeholder: 'host', allowed: 'an IP address or host name; empty = all addresses', check: checkListenHost }),
    default: DEFAULT_SERVER_CONFIG.host,
    defaultText: '"" (all addresses)',
    help: 'Listen address (file only; flag and env: --web.listen-address).',
  }),
  port: setting({
    file: 'server.port',
    kind: integerKind({ min: 0, max: 65535, placeholder: 'port' }),
    default: DEFAULT_SERVER_CONFIG.port,
    help: 'Listen port; 0 picks a free one (file only; flag and env: --web.listen-address).',
  }),
  path: setting({
    flag: 'web.telemetry-path',
    file: 'server.path',
    kind: stringKind({ placeholder: 'path', allowed: 'a URL path starting with /', check: checkTelemetryPath }),
    default: DEFAULT_SERVER_CONFIG.path,
    help: 'Path under which metrics are served.',
  }),
  readTimeout: setting({
    flag: 'web.read-timeout',
    file: 'server.readTimeout',
    kind: durationKind({ min: 1, max: HOUR }),
    default: DEFAULT_SERVER_CONFIG.readTimeout,
    help: 'Limit for reading a whole request; slower clients are cut off.',
  }),
  writeTimeout: setting({
    flag: 'web.write-timeout',
    file: 'server.writeTimeout',
    kind: durationKind({ min: 1, max: HOUR }),
    default: DEFAULT_SERVER_CONFIG.writeTimeout,
    help: 'Limit for writing a response.',
  }),
  maxHeaderBytes: setting({
    flag: 'web.max-header-bytes',
    file: 'server.maxHeaderBytes',
    kind: integerKind({ min: 1024, max: 64 << 20, placeholder: 'bytes', unit: 'bytes' }),
    default: DEFAULT_SERVER_CONFIG.maxHeaderBytes,
    help: 'Requests with larger headers get 431.',
  }),
  enableCors: setting({
    flag: 'web.enable-cors',
    file: 'server.enableCors',
    kind: booleanKind,
    default: DEFAULT_SERVER_CONFIG.enableCors,
    help: 'Send Access-Control-Allow-Origin: * and answer OPTIONS preflight requests.',
  }),
  enableGzip: setting({
    flag: 'web.enable-gzip',
    file: 'server.enableGzip',
    kind: booleanKind,
    default: DEFAULT_SERVER_CONFIG.enableGzip,
    help: 'Compress responses with gzip when the client accepts it.',
  }),
  webConfigFile: setting({
    flag: 'web.config.file',
    file: 'server.webConfigFile',
    kind: stringKind({ placeholder: 'path', allowed: 'a path to an exporter-toolkit web config file' }),
    default: DEFAULT_SERVER_CONFIG.webConfigFile,
    defaultText: 'none (plain HTTP)',
    help: 'Prometheus exporter-toolkit web config file enabling TLS and/or basic auth.',
  }),
  collectInterval: setting({
    flag: 'collector.interval',
    file: 'collectInterval',
    kind: durationKind({ min: 100, max: HOUR }),
    default: DEFAULT_EXPORTER_CONFIG.collectInterval,
    help: 'How often the kernel counters are read; rates are computed over this interval.',
  }),
  activeWindow: setting({
    flag: 'collector.active-window',
    file: 'activeWindow',
    kind: durationKind({ min: 100, max: 24 * HOUR }),
    default: DEFAULT_EXPORTER_CONFIG.activeWindow,
    help: 'An interface is active if it carried a packet within this window (set it to the interval for "traffic in the last interval").',
  }),
  interfaceFilter: setting({
    flag: 'collector.interface-filter',
    file: 'interfaceFilter',
    kind: interfacePatterns,
    default: [...DEFAULT_EXPORTER_CONFIG.interfaceFilter],
    defaultText: 'all',
    help: 'Interfaces to export (names or globs); empty = all.',
  }),
  uplinks: setting({
    flag: 'collector.uplinks',
    file: 'uplinks',
    kind: interfacePatterns,
    default: [...DEFAULT_EXPORTER_CONFIG.uplinks],
    defaultText: "the default routes' devices",
    help: "The node's uplinks (names or globs), where the default routes name the wrong devices (a kind node's uplink is a veth). Node totals are the traffic crossing the uplinks.",
  }),
  enableActiveOnly: setting({
    flag: 'collector.active-only',
    file: 'enableActiveOnly',
    kind: booleanKind,
    default: DEFAULT_EXPORTER_CONFIG.enableActiveOnly,
    help: 'Export only interfaces active within the active window.',
  }),
  pods: setting({
    flag: 'collector.pods',
    file: 'pods.enabled',
    kind: booleanKind,
    default: DEFAULT_EXPORTER_CONFIG.pods.enabled,
    help: "Label each pod's host-side veth with namespace and pod, and export per-namespace totals. Needs hostPID and the kubelet's pod log directory (docs/deployment.md).",
  }),
  podLogsDir: setting({
    flag: 'kubernetes.pod-logs-dir',
    file: 'pods.logsDir',
    kind: stringKind({
      placeholder: 'dir',
      allowed: "the path of the kubelet's pod log directory",
      check: (dir) => (dir === '' ? "must be a directory path (the kubelet's /var/log/pods)" : undefined),
    }),
    default: DEFAULT_EXPORTER_CONFIG.pods.logsDir,
    help: "Where the kubelet's pod log directories (<namespace>_<name>_<uid>) are mounted (read-only); they give pods their names.",
  }),
  kubeletCgroupRoot: setting({
    flag: 'kubernetes.cgroup-root',
    file: 'pods.cgroupRoot',
    kind: stringKind({
      placeholder: 'path',
      allowed: "the kubelet's --cgroup-root, an absolute cgroup path",
      check: (path) =>
        !path.startsWith('/') || path.split('/').some((s) => s === '..' || s === '.')
          ? "must be an absolute cgroup path like the kubelet's --cgroup-root (/ by default)"
          : undefined,
    }),
    default: DEFAULT_EXPORTER_CONFIG.pods.cgroupRoot,
    help: "With --collector.pods: the kubelet's --cgroup-root. A process counts as a pod's only if its kubepods cgroup is at the root of the hierarchy, right below this path, or in a systemd slice chain (kubelet.slice/kubelet-kubepods.slice), never inside a user's delegated subtree.",
  }),
  podsPerInterface: setting({
    flag: 'collector.pods.per-interface',
    file: 'pods.perInterface',
    kind: booleanKind,
    default: DEFAULT_EXPORTER_CONFIG.pods.perInterface,
    help: 'With --collector.pods: also export per-interface series of pod interfaces; false exports only the namespace totals for them.',
  }),
  podsContainers: setting({
    flag: 'collector.pods.containers',
    file: 'pods.containers',
    kind: booleanKind,
    default: DEFAULT_EXPORTER_CONFIG.pods.containers,
    help: 'With --collector.pods and the ebpf source: split the pod socket families (netprobe_pod_socket_*) by container; there are then no pod-level series beside the container ones. Off by default for cardinality.',
  }),
  departedRetention: setting({
    flag: 'collector.departed-retention',
    file: 'departedRetention',
    kind: durationKind({ min: 0, max: 24 * HOUR }),
    default: DEFAULT_EXPORTER_CONFIG.departedRetention,
    help: "With --collector.pods: how long a vanished interface keeps its final values exported, so a short-lived pod's last traffic is scraped at least once.",
  }),
  drops: setting({
    flag: 'collector.drops',
    file: 'drops.enabled',
    kind: booleanKind,
    default: DEFAULT_EXPORTER_CONFIG.drops.enabled,
    help: "With the ebpf source: count the packets the kernel drops, by the kernel's reason, per pod and namespace (netprobe_drops_total). Needs CAP_PERFMON beside CAP_BPF and a kernel with BTF; without them netprobe warns and counts everything else.",
  }),
  dropsMaxSeries: setting({
    flag: 'collector.drops.max-series',
    file: 'drops.maxSeries',
    kind: integerKind({ min: 1, max: 1_000_000, placeholder: 'n' }),
    default: DEFAULT_EXPORTER_CONFIG.drops.maxSeries,
    help: 'Most (pod, interface, reason) series of netprobe_drops_total; drops of further keys count in their namespace total and in netprobe_drops_overflow_total.',
  }),
  source: setting<SourceSetting>({
    flag: 'source',
    file: 'source',
    kind: enumKind(SOURCES),
    default: 'auto',
    help: "Where counters come from: ebpf (TC programs; fail if unavailable), netdev (the kernel's interface statistics), auto (ebpf, else netdev with a warning).",
  }),
  attachMode: setting<AttachModeSetting>({
    flag: 'ebpf.attach-mode',
    file: 'ebpf.attachMode',
    kind: enumKind(ATTACH_MODES),
    default: 'auto',
    help: 'How the eBPF programs attach: tcx links (kernel 6.6+), tc (clsact qdisc + cls_bpf), auto (tcx when available).',
  }),
  include: setting({
    flag: 'ebpf.include',
    file: 'ebpf.include',
    kind: interfacePatterns,
    default: [] as string[],
    defaultText: 'all',
    help: 'Interfaces to attach to (names or globs); empty = all.',
  }),
  exclude: setting({
    flag: 'ebpf.exclude',
    file: 'ebpf.exclude',
    kind: interfacePatterns,
    default: [] as string[],
    defaultText: 'none',
    help: 'Interfaces never to attach to (names or globs); wins over --ebpf.include.',
  }),
  pinPath: setting({
    flag: 'ebpf.pin-path',
    file: 'ebpf.pinPath',
    kind: stringKind({ placeholder: 'dir', allowed: 'a directory on a bpffs mount, e.g. /sys/fs/bpf/netprobe' }),
    default: '',
    defaultText: 'none (nothing outlives the process)',
    help: 'Pin the counter maps and tcx links here (bpffs): a stop (SIGTERM) leaves the programs counting and the next start adopts them, so counters never reset across restarts and upgrades.',
  }),
  cleanup: setting({
    flag: 'ebpf.cleanup',
    file: 'ebpf.cleanup',
    kind: booleanKind,
    default: false,
    help: 'With --ebpf.pin-path: detach and unpin everything netprobe left there, then exit (the uninstall step).',
  }),
  pinLockTimeout: setting({
    flag: 'ebpf.pin-lock-timeout',
    file: 'ebpf.pinLockTimeout',
    kind: durationKind({ min: 0, max: HOUR }),
    default: 30_000,
    help: 'With --ebpf.pin-path: how long to wait while another netprobe holds the pin path (its lock) before failing; covers a rollout whose new pod starts before the old one has exited. --ebpf.cleanup waits too.',
  }),
  objectFile: setting({
    flag: 'ebpf.object',
    file: 'ebpf.object',
    kind: stringKind({ placeholder: 'path', allowed: 'a path to a compiled netprobe BPF object' }),
    default: '',
    defaultText: 'the object shipped with netprobe',
    help: 'The compiled BPF object to load (a custom build of bpf/netprobe.bpf.c).',
  }),
  logLevel: setting<LogLevel>({
    flag: 'log.level',
    file: 'logLevel',
    kind: enumKind(LOG_LEVELS),
    default: DEFAULT_EXPORTER_CONFIG.logLevel,
    help: 'Only log messages of this level or above.',
  }),
  capabilitiesKeep: setting({
    flag: 'capabilities.keep',
    file: 'capabilities.keep',
    kind: stringKind({
      placeholder: 'caps',
      allowed: 'comma-separated capability names (bpf,net_admin), all (no drop) or none',
      check: checkCapabilitiesKeep,
    }),
    default: DEFAULT_CAPABILITIES_KEEP,
    help: 'After attaching, drop every capability not listed (like ebpf_exporter). bpf,net_admin keeps attaching new interfaces; all keeps everything.',
  }),
  logFormat: setting<LogFormat>({
    flag: 'log.format',
    file: 'logFormat',
    kind: enumKind(LOG_FORMATS),
    default: 'json',
    help: 'json for log pipelines, text for one human-readable line per event.',
  }),
} as const;

export type SettingName = keyof typeof CONFIG_SCHEMA;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
/** The resolved value of every setting (durations in milliseconds). */
export type Settings = { -readonly [K in SettingName]: ValueOf<(typeof CONFIG_SCHEMA)[K]> };

export const SETTING_NAMES = Object.keys(CONFIG_SCHEMA) as SettingName[];

/** The env var of a flag: `--web.listen-address` → `NETPROBE_WEB_LISTEN_ADDRESS`. */
export function envVarOf(flag: string): string {
  return `NETPROBE_${flag.toUpperCase().replace(/[.-]/g, '_')}`;
}

/** The schema entry of a setting, loosely typed for generic walkers. */
export function settingOf(name: SettingName): Setting<unknown> {
  return CONFIG_SCHEMA[name];
}

export function defaultSettings(): Settings {
  const settings = {} as Record<SettingName, unknown>;
  for (const name of SETTING_NAMES) {
    const value = CONFIG_SCHEMA[name].default;
    settings[name] = Array.isArray(value) ? [...value] : value;
  }
  return settings as Settings;
}
