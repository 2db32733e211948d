/**
 * The pod-side view as the exporter runs it: the socket meter, the cgroup
 * tree and log directories that name its cgroups, the state kept across
 * collections and (with pins) across restarts, and what `/` and /metrics
 * show of it. Failures are logged once per distinct message; the host-veth
 * view goes on regardless.
 */
import type { Logger } from 'pino';
import type { BlindSpotSample } from '../collector/blind-spots.js';
import { BlindWindow } from '../collector/blind-window.js';
import type { InterfaceSample } from '../collector/interface-sample.js';
import { SocketCollector, type SocketOutcome } from '../collector/socket-collector.js';
import { decodeSocketState, encodeSocketState } from '../collector/socket-carry-over-record.js';
import { podBucketKey } from '../collector/socket-state.js';
import type { OverviewPodSockets } from '../exposition/overview-document.js';
import type { SocketExposition } from '../exposition/socket-families.js';
import { cgroupLines } from '../kubernetes/pod-cgroup.js';
import { cgroupText } from '../kubernetes/proc-pods.js';
import { SocketCgroups } from '../kubernetes/socket-cgroups.js';
import type { SocketCounterSource } from '../source/socket-counter-source.js';

/** How long a pod cgroup waits for its names (the kubelet writes the log directory and link as the container starts). */
const NAMES_GRACE_MS = 30_000;

export interface SocketViewOptions {
  containers: boolean;
  departedRetentionMs: number;
  logsDir: string;
  /** The kubelet's --cgroup-root (`--kubernetes.cgroup-root`). */
  cgroupRoot: string;
  logger: Logger;
}

export class SocketView {
  private readonly collector: SocketCollector;
  private last: SocketOutcome | undefined;
  /** The last successful read: a failed one exports these values again instead of dropping the series. */
  private lastGood: Extract<SocketOutcome, { ok: true }> | undefined;
  private blind: BlindSpotSample[] = [];
  /** Which pods the trust panel names (and deploy/prometheus alerts on): collector/blind-window.ts. */
  private readonly blindWindow = new BlindWindow();
  private lastError: string | undefined;
  private savedBytes: Uint8Array | undefined;
  private saveFailed = false;

  constructor(
    private readonly meter: SocketCounterSource,
    private readonly opts: SocketViewOptions,
  ) {
    const own = cgroupLines(cgroupText(process.pid)).get('0:');
    const cgroups = new SocketCgroups({
      cgroupRoot: meter.cgroupRoot,
      logsDir: opts.logsDir,
      anchors: { cgroupRoot: opts.cgroupRoot, own },
      logger: opts.logger,
    });
    this.collector = new SocketCollector(
      meter,
      { containers: opts.containers, departedRetentionMs: opts.departedRetentionMs, namesGraceMs: NAMES_GRACE_MS },
      cgroups,
    );
  }

  /** Continues the previous run's pod-side totals (with pins). */
  restore(): void {
    const bytes = this.meter.carryOver?.read();
    if (!bytes) return;
    try {
      const carried = decodeSocketState(bytes, podBucketKey);
      this.collector.restore(carried);
      this.savedBytes = bytes;
      this.opts.logger.info(
        { cgroups: carried.cgroups.length, buckets: carried.buckets.length },
        'continuing the pod socket totals of the previous run',
      );
    } catch (error) {
      this.opts.logger.warn(
        { err: error },
        `the carried-over pod socket state cannot be used (${error instanceof Error ? error.message : String(error)}): pod socket totals start again`,
      );
    }
  }

  collect(): void {
    this.last = this.collector.collect();
    if (this.last.ok) {
      this.lastGood = this.last;
      if (this.lastError) this.opts.logger.info('pod socket counters are read again');
      this.lastError = undefined;
      return;
    }
    const message = this.last.error instanceof Error ? this.last.error.message : String(this.last.error);
    if (message !== this.lastError) this.opts.logger.error({ err: this.last.error }, 'reading the pod socket counters failed');
    this.lastError = message;
  }

  /** The families for this collection; `interfaces` are its host-veth samples (undefined when that read failed). */
  exposition(interfaces: readonly InterfaceSample[] | undefined): SocketExposition {
    const last = this.lastGood;
    if (!last) return { open: true, containers: this.opts.containers, pods: [], namespaces: [], unattributed: [], blind: [] };
    // After a failed read the last good values stand (the blind comparison waits for a good one).
    if (interfaces && this.last?.ok) {
      this.blind = this.collector.compare(interfaces);
      this.blindWindow.record(Date.now(), this.blind);
    }
    return {
      open: true,
      containers: this.opts.containers,
      pods: last.pods,
      namespaces: last.namespaces,
      unattributed: last.unattributed,
      blind: this.blind,
    };
  }

  trust(): OverviewPodSockets {
    return {
      open: true,
      ...(this.lastError ? { problem: `reading the socket counters failed: ${this.lastError}` } : {}),
      blindPods: this.blind.filter((b) => this.blindWindow.flagged(b.uid, b.packets)).map((b) => `${b.namespace}/${b.pod}`),
    };
  }

  /**
   * Writes what the next run continues from (with pins); a failure is logged
   * once. A record that can no longer be kept current is emptied: a next run
   * that continued from an old one would export totals below what Prometheus
   * already saw (a reset in the middle of a counter); starting again is honest.
   */
  save(): void {
    const store = this.meter.carryOver;
    const carried = store && this.last?.ok ? this.collector.carried() : undefined;
    if (!store || !carried) return;
    try {
      const bytes = encodeSocketState(carried);
      if (this.savedBytes && Buffer.compare(bytes, this.savedBytes) === 0) return;
      if (bytes.length > store.capacity)
        throw new Error(`${carried.cgroups.length} socket cgroups need ${bytes.length} bytes; the record holds ${store.capacity}`);
      store.write(bytes);
      this.savedBytes = bytes;
      this.saveFailed = false;
    } catch (error) {
      if (!this.saveFailed) {
        this.opts.logger.warn(
          { err: error },
          `cannot save the pod socket state for the next run (${error instanceof Error ? error.message : String(error)}): after a restart the pod socket totals start again`,
        );
        try {
          store.write(new Uint8Array(0));
          this.savedBytes = undefined;
        } catch {
          // The same map failed a moment ago; the warning above already says what follows.
        }
      }
      this.saveFailed = true;
    }
  }
}
