/**
 * `netprobe-exporter/ebpf`: the eBPF TC counter source and the pieces it is
 * built from (for tools and benchmarks that drive BPF objects directly).
 */
export { EbpfManager, type EbpfManagerOptions } from './ebpf-manager.js';
export { DEFAULT_OBJECT_PATH } from './tc-counter/open-counters.js';
export { BpfObject, possibleCpus, type BpfObjectOptions } from './bpf-object.js';
export { BpfMap, type MapBatch } from './bpf-map.js';
export { progTestRun, skbContext, SK_BUFF_SIZE, type ProgTestRunOptions, type ProgTestRunResult } from './prog-test-run.js';
export { CounterTable, MapFullError, type Placement } from './tc-counter/counter-table.js';
export { probeTcx, type TcxSupport } from './tc-counter/feature-probe.js';
export { tcxProgramIds } from './tc-counter/tcx-attach.js';
export { PinLockedError, DEFAULT_PIN_LOCK_TIMEOUT_MS } from './pin-lock.js';
export { NETPROBE_TC_HANDLE, NETPROBE_TC_PRIORITY, ForeignFilterError } from './tc-counter/clsact-attach.js';
export {
  AbiMismatchError,
  BpfCallError,
  LibbpfMissingError,
  MIN_TCX_KERNEL,
  ProgramLoadError,
  StateError,
  TcxUnsupportedError,
} from './errors.js';
export * as abi from './abi.js';
export { openSocketMeter, SocketMeter, SOCKET_METER_OBJECT_PATH, type SocketMeterOptions } from './socket-meter/socket-meter.js';
export { findCgroup2Root } from './socket-meter/cgroup-root.js';
export { openDropMeter, DropMeter, DROP_METER_OBJECT_PATH, type DropMeterOptions } from './drop-meter/drop-meter.js';
export { precedingPrograms, readPrecedingPrograms, type PrecedingProgram, type HookPrograms } from './tc-counter/preceding-programs.js';
export type { CounterRow, CounterSource, AttachMode, Direction } from '../source/counter-source.js';
export type { SocketCounterRow, SocketCounterSource } from '../source/socket-counter-source.js';
export type { DropCounterRow, DropCounterSource } from '../source/drop-counter-source.js';
