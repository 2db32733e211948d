/**
 * `--check`: load, attach, read once, print the exposition the exporter
 * would serve, detach. A dry run for operators ("will this work on this
 * node, and what will it export?"), like ebpf_exporter's config check.
 */
import { openCounterSource } from '../exporter/select-source.js';
import type { CounterSource } from '../source/counter-source.js';
import type { ExporterConfig } from '../config/exporter-config.js';
import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { Exporter } from '../exporter/index.js';
import { logFailure } from './log-failure.js';

export interface CheckOptions {
  settings: Settings;
  exporterConfig: ExporterConfig;
  logger: Logger;
  version: string;
  /** Where the exposition goes (stdout). */
  write: (text: string) => void;
}

/** Resolves to the exit status: 0 when the exposition was printed, 1 with the reason logged otherwise. */
export async function check(opts: CheckOptions): Promise<number> {
  const { settings, logger } = opts;
  let source: CounterSource | undefined;
  let exporter: Exporter | undefined;
  try {
    source = await openCounterSource({
      source: settings.source,
      attachMode: settings.attachMode,
      include: settings.include,
      exclude: settings.exclude,
      logger,
    });
    // The exposition is read the way Prometheus would, from a private
    // loopback listener on a free port: plain HTTP, uncompressed.
    const server = { ...opts.exporterConfig.server, host: '127.0.0.1', port: 0, webConfigFile: '', enableGzip: false };
    exporter = new Exporter(source, { ...opts.exporterConfig, server }, { logger, version: opts.version });
    await exporter.start();
    await exporter.collectNow();
    const response = await fetch(`http://127.0.0.1:${exporter.port}${server.path}`, { signal: AbortSignal.timeout(10_000) });
    const text = await response.text();
    if (!response.ok) throw new Error(`the metrics endpoint answered ${response.status}: ${text.slice(0, 200)}`);
    opts.write(text);
    logger.info({ source: source.kind, attachMode: source.attachMode ?? 'none', interfaces: source.interfaceCount }, 'check passed');
    return 0;
  } catch (error) {
    logFailure(logger, 'check failed', error);
    return 1;
  } finally {
    await exporter?.stop().catch((error: unknown) => logFailure(logger, 'stopping the server', error));
    await source?.close().catch((error: unknown) => logFailure(logger, 'closing the counter source', error));
  }
}
