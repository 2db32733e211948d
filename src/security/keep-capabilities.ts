/**
 * `--capabilities.keep`: once every interface is attached, lower netprobe's
 * capabilities to the keep-list (see capabilities.ts for exactly what that
 * changes). `all` keeps everything (no drop); `none` keeps nothing — then
 * interfaces created later can no longer be attached.
 */
import type { Logger } from '../log/logger.js';
import { capabilityNames, dropCapabilities, parseCapabilityList, type CapabilitySyscalls } from './capabilities.js';
import { libcCapabilitySyscalls } from './capability-syscalls.js';

/**
 * Applies a keep-list. Throws (a NetprobeError) if the kernel refuses: running
 * with more privilege than configured is not an option.
 */
export function applyCapabilitiesKeep(spec: string, logger: Logger, sys: () => CapabilitySyscalls = libcCapabilitySyscalls): void {
  if (spec === 'all') return;
  const keep = spec === 'none' ? 0n : parseCapabilityList(spec);
  const { before, after, plan } = dropCapabilities(keep, sys());
  if (plan.missing.length > 0) logger.warn({ missing: plan.missing }, 'capabilities to keep that were never held');
  logger.info(
    {
      effective: capabilityNames(after.effective),
      dropped: capabilityNames(before.effective & ~after.effective),
      boundingSetReduced: plan.boundingDrops.length > 0,
    },
    `capabilities dropped after attaching; keeping ${capabilityNames(after.effective).join(',') || 'none'}`,
  );
}
