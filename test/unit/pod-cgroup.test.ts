import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { podUidFromCgroup, podUidFromCgroupPath, type PodCgroupAnchors } from '../../src/kubernetes/pod-cgroup.js';
import { podsByNamespaceId } from '../../src/kubernetes/pod-namespace-ids.js';
import { NSID_NOT_ASSIGNED } from '../../src/net/netns-id.js';
import { indexPodLogDirs, parsePodLogDirName } from '../../src/kubernetes/pod-log-dir.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/pod-cgroups');
const UID = '7c2b9a34-1f0e-4c1d-9a8b-2e6f5d4c3b2a';

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.txt'));

/**
 * The reader's side of the nested shapes: netprobe's own /proc/self/cgroup and
 * the kubelet's --cgroup-root. On this machine (the test sandbox) the test
 * nodes' kubelet root is np-<pid>-<tag> below the sandbox's own memory cgroup.
 */
const ANCHORS: Record<string, PodCgroupAnchors> = {
  'hybrid-this-machine.txt': { own: '4:memory:/process_api/1d6e02a84aba518369120e28516a4234\n0::/\n', cgroupRoot: '/np-1318-62296b' },
  'v1-docker-kubepods.txt': {
    own: '9:memory:/docker/0123456789abcdef/kubepods/burstable/pod0b6a0e0c-0000-4000-8000-000000000001/aa\n',
  },
};

test('every /proc/<pid>/cgroup shape of a pod gives its UID in the - form', () => {
  const pods = fixtures.filter((f) => !f.startsWith('not-a-pod') && f !== 'static-pod-hash.txt');
  assert.ok(pods.length >= 10, `fixtures: ${pods.join(', ')}`);
  for (const f of pods) assert.equal(podUidFromCgroup(readFileSync(join(FIXTURES, f), 'utf8'), ANCHORS[f]), UID, f);
});

test('a kubepods segment counts only where the kubelet puts it, never in a user-controlled subtree', () => {
  // Nested shapes need their anchor: without it they are not trusted.
  for (const f of Object.keys(ANCHORS)) assert.equal(podUidFromCgroup(readFileSync(join(FIXTURES, f), 'utf8')), undefined, f);
  const delegated = fixtures.filter((f) => f.startsWith('not-a-pod-user-delegated') || f === 'not-a-pod-unanchored-container.txt');
  assert.equal(delegated.length, 4);
  // Also when netprobe was started from that user's session (sudo keeps the session's cgroup).
  const fromSession: PodCgroupAnchors = { own: '0::/user.slice/user-1000.slice/session-3.scope\n' };
  for (const f of delegated) {
    const text = readFileSync(join(FIXTURES, f), 'utf8');
    assert.equal(podUidFromCgroup(text), undefined, f);
    assert.equal(podUidFromCgroup(text, fromSession), undefined, `${f} (netprobe in the user's session)`);
  }
  const pod = `pod${UID}`;
  // The cgroup root: cgroupfs below it; systemd spells it as a slice chain (no flag needed).
  assert.equal(podUidFromCgroupPath(`/kubelet/kubepods/besteffort/${pod}/c`, { cgroupRoot: '/kubelet' }), UID);
  assert.equal(podUidFromCgroupPath(`/kubelet/kubepods/besteffort/${pod}/c`), undefined);
  assert.equal(podUidFromCgroupPath(`/a/b/kubepods/${pod}/c`, { cgroupRoot: '/a/b/' }), UID);
  assert.equal(podUidFromCgroupPath(`/a/b/kubepods/${pod}/c`, { cgroupRoot: '/a' }), undefined);
  const systemdPod = `kubepods-besteffort-pod${UID.replace(/-/g, '_')}.slice`;
  assert.equal(podUidFromCgroupPath(`/a.slice/a-b.slice/a-b-kubepods.slice/a-b-kubepods-besteffort.slice/${systemdPod}`), UID);
  assert.equal(podUidFromCgroupPath(`/a.slice/b-kubepods.slice/${systemdPod}`), undefined, 'not a slice chain');
  assert.equal(podUidFromCgroupPath(`/x/a.slice/a-kubepods.slice/${systemdPod}`), undefined, 'a chain not at an anchor');
  // Below the reader's own ancestors (a kubelet in netprobe's container), not below its siblings.
  const own = '/docker/abc/kubepods/burstable/podnp/ctr';
  assert.equal(podUidFromCgroupPath(`/docker/abc/kubepods/besteffort/${pod}/c`, { own }), UID);
  assert.equal(podUidFromCgroupPath(`/docker/other/kubepods/besteffort/${pod}/c`, { own }), undefined);
  // A pod's own sub-cgroups named like another pod still belong to the pod they are in.
  assert.equal(podUidFromCgroupPath(`/kubepods/burstable/pod${UID}/c/kubepods/pod00000000-0000-0000-0000-000000000000`), UID);
});

test("a pod's namespace id comes from the first of its processes that is in a namespace with an id", () => {
  const nsids: Record<number, number | undefined> = { 10: NSID_NOT_ASSIGNED, 11: undefined, 12: 5, 13: 6, 20: NSID_NOT_ASSIGNED };
  const podOf: Record<number, string> = { 10: 'a', 12: 'a', 13: 'a', 20: 'host' };
  const byNsid = podsByNamespaceId(
    new Map([
      ['a', [10, 11, 12, 13]],
      ['host', [20]],
    ]),
    (pid) => nsids[pid],
    (pid) => podOf[pid],
  );
  assert.deepEqual([...byNsid], [[5, 'a']], 'pid 10 (no id here) and 11 (exited) do not block pod a; a hostNetwork pod claims nothing');
  // A pid reused by a process of another pod between the two reads is skipped too.
  const reused = podsByNamespaceId(
    new Map([['a', [12, 13]]]),
    (pid) => nsids[pid],
    (pid) => (pid === 12 ? 'b' : 'a'),
  );
  assert.deepEqual([...reused], [[6, 'a']]);
});

test('a static (mirror) pod has a 32-hex-digit UID', () => {
  assert.equal(podUidFromCgroup(readFileSync(join(FIXTURES, 'static-pod-hash.txt'), 'utf8')), '6f2a1c9e8d7b4a3f2e1d0c9b8a7f6e5d');
});

test('processes outside a pod cgroup have no pod', () => {
  for (const f of fixtures.filter((x) => x.startsWith('not-a-pod')))
    assert.equal(podUidFromCgroup(readFileSync(join(FIXTURES, f), 'utf8')), undefined, f);
  assert.equal(podUidFromCgroup(''), undefined);
  assert.equal(podUidFromCgroup('garbage without colons\n\n'), undefined);
});

test('pod log directory names give namespace, name and UID', () => {
  assert.deepEqual(parsePodLogDirName(`kube-system_coredns-5d78c9869d-x2x7k_${UID}`), {
    namespace: 'kube-system',
    name: 'coredns-5d78c9869d-x2x7k',
    uid: UID,
  });
  assert.deepEqual(parsePodLogDirName('kube-system_etcd-node1_6f2a1c9e8d7b4a3f2e1d0c9b8a7f6e5d'), {
    namespace: 'kube-system',
    name: 'etcd-node1',
    uid: '6f2a1c9e8d7b4a3f2e1d0c9b8a7f6e5d',
  });
  assert.equal(parsePodLogDirName('web.example.com_db-0_' + UID)?.name, 'db-0');
  for (const bad of ['', 'a_b', `a_b_c_${UID}`, `A_b_${UID}`, 'ns_name_not-a-uid', `ns__${UID}`, `_name_${UID}`, '..']) {
    assert.equal(parsePodLogDirName(bad), undefined, bad);
  }
  const index = indexPodLogDirs([`team-a_web_${UID}`, 'lost+found', 'README']);
  assert.equal(index.size, 1);
  assert.equal(index.get(UID)?.name, 'web');
});
