import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startMock, startSluice, cleanup, request, pollUntil } from './lib.mjs';
import { routerConfig, makeClient, runLoad } from './routing_lib.mjs';
const mock = await startMock(['--seed', '11']);
for (let iter = 0; iter < 30; iter++) {
const s = await startSluice({ yaml: routerConfig({ groups: { 'mock-model': { port: mock.port } }, litellm: { cache: true, cache_params: { ttl: 3600 } }, settings: { cache: { max_size: '1MiB' }, access_log: false } }), workers: 1 });
const dump = () => execFileSync('/tmp/ct/lrudump', [path.join(s.dir, 'data')]).toString().trim();
const client = makeClient(s.url, { maxSockets: 16 });
const st = async () => (await request(`${s.url}/cache/stats`)).json();
let seq = 0;
const mk = (tag) => JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: `${tag} ${iter} ${++seq}` }] });
const send = (bodies, c) => runLoad(bodies.length, c, (i) => client.chat(bodies[i]));
const sec = async () => { const t = Math.floor(Date.now() / 1000); await pollUntil(() => Date.now() >= (t + 1) * 1000 + 100, { timeoutMs: 2000 }); };
const first = Array.from({ length: 50 }, (_, i) => mk(`first-${i}`));
const filler = Array.from({ length: 5000 }, (_, i) => mk(`fill-${i} ${'x'.repeat(200)}`));
const last = Array.from({ length: 50 }, (_, i) => mk(`last-${i}`));
await send(first, 4); await pollUntil(async () => (await st()).entries >= 50);
await sec();
for (let off = 0; off < filler.length; off += 500) { await send(filler.slice(off, off + 500), 8); }
await pollUntil(async () => { const x = await st(); return x.stores + x.dropped_writes >= 5050; });
const d1 = dump(); const s1 = await st();
await sec();
await send(last, 2);
await pollUntil(async () => { const x = await st(); return x.stores + x.dropped_writes >= 5100; });
const d2 = dump(); const s2 = await st();
const hits = [];
for (let i = 0; i < 50; i++) { const r = await client.chat(last[i]); hits.push(r.headers['x-sluice-cache'] === 'hit' ? 1 : 0); }
console.log(iter, 'last hits', hits.join(''), 'evictions', s1.evictions, '->', s2.evictions, 'used', s1.used_bytes, '->', s2.used_bytes, 'dropped', s1.dropped_writes, '->', s2.dropped_writes, 'errors', s2.errors, 'stores', s1.stores, '->', s2.stores);
if (hits.includes(0) || s2.dropped_writes > s1.dropped_writes) { console.log(' before last:', d1); console.log(' after last: ', d2); console.log(s.lines.filter(l=>l.level!=='info').map(l=>JSON.stringify(l)).join('\n')); }
if (s2.dropped_writes >= s1.dropped_writes + 10) {
  for (let round = 0; round < 4; round++) {
    const t0 = Date.now(); await pollUntil(() => Date.now() - t0 > 1500, { timeoutMs: 3000 });
    const b = Array.from({ length: 20 }, (_, i) => mk(`later-${round}-${i}`));
    await send(b, 1);
    const x = await st();
    console.log('  later round', round, 'entries', x.entries, 'stores', x.stores, 'dropped', x.dropped_writes, 'errors', x.errors, 'evictions', x.evictions, 'used', x.used_bytes);
  }
  console.log('  ' + dump().split('\n').filter(l => !l.includes('free rec')).join('\n  '));
}
client.close(); await s.stop();
}
await mock.stop(); await cleanup();
