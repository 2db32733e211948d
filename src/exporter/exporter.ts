/**
 * The Exporter: collects from a CounterSource on a loop, keeps the rendered
 * exposition in memory, and serves it over HTTP with /health and /.
 *
 * @example
 * ```ts
 * const exporter = new Exporter(ebpf, { server: { port: 9090 }, collectInterval: 3_000 });
 * await exporter.start(AbortSignal.timeout(5 * 60_000)); // resolves once listening
 * await exporter.stop();                                  // idempotent; the caller closes `ebpf`
 * ```
 */
import { performance } from 'node:perf_hooks';
import { CollectionLoop } from '../collector/collection-loop.js';
import { Collector, type CollectionOutcome } from '../collector/collector.js';
import type { CounterSource } from '../source/counter-source.js';
import type { InterfaceSample } from '../collector/interface-sample.js';
import { withDefaults, type ExporterConfig, type ExporterConfigInput } from '../config/exporter-config.js';
import type { ExporterStatus } from '../http/exporter-status.js';
import { MetricsServer, type ServerTlsOptions } from '../http/metrics-server.js';
import { loadWebConfig, webConfigToServerOptions } from '../http/web-config.js';
import type { IncomingMessage } from 'node:http';
import { createLogger, type Logger } from '../log/logger.js';
import { compileInterfaceFilter } from '../net/interface-filter.js';
import { checkExporterConfig } from './exporter-config-check.js';
import { ExporterStateError } from './exporter-errors.js';
import type { ExpositionInput } from '../exposition/exposition.js';
import { buildExpositionSnapshot, type ExpositionSnapshot } from '../exposition/exposition-snapshot.js';
import { buildOverviewSnapshot, type OverviewInput, type OverviewSnapshot } from '../exposition/overview-snapshot.js';
import { RateHistory } from '../collector/rate-history.js';
import { DropRateHistory } from '../collector/drop-rate-history.js';
import { DROP_SHARE_LIMIT, DROP_SHARE_MIN_DROPS, DROP_SHARE_WINDOW_MS, DropShareWindow, dropShareCounts } from '../collector/drop-share.js';
import { InterfaceLabelCache } from '../exposition/interface-labels.js';
import { packageVersion } from './package-version.js';
import { PodResolver, UNRESOLVED_REASONS } from '../kubernetes/pod-resolver.js';
import type { NamespaceTotals } from '../collector/interface-sample.js';
import { readProcessMetrics } from '../exposition/process-metrics.js';
import { decodeCarriedState, encodeCarriedState } from '../collector/carry-over-record.js';
import { InterfaceRoleWatcher } from '../net/interface-role-watcher.js';
import { currentRole, type InterfaceRole } from '../net/interface-role.js';
import type { SocketCounterSource } from '../source/socket-counter-source.js';
import { SocketView } from './socket-view.js';
import type { DropCounterSource } from '../source/drop-counter-source.js';
import { DropView } from './drop-view.js';
import { DropPods } from '../kubernetes/drop-pods.js';
import { cgroupText } from '../kubernetes/proc-pods.js';
import { PrecedingProgramsReader } from './preceding-programs-reader.js';

/** Delay between an interface change reported by the source and the collection it triggers. */
const INTERFACE_CHANGE_DEBOUNCE_MS = 100;
/** A second look after an interface change, once a new interface's first packets have flowed. */
const INTERFACE_CHANGE_SETTLE_MS = 800;

export interface ExporterOptions {
  /** Where logs go; by default a JSON logger on stderr at `config.logLevel`. */
  logger?: Logger;
  /** Reported in netprobe_build_info, / and logs; defaults to the package version. */
  version?: string;
  /** HTTPS settings; by default taken from `server.webConfigFile` when set. */
  tls?: ServerTlsOptions;
  /** Request check (false → 401); by default from `server.webConfigFile` when set. */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /**
   * Where each interface's kind and role come from, read once per collection;
   * by default netlink in this network namespace (links and default routes,
   * with `config.uplinks`). Tests of fake sources pass their own.
   */
  roles?: () => ReadonlyMap<number, InterfaceRole>;
  /** With `pods.enabled`: the socket meter (the pod-side view); the caller opens and closes it. */
  socketMeter?: SocketCounterSource;
  /** With `pods.enabled` and no socket meter: why (shown on `/`). */
  socketMeterProblem?: string;
  /** With `drops.enabled`: the drop meter; the caller opens and closes it. */
  dropMeter?: DropCounterSource;
  /** With `drops.enabled` and no drop meter: why (shown on `/`). */
  dropMeterProblem?: string;
  /** The cgroup2 mount (for hostNetwork pods' drops); undefined: not known. */
  cgroupRoot?: string;
}

type Lifecycle = 'new' | 'starting' | 'running' | 'stopped';

export class Exporter {
  /** The effective configuration (defaults filled in). */
  readonly config: Readonly<ExporterConfig>;
  private readonly logger: Logger;
  private readonly version: string;
  private readonly collector: Collector;
  private readonly loop: CollectionLoop;
  private server: MetricsServer | undefined;
  private lifecycle: Lifecycle = 'new';
  private unsubscribe: (() => void) | undefined;
  private abortCleanup: (() => void) | undefined;
  private startup: Promise<void> | undefined;

  private readonly labelCache = new InterfaceLabelCache();
  private snapshot: ExpositionSnapshot | undefined;
  /** The overview page's document (built on demand, once per collection) and its bounded chart history (docs/overview.md). */
  private overview: OverviewSnapshot | undefined;
  private overviewInput: Omit<OverviewInput, 'history' | 'nowMs'> | undefined;
  private readonly history: RateHistory;
  /** Drops/s by reason, a point with each of `history`'s (with the ebpf source). */
  private readonly dropHistory: DropRateHistory;
  /** Pods' and interfaces' drops against their packets over the last 5 minutes (the trust panel). */
  private readonly dropShare = new DropShareWindow();
  private readonly startedAtMs = Date.now();
  private samples: readonly InterfaceSample[] = [];
  /** With `pods.enabled`: labels pod veths (undefined until started, or when it could not start). */
  private pods: PodResolver | undefined;
  private namespaces: readonly NamespaceTotals[] = [];
  /** Follows links and default routes for the interfaces' roles (undefined until started, or when it could not start). */
  private roleWatcher: InterfaceRoleWatcher | undefined;
  private roles: ReadonlyMap<number, InterfaceRole> = new Map();
  private rolesFailed = false;
  private collections = 0;
  private collectionErrors = 0;
  private requests = 0;
  private up = false;
  private lastError: string | undefined;
  private lastSuccessWall: Date | undefined;
  private lastSuccessMonotonic: number | undefined;
  private lastSourceStats: Record<string, bigint> = {};
  /** The carry-over record last written (skips writing the same bytes again). */
  private carriedBytes: Uint8Array | undefined;
  private carryOverFailed = false;
  /** The pod-side view (`--collector.pods` with the socket meter open). */
  private readonly socketView: SocketView | undefined;
  /** Drops by reason (`--collector.drops` with the drop meter open). */
  private readonly dropView: DropView | undefined;
  /** With the socket view: which TC programs run before netprobe's (read every so often). */
  private readonly preceding: PrecedingProgramsReader | undefined;

  /**
   * @param source where the counters come from (`EbpfManager`, `NetdevSource`); the caller closes it.
   * @param config any subset of the ExporterConfig (milliseconds for durations); missing fields get
   *   the defaults; `null`/`undefined` = all defaults. Throws ExporterConfigError naming every bad field.
   * @param opts logger, version, and TLS/authorization overrides.
   */
  constructor(
    private readonly source: CounterSource,
    config?: ExporterConfigInput | null,
    private readonly opts: ExporterOptions = {},
  ) {
    const effective = withDefaults(config ?? undefined);
    checkExporterConfig(effective);
    this.config = effective;
    this.logger = opts.logger ?? createLogger({ level: effective.logLevel });
    this.version = opts.version ?? packageVersion();
    this.collector = new Collector(
      source,
      {
        includeInterface: compileInterfaceFilter(effective.interfaceFilter),
        activeWindowMs: effective.activeWindow,
        activeOnly: effective.enableActiveOnly,
        departedRetentionMs: effective.pods.enabled ? effective.departedRetention : 0,
      },
      undefined,
      effective.pods.enabled ? (ifindex, name) => this.pods?.podOf(ifindex, name) : undefined,
    );
    if (effective.pods.enabled && opts.socketMeter)
      this.socketView = new SocketView(opts.socketMeter, {
        containers: effective.pods.containers,
        departedRetentionMs: effective.departedRetention,
        logsDir: effective.pods.logsDir,
        cgroupRoot: effective.pods.cgroupRoot,
        logger: this.logger,
      });
    if (this.socketView) this.preceding = new PrecedingProgramsReader(this.logger);
    if (effective.drops.enabled && opts.dropMeter)
      this.dropView = new DropView(opts.dropMeter, {
        departedRetentionMs: effective.departedRetention,
        maxSeries: effective.drops.maxSeries,
        logger: this.logger,
        nodeDevices: () => this.nodeDevices(),
        lookup: effective.pods.enabled
          ? new DropPods({
              cgroupRoot: opts.cgroupRoot ?? opts.socketMeter?.cgroupRoot,
              hostNetnsInode: opts.dropMeter.hostNetnsInode,
              logsDir: effective.pods.logsDir,
              anchors: { cgroupRoot: effective.pods.cgroupRoot, own: cgroupText(process.pid) },
              logger: this.logger,
            })
          : undefined,
      });
    this.history = new RateHistory({ intervalMs: effective.collectInterval });
    this.dropHistory = new DropRateHistory(this.history.capacity);
    this.loop = new CollectionLoop({
      intervalMs: effective.collectInterval,
      debounceMs: INTERFACE_CHANGE_DEBOUNCE_MS,
      settleMs: INTERFACE_CHANGE_SETTLE_MS,
      run: () => this.collectAndPublish(),
      onError: (error) => this.logger.error({ err: error }, 'collection loop error'),
    });
  }

  /**
   * Collects once, then listens; resolves once listening. Stops when `signal`
   * aborts (also during start-up: then it resolves without serving). A second
   * call is an ExporterStateError: an Exporter starts once.
   */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.lifecycle !== 'new') {
      throw new ExporterStateError(
        `Exporter.start() called on an exporter that is already ${this.lifecycle}`,
        'an Exporter starts once: call stop() and create a new Exporter to start again',
      );
    }
    this.lifecycle = 'starting';
    if (signal?.aborted) {
      this.lifecycle = 'stopped';
      return;
    }
    if (signal) {
      const onAbort = (): void => void this.stop();
      signal.addEventListener('abort', onAbort, { once: true });
      this.abortCleanup = () => signal.removeEventListener('abort', onAbort);
    }
    this.startup = this.startUp();
    try {
      await this.startup;
    } finally {
      this.startup = undefined;
    }
  }

  private async startUp(): Promise<void> {
    try {
      this.startPodResolver();
      this.startRoleWatcher();
      this.restoreCarryOver();
      this.socketView?.restore();
      this.dropView?.restore();
      await this.collectAndPublish();
      if (this.stopRequested()) return;
      const web = await this.webServerOptions();
      if (this.stopRequested()) return;
      const s = this.config.server;
      this.server = new MetricsServer({
        host: s.host,
        port: s.port,
        metricsPath: s.path,
        readTimeout: s.readTimeout,
        writeTimeout: s.writeTimeout,
        maxHeaderBytes: s.maxHeaderBytes,
        enableCors: s.enableCors,
        enableGzip: s.enableGzip,
        ...web,
        snapshot: () => this.currentSnapshot(),
        status: () => this.status(),
        overview: () => this.currentOverview(),
        onRequest: () => void this.requests++,
        logger: this.logger,
      });
      await this.server.listen();
    } catch (error) {
      this.lifecycle = 'stopped';
      this.abortCleanup?.();
      this.pods?.close();
      this.roleWatcher?.close();
      await this.server?.close();
      throw error;
    }
    if (this.stopRequested()) return; // stop() closes the server
    this.unsubscribe = this.source.onInterfacesChanged?.(() => this.loop.trigger());
    this.loop.start();
    this.lifecycle = 'running';
    this.logger.info(
      {
        host: this.config.server.host || '*',
        port: this.port,
        path: this.config.server.path,
        source: this.source.kind,
        attachMode: this.source.attachMode ?? 'none',
        interfaces: this.source.interfaceCount,
        collectIntervalMs: this.config.collectInterval,
      },
      'exporter listening',
    );
  }

  /** stop() was called (or the signal aborted) while starting. A method, so TypeScript does not narrow it away across awaits. */
  private stopRequested(): boolean {
    return this.lifecycle === 'stopped';
  }

  /**
   * Closes the server (keep-alive connections too) and the collection loop,
   * after a collection in progress. Idempotent; safe during start(). Does not
   * close the source: the caller owns it.
   */
  async stop(): Promise<void> {
    if (this.lifecycle === 'new' || this.lifecycle === 'stopped') {
      this.lifecycle = 'stopped';
      await this.startup?.catch(() => undefined);
      return;
    }
    this.lifecycle = 'stopped';
    this.abortCleanup?.();
    this.unsubscribe?.();
    await this.startup?.catch(() => undefined);
    await Promise.all([this.server?.close(), this.loop.stop()]);
    this.pods?.close();
    this.roleWatcher?.close();
    this.logger.info('exporter stopped');
  }

  /**
   * Pod attribution is extra: if it cannot start, interfaces are still
   * counted (without pod labels) and the log says what is missing.
   */
  private startPodResolver(): void {
    const pods = this.config.pods;
    if (!pods.enabled) return;
    try {
      this.pods = PodResolver.start({
        logsDir: pods.logsDir,
        cgroupRoot: pods.cgroupRoot,
        logger: this.logger,
        onChange: () => this.loop.trigger(),
      });
    } catch (error) {
      this.logger.warn(
        { err: error },
        `pod attribution is off: ${error instanceof Error ? error.message : String(error)}; interfaces are counted without pod labels`,
      );
    }
  }

  /**
   * Interface roles are extra too: without them every interface is still
   * counted, but the node totals (the uplinks' sum) are zero, and the log says why.
   */
  private startRoleWatcher(): void {
    if (this.opts.roles) return;
    try {
      this.roleWatcher = InterfaceRoleWatcher.start({
        uplinks: this.config.uplinks.length > 0 ? compileInterfaceFilter(this.config.uplinks) : undefined,
        onDefaultRouteChange: () => this.loop.trigger(),
      });
    } catch (error) {
      this.logger.warn(
        { err: error },
        `interface roles are unknown: ${error instanceof Error ? error.message : String(error)}; node totals (the uplinks' traffic) stay 0`,
      );
    }
  }

  /** The node namespace's device ifindexes now (fresh from netlink), or undefined when they cannot be read. */
  private nodeDevices(): ReadonlySet<number> | undefined {
    try {
      const roles = this.opts.roles?.() ?? this.roleWatcher?.roles();
      return roles && new Set(roles.keys());
    } catch {
      return undefined; // readRoles() logs the failure
    }
  }

  /** This collection's roles; after a failed re-read, the last ones (logged once per failure streak). */
  private readRoles(): ReadonlyMap<number, InterfaceRole> {
    try {
      const roles = this.opts.roles?.() ?? this.roleWatcher?.roles() ?? this.roles;
      this.rolesFailed = false;
      return roles;
    } catch (error) {
      if (!this.rolesFailed) this.logger.warn({ err: error }, 'cannot re-read the interface roles; keeping the last ones');
      this.rolesFailed = true;
      return this.roles;
    }
  }

  /**
   * With pods and a source whose counters outlive the process: continue the
   * pod labels and namespace totals of the exporter that ran before.
   */
  private restoreCarryOver(): void {
    const store = this.source.carryOver;
    if (!this.config.pods.enabled || !store) return;
    try {
      const bytes = store.read();
      if (!bytes) return;
      const carried = decodeCarriedState(bytes);
      this.collector.restore(carried);
      this.carriedBytes = bytes;
      this.logger.info(
        { interfaces: carried.interfaces.length, namespaces: carried.namespaces.length },
        'continuing the pod labels and namespace totals of the previous run',
      );
    } catch (error) {
      this.logger.warn(
        { err: error },
        `the carried-over pod state cannot be used (${error instanceof Error ? error.message : String(error)}): it is ignored and replaced by the next collection's record; namespace totals start again from the live interfaces`,
      );
    }
  }

  /**
   * Writes what the next exporter continues from (after the exposition is
   * published, so it never delays a scrape's data). The record carries live
   * counts, so on a busy node it changes every collection: a few KiB of JSON
   * deflated and one map update. A failure is logged once; counting goes on.
   */
  private saveCarryOver(): void {
    const store = this.source.carryOver;
    if (!this.config.pods.enabled || !store) return;
    const carried = this.collector.carried();
    if (!carried) return;
    try {
      const bytes = encodeCarriedState(carried);
      if (this.carriedBytes && Buffer.compare(bytes, this.carriedBytes) === 0) return;
      if (bytes.length > store.capacity)
        throw new Error(`${carried.interfaces.length} pod interfaces need ${bytes.length} bytes; the record holds ${store.capacity}`);
      store.write(bytes);
      this.carriedBytes = bytes;
      this.carryOverFailed = false;
    } catch (error) {
      if (!this.carryOverFailed)
        this.logger.warn(
          { err: error },
          `cannot save the pod state for the next run (${error instanceof Error ? error.message : String(error)}): after a restart the namespace totals would start again`,
        );
      this.carryOverFailed = true;
    }
  }

  /** The port actually listened on (also when configured as 0); 0 before start. */
  get port(): number {
    return this.server?.port ?? 0;
  }

  /** Collects now and publishes the result (for tests and benchmarks); waits for a collection in progress first. */
  async collectNow(): Promise<void> {
    await this.loop.runNow();
  }

  private async webServerOptions(): Promise<{
    tls?: ServerTlsOptions;
    authorize?: ExporterOptions['authorize'];
    headers?: Readonly<Record<string, string>>;
  }> {
    const file = this.config.server.webConfigFile;
    if (this.opts.tls || this.opts.authorize || !file) return { tls: this.opts.tls, authorize: this.opts.authorize };
    return webConfigToServerOptions(await loadWebConfig(file));
  }

  private async collectAndPublish(): Promise<void> {
    // The sockets first: a packet a socket received was then already past its veth (blind-spots.ts).
    this.socketView?.collect();
    this.dropView?.collect();
    const outcome = this.collector.collect();
    this.roles = this.readRoles();
    const viewed = this.config.pods.enabled ? this.socketView?.exposition(outcome.ok ? outcome.samples : undefined) : undefined;
    const sockets = viewed && this.preceding ? { ...viewed, preceding: this.preceding.read(this.samples) } : viewed;
    this.collections++;
    this.record(outcome);
    const lastSuccessMs = outcome.ok ? outcome.wallTimeMs : this.lastSuccessWall?.getTime();
    const input: ExpositionInput = {
      samples: this.samples,
      up: this.up,
      collections: this.collections,
      lastSuccessSeconds: lastSuccessMs === undefined ? 0 : lastSuccessMs / 1000,
      source: this.source.kind,
      attachMode: this.source.attachMode,
      attachedInterfaces: this.source.interfaceCount,
      collectionDurationSeconds: outcome.durationSeconds,
      collectionErrors: this.collectionErrors,
      sourceStats: this.lastSourceStats,
      version: this.version,
      processFamilies: await readProcessMetrics(),
      roles: this.roles,
      pods: this.config.pods.enabled
        ? {
            perInterface: this.config.pods.perInterface,
            namespaces: this.namespaces,
            unresolved: this.pods?.unresolved() ?? Object.fromEntries(UNRESOLVED_REASONS.map((r) => [r, 0])),
          }
        : undefined,
      sockets: this.config.pods.enabled
        ? (sockets ?? { open: false, containers: false, pods: [], namespaces: [], unattributed: [], blind: [] })
        : undefined,
      drops:
        this.source.kind === 'ebpf'
          ? (this.dropView?.exposition() ?? {
              active: false,
              drops: [],
              namespaces: [],
              overflowPackets: 0n,
              recursionMisses: 0n,
              mapFull: 0n,
            })
          : undefined,
    };
    try {
      this.snapshot = await buildExpositionSnapshot(input, this.labelCache);
      if (outcome.ok) {
        // Fresh for /health only once it is what scrapes get.
        this.lastSuccessWall = new Date(outcome.wallTimeMs);
        this.lastSuccessMonotonic = performance.now();
      }
    } catch (error) {
      // A bug in rendering must not leave the previous exposition served as fresh.
      this.record({ ok: false, error, durationSeconds: outcome.durationSeconds, wallTimeMs: outcome.wallTimeMs });
      this.snapshot = await buildExpositionSnapshot({
        ...input,
        samples: [],
        up: false,
        lastSuccessSeconds: (this.lastSuccessWall?.getTime() ?? 0) / 1000,
        collectionErrors: this.collectionErrors,
        sourceStats: {},
        processFamilies: [],
      });
    }
    this.publishOverview(outcome);
    if (outcome.ok) this.saveCarryOver();
    this.socketView?.save();
    this.dropView?.save();
  }

  /**
   * Records the chart history and keeps what the overview document needs.
   * The document itself is built on the first request after this collection
   * (currentOverview), so nobody watching costs nothing.
   */
  private publishOverview(outcome: CollectionOutcome): void {
    const roles = this.roles;
    const drops =
      this.source.kind === 'ebpf'
        ? (this.dropView?.overview() ?? {
            active: false,
            problem: this.config.drops.enabled
              ? (this.opts.dropMeterProblem ?? 'the drop meter is not open')
              : 'off (--collector.drops=false)',
            byReason: [],
            pods: [],
          })
        : undefined;
    if (outcome.ok && this.up) {
      if (this.history.record(outcome.wallTimeMs, this.samples, (s) => currentRole(roles, s)?.role === 'uplink') && drops)
        this.dropHistory.record(outcome.wallTimeMs, drops.byReason);
      this.dropShare.record(outcome.wallTimeMs, dropShareCounts(this.samples, drops?.pods ?? []));
    }
    const stat = (key: string): number | null => {
      const v = this.lastSourceStats[key];
      return v === undefined ? null : Number(v);
    };
    this.overviewInput = {
      samples: this.samples,
      roles,
      ...(drops ? { drops, dropHistory: this.dropHistory } : {}),
      trust: {
        up: this.up,
        source: this.source.kind,
        attachMode: this.source.attachMode ?? null,
        version: this.version,
        startedAt: this.startedAtMs,
        collectIntervalMs: this.config.collectInterval,
        interfacesCounted: this.source.interfaceCount,
        interfacesUncounted: stat('interfaces_uncounted'),
        overflow: stat('interfaces_overflow'),
        uncountedPackets: stat('uncounted_packets'),
        collections: this.collections,
        collectionErrors: this.collectionErrors,
        lastError: this.lastError ?? null,
        lastCollection: this.lastSuccessWall?.getTime() ?? null,
        series: this.snapshot?.series ?? 0,
        ...(this.config.pods.enabled
          ? {
              podSockets: this.socketView
                ? this.socketView.trust()
                : {
                    open: false,
                    problem: this.opts.socketMeterProblem ?? 'the socket meter needs the ebpf source',
                    blindPods: [],
                  },
            }
          : {}),
        dropShare: {
          windowMs: DROP_SHARE_WINDOW_MS,
          limit: DROP_SHARE_LIMIT,
          minDrops: DROP_SHARE_MIN_DROPS,
          since: this.dropShare.since(),
          over: this.dropShare.over(),
        },
      },
    };
    this.overview = undefined;
  }

  private currentOverview(): OverviewSnapshot {
    if (!this.overviewInput) throw new Error('no overview yet: start() collects before listening');
    this.overview ??= buildOverviewSnapshot({ ...this.overviewInput, history: this.history, nowMs: Date.now() });
    return this.overview;
  }

  private record(outcome: CollectionOutcome): void {
    if (outcome.ok) {
      this.samples = outcome.samples;
      this.namespaces = outcome.namespaces;
      this.lastSourceStats = outcome.sourceStats;
      this.up = true;
      this.lastError = undefined;
      this.logger.debug({ interfaces: outcome.samples.length, durationMs: outcome.durationSeconds * 1000 }, 'collection done');
      return;
    }
    // Serve no interface data rather than stale data that looks fresh; netprobe_up says why.
    this.samples = [];
    this.lastSourceStats = {};
    this.collectionErrors++;
    const message = outcome.error instanceof Error ? outcome.error.message : String(outcome.error);
    if (this.up || this.lastError !== message) this.logger.error({ err: outcome.error }, 'collection failed');
    this.up = false;
    this.lastError = message;
  }

  private currentSnapshot(): ExpositionSnapshot {
    if (!this.snapshot) throw new Error('no exposition yet: start() publishes one before listening');
    return this.snapshot;
  }

  private status(): ExporterStatus {
    return {
      version: this.version,
      source: this.source.kind,
      attachMode: this.source.attachMode,
      attachedInterfaces: this.source.interfaceCount,
      port: this.port,
      requests: this.requests,
      series: this.snapshot?.series ?? 0,
      collections: this.collections,
      collectionErrors: this.collectionErrors,
      collectIntervalMs: this.config.collectInterval,
      up: this.up,
      lastSuccess: this.lastSuccessWall,
      lastSuccessAgeMs: this.lastSuccessMonotonic === undefined ? undefined : performance.now() - this.lastSuccessMonotonic,
      lastError: this.lastError,
      interfaces: this.samples,
    };
  }
}
