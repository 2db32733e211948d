import type { LogLevel } from '../log/logger.js';

/** HTTP server settings (the seed's ServerConfig). Durations in milliseconds. */
export interface ServerConfig {
  /** Listen port; 0 picks a free one (the real port is reported by `Exporter.port`). */
  port: number;
  /** Listen address; empty = all addresses. */
  host: string;
  /** Metrics path. */
  path: string;
  /** Whole-request read limit; slower clients are cut off. */
  readTimeout: number;
  /** Response write limit. */
  writeTimeout: number;
  /** Request headers larger than this get 431. */
  maxHeaderBytes: number;
  /** `Access-Control-Allow-Origin: *` and OPTIONS preflight. */
  enableCors: boolean;
  /** gzip when the client accepts it. */
  enableGzip: boolean;
  /** Path of an exporter-toolkit web config file (TLS, basic auth); empty = plain HTTP. */
  webConfigFile: string;
}

/** Pod attribution (docs/metrics.md "Pods and namespaces"; docs/deployment.md for what it needs). */
export interface PodsConfig {
  /** Label each pod's host-side veth with `namespace` and `pod`, and export per-namespace totals. */
  enabled: boolean;
  /** The kubelet's pod log directory (`<namespace>_<name>_<uid>` entries), mounted read-only. */
  logsDir: string;
  /** Export per-interface series of pod interfaces too (false: only the namespace totals for them). */
  perInterface: boolean;
  /**
   * The kubelet's --cgroup-root: a process counts as a pod's only if its
   * kubepods cgroup is at the root of the hierarchy, below this root, or in a
   * systemd slice chain (docs/deployment.md).
   */
  cgroupRoot: string;
  /** Split the pod socket families by container (`--collector.pods.containers`). */
  containers: boolean;
}

/** Drops by reason (docs/metrics.md "Drops by reason"). */
export interface DropsConfig {
  /** Count drops by reason with the drop meter (ebpf source only). */
  enabled: boolean;
  /** Most (pod, interface, reason) series of netprobe_drops_total; more count as overflow. */
  maxSeries: number;
}

/** The seed's ExporterConfig. Durations in milliseconds. */
export interface ExporterConfig {
  server: ServerConfig;
  /** How often the kernel counters are read. */
  collectInterval: number;
  /** Interface names or globs (`eth*`) to export; empty = all. */
  interfaceFilter: string[];
  /**
   * Interface names or globs of the node's uplinks, where the default routes
   * name the wrong devices (a kind node, whose uplink is a veth); empty = the
   * devices of the default routes. Node totals are what crosses the uplinks.
   */
  uplinks: string[];
  /** Export only interfaces active within `activeWindow`. */
  enableActiveOnly: boolean;
  /** An interface is active if it carried a packet within this window. */
  activeWindow: number;
  logLevel: LogLevel;
  /** Pod attribution; off by default (the output then stays as in 0.1). */
  pods: PodsConfig;
  /**
   * With pods on: how long a vanished interface keeps its final values
   * exported, so a short-lived pod's last traffic is scraped at least once.
   */
  departedRetention: number;
  /** Drops by reason; on by default (with the ebpf source). */
  drops: DropsConfig;
}

/** Partial input accepted by `new Exporter(ebpf, config?)`: every field defaults. */
export type ExporterConfigInput = Partial<Omit<ExporterConfig, 'server' | 'pods' | 'drops'>> & {
  server?: Partial<ServerConfig>;
  pods?: Partial<PodsConfig>;
  drops?: Partial<DropsConfig>;
};

export const DEFAULT_PODS_CONFIG: Readonly<PodsConfig> = Object.freeze({
  enabled: false,
  logsDir: '/var/log/pods',
  perInterface: true,
  cgroupRoot: '/',
  containers: false,
});

export const DEFAULT_DROPS_CONFIG: Readonly<DropsConfig> = Object.freeze({
  enabled: true,
  maxSeries: 2000,
});

export const DEFAULT_SERVER_CONFIG: Readonly<ServerConfig> = Object.freeze({
  port: 8081,
  host: '',
  path: '/metrics',
  readTimeout: 10_000,
  writeTimeout: 10_000,
  maxHeaderBytes: 1 << 20,
  enableCors: true,
  enableGzip: true,
  webConfigFile: '',
});

export const DEFAULT_EXPORTER_CONFIG: Readonly<ExporterConfig> = Object.freeze({
  server: DEFAULT_SERVER_CONFIG,
  collectInterval: 5_000,
  interfaceFilter: [],
  uplinks: [],
  enableActiveOnly: false,
  activeWindow: 5 * 60_000,
  logLevel: 'info',
  pods: DEFAULT_PODS_CONFIG,
  departedRetention: 60_000,
  drops: DEFAULT_DROPS_CONFIG,
});

/** Fills every missing field with its default (a fresh object; the input is not modified). */
export function withDefaults(input: ExporterConfigInput = {}): ExporterConfig {
  return {
    ...DEFAULT_EXPORTER_CONFIG,
    ...stripUndefined(input),
    // A copy of an array; anything else is left as given, for the check to name it (a string would spread into letters).
    interfaceFilter: Array.isArray(input.interfaceFilter)
      ? [...input.interfaceFilter]
      : (input.interfaceFilter ?? [...DEFAULT_EXPORTER_CONFIG.interfaceFilter]),
    uplinks: Array.isArray(input.uplinks) ? [...input.uplinks] : (input.uplinks ?? [...DEFAULT_EXPORTER_CONFIG.uplinks]),
    server: { ...DEFAULT_SERVER_CONFIG, ...stripUndefined(input.server ?? {}) },
    pods: { ...DEFAULT_PODS_CONFIG, ...stripUndefined(input.pods ?? {}) },
    drops: { ...DEFAULT_DROPS_CONFIG, ...stripUndefined(input.drops ?? {}) },
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
