import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderExposition } from '../../src/exposition/exposition.js';
import { InterfaceLabelCache } from '../../src/exposition/interface-labels.js';
import { expositionInput, sample } from '../support/exposition-input.js';
import { promtoolCheck } from '../support/exposition-parse.js';

const UID = '7c2b9a34-1f0e-4c1d-9a8b-2e6f5d4c3b2a';
const podSample = sample(7, 'veth7f3a', { namespace: 'team-a', pod: 'web-0', podUid: UID });
const pods = {
  perInterface: true,
  namespaces: [{ namespace: 'team-a', ingress: { packets: 10n, bytes: 1500n }, egress: { packets: 4n, bytes: 400n } }],
  unresolved: { no_pod_log_dir: 0, no_pod_process: 2 },
};

test('with pods: namespace and pod on every per-interface family, the info metric, namespace totals, unresolved; promtool-clean', async () => {
  const text = renderExposition(expositionInput({ samples: [sample(2, 'eth0'), podSample], pods })).text.toString();
  assert.match(text, /^netprobe_tc_bytes_total\{direction="ingress",ifindex="2",interface="eth0",namespace="",pod=""\} 1500$/m);
  assert.match(
    text,
    /^netprobe_tc_bytes_total\{direction="egress",ifindex="7",interface="veth7f3a",namespace="team-a",pod="web-0"\} 400$/m,
  );
  assert.match(text, /^netprobe_interface_active\{ifindex="7",interface="veth7f3a",namespace="team-a",pod="web-0"\} 1$/m);
  assert.match(
    text,
    /^netprobe_tc_segments_total\{direction="ingress",ifindex="7",interface="veth7f3a",namespace="team-a",pod="web-0"\} 12$/m,
  );
  assert.match(
    text,
    new RegExp(
      `^netprobe_pod_interface_info\\{ifindex="7",interface="veth7f3a",namespace="team-a",pod="web-0",pod_uid="${UID}"\\} 1$`,
      'm',
    ),
  );
  assert.equal((text.match(/^netprobe_pod_interface_info\{/gm) ?? []).length, 1, 'eth0 serves no pod: no info line');
  assert.match(text, /^netprobe_namespace_bytes_total\{direction="ingress",namespace="team-a"\} 1500$/m);
  assert.match(text, /^netprobe_namespace_packets_total\{direction="egress",namespace="team-a"\} 4$/m);
  assert.match(text, /^netprobe_pod_interfaces_unresolved\{reason="no_pod_process"\} 2$/m);
  assert.equal(await promtoolCheck(text), '');
});

test('without pods the per-interface label sets stay as in 0.1 and no pod family appears', () => {
  const text = renderExposition(expositionInput({ samples: [sample(2, 'eth0')] })).text.toString();
  assert.match(text, /^netprobe_tc_bytes_total\{direction="ingress",ifindex="2",interface="eth0"\} 1500$/m);
  assert.doesNotMatch(text, /namespace=|netprobe_pod_|netprobe_namespace_/);
});

test('per-interface=false: pod interfaces only in the namespace totals; node interfaces stay', () => {
  const text = renderExposition(
    expositionInput({ samples: [sample(2, 'eth0'), podSample], pods: { ...pods, perInterface: false } }),
  ).text.toString();
  assert.doesNotMatch(text, /veth7f3a/);
  assert.match(text, /interface="eth0"/);
  assert.match(text, /^netprobe_namespace_bytes_total\{direction="ingress",namespace="team-a"\} 1500$/m);
  assert.match(text, /^netprobe_exported_interfaces 1$/m);
});

test('a label cache shared across collections never serves stale pod labels', () => {
  const input = expositionInput({ samples: [sample(7, 'veth7f3a', { podUid: UID, namespace: '', pod: '' })], pods });
  const cache = new InterfaceLabelCache();
  const first = renderExposition(input, cache).text.toString();
  assert.match(first, /interface="veth7f3a",namespace="",pod=""/);
  const second = renderExposition({ ...input, samples: [podSample] }, cache).text.toString();
  assert.match(second, /interface="veth7f3a",namespace="team-a",pod="web-0"/);
});
