/** The pod-side view's families as rendered (src/exposition/socket-families.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expositionInput, renderToStrings } from '../support/exposition-input.js';
import type { SocketExposition } from '../../src/exposition/socket-families.js';

const counts = (i: number, o: number) => ({
  ingress: { packets: BigInt(i), bytes: BigInt(i * 100) },
  egress: { packets: BigInt(o), bytes: BigInt(o * 100) },
});

const view: SocketExposition = {
  open: true,
  containers: true,
  pods: [{ uid: 'u1', namespace: 'shop', pod: 'web', container: 'app', departed: false, ...counts(5, 3) }],
  namespaces: [{ namespace: 'shop', ...counts(9, 4) }],
  unattributed: [{ reason: 'node', ...counts(7, 6) }],
  blind: [{ uid: 'u1', namespace: 'shop', pod: 'web', packets: 700n }],
  preceding: [{ interface: 'eth0', ifindex: 2, direction: 'ingress', position: 0, progId: 42, progName: 'cil_from_netdev' }],
};

test('pod, namespace, unattributed, blind and preceding-program series with their labels', () => {
  const { text, openMetrics } = renderToStrings(expositionInput({ sockets: view }));
  for (const line of [
    'netprobe_pod_socket_view 1',
    'netprobe_pod_socket_packets_total{container="app",direction="ingress",namespace="shop",pod="web"} 5',
    'netprobe_pod_socket_bytes_total{container="app",direction="egress",namespace="shop",pod="web"} 300',
    'netprobe_namespace_socket_packets_total{direction="egress",namespace="shop"} 4',
    'netprobe_unattributed_socket_packets_total{direction="ingress",reason="node"} 7',
    'netprobe_pod_blind_packets_total{namespace="shop",pod="web"} 700',
    'netprobe_tc_preceding_program_info{direction="ingress",ifindex="2",interface="eth0",position="0",prog_id="42",prog_name="cil_from_netdev"} 1',
  ])
    assert.ok(text.split('\n').includes(line), line);
  assert.match(text, /# HELP netprobe_pod_socket_packets_total .*ICMP echo replies, RSTs.*loopback/);
  assert.match(openMetrics, /# TYPE netprobe_pod_socket_packets counter/);
});

test('without the socket view: 0, and the families declared without samples', () => {
  const { text } = renderToStrings(
    expositionInput({ sockets: { open: false, containers: false, pods: [], namespaces: [], unattributed: [], blind: [] } }),
  );
  assert.ok(text.split('\n').includes('netprobe_pod_socket_view 0'));
  assert.match(text, /# TYPE netprobe_pod_socket_packets_total counter/);
  assert.ok(!/^netprobe_pod_socket_packets_total\{/m.test(text));
});

test('a pod made again under its name while the departed one is retained is one series (their sum), never two samples', () => {
  const again: SocketExposition = {
    ...view,
    pods: [
      { uid: 'u1', namespace: 'shop', pod: 'web', container: 'app', departed: true, ...counts(5, 3) },
      { uid: 'u2', namespace: 'shop', pod: 'web', container: 'app', departed: false, ...counts(2, 1) },
    ],
    blind: [
      { uid: 'u1', namespace: 'shop', pod: 'web', packets: 700n },
      { uid: 'u2', namespace: 'shop', pod: 'web', packets: 5n },
    ],
  };
  const lines = renderToStrings(expositionInput({ sockets: again })).text.split('\n');
  const of = (prefix: string) => lines.filter((l) => l.startsWith(prefix));
  assert.deepEqual(of('netprobe_pod_socket_packets_total{container="app",direction="ingress"'), [
    'netprobe_pod_socket_packets_total{container="app",direction="ingress",namespace="shop",pod="web"} 7',
  ]);
  assert.deepEqual(of('netprobe_pod_blind_packets_total{'), ['netprobe_pod_blind_packets_total{namespace="shop",pod="web"} 705']);
});
