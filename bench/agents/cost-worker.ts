/**
 * Part 1's measuring side. Runs INSIDE the cost namespace (BPF_PROG_TEST_RUN
 * resolves the ctx ifindex in the caller's namespace), given a JSON plan as
 * argv[2]. Loads the shipped object and the comparison programs, prepares the
 * counter entries exactly as the loader does (slot claim / overflow entry),
 * then runs every case once per round, in a rotated order, and prints one
 * JSON line: per-case samples (kernel-measured ns per run) and the counters
 * each path actually incremented (proof that the measured path counted).
 */
import { BpfObject } from '../../src/bpf/bpf-object.js';
import { progTestRun, skbContext } from '../../src/bpf/prog-test-run.js';
import {
  encodeArrayKey,
  encodeOverflowKey,
  encodeSlotClaim,
  encodeZeroCounters,
  MAP_OVERFLOW,
  MAP_SLOTS,
  NP_EGRESS,
  NP_INGRESS,
  perCpuStride,
  PROG_EGRESS,
  PROG_INGRESS,
  SLOT_SIZE,
  slotIndex,
  sumPerCpuCounters,
  COUNTERS_SIZE,
  type DirectionIndex,
} from '../../src/bpf/abi.js';

export interface CostPlan {
  netprobeObject: string;
  floorObject: string;
  naiveHashObject: string;
  naiveArrayObject: string;
  /** ifindexes that exist in this namespace. */
  smallIfindex: number;
  largeIfindex: number;
  /** Shares its slot with smallIfindex, so it is counted in the overflow hash. */
  collidingIfindex: number;
  frameSizes: number[];
  repeat: number;
  rounds: number;
}

/** How a case's counter is prepared and checked. */
type CounterPath = { kind: 'slot' | 'overflow'; ifindex: number; direction: DirectionIndex } | { kind: 'none' };

export interface CostCase {
  id: string;
  program: string;
  /** What the run exercises, for the tables. */
  path: string;
  frameSize: number;
  ifindex: number;
  samples: number[];
  /** Packets the path's own counter gained over all rounds (undefined: no counter). */
  counted?: number;
}

const plan = JSON.parse(process.argv[2] ?? '') as CostPlan;

/** An Ethernet + IPv4 + UDP frame of `size` bytes (valid lengths; payload zero). */
function frame(size: number): Buffer {
  const f = Buffer.alloc(size);
  f.writeUInt16BE(0x0800, 12); // IPv4
  f[14] = 0x45; // version 4, 20-byte header
  f.writeUInt16BE(size - 14, 16); // total length
  f[22] = 64; // TTL
  f[23] = 17; // UDP
  f.writeUInt32BE(0x0a000001, 26);
  f.writeUInt32BE(0x0a000002, 30);
  f.writeUInt16BE(40000, 34);
  f.writeUInt16BE(9, 36);
  f.writeUInt16BE(size - 34, 38);
  return f;
}

const objects: BpfObject[] = [];
function load(path: string): BpfObject {
  const obj = BpfObject.open(path);
  objects.push(obj);
  obj.load();
  return obj;
}

try {
  const netprobe = load(plan.netprobeObject);
  const floor = load(plan.floorObject);
  const naiveHash = load(plan.naiveHashObject);
  const naiveArray = load(plan.naiveArrayObject);
  const slots = netprobe.map(MAP_SLOTS);
  const overflow = netprobe.map(MAP_OVERFLOW);

  // Prepared as the loader does before attaching: the program never creates entries.
  for (const dir of [NP_INGRESS, NP_EGRESS] as const) {
    for (const ifindex of [plan.smallIfindex, plan.largeIfindex]) {
      slots.update(encodeArrayKey(slotIndex(ifindex, dir)), encodeSlotClaim(ifindex, slots.cpus));
    }
    overflow.update(encodeOverflowKey(plan.collidingIfindex, dir), encodeZeroCounters(overflow.cpus));
  }

  const readPackets = (p: CounterPath): number | undefined => {
    if (p.kind === 'none') return undefined;
    if (p.kind === 'slot') {
      const v = slots.lookup(encodeArrayKey(slotIndex(p.ifindex, p.direction)));
      return v ? Number(sumPerCpuCounters(v, 0, slots.cpus, perCpuStride(SLOT_SIZE), 8).packets) : 0;
    }
    const v = overflow.lookup(encodeOverflowKey(p.ifindex, p.direction));
    return v ? Number(sumPerCpuCounters(v, 0, overflow.cpus, perCpuStride(COUNTERS_SIZE), 0).packets) : 0;
  };

  const programs: Array<{ program: string; fd: number; path: string; ifindex: number; counter: CounterPath }> = [
    { program: 'floor', fd: floor.programFd('floor_tc'), path: 'returns at once', ifindex: plan.smallIfindex, counter: { kind: 'none' } },
    {
      program: PROG_INGRESS,
      fd: netprobe.programFd(PROG_INGRESS),
      path: 'slot, small ifindex',
      ifindex: plan.smallIfindex,
      counter: { kind: 'slot', ifindex: plan.smallIfindex, direction: NP_INGRESS },
    },
    {
      program: PROG_EGRESS,
      fd: netprobe.programFd(PROG_EGRESS),
      path: 'slot, small ifindex',
      ifindex: plan.smallIfindex,
      counter: { kind: 'slot', ifindex: plan.smallIfindex, direction: NP_EGRESS },
    },
    {
      program: PROG_INGRESS,
      fd: netprobe.programFd(PROG_INGRESS),
      path: 'slot, large ifindex',
      ifindex: plan.largeIfindex,
      counter: { kind: 'slot', ifindex: plan.largeIfindex, direction: NP_INGRESS },
    },
    {
      program: PROG_EGRESS,
      fd: netprobe.programFd(PROG_EGRESS),
      path: 'slot, large ifindex',
      ifindex: plan.largeIfindex,
      counter: { kind: 'slot', ifindex: plan.largeIfindex, direction: NP_EGRESS },
    },
    {
      program: PROG_INGRESS,
      fd: netprobe.programFd(PROG_INGRESS),
      path: 'overflow hash (slot taken)',
      ifindex: plan.collidingIfindex,
      counter: { kind: 'overflow', ifindex: plan.collidingIfindex, direction: NP_INGRESS },
    },
    {
      program: 'naive per-CPU hash',
      fd: naiveHash.programFd('naive_hash_tc'),
      path: 'hash lookup, small ifindex',
      ifindex: plan.smallIfindex,
      counter: { kind: 'none' },
    },
    {
      program: 'naive per-CPU array',
      fd: naiveArray.programFd('naive_array_tc'),
      path: 'array by ifindex, small ifindex',
      ifindex: plan.smallIfindex,
      counter: { kind: 'none' },
    },
  ];

  const cases: Array<CostCase & { fd: number; data: Buffer; ctx: Buffer; counter: CounterPath }> = [];
  for (const size of plan.frameSizes) {
    for (const p of programs) {
      cases.push({
        id: `${p.program}|${p.path}|${size}`,
        program: p.program,
        path: p.path,
        frameSize: size,
        ifindex: p.ifindex,
        samples: [],
        fd: p.fd,
        data: frame(size),
        ctx: skbContext({ ifindex: p.ifindex }),
        counter: p.counter,
      });
    }
  }

  const before = cases.map((c) => readPackets(c.counter));
  for (let round = 0; round < plan.rounds; round++) {
    // Rotate the order each round so no case always runs first or right after another.
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + round) % cases.length]!;
      const r = progTestRun(c.fd, { dataIn: c.data, ctxIn: c.ctx, repeat: plan.repeat });
      if (r.retval !== -1) throw new Error(`${c.id} returned ${r.retval}, expected -1 (TC_ACT_UNSPEC)`);
      c.samples.push(r.durationNs);
    }
  }
  // Cases sharing a counter (both frame sizes) each see the total; report the total per counter.
  const after = cases.map((c) => readPackets(c.counter));
  const out: CostCase[] = cases.map((c, i) => {
    const gained = after[i] === undefined ? undefined : after[i] - before[i]!;
    return {
      id: c.id,
      program: c.program,
      path: c.path,
      frameSize: c.frameSize,
      ifindex: c.ifindex,
      samples: c.samples,
      ...(gained === undefined ? {} : { counted: gained }),
    };
  });
  console.log(JSON.stringify({ cases: out }));
} finally {
  for (const o of objects) o.close();
}
