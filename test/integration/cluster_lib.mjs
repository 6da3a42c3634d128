// Cluster-mode test helpers: a real redis-server (Debian's) on a loopback port with no
// persistence, and N sluice instances pointed at it, each with its own port and data dir.
// Every process is tracked by lib.mjs (cleanup() kills them).
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnTracked, freePort, HOST, startSluice, mkTmpDir } from './lib.mjs';

export const REDIS_BIN = process.env.SLUICE_REDIS_BIN || '/usr/bin/redis-server';

/** Starts redis-server on `port` (a free one when omitted); resolves once it accepts. */
export async function startRedis({ port, args = [] } = {}) {
  port = port ?? (await freePort());
  const dir = mkTmpDir('sluice-redis-');
  const st = spawnTracked('redis-server', REDIS_BIN, [
    '--port', String(port), '--bind', HOST, '--save', '', '--appendonly', 'no',
    '--daemonize', 'no', '--dir', dir, '--protected-mode', 'no', ...args,
  ]);
  await st.waitLine((l) => typeof l === 'string' ? /Ready to accept connections/.test(l)
    : /Ready to accept connections/.test(JSON.stringify(l)), 10000, 'redis "Ready to accept connections"');
  const r = {
    port,
    url: `redis://${HOST}:${port}`,
    proc: st.proc,
    /** One command over a fresh connection (RESP), e.g. cmd('GET', 'k'); resolves the raw reply text. */
    cmd: (...argv) => redisCmd(port, argv),
    /** Kills it (SIGKILL by default: an outage, not a shutdown). */
    kill: async (signal = 'SIGKILL') => { await st.stop({ signal, timeoutMs: 5000 }).catch(() => {}); },
    /** Starts a new redis-server on the same port (empty: no persistence). */
    restart: () => startRedis({ port, args }),
  };
  return r;
}

/** Sends one command in RESP and returns the first reply, parsed (strings, numbers, arrays, null). */
export function redisCmd(port, argv, { timeoutMs = 3000 } = {}) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, HOST);
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => { s.destroy(); reject(new Error(`redis ${argv[0]}: timeout`)); }, timeoutMs);
    s.on('error', (e) => { clearTimeout(timer); reject(e); });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const out = parseResp(buf, 0);
      if (!out) return;
      clearTimeout(timer);
      s.destroy();
      if (out.value instanceof Error) reject(out.value); else resolve(out.value);
    });
    let req = `*${argv.length}\r\n`;
    for (const a of argv) { const b = Buffer.from(String(a)); req += `$${b.length}\r\n${b}\r\n`; }
    s.write(req);
  });
}

function parseResp(b, i) {
  const eol = b.indexOf('\r\n', i);
  if (eol < 0) return null;
  const t = String.fromCharCode(b[i]), line = b.toString('utf8', i + 1, eol), next = eol + 2;
  if (t === '+') return { value: line, end: next };
  if (t === '-') return { value: new Error(line), end: next };
  if (t === ':') return { value: Number(line), end: next };
  if (t === '$') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    if (b.length < next + n + 2) return null;
    return { value: b.toString('utf8', next, next + n), end: next + n + 2 };
  }
  if (t === '*') {
    const n = Number(line);
    if (n < 0) return { value: null, end: next };
    const arr = [];
    let at = next;
    for (let k = 0; k < n; k++) {
      const e = parseResp(b, at);
      if (!e) return null;
      arr.push(e.value);
      at = e.end;
    }
    return { value: arr, end: at };
  }
  throw new Error(`unexpected RESP type ${t}`);
}

/** Starts n sluice instances on the same YAML (own ports and data dirs). */
export async function startCluster(n, { yaml, workers = 1, env = {} } = {}) {
  const hosts = [];
  for (let i = 0; i < n; i++) hosts.push(await startSluice({ yaml, workers, env }));
  return hosts;
}

/** `cluster` section of a sluice config pointing at redis r (merged into sluiceConfig's extra). */
export function coordination(r, extra = {}) {
  return { general_settings: { coordination_redis: { host: HOST, port: r.port, ...extra } } };
}

export function assertSame(a, b, what) { assert.deepEqual(a, b, what); }
