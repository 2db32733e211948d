/**
 * What the HTTP routes know about the running exporter. The Exporter builds
 * one on demand; the routes never touch the source or the collector.
 */
import type { AttachMode, SourceKind } from '../source/counter-source.js';
import type { InterfaceSample } from '../collector/interface-sample.js';

export interface ExporterStatus {
  version: string;
  source: SourceKind;
  attachMode: AttachMode | undefined;
  /** Interfaces the source counts. */
  attachedInterfaces: number;
  /** The port actually listened on. */
  port: number;
  /** HTTP requests received so far, this one included. */
  requests: number;
  /** Samples in the current exposition. */
  series: number;
  /** Collections done, failed ones included. */
  collections: number;
  collectionErrors: number;
  collectIntervalMs: number;
  /** The last collection succeeded. */
  up: boolean;
  /** Wall-clock time of the last successful collection. */
  lastSuccess: Date | undefined;
  /** Monotonic age of the last successful collection in ms. */
  lastSuccessAgeMs: number | undefined;
  /** Message of the last failed collection, while it is the latest one. */
  lastError: string | undefined;
  /** The exported interfaces of the last successful collection (empty while down). */
  interfaces: readonly InterfaceSample[];
}
