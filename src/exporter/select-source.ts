/**
 * Picks the counter source the `source` setting asks for: the eBPF TC
 * counters, the kernel's own interface statistics, or (auto) eBPF with a
 * fallback to the kernel's statistics that says why eBPF could not be used.
 */
import { EbpfManager } from '../bpf/index.js';
import type { AttachModeSetting, SourceSetting } from '../config/schema.js';
import { NetprobeError } from '../errors/index.js';
import type { Logger } from '../log/logger.js';
import type { CounterSource } from '../source/counter-source.js';
import { NetdevSource } from '../source/netdev-source.js';

export interface OpenCounterSourceOptions {
  /** `ebpf` fails when eBPF cannot be used; `auto` falls back to `netdev`. */
  source: SourceSetting;
  /** How the eBPF programs attach (ignored by netdev). */
  attachMode: AttachModeSetting;
  /** Interfaces to attach to (names or globs); empty = all. */
  include: string[];
  /** Interfaces never to attach to; wins over `include`. */
  exclude: string[];
  /** bpffs directory for pinned state (counting survives restarts); '' or undefined = none. */
  pinPath?: string;
  /** With a pin path: how long to wait for another netprobe holding it (ms). */
  pinLockTimeoutMs?: number;
  /** Ends a wait for the pin path's lock early (a stop signal). */
  signal?: AbortSignal;
  /** The BPF object to load; '' or undefined = the shipped one. */
  objectFile?: string;
  logger: Logger;
}

/**
 * Opens (and for eBPF: loads and attaches) the counter source. The caller
 * owns it and must `close()` it.
 *
 * @example
 * const source = await openCounterSource({ source: 'auto', attachMode: 'auto', include: [], exclude: [], logger });
 */
export async function openCounterSource(opts: OpenCounterSourceOptions): Promise<CounterSource> {
  const { logger } = opts;
  if (opts.source === 'netdev') return openNetdev(logger, 'source=netdev');
  const ebpf = new EbpfManager({
    attachMode: opts.attachMode,
    include: opts.include,
    exclude: opts.exclude,
    logger,
    ...(opts.pinPath ? { pinPath: opts.pinPath } : {}),
    ...(opts.pinLockTimeoutMs !== undefined ? { pinLockTimeoutMs: opts.pinLockTimeoutMs } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.objectFile ? { objectPath: opts.objectFile } : {}),
  });
  try {
    await ebpf.loadNetworkMonitor();
    return ebpf;
  } catch (e) {
    // Whatever was attached before the failure goes with it.
    await ebpf.close().catch((closeError: unknown) => logger.warn({ err: closeError }, 'closing the eBPF loader after a failed load'));
    // Another netprobe on the pin path is not a reason to count differently: fail, as asked.
    if (opts.source === 'ebpf' || (e instanceof NetprobeError && e.code === 'NP_ERR_PIN_LOCKED')) throw e;
    logger.warn(
      { code: e instanceof NetprobeError ? e.code : undefined, reason: e instanceof Error ? e.message : String(e) },
      "eBPF counters unavailable, falling back to the kernel's interface statistics (source=netdev). " +
        'To count at the TC layer, fix the reason given (typically: run as root or grant CAP_BPF and CAP_NET_ADMIN, ' +
        'install libbpf1, use a kernel with BPF enabled); --source=ebpf makes this an error instead',
    );
    return openNetdev(logger, 'fallback from source=auto');
  }
}

/** `--ebpf.cleanup`: removes what netprobe pinned under `pinPath`; resolves to what it had to leave. */
export async function removePinnedCounters(pinPath: string, logger: Logger, pinLockTimeoutMs?: number): Promise<string[]> {
  const { left } = await EbpfManager.removePinned({ pinPath, logger, ...(pinLockTimeoutMs !== undefined ? { pinLockTimeoutMs } : {}) });
  return left;
}

function openNetdev(logger: Logger, why: string): CounterSource {
  const source = new NetdevSource({ logger });
  logger.info({ source: source.kind, why }, "counting with the kernel's interface statistics");
  return source;
}
