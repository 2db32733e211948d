/**
 * A NETLINK_ROUTE socket: open, send a request, receive datagrams, watch for
 * readability from the event loop. Parsing lives in netlink-message.ts.
 */
import { constants as os } from 'node:os';
import { NetprobeError } from '../errors/index.js';
import { describeErrno } from '../sys/errno.js';
import { libc } from '../sys/libc.js';
import { errorCode, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN, splitMessages, type NetlinkMessage } from './netlink-message.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SO_RCVTIMEO = 20;
const SO_NETNS_COOKIE = 71;
const { EAGAIN, EINTR, EPERM, EACCES } = os.errno;

/**
 * The kernel caps a dump datagram at 32 KiB (netlink_recvmsg bounds
 * max_recvmsg_len) and sends an event as one message of a few KiB: twice the
 * cap leaves room. 256 KiB each (zeroed, so resident) cost ~1.2 MiB over the
 * six sockets a node with pods keeps open.
 */
const RECEIVE_BUFFER_BYTES = 64 * 1024;

/** A netlink socket call failed; `errno` is positive (ENOBUFS = events were missed). */
export class NetlinkError extends NetprobeError {
  constructor(
    what: string,
    readonly errno: number,
  ) {
    super('NP_ERR_NETLINK', `${what}: ${describeErrno(errno)}`);
    this.name = 'NetlinkError';
  }
}

export interface NetlinkSocketOptions {
  /** Multicast groups to join (e.g. RTMGRP_LINK); 0 for request/response only. */
  groups?: number;
  /** Non-blocking receive (for event sockets watched with `onReadable`). */
  nonBlocking?: boolean;
  /** Kernel receive buffer: bigger means fewer missed events under churn. */
  kernelBufferBytes?: number;
  /** Blocking receive timeout, so a request can never hang the process. */
  receiveTimeoutMs?: number;
  /**
   * Bytes of the user-space receive buffer (default 64 KiB). A dump datagram is at most
   * 32 KiB (the kernel caps it), an event far less; a smaller buffer is less resident memory.
   */
  userBufferBytes?: number;
}

export class NetlinkSocket {
  private fd: number;
  private readonly buffer: Buffer;
  private poller: { close(): void; unref(): void } | undefined;
  private seq = Math.floor(Math.random() * 0x7fffffff);

  private constructor(fd: number, bufferBytes: number) {
    this.fd = fd;
    this.buffer = Buffer.alloc(bufferBytes);
  }

  static open(opts: NetlinkSocketOptions = {}): NetlinkSocket {
    const lib = libc();
    const type = SOCK_RAW | SOCK_CLOEXEC | (opts.nonBlocking ? SOCK_NONBLOCK : 0);
    const fd = lib.socket(AF_NETLINK, type, NETLINK_ROUTE);
    if (fd < 0) throw new NetlinkError('open a NETLINK_ROUTE socket', lib.errno());
    const sock = new NetlinkSocket(fd, opts.userBufferBytes ?? RECEIVE_BUFFER_BYTES);
    try {
      if (opts.kernelBufferBytes) sock.setReceiveBuffer(opts.kernelBufferBytes);
      if (opts.receiveTimeoutMs) {
        const tv = Buffer.alloc(16);
        tv.writeBigInt64LE(BigInt(Math.floor(opts.receiveTimeoutMs / 1000)), 0);
        tv.writeBigInt64LE(BigInt((opts.receiveTimeoutMs % 1000) * 1000), 8);
        if (lib.setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, tv) < 0) throw new NetlinkError('set the netlink receive timeout', lib.errno());
      }
      const addr = Buffer.alloc(12); // struct sockaddr_nl
      addr.writeUInt16LE(AF_NETLINK, 0);
      addr.writeUInt32LE(opts.groups ?? 0, 8);
      if (lib.bind(fd, addr) < 0)
        throw new NetlinkError(`bind the netlink socket to groups 0x${(opts.groups ?? 0).toString(16)}`, lib.errno());
    } catch (e) {
      sock.close();
      throw e;
    }
    return sock;
  }

  /** The next sequence number for a request. */
  nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }

  send(msg: Buffer): void {
    const lib = libc();
    const addr = Buffer.alloc(12); // to the kernel: pid 0, no groups
    addr.writeUInt16LE(AF_NETLINK, 0);
    for (;;) {
      const n = lib.sendto(this.fd, msg, 0, addr);
      if (n >= 0) return;
      const errno = lib.errno();
      if (errno !== EINTR) throw new NetlinkError('send a netlink request', errno);
    }
  }

  /**
   * One datagram, or undefined when none is waiting (non-blocking sockets).
   * Throws NetlinkError; errno ENOBUFS means the kernel dropped messages.
   */
  receive(): Buffer | undefined {
    const view = this.receiveView();
    return view && Buffer.from(view);
  }

  /** Like receive(), but a view into the socket's own buffer: valid until the next receive. */
  private receiveView(): Buffer | undefined {
    const lib = libc();
    for (;;) {
      const n = lib.recv(this.fd, this.buffer, 0);
      if (n >= 0) return this.buffer.subarray(0, n);
      const errno = lib.errno();
      if (errno === EINTR) continue;
      if (errno === EAGAIN) return undefined;
      throw new NetlinkError('receive from the netlink socket', errno);
    }
  }

  /**
   * Sends a dump request and collects every reply message up to NLMSG_DONE.
   * Throws NetlinkError if the kernel answers with an error.
   */
  dump(request: (seq: number) => Buffer, what: string): NetlinkMessage[] {
    const replies: NetlinkMessage[] = [];
    // One copy per datagram: the messages keep views into it.
    this.readDump(
      request,
      what,
      () => this.receive(),
      (msg) => replies.push(msg),
    );
    return replies;
  }

  /**
   * Sends a dump request and calls `visit` with each reply message up to
   * NLMSG_DONE, its payload a view into the socket's buffer that is valid
   * only during the call: a dump read every collection copies nothing.
   * Throws NetlinkError if the kernel answers with an error.
   */
  dumpEach(request: (seq: number) => Buffer, what: string, visit: (msg: NetlinkMessage) => void): void {
    this.readDump(request, what, () => this.receiveView(), visit);
  }

  private readDump(
    request: (seq: number) => Buffer,
    what: string,
    receive: () => Buffer | undefined,
    visit: (msg: NetlinkMessage) => void,
  ): void {
    const seq = this.nextSeq();
    this.send(request(seq));
    for (;;) {
      const datagram = receive();
      if (!datagram) throw new NetlinkError(`${what}: no reply`, EAGAIN);
      for (const msg of splitMessages(datagram)) {
        if (msg.seq !== seq) continue; // a stray message of an earlier request
        if (msg.type === NLMSG_DONE) return;
        if (msg.type === NLMSG_ERROR) {
          const err = -errorCode(msg);
          if (err !== 0) throw new NetlinkError(what, err);
          continue;
        }
        if (msg.type === NLMSG_OVERRUN) throw new NetlinkError(`${what}: overrun`, os.errno.ENOBUFS);
        visit(msg);
      }
    }
  }

  /**
   * The network namespace's cookie (SO_NETNS_COOKIE, Linux 5.14+): unique
   * for the namespace's lifetime and never reused until reboot, unlike its
   * inode number. Undefined where the kernel lacks it.
   */
  netnsCookie(): bigint | undefined {
    const value = Buffer.alloc(8);
    if (libc().getsockopt(this.fd, SOL_SOCKET, SO_NETNS_COOKIE, value) !== 0) return undefined;
    return value.readBigUInt64LE(0);
  }

  /** Calls `onReadable` from the event loop when data waits. Does not keep the process alive. */
  onReadable(onReadable: () => void): void {
    this.poller?.close();
    this.poller = libc().pollReadable(this.fd, onReadable);
    this.poller.unref();
  }

  close(): void {
    this.poller?.close();
    this.poller = undefined;
    if (this.fd >= 0) libc().close(this.fd);
    this.fd = -1;
  }

  private setReceiveBuffer(bytes: number): void {
    const lib = libc();
    const value = Buffer.alloc(4);
    value.writeInt32LE(bytes, 0);
    // SO_RCVBUFFORCE (root/CAP_NET_ADMIN) goes past net.core.rmem_max; SO_RCVBUF is capped by it.
    if (lib.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUFFORCE, value) === 0) return;
    const errno = lib.errno();
    if (errno !== EPERM && errno !== EACCES) throw new NetlinkError('set the netlink receive buffer', errno);
    lib.setsockopt(this.fd, SOL_SOCKET, SO_RCVBUF, value);
  }
}
