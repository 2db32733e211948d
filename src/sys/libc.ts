/**
 * The libc calls netprobe makes, through koffi: netlink sockets, the
 * allocator policy, the capability calls and flock. Bound apart from libbpf so that
 * everything that needs only libc (the netdev fallback, dropping
 * capabilities) works where libbpf.so.1 is missing.
 */
import koffi from 'koffi';

/**
 * The libc calls, loadable without libbpf (netlink works where libbpf.so.1
 * is missing, e.g. for the netdev fallback source).
 */
export interface Libc {
  /** Last errno of the calling thread (for libc calls and NULL-returning libbpf calls). */
  errno(): number;

  // libc, for netlink sockets
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer): number;
  sendto(fd: number, data: Buffer, flags: number, addr: Buffer | null): number;
  recv(fd: number, into: Buffer, flags: number): number;
  setsockopt(fd: number, level: number, name: number, value: Buffer): number;
  /** Fills `into` (its length is the option's size); returns 0 or -1 (see errno()). */
  getsockopt(fd: number, level: number, name: number, into: Buffer): number;
  close(fd: number): number;
  /** Calls `onReadable` from the event loop whenever `fd` is readable (koffi's libuv poll). */
  pollReadable(fd: number, onReadable: () => void): { close(): void; unref(): void };

  // libc, for the CLI's allocator policy (src/cli/allocator-policy.ts)
  /** mallopt(3): 1 on success, 0 on error. */
  mallopt(param: number, value: number): number;

  // for the CLI's start (src/cli/relaunch.ts, src/cli/trim-startup-pages.ts)
  /** execve(2) with null-free string arrays; returns only on failure, with -errno. */
  execve(path: string, argv: readonly string[], env: readonly string[]): number;
  /** Clears FD_CLOEXEC on `fd` (Node sets it on stdio), so the next program inherits it: 0 or -errno. */
  keepAcrossExec(fd: number): number;
  /** madvise(2) on [addr, addr + length): 0 or -errno. */
  madvise(addr: bigint, length: number, advice: number): number;

  // for dropping capabilities (src/security/capabilities.ts)
  /** capset(2) on the calling thread (v3 header, pid 0): 0 or -errno. */
  capset(effective: bigint, permitted: bigint, inheritable: bigint): number;
  /** prctl(2) with integer arguments: its result, or -errno. */
  prctl(option: number, arg2: number, arg3: number): number;

  // for the pin path's lock (src/bpf/pin-lock.ts); Node has no flock
  /** flock(2): 0 or -errno (EWOULDBLOCK with LOCK_NB while another open file holds it). */
  flock(fd: number, operation: number): number;
}

let libcBinding: Libc | undefined;

/** Loads libc once (never needs libbpf). */
export function libc(): Libc {
  libcBinding ??= bindLibc();
  return libcBinding;
}

function bindLibc(): Libc {
  const c = koffi.load('libc.so.6');
  const f = {
    socket: c.func('int socket(int domain, int type, int protocol)'),
    bind: c.func('int bind(int fd, void *addr, uint32_t addrlen)'),
    sendto: c.func('intptr_t sendto(int fd, void *buf, size_t len, int flags, void *addr, uint32_t addrlen)'),
    recv: c.func('intptr_t recv(int fd, void *buf, size_t len, int flags)'),
    setsockopt: c.func('int setsockopt(int fd, int level, int name, void *value, uint32_t len)'),
    getsockopt: c.func('int getsockopt(int fd, int level, int name, void *value, _Inout_ uint32_t *len)'),
    close: c.func('int close(int fd)'),
    mallopt: c.func('int mallopt(int param, int value)'),
    execve: c.func('int execve(const char *path, const char **argv, const char **envp)'),
    fcntl: c.func('int fcntl(int fd, int cmd, int arg)'),
    madvise: c.func('int madvise(uintptr_t addr, size_t length, int advice)'),
    capset: c.func('int capset(void *hdr, void *data)'),
    prctl: c.func('int prctl(int option, ...)'),
    flock: c.func('int flock(int fd, int operation)'),
  };
  const u32 = (n: number): [number] => [n >>> 0];
  return {
    errno: () => koffi.errno(),
    socket: (domain, type, protocol) => f.socket(domain, type, protocol) as number,
    bind: (fd, addr) => f.bind(fd, addr, addr.length) as number,
    sendto: (fd, data, flags, addr) => Number(f.sendto(fd, data, data.length, flags, addr, addr?.length ?? 0)),
    recv: (fd, into, flags) => Number(f.recv(fd, into, into.length, flags)),
    setsockopt: (fd, level, name, value) => f.setsockopt(fd, level, name, value, value.length) as number,
    getsockopt: (fd, level, name, into) => f.getsockopt(fd, level, name, into, u32(into.length)) as number,
    close: (fd) => f.close(fd) as number,
    mallopt: (param, value) => f.mallopt(param, value) as number,
    execve: (path, argv, env) => {
      f.execve(path, [...argv, null], [...env, null]);
      return -koffi.errno();
    },
    keepAcrossExec: (fd) => {
      const F_SETFD = 2;
      return (f.fcntl(fd, F_SETFD, 0) as number) === 0 ? 0 : -koffi.errno();
    },
    madvise: (addr, length, advice) => ((f.madvise(addr, length, advice) as number) === 0 ? 0 : -koffi.errno()),
    pollReadable: (fd, onReadable) => {
      // koffi 3.3 calls back with (status, events) although its typings say (events):
      // accept both, and let the reader find out on an error status.
      const callback = (...args: unknown[]): void => {
        const ev = args.find((a): a is { readable?: boolean; disconnect?: boolean } => typeof a === 'object' && a !== null);
        const status = args.find((a): a is number => typeof a === 'number');
        if ((status !== undefined && status < 0) || ev?.readable || ev?.disconnect) onReadable();
      };
      const handle = koffi.node.poll(fd, { readable: true }, callback);
      return { close: () => handle.close(), unref: () => handle.unref() };
    },

    capset: (effective, permitted, inheritable) => {
      const header = Buffer.alloc(8);
      header.writeUInt32LE(0x20080522, 0); // _LINUX_CAPABILITY_VERSION_3; pid 0 = this thread
      // Two __user_cap_data_struct {effective, permitted, inheritable}: bits 0-31, then 32-63.
      const data = Buffer.alloc(24);
      for (const [i, set] of [effective, permitted, inheritable].entries()) {
        data.writeUInt32LE(Number(set & 0xffffffffn), i * 4);
        data.writeUInt32LE(Number((set >> 32n) & 0xffffffffn), 12 + i * 4);
      }
      return (f.capset(header, data) as number) === 0 ? 0 : -koffi.errno();
    },
    prctl: (option, arg2, arg3) => {
      const r = f.prctl(option, 'unsigned long', arg2, 'unsigned long', arg3, 'unsigned long', 0, 'unsigned long', 0) as number;
      return r < 0 ? -koffi.errno() : r;
    },
    flock: (fd, operation) => ((f.flock(fd, operation) as number) === 0 ? 0 : -koffi.errno()),
  };
}
