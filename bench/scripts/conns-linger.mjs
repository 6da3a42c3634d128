#!/usr/bin/env node
// Oversized uploads against default limits (max_body_bytes 16 MiB): how many node:http
// clients read their 413, how many saw a reset instead. Loopback only, bounded.
// Usage: SLUICE_BIN=... SLUICE_MOCK_BIN=... node bench/scripts/conns-linger.mjs [MiB] [tries] [concurrency]
import http from 'node:http';

const lib = await import('../../test/integration/lib.mjs');
const { startMock, startSluice, sluiceConfig, cleanup, HOST } = lib;
const [mibArg = '20', triesArg = '60', concArg = '2'] = process.argv.slice(2);
const size = Number(mibArg) << 20;
const tries = Number(triesArg);
const body = Buffer.alloc(size, 0x30);

const mock = await startMock(['--seed', '1']);
const s = await startSluice({ yaml: sluiceConfig({ groups: { m: { port: mock.port } }, settings: { access_log: false } }), workers: 1 });
const one = () => new Promise((resolve) => {
  let done = false;
  const fin = (v) => { if (!done) { done = true; resolve(v); } };
  const req = http.request({ host: HOST, port: s.port, method: 'POST', path: '/v1/chat/completions', agent: false,
    headers: { 'content-type': 'application/json', 'content-length': String(size) } }, (res) => {
    res.resume();
    res.on('end', () => fin(String(res.statusCode)));
    res.on('error', (e) => fin(e.code));
  });
  req.on('error', (e) => fin(e.code || e.message));
  req.end(body);
});
const counts = {};
let next = 0;
await Promise.all(Array.from({ length: Number(concArg) }, async () => {
  while (next < tries) { next++; const r = await one(); counts[r] = (counts[r] ?? 0) + 1; }
}));
console.log(`${mibArg} MiB bodies, ${tries} tries, concurrency ${concArg}: ${JSON.stringify(counts)}`);
await s.stop();
await mock.stop();
await cleanup();
