/**
 * `--capabilities.keep`: once every interface is attached, lower netprobe's
 * capabilities to the keep-list (see capabilities.ts for exactly what that
 * changes). `all` keeps everything (no drop); `none` keeps nothing.
 *
 * Measured on Linux 6.18: following new interfaces in tcx mode needs no
 * capability once the programs are loaded (a tcx link is created from the
 * program fd; the privilege was checked at load), while tc mode goes through
 * rtnetlink, which checks CAP_NET_ADMIN — also to remove its filters at exit.
 * So in tc mode CAP_NET_ADMIN is always kept: dropping it would leave
 * filters behind on SIGTERM. The drop meter's tracing program needs
 * CAP_PERFMON to load, and nothing afterwards (its link and maps are used
 * through fds): it is opened before this drop, so the keep-list need not hold
 * it (tested in test/privileged/drop-meter.test.ts).
 */
import type { AttachMode } from '../source/counter-source.js';
import type { Logger } from '../log/logger.js';
import { capabilityNames, dropCapabilities, parseCapabilityList, type CapabilitySyscalls } from './capabilities.js';
import { libcCapabilitySyscalls } from './capability-syscalls.js';

/**
 * Applies a keep-list. Throws (a NetprobeError) if the kernel refuses: running
 * with more privilege than configured is not an option.
 */
export function applyCapabilitiesKeep(
  spec: string,
  logger: Logger,
  opts: { attachMode?: AttachMode | undefined; syscalls?: () => CapabilitySyscalls } = {},
): void {
  if (spec === 'all') return;
  let keep = spec === 'none' ? 0n : parseCapabilityList(spec);
  const netAdmin = parseCapabilityList('net_admin');
  if (opts.attachMode === 'tc' && !(keep & netAdmin)) {
    keep |= netAdmin;
    logger.warn(
      { capabilitiesKeep: spec },
      'keeping net_admin anyway: tc mode needs it to attach new interfaces and to remove its filters at exit',
    );
  }
  const sys = opts.syscalls ?? libcCapabilitySyscalls;
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
