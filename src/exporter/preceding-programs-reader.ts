/**
 * Which TC programs run before netprobe's on each counted interface
 * (`netprobe_tc_preceding_program_info`, and `/`). One netlink query per
 * interface and hook, so it is read at most every READ_EVERY_MS (and when
 * the set of interfaces changed), not every collection. A failure is logged
 * once; the last answer stays.
 */
import { performance } from 'node:perf_hooks';
import { readPrecedingPrograms } from '../bpf/index.js';
import type { InterfaceSample } from '../collector/interface-sample.js';
import type { Logger } from '../log/logger.js';
import type { PrecedingProgramSample } from '../exposition/socket-families.js';

const READ_EVERY_MS = 30_000;

export class PrecedingProgramsReader {
  private last: PrecedingProgramSample[] = [];
  private readAt = -Infinity;
  private interfacesKey = '';
  private failed = false;

  constructor(private readonly logger: Logger) {}

  read(samples: readonly InterfaceSample[]): PrecedingProgramSample[] {
    const live = samples.filter((s) => !s.departed);
    const key = live.map((s) => `${s.ifindex}:${s.name}`).join(',');
    const now = performance.now();
    if (key === this.interfacesKey && now - this.readAt < READ_EVERY_MS) return this.last;
    this.interfacesKey = key;
    this.readAt = now;
    try {
      const names = new Map(live.map((s) => [s.ifindex, s.name]));
      this.last = readPrecedingPrograms([...names.keys()], (name) => name.startsWith('netprobe_')).map((p) => ({
        interface: names.get(p.ifindex) ?? '',
        ifindex: p.ifindex,
        direction: p.direction,
        position: p.position,
        progId: p.progId,
        progName: p.progName,
      }));
      this.failed = false;
    } catch (error) {
      if (!this.failed) this.logger.warn({ err: error }, "cannot list the TC programs that run before netprobe's");
      this.failed = true;
    }
    return this.last;
  }
}
