/**
 * A small reader of the kernel's own BTF (/sys/kernel/btf/vmlinux): the
 * facts the drop meter needs and nothing else — the enumerators of named
 * enums (the drop reasons) and the argument count of a tracepoint's
 * `btf_trace_<name>` prototype (which program variant fits). Pure on a
 * Buffer; `readVmlinuxBtf()` reads the file.
 *
 * Format: include/uapi/linux/btf.h (a header, then `struct btf_type` records,
 * each followed by data whose size depends on its kind, then the strings).
 */
import { readFileSync } from 'node:fs';

export const VMLINUX_BTF_PATH = '/sys/kernel/btf/vmlinux';

const BTF_MAGIC = 0xeb9f;
const KIND_INT = 1;
const KIND_PTR = 2;
const KIND_ARRAY = 3;
const KIND_STRUCT = 4;
const KIND_UNION = 5;
const KIND_ENUM = 6;
const KIND_TYPEDEF = 8;
const KIND_FUNC_PROTO = 13;
const KIND_VAR = 14;
const KIND_DATASEC = 15;
const KIND_DECL_TAG = 17;
const KIND_ENUM64 = 19;

export interface BtfEnumerator {
  name: string;
  value: bigint;
}

export interface KernelBtf {
  /** Enumerators of the named enum (ENUM or ENUM64), or undefined when BTF has none of that name. */
  enumValues(name: string): BtfEnumerator[] | undefined;
  /** Names of every named enum. */
  enumNames(): string[];
  /** Parameter count of the function prototype a typedef (`typedef void (*name)(...)`) points to, or undefined. */
  typedefParamCount(name: string): number | undefined;
}

/** Why a BTF blob could not be read. */
export class BtfFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BtfFormatError';
  }
}

/** Bytes of kind-specific data after a 12-byte `struct btf_type`. */
function extraBytes(kind: number, vlen: number): number {
  switch (kind) {
    case KIND_INT:
    case KIND_VAR:
    case KIND_DECL_TAG:
      return 4;
    case KIND_ARRAY:
      return 12;
    case KIND_STRUCT:
    case KIND_UNION:
    case KIND_DATASEC:
    case KIND_ENUM64:
      return 12 * vlen;
    case KIND_ENUM:
    case KIND_FUNC_PROTO:
      return 8 * vlen;
    default:
      // PTR, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT, FUNC, FLOAT, TYPE_TAG: none.
      if (kind >= 1 && kind <= 19) return 0;
      throw new BtfFormatError(`unknown BTF kind ${kind}`);
  }
}

/** Parses a BTF blob (little-endian, as the kernel exports it on x86_64 and arm64). */
export function parseBtf(buf: Buffer): KernelBtf {
  if (buf.length < 24 || buf.readUInt16LE(0) !== BTF_MAGIC) throw new BtfFormatError('not BTF (bad magic)');
  const hdrLen = buf.readUInt32LE(4);
  const typeStart = hdrLen + buf.readUInt32LE(8);
  const typeEnd = typeStart + buf.readUInt32LE(12);
  const strStart = hdrLen + buf.readUInt32LE(16);
  const strEnd = strStart + buf.readUInt32LE(20);
  if (typeEnd > buf.length || strEnd > buf.length) throw new BtfFormatError('truncated BTF');
  const str = (off: number): string => {
    const at = strStart + off;
    const end = buf.indexOf(0, at);
    return buf.toString('latin1', at, end < 0 || end > strEnd ? strEnd : end);
  };
  // Type ids start at 1; offsets[id] is where its record begins.
  const offsets: number[] = [0];
  const enums = new Map<string, number>();
  const typedefs = new Map<string, number>();
  for (let at = typeStart; at < typeEnd;) {
    const info = buf.readUInt32LE(at + 4);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    offsets.push(at);
    if (kind === KIND_ENUM || kind === KIND_ENUM64 || kind === KIND_TYPEDEF) {
      const nameOff = buf.readUInt32LE(at);
      if (nameOff !== 0) (kind === KIND_TYPEDEF ? typedefs : enums).set(str(nameOff), offsets.length - 1);
    }
    at += 12 + extraBytes(kind, vlen);
  }
  const kindOf = (id: number): { kind: number; vlen: number; type: number; at: number } | undefined => {
    const at = offsets[id];
    if (at === undefined || id === 0) return undefined;
    const info = buf.readUInt32LE(at + 4);
    return { kind: (info >>> 24) & 0x1f, vlen: info & 0xffff, type: buf.readUInt32LE(at + 8), at };
  };
  return {
    enumNames: () => [...enums.keys()],
    enumValues(name) {
      const t = kindOf(enums.get(name) ?? 0);
      if (!t) return undefined;
      const signed = buf.readUInt32LE(t.at + 4) >>> 31 === 1;
      const out: BtfEnumerator[] = [];
      for (let i = 0; i < t.vlen; i++) {
        if (t.kind === KIND_ENUM) {
          const at = t.at + 12 + 8 * i;
          out.push({ name: str(buf.readUInt32LE(at)), value: BigInt(signed ? buf.readInt32LE(at + 4) : buf.readUInt32LE(at + 4)) });
        } else {
          const at = t.at + 12 + 12 * i;
          const value = (BigInt(buf.readUInt32LE(at + 8)) << 32n) | BigInt(buf.readUInt32LE(at + 4));
          out.push({ name: str(buf.readUInt32LE(at)), value: signed ? BigInt.asIntN(64, value) : value });
        }
      }
      return out;
    },
    typedefParamCount(name) {
      let t = kindOf(typedefs.get(name) ?? 0);
      // typedef -> pointer -> function prototype (a few hops at most).
      for (let hops = 0; t && hops < 4; hops++) {
        if (t.kind === KIND_FUNC_PROTO) return t.vlen;
        if (t.kind !== KIND_TYPEDEF && t.kind !== KIND_PTR) return undefined;
        t = kindOf(t.type);
      }
      return undefined;
    },
  };
}

/** The running kernel's BTF; throws ENOENT-style errors when the kernel exports none. */
export function readVmlinuxBtf(path: string = VMLINUX_BTF_PATH): KernelBtf {
  return parseBtf(readFileSync(path));
}
