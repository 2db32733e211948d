/**
 * The socket meter's cost, measuring side. Runs INSIDE a namespace holding an
 * interface of `plan.ifindex` (the ctx ifindex is resolved there; without it
 * the run happens on lo, which the meter skips at once). Loads the shipped
 * bpf/socket-meter.bpf.o and the empty cgroup_skb program, runs both in
 * rotated order per round, and prints one JSON line: per-case samples
 * (kernel-measured ns per run) and the packets the meter counted, in all and
 * in slots (proof the measured path is the steady counting path: the run's
 * socket is in this process's cgroup, whose slot is claimed before the
 * measured runs, as netprobe claims it after its first read).
 */
import { BpfObject } from '../../src/bpf/bpf-object.js';
import { progTestRun, skbContext } from '../../src/bpf/prog-test-run.js';
import { OwnedSlots } from '../../src/bpf/owned-slots.js';
import {
  encodeCgroupKey,
  MAP_CGROUPS,
  MAP_SLOTS,
  PROG_EGRESS,
  PROG_INGRESS,
  SM_SLOT_OWNER,
  smSlotIndex,
  sumSlotCounts,
  sumSocketCounts,
} from '../../src/bpf/socket-meter/abi.js';
import { BPF_NOEXIST } from '../../src/sys/libbpf.js';

export interface SocketCostPlan {
  meterObject: string;
  floorObject: string;
  ifindex: number;
  frameSizes: number[];
  repeat: number;
  rounds: number;
}

export interface SocketCostCase {
  program: string;
  frameSize: number;
  samples: number[];
}

const plan = JSON.parse(process.argv[2] ?? '') as SocketCostPlan;

function frame(size: number): Buffer {
  const f = Buffer.alloc(size);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(size - 14, 16);
  f[22] = 64;
  f[23] = 17;
  return f;
}

const meter = BpfObject.open(plan.meterObject);
const floor = BpfObject.open(plan.floorObject);
try {
  meter.load();
  floor.load();
  const cgroups = meter.map(MAP_CGROUPS);
  cgroups.update(encodeCgroupKey(0n), Buffer.alloc(cgroups.valueBufferSize), BPF_NOEXIST);
  const ctxIn = skbContext({ ifindex: plan.ifindex });
  // One packet puts this process's cgroup in the hash; its slot is then claimed as netprobe's reader claims it.
  const warm = progTestRun(meter.programFd(PROG_INGRESS), { dataIn: frame(64), ctxIn, repeat: 1 });
  if (warm.retval !== 1) throw new Error(`${PROG_INGRESS} returned ${warm.retval}, not 1 (allow)`);
  const slotMap = meter.map(MAP_SLOTS);
  const slots = new OwnedSlots(slotMap, SM_SLOT_OWNER);
  const seen = cgroups.lookupAll();
  for (let i = 0; i < seen.count; i++) {
    const id = seen.keys.readBigUInt64LE(i * cgroups.keySize);
    if (id !== 0n && !slots.claim(smSlotIndex(id), encodeCgroupKey(id))) throw new Error(`cgroup ${id}: its slot could not be claimed`);
  }
  const programs = [
    { program: 'empty cgroup_skb', fd: floor.programFd('socket_floor') },
    { program: PROG_INGRESS, fd: meter.programFd(PROG_INGRESS) },
    { program: PROG_EGRESS, fd: meter.programFd(PROG_EGRESS) },
  ];
  const cases: Array<SocketCostCase & { fd: number }> = [];
  for (const size of plan.frameSizes) for (const p of programs) cases.push({ ...p, frameSize: size, samples: [] });
  for (let round = 0; round < plan.rounds; round++) {
    for (let i = 0; i < cases.length; i++) {
      const c = cases[(i + round) % cases.length];
      if (!c) continue;
      const r = progTestRun(c.fd, { dataIn: frame(c.frameSize), ctxIn, repeat: plan.repeat });
      if (r.retval !== 1) throw new Error(`${c.program} returned ${r.retval}, not 1 (allow)`);
      c.samples.push(r.durationNs);
    }
  }
  let inHash = 0n;
  const all = cgroups.lookupAll();
  for (let i = 0; i < all.count; i++) {
    const s = sumSocketCounts(all.values, i * cgroups.valueBufferSize, cgroups.cpus);
    inHash += s.ingressPackets + s.egressPackets;
  }
  let inSlots = 0n;
  slots.read((_owner, values, at) => {
    const s = sumSlotCounts(values, at, slotMap.cpus);
    inSlots += s.ingressPackets + s.egressPackets;
  });
  process.stdout.write(
    JSON.stringify({
      cases: cases.map(({ program, frameSize, samples }) => ({ program, frameSize, samples })),
      counted: String(inHash + inSlots - 1n), // without the warm-up packet
      inSlots: String(inSlots),
    }) + '\n',
  );
} finally {
  meter.close();
  floor.close();
}
