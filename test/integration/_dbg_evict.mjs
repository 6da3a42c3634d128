import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startMock, startSluice, cleanup, request, pollUntil } from './lib.mjs';
import { routerConfig, makeClient, runLoad } from './routing_lib.mjs';
const mock = await startMock(['--seed', '11']);
const ITER = Number(process.env.ITER ?? 15);
for (let iter = 0; iter < ITER; iter++) {
const s = await startSluice({ yaml: routerConfig({ groups: { 'mock-model': { port: mock.port } }, litellm: { cache: true, cache_params: { ttl: 3600 } }, settings: { cache: { max_size: '1MiB' }, access_log: false } }), workers: 1 });
const dump = () => execFileSync('/tmp/ct/lrudump', [path.join(s.dir, 'data')]).toString().split('\n').filter((l) => !/free rec|pid|^ +\d/.test(l)).join('\n');
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
const d1 = dump(); const s1 = await st(); const errMark = s.stderr.length;
await sec();
await send(last, 2);
await pollUntil(async () => { const x = await st(); return x.stores + x.dropped_writes >= 5100; });
const d2 = dump(); const s2 = await st();
const hits = [];
for (let i = 0; i < 50; i++) { const r = await client.chat(last[i]); hits.push(r.headers['x-sluice-cache'] === 'hit' ? 1 : 0); }
const bad = hits.includes(0) || s2.dropped_writes > s1.dropped_writes;
console.log(iter, bad ? 'BAD' : 'ok', 'last hits', hits.join(''), 'evictions', s1.evictions, '->', s2.evictions, 'dropped', s1.dropped_writes, '->', s2.dropped_writes, 'stores', s1.stores, '->', s2.stores, 'errors', s2.errors, 'broken', s2.broken);
if (bad) {
  console.log(' before last:', d1); console.log(' after last: ', d2);
  console.log(' stderr during last phase:\n' + s.stderr.slice(errMark).split('\n').filter((l) => l.includes('DBG')).slice(0, 8).join('\n'));
  console.log(' DBG lines in all:', s.stderr.split('\n').filter((l) => l.includes('DBG')).length);
}
client.close(); await s.stop();
}
await mock.stop(); await cleanup();
