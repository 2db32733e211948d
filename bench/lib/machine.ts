/** The machine a run measured, for the results doc. */
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { spawnSync } from 'node:child_process';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  kernel: string;
  memoryGiB: number;
  node: string;
  nodeExporter: string;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) return 'not installed';
  // Go programs print their version on stderr.
  return (r.stdout || r.stderr).split('\n')[0]!.trim();
}

export function describeMachine(): MachineInfo {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    kernel: release(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    nodeExporter: firstLine('prometheus-node-exporter', ['--version']).replace(/\s*\(.*$/, ''),
  };
}
