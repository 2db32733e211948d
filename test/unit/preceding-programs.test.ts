/** The order of TC programs on a hook: tcx chain first, then clsact filters by priority and handle. Pure. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { precedingPrograms } from '../../src/bpf/tc-counter/preceding-programs.js';

const ours = (name: string): boolean => name === 'netprobe_tc_in' || name === 'netprobe_tc_eg';

test('tcx: the programs before ours in the chain, numbered from 0', () => {
  const rows = precedingPrograms(
    {
      ifindex: 4,
      direction: 'ingress',
      tcx: [
        { progId: 10, progName: 'cil_from_netdev' },
        { progId: 11, progName: 'netprobe_tc_in' },
        { progId: 12, progName: 'after' },
      ],
      clsact: [],
    },
    ours,
  );
  assert.deepEqual(rows, [{ ifindex: 4, direction: 'ingress', position: 0, progId: 10, progName: 'cil_from_netdev' }]);
});

test('clsact mode: every tcx program and the filters of a lower priority (or handle) come first', () => {
  const rows = precedingPrograms(
    {
      ifindex: 7,
      direction: 'egress',
      tcx: [{ progId: 20, progName: 'tcx_first' }],
      clsact: [
        { priority: 5, handle: 1, progId: 30, progName: 'late' },
        { priority: 1, handle: 0x4e50, progId: 31, progName: 'netprobe_tc_eg' },
        { priority: 1, handle: 1, progId: 0, progName: '' },
      ],
    },
    ours,
  );
  assert.deepEqual(
    rows.map((r) => [r.position, r.progId, r.progName]),
    [
      [0, 20, 'tcx_first'],
      [1, 0, ''],
    ],
  );
});

test('none of ours on the hook: nothing is "before" it', () => {
  assert.deepEqual(precedingPrograms({ ifindex: 1, direction: 'ingress', tcx: [{ progId: 1, progName: 'x' }], clsact: [] }, ours), []);
});
