/**
 * One pod's (or container's) counts at its sockets, as the state machine
 * (socket-state.ts) hands them to the blind-spot check and the exposition.
 */
import type { PacketsBytes } from './collection-state.js';

export interface SocketCounts {
  ingress: PacketsBytes;
  egress: PacketsBytes;
}

export interface PodBucketLabels {
  uid: string;
  namespace: string;
  pod: string;
  /** '' without --collector.pods.containers (or a container without a name). */
  container: string;
}

export interface PodSocketSample extends PodBucketLabels, SocketCounts {
  departed: boolean;
}
