/**
 * Names of the kernel's drop reasons, from the running kernel's BTF (the
 * numbers of `enum skb_drop_reason` are not ABI: they moved between kernels).
 *
 * - `SKB_DROP_REASON_NO_SOCKET` -> `no_socket` (lower case, prefix dropped);
 *   `SKB_NOT_DROPPED_YET`, `SKB_CONSUMED`, `..._MAX` and the mask are not
 *   drops and get no name.
 * - A subsystem reason `subsystem << 16 | code` -> `<subsystem>_<name>` when
 *   BTF holds the subsystem's own `*drop_reason*` enum (its enumerators'
 *   common prefix dropped), else `<subsystem>_<code>`.
 * - Any other number -> `unknown_<n>`.
 * - A kernel without `enum skb_drop_reason` (before 5.17) names no reason:
 *   every drop is `not_specified` (`reasonsKnown` false).
 */
import type { BtfEnumerator, KernelBtf } from './vmlinux-btf.js';

export const CORE_ENUM = 'skb_drop_reason';
export const SUBSYSTEM_ENUM = 'skb_drop_reason_subsys';
const PREFIX = 'SKB_DROP_REASON_';
const SUBSYSTEM_PREFIX = 'SKB_DROP_REASON_SUBSYS_';
const NOT_DROPS = new Set(['SKB_NOT_DROPPED_YET', 'SKB_CONSUMED']);
const NOT_REASONS = new Set(['SKB_DROP_REASON_MAX']);
const SUBSYSTEM_SHIFT = 16n;

export interface ReasonNames {
  /** Whether the kernel names drop reasons at all. */
  readonly reasonsKnown: boolean;
  /** The name of a reason number the program counted; undefined when the number is not a drop (consumed). */
  nameOf(code: number): string | undefined;
  /** Every named core reason, number -> name (what the tracefs format file lists, in lower case). */
  readonly core: ReadonlyMap<number, string>;
}

/** Enums the naming reads: the core, the subsystem list and the subsystems' own enums. */
export type EnumSource = Pick<KernelBtf, 'enumValues' | 'enumNames'>;

export function reasonNames(btf: EnumSource): ReasonNames {
  const core = btf.enumValues(CORE_ENUM);
  if (!core) return { reasonsKnown: false, nameOf: () => 'not_specified', core: new Map() };
  const names = new Map<number, string>();
  const notDrops = new Set<number>();
  for (const e of core) {
    const value = Number(e.value);
    if (NOT_DROPS.has(e.name)) notDrops.add(value);
    else if (
      !NOT_REASONS.has(e.name) &&
      e.name.startsWith(PREFIX) &&
      !e.name.endsWith('_MASK') &&
      e.value >= 0n &&
      e.value < 1n << SUBSYSTEM_SHIFT
    )
      names.set(value, e.name.slice(PREFIX.length).toLowerCase());
  }
  const coreNames = new Map(names);

  const subsystems = new Map<number, string>();
  for (const e of btf.enumValues(SUBSYSTEM_ENUM) ?? []) {
    if (e.value === 0n || !e.name.startsWith(SUBSYSTEM_PREFIX) || e.name === `${SUBSYSTEM_PREFIX}NUM`) continue;
    subsystems.set(Number(e.value), e.name.slice(SUBSYSTEM_PREFIX.length).toLowerCase());
  }
  // A subsystem's own enum: any other enum named *drop_reason* whose values carry that subsystem's id.
  for (const enumName of btf.enumNames()) {
    if (enumName === CORE_ENUM || enumName === SUBSYSTEM_ENUM || !enumName.includes('drop_reason')) continue;
    const bySubsystem = new Map<number, BtfEnumerator[]>();
    for (const e of btf.enumValues(enumName) ?? []) {
      const sub = Number(e.value >> SUBSYSTEM_SHIFT);
      if (e.value < 0n || !subsystems.has(sub)) continue;
      bySubsystem.set(sub, [...(bySubsystem.get(sub) ?? []), e]);
    }
    for (const [sub, list] of bySubsystem) {
      const prefix = commonPrefix(list.map((e) => e.name));
      for (const e of list) {
        const rest = e.name.slice(prefix.length).toLowerCase() || e.name.toLowerCase();
        names.set(Number(e.value), `${subsystems.get(sub)}_${rest}`);
      }
    }
  }

  return {
    reasonsKnown: true,
    core: coreNames,
    nameOf(code) {
      if (notDrops.has(code)) return undefined;
      const named = names.get(code);
      if (named !== undefined) return named;
      const subsystem = subsystems.get(Math.floor(code / 0x10000));
      return subsystem === undefined ? `unknown_${code}` : `${subsystem}_${code % 0x10000}`;
    },
  };
}

/** The longest prefix ending at an underscore that every name shares (none for a single name: it keeps its words). */
function commonPrefix(names: readonly string[]): string {
  if (names.length < 2) return '';
  let prefix = names[0] ?? '';
  for (const n of names) while (!n.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const cut = prefix.lastIndexOf('_');
  return cut < 0 ? '' : prefix.slice(0, cut + 1);
}
