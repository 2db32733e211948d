import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { podUidFromCgroup } from '../../src/kubernetes/pod-cgroup.js';
import { indexPodLogDirs, parsePodLogDirName } from '../../src/kubernetes/pod-log-dir.js';

const FIXTURES = join(import.meta.dirname, '../fixtures/pod-cgroups');
const UID = '7c2b9a34-1f0e-4c1d-9a8b-2e6f5d4c3b2a';

const fixtures = readdirSync(FIXTURES).filter((f) => f.endsWith('.txt'));

test('every /proc/<pid>/cgroup shape of a pod gives its UID in the - form', () => {
  const pods = fixtures.filter((f) => !f.startsWith('not-a-pod') && f !== 'static-pod-hash.txt');
  assert.ok(pods.length >= 10, `fixtures: ${pods.join(', ')}`);
  for (const f of pods) assert.equal(podUidFromCgroup(readFileSync(join(FIXTURES, f), 'utf8')), UID, f);
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
