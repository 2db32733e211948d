/**
 * The rendered label sets of each interface, kept across collections: an
 * interface's name and ifindex rarely change, so escaping and concatenating
 * them 5 times per interface per collection is work worth keeping.
 */
import type { InterfaceSample } from '../collector/interface-sample.js';
import { formatLabels } from './exposition-writer.js';

/** UTF-8 bytes, ready to copy into the exposition. */
export interface InterfaceLabelSets {
  /** `{direction="ingress",ifindex="2",interface="eth0"}` */
  ingress: Buffer;
  egress: Buffer;
  /** `{ifindex="2",interface="eth0"}` */
  both: Buffer;
}

export class InterfaceLabelCache {
  private entries = new Map<string, InterfaceLabelSets>();
  /** Size of the last text exposition rendered with this cache: the next one's size hint. */
  lastTextBytes = 0;

  /**
   * The label sets of every sample, in order; entries of interfaces no longer
   * exported are dropped. With `podLabels`, every set also carries
   * `namespace` and `pod` (empty on interfaces that serve no pod).
   */
  labelsFor(samples: readonly InterfaceSample[], podLabels = false): InterfaceLabelSets[] {
    const next = new Map<string, InterfaceLabelSets>();
    const out = samples.map((s) => {
      const key = podLabels
        ? `${s.ifindex}\u0000${s.name}\u0000${s.namespace ?? ''}\u0000${s.pod ?? ''}\u0000p`
        : `${s.ifindex}\u0000${s.name}`;
      const sets = this.entries.get(key) ?? render(s, podLabels);
      next.set(key, sets);
      return sets;
    });
    this.entries = next;
    return out;
  }
}

function render(s: InterfaceSample, podLabels: boolean): InterfaceLabelSets {
  const common: Array<[string, string]> = [
    ['ifindex', String(s.ifindex)],
    ['interface', s.name],
  ];
  if (podLabels) common.push(['namespace', s.namespace ?? ''], ['pod', s.pod ?? '']);
  return {
    ingress: Buffer.from(formatLabels([['direction', 'ingress'], ...common])),
    egress: Buffer.from(formatLabels([['direction', 'egress'], ...common])),
    both: Buffer.from(formatLabels(common)),
  };
}
