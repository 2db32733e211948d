/**
 * Runs INSIDE a benchmark namespace (`ip netns exec NS node --import tsx
 * bench/agents/http-probe.ts ...`), where the exporters listen on the
 * namespace's loopback. Modes:
 *   size URL              one plain and one gzip request; prints {plainBytes, gzipBytes, series}
 *   loop URL MS SECONDS   scrapes (gzip, like Prometheus) every MS ms for SECONDS s; prints {scrapes, errors}
 *   watch URL NAME...     polls every 10 ms until each named interface has a nonzero packets
 *                         counter; prints "present NAME <epoch ms>" when its series first
 *                         appears and "seen NAME <epoch ms>" when a counter is above zero
 */
import http from 'node:http';

interface Response {
  status: number;
  body: Buffer;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent, timeout: 10_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout fetching ${url}`)));
    req.on('error', reject);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function size(url: string): Promise<void> {
  const plain = await get(url);
  const gzip = await get(url, { 'Accept-Encoding': 'gzip' });
  if (plain.status !== 200 || gzip.status !== 200) throw new Error(`HTTP ${plain.status}/${gzip.status} from ${url}`);
  const series = plain.body
    .toString()
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#')).length;
  console.log(JSON.stringify({ plainBytes: plain.body.length, gzipBytes: gzip.body.length, series }));
}

async function loop(url: string, intervalMs: number, seconds: number): Promise<void> {
  const end = Date.now() + seconds * 1000;
  let scrapes = 0;
  let errors = 0;
  while (Date.now() < end) {
    const started = Date.now();
    const ok = await get(url, { 'Accept-Encoding': 'gzip' }).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) scrapes++;
    else errors++;
    await sleep(Math.max(0, intervalMs - (Date.now() - started)));
  }
  console.log(JSON.stringify({ scrapes, errors }));
}

/** Whether the interface has a packets series, and whether one is above zero. */
function packetsSeries(exposition: string, ifname: string): { present: boolean; nonzero: boolean } {
  const needle = `interface="${ifname}"`;
  let present = false;
  for (const line of exposition.split('\n')) {
    if (line.startsWith('netprobe_tc_packets_total{') && line.includes(needle)) {
      present = true;
      if (Number(line.slice(line.lastIndexOf(' ') + 1)) > 0) return { present, nonzero: true };
    }
  }
  return { present, nonzero: false };
}

async function watch(url: string, names: string[]): Promise<void> {
  const pending = new Set(names);
  const present = new Set<string>();
  const giveUp = Date.now() + 60_000 * names.length;
  console.log('ready');
  while (pending.size > 0 && Date.now() < giveUp) {
    const r = await get(url).catch(() => undefined);
    const text = r?.body.toString() ?? '';
    for (const name of [...pending]) {
      const series = packetsSeries(text, name);
      if (series.present && !present.has(name)) {
        present.add(name);
        console.log(`present ${name} ${Date.now()}`);
      }
      if (!series.nonzero) continue;
      pending.delete(name);
      console.log(`seen ${name} ${Date.now()}`);
    }
    await sleep(10);
  }
  for (const name of pending) console.log(`timeout ${name} ${Date.now()}`);
}

const [mode, url, ...rest] = process.argv.slice(2);
const [a, b] = rest;
if (!url) throw new Error('usage: http-probe.ts size|loop|watch URL [...]');
if (mode === 'size') await size(url);
else if (mode === 'loop') await loop(url, Number(a), Number(b));
else if (mode === 'watch') await watch(url, rest);
else throw new Error(`unknown mode ${mode}`);
agent.destroy();
