/**
 * Opens the drop meter (drops by reason) when `--collector.drops` runs on
 * the ebpf source, and says plainly why not otherwise: everything else is
 * still counted, and `netprobe_drop_counting_active` is 0 so that a missing
 * meter never reads as "no drops".
 */
import type { Logger } from '../log/logger.js';
import type { CounterSource } from '../source/counter-source.js';
import type { DropCounterSource } from '../source/drop-counter-source.js';

export interface DropMeter {
  meter?: DropCounterSource;
  /** Why there is no meter (with drops on). */
  problem?: string;
}

export interface OpenDropMeterOptions {
  dropsEnabled: boolean;
  source: CounterSource;
  pinPath?: string;
  logger: Logger;
  /** The kernel side's opener (src/bpf/drop-meter/). */
  open: (opts: { pinPath?: string; logger: Logger }) => Promise<DropCounterSource>;
}

export async function openDropCounting(opts: OpenDropMeterOptions): Promise<DropMeter> {
  const { logger } = opts;
  if (!opts.dropsEnabled) return {};
  const without = (problem: string): DropMeter => {
    logger.warn(
      { dropCounting: false, reason: problem },
      `drops by reason are not counted (${problem}); everything else is, and netprobe_drop_counting_active is 0`,
    );
    return { problem };
  };
  if (opts.source.kind !== 'ebpf') return without('the drop meter needs the ebpf source; this run counts with netdev');
  let meter: DropCounterSource;
  try {
    meter = await opts.open({ logger, ...(opts.pinPath ? { pinPath: opts.pinPath } : {}) });
  } catch (error) {
    return without(`the drop meter cannot open: ${error instanceof Error ? error.message : String(error)}`);
  }
  logger.info(
    { dropCounting: true, reasonsKnown: meter.reasonsKnown },
    meter.reasonsKnown
      ? "drops are counted by the kernel's reason"
      : "drops are counted, all as reason not_specified: this kernel's BTF has no enum skb_drop_reason (drop reasons came with Linux 5.17)",
  );
  return { meter };
}
