/**
 * One TCP connection with known amounts both ways, for comparing the socket
 * meter with the kernel's own per-socket statistics. The server and the
 * client are python3 processes started with `nsenter --net` (which keeps
 * /sys, so the cgroup2 mount) that move themselves into a cgroup directory
 * before they open a socket. The client sends, reads the answer, reports
 * its local port, and keeps the socket open until `close()`: `ss -tiH` in
 * its namespace then shows the finished connection's `segs_in`/`segs_out`.
 * Both are ended by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';

const SERVER = `
import socket, sys, threading
def serve(c):
    head = b''
    while not head.endswith(b'\\n'):
        head += c.recv(1)
    want, answer = (int(x) for x in head.split())
    got = 0
    while got < want:
        d = c.recv(1 << 16)
        if not d:
            break
        got += len(d)
    c.sendall(b'y' * answer)
    while c.recv(1 << 16):
        pass
    c.close()
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', int(sys.argv[1])))
s.listen(16)
print('ready', flush=True)
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
`;

const CLIENT = `
import socket, sys
addr, port, send, answer = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = socket.create_connection((addr, port), timeout=60)
c.sendall(b'%d %d\\n' % (send, answer))
chunk = b'x' * (1 << 16)
left = send
while left > 0:
    n = c.send(chunk[:min(left, len(chunk))])
    left -= n
got = 0
while got < answer:
    d = c.recv(1 << 16)
    if not d:
        break
    got += len(d)
print('done %d %d' % (c.getsockname()[1], got), flush=True)
sys.stdin.readline()
c.close()
`;

/** argv that enters `netns` (a /run/netns name) keeping /sys, moves into `cgroupDir`, then runs python3 with `script`. */
function pythonIn(netns: string, cgroupDir: string, script: string, args: string[]): [string, string[]] {
  return [
    'nsenter',
    [`--net=/run/netns/${netns}`, 'sh', '-c', 'echo $$ > "$0/cgroup.procs" && exec python3 -c "$@"', cgroupDir, script, ...args],
  ];
}

class PythonProcess {
  private out = '';
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => (this.out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (this.out += c.toString()));
  }

  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.out);
      if (m) return m;
      if (Date.now() > deadline || this.child.exitCode !== null)
        throw new Error(`tcp stream: waited in vain for ${pattern}; output: ${this.out}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }
}

/** A dual-stack TCP server on `port` in `netns`, cgroup `cgroupDir`: per connection (a thread each), reads what the client announces and answers with what it asks for. */
export async function startTcpServer(netns: string, cgroupDir: string, port: number): Promise<{ stop(): Promise<void> }> {
  const [cmd, args] = pythonIn(netns, cgroupDir, SERVER, [String(port)]);
  const p = new PythonProcess(spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  await p.waitFor(/ready/, 20_000);
  return p;
}

export interface TcpTransfer {
  /** The client's local port (to find its socket with ss). */
  localPort: number;
  /** Closes the client's socket (FIN) and waits for it to exit. */
  close(): Promise<void>;
  stop(): Promise<void>;
}

/** Connects from `netns`/`cgroupDir` to addr:port, sends `send` bytes, reads `answer` bytes back, and keeps the socket open. */
export async function tcpTransfer(
  netns: string,
  cgroupDir: string,
  addr: string,
  port: number,
  send: number,
  answer: number,
): Promise<TcpTransfer> {
  const [cmd, args] = pythonIn(netns, cgroupDir, CLIENT, [addr, String(port), String(send), String(answer)]);
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const p = new PythonProcess(child);
  const m = await p.waitFor(/done (\d+) (\d+)/, 60_000);
  if (Number(m[2]) !== answer) throw new Error(`tcp stream: the client read ${m[2]} of ${answer} bytes`);
  return {
    localPort: Number(m[1]),
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.stdin.end('close\n');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      await p.stop();
    },
    stop: () => p.stop(),
  };
}

/** `segs_in`/`segs_out` and byte counts of the TCP socket with local port `localPort`, read with `ss -tinH` through `exec`. */
export async function tcpSocketStats(
  exec: (cmd: string, args: string[]) => Promise<string>,
  localPort: number,
): Promise<{ segsIn: number; segsOut: number; bytesSent: number; bytesReceived: number }> {
  const out = await exec('ss', ['-tinH', 'state', 'established', `( sport = :${localPort} )`]);
  const num = (name: string): number => {
    const m = new RegExp(`\\b${name}:(\\d+)`).exec(out);
    if (!m) throw new Error(`ss shows no ${name} for local port ${localPort}: ${out}`);
    return Number(m[1]);
  };
  return { segsIn: num('segs_in'), segsOut: num('segs_out'), bytesSent: num('bytes_sent'), bytesReceived: num('bytes_received') };
}
