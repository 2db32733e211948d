/**
 * The normal run: open the counter source, serve metrics until SIGTERM or
 * SIGINT, then stop serving and detach everything. A shutdown that hangs is
 * cut off after a bound so a DaemonSet rollout never waits on us.
 */
import { openCounterSource, removePinnedCounters } from '../exporter/select-source.js';
import { openPodSocketMeter } from '../exporter/select-socket-meter.js';
import { openDropCounting } from '../exporter/select-drop-meter.js';
import { openDropMeter } from '../bpf/drop-meter/drop-meter.js';
import { findCgroup2Root } from '../bpf/socket-meter/cgroup-root.js';
import type { DropCounterSource } from '../source/drop-counter-source.js';
import type { SocketCounterSource } from '../source/socket-counter-source.js';
import type { CounterSource } from '../source/counter-source.js';
import type { ExporterConfig } from '../config/exporter-config.js';
import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { Exporter } from '../exporter/index.js';
import { logFailure } from './log-failure.js';
import { applyCapabilitiesKeep } from '../security/keep-capabilities.js';

/** How long a graceful shutdown may take before the process exits anyway. */
export const SHUTDOWN_BOUND_MS = 5_000;
const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export interface ServeOptions {
  settings: Settings;
  exporterConfig: ExporterConfig;
  logger: Logger;
  version: string;
  /** Called once the exporter is started (interfaces attached, first collection published, listening). */
  onStarted?: () => void;
}

/** Serves until a stop signal; resolves to the exit status. */
export async function serve(opts: ServeOptions): Promise<number> {
  const { settings, logger } = opts;
  if (settings.cleanup) return cleanUpPinned(settings.pinPath, settings.pinLockTimeout, logger);
  const stopRequested = waitForStopSignal(logger);
  // A stop signal also ends a wait for the pin path's lock (held by another netprobe).
  const stopping = new AbortController();
  void stopRequested.then(() => stopping.abort());
  let source: CounterSource | undefined;
  let exporter: Exporter | undefined;
  let socketMeter: SocketCounterSource | undefined;
  let dropMeter: DropCounterSource | undefined;
  // Fatal errors outside any await below (a throwing timer, a rejected
  // promise nobody awaited) still detach before exiting.
  const onFatal = (error: unknown): void => {
    logFailure(logger, 'fatal error', error);
    void shutDown(exporter, [dropMeter, socketMeter, source], logger).finally(() => process.exit(1));
  };
  process.on('uncaughtException', onFatal);
  process.on('unhandledRejection', onFatal);
  try {
    source = await openCounterSource({
      source: settings.source,
      attachMode: settings.attachMode,
      include: settings.include,
      exclude: settings.exclude,
      pinPath: settings.pinPath,
      pinLockTimeoutMs: settings.pinLockTimeout,
      signal: stopping.signal,
      objectFile: settings.objectFile,
      logger,
    });
    const pods = await openPodSocketMeter({
      podsEnabled: opts.exporterConfig.pods.enabled,
      source,
      pinPath: settings.pinPath,
      kubeletCgroupRoot: opts.exporterConfig.pods.cgroupRoot,
      logger,
    });
    socketMeter = pods.meter;
    // Before the capability drop below: loading a tracing program needs CAP_PERFMON.
    const drops = await openDropCounting({
      dropsEnabled: opts.exporterConfig.drops.enabled,
      source,
      pinPath: settings.pinPath,
      logger,
      open: openDropMeter,
    });
    dropMeter = drops.meter;
    exporter = new Exporter(source, opts.exporterConfig, {
      logger,
      version: opts.version,
      socketMeter,
      socketMeterProblem: pods.problem,
      dropMeter,
      dropMeterProblem: drops.problem,
      cgroupRoot: dropMeter && opts.exporterConfig.pods.enabled ? (pods.meter?.cgroupRoot ?? cgroup2Root(logger)) : undefined,
    });
    // start() logs where it listens, the source and the attach mode.
    await exporter.start();
    applyCapabilitiesKeep(settings.capabilitiesKeep, logger, { attachMode: source.attachMode });
    opts.onStarted?.();
  } catch (error) {
    logFailure(logger, 'cannot start', error);
    await shutDown(exporter, [dropMeter, socketMeter, source], logger);
    return 1;
  }
  const signal = await stopRequested;
  // An eBPF source with pins (it carries state over) leaves the programs attached and counting.
  logger.info(
    { signal },
    source?.carryOver ? 'stopping: closing the server; the pinned programs keep counting' : 'stopping: closing the server and detaching',
  );
  return shutDown(exporter, [dropMeter, socketMeter, source], logger);
}

/** The cgroup2 mount, for hostNetwork pods' drops (undefined: none, they count as the node's). */
function cgroup2Root(logger: Logger): string | undefined {
  try {
    return findCgroup2Root();
  } catch (error) {
    logger.warn({ err: error }, "no cgroup2 mount: drops at hostNetwork pods' sockets count as the node's");
    return undefined;
  }
}

/** `--ebpf.cleanup`: removes netprobe's pinned state; 0 when nothing of netprobe's is left. */
async function cleanUpPinned(pinPath: string, pinLockTimeoutMs: number, logger: Logger): Promise<number> {
  try {
    const left = await removePinnedCounters(pinPath, logger, pinLockTimeoutMs);
    return left.length === 0 ? 0 : 1;
  } catch (error) {
    logFailure(logger, 'cleanup', error);
    return 1;
  }
}

/** Stops serving and closes the sources (socket meter, then counters), within `SHUTDOWN_BOUND_MS`. Resolves to the exit status. */
async function shutDown(
  exporter: Exporter | undefined,
  sources: ReadonlyArray<CounterSource | SocketCounterSource | DropCounterSource | undefined>,
  logger: Logger,
): Promise<number> {
  const bound = setTimeout(() => {
    logger.error({ boundMs: SHUTDOWN_BOUND_MS }, 'shutdown did not finish in time; exiting anyway');
    process.exit(1);
  }, SHUTDOWN_BOUND_MS);
  bound.unref();
  let status = 0;
  try {
    await exporter?.stop();
  } catch (error) {
    logFailure(logger, 'stopping the server', error);
    status = 1;
  }
  for (const source of sources)
    try {
      await source?.close();
    } catch (error) {
      logFailure(logger, 'closing the counter source', error);
      status = 1;
    }
  clearTimeout(bound);
  return status;
}

function waitForStopSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      // A second signal must not kill us mid-detach: the bound ends a hung shutdown.
      if (stopping) {
        logger.warn({ signal }, 'already stopping');
        return;
      }
      stopping = true;
      resolve(signal);
    };
    for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  });
}
