#!/usr/bin/env node
// Worker memory under hostile clients: idle connections, slowloris heads, large JSON
// bodies (one, four at once) and clients that send nearly all of a large body and then
// trickle. Prints one markdown row per scenario: worker RSS before, peak (VmHWM, reset
// per scenario through /proc/PID/clear_refs) and after. Loopback only, bounded in time.
// Usage: SLUICE_BIN=build/core/sluice SLUICE_MOCK_BIN=build/bench/mock/sluice-mock \
//        node bench/scripts/conns-memory.mjs [scenario...]
import fs from 'node:fs';
import net from 'node:net';

const lib = await import('../../test/integration/lib.mjs');
const { startMock, startSluice, sluiceConfig, cleanup, liveChildPids, delay, HOST } = lib;
const MAXB = 16 << 20;

function status(pid) {
  const t = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(t)?.[1] ?? 0);
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}
const mib = (kb) => (kb / 1024).toFixed(1);

function bigChat(len) {
  const base = '{"model":"m","messages":[{"role":"user","content":"hi"}],"pad":[]}';
  const n = Math.floor((len - base.length) / 2);
  const body = base.replace('"pad":[]', `"pad":[${'0,'.repeat(n - 1)}0]`);
  const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
    `Content-Length: ${body.length}\r\n\r\n`;
  return { head, body };
}

function connect() {
  return new Promise((res) => {
    const c = net.connect({ host: HOST, port: sluicePort });
    c.on('error', () => {});
    c.data = '';
    c.on('data', (d) => { c.data += d.toString('latin1'); });
    c.done = new Promise((r) => c.on('close', r));
    c.on('connect', () => res(c));
  });
}

let sluicePort;
const scenarios = {
  async idle5000() {
    const socks = [];
    for (let i = 0; i < 5000; i++) socks.push(await connect());
    await delay(1000);
    return { note: '5000 idle connections held', n: 5000, socks };
  },
  async slowloris() {
    const socks = [];
    for (let i = 0; i < 1000; i++) socks.push(await connect());
    for (let i = 0; i < 20; i++) { for (const c of socks) c.write('G'); await delay(100); }
    return { note: '1000 clients trickling a head', n: 1000, socks };
  },
  async body1() {
    const b = bigChat(MAXB - 1024);
    const c = await connect();
    c.write(b.head + b.body);
    await Promise.race([c.done, new Promise((r) => { const t = setInterval(() => { if (/\r\n\r\n/.test(c.data)) { clearInterval(t); r(); } }, 20); })]);
    c.destroy();
    return { note: 'one 16 MiB [0,0,...] body', socks: [] };
  },
  async body4() {
    const b = bigChat(MAXB - 1024);
    const cs = await Promise.all([0, 1, 2, 3].map(() => connect()));
    for (const c of cs) c.write(b.head + b.body);
    await Promise.all(cs.map((c) => Promise.race([c.done, new Promise((r) => { const t = setInterval(() => { if (/\r\n\r\n/.test(c.data)) { clearInterval(t); r(); } }, 20); })])));
    for (const c of cs) c.destroy();
    return { note: 'four 16 MiB bodies at once', socks: [] };
  },
  async trickle32() {
    const b = bigChat(MAXB - 1024);
    const socks = [];
    for (let i = 0; i < 32; i++) {
      const c = await connect();
      c.write(b.head + b.body.slice(0, b.body.length - 16));
      socks.push(c);
    }
    for (let i = 0; i < 3; i++) { await delay(5000); for (const c of socks) if (!c.destroyed) c.write(b.body[b.body.length - 16 + i]); }
    return { note: '32 clients: 16 MiB body minus 16 bytes, then 1 byte per 5 s', socks };
  },
};

const which = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(scenarios);
const mock = await startMock(['--seed', '1', '--tokens', '4', '--ttft-ms', '1', '--itl-ms', '1']);
console.log('| scenario | RSS before MiB | peak MiB | RSS after (clients gone) MiB | per connection KiB |');
console.log('|---|---|---|---|---|');
for (const name of which) {
  const s = await startSluice({ yaml: sluiceConfig({ groups: { m: { port: mock.port } },
    settings: { access_log: false, keepalive_timeout: '75s', header_timeout: '60s' } }), workers: 1 });
  sluicePort = s.port;
  const [w] = liveChildPids(s.pid);
  await delay(300);
  const before = status(w);
  fs.writeFileSync(`/proc/${w}/clear_refs`, '5');
  const r = await scenarios[name]();
  const held = status(w);
  for (const c of r.socks) c.destroy();
  await delay(2000);
  const after = status(w);
  const per = r.n ? ((held.rss - before.rss) / r.n).toFixed(1) : '';
  console.log(`| ${r.note} | ${mib(before.rss)} | ${mib(Math.max(held.hwm, after.hwm))} | ${mib(after.rss)} | ${per} |`);
  await s.stop();
}
await mock.stop();
await cleanup();
