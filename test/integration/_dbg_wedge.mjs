import { startMock, startSluice, cleanup, request, pollUntil } from './lib.mjs';
import { routerConfig, makeClient, runLoad } from './routing_lib.mjs';
const mock = await startMock(['--seed', '11']);
const ITER = Number(process.env.ITER ?? 10), TOK = Number(process.env.TOK ?? 16), CONC = Number(process.env.CONC ?? 8), N = Number(process.env.N ?? 5000);
let wedged = 0;
for (let iter = 0; iter < ITER; iter++) {
  const s = await startSluice({ yaml: routerConfig({ groups: { 'mock-model': { port: mock.port } }, litellm: { cache: true, cache_params: { ttl: 3600 } }, settings: { cache: { max_size: '1MiB' }, access_log: false } }), workers: 1 });
  const client = makeClient(s.url, { maxSockets: 32 });
  const st = async () => (await request(`${s.url}/cache/stats`)).json();
  let seq = 0, puts = 0;
  const mk = (tag) => JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: `${tag} ${iter} ${++seq}` }], mock: { tokens: TOK } });
  const filler = Array.from({ length: N }, (_, i) => mk(`fill-${i}`));
  await runLoad(N, CONC, (i) => client.chat(filler[i])); puts += N;
  await pollUntil(async () => { const x = await st(); return x.stores + x.dropped_writes + x.oversize >= puts; }, { timeoutMs: 20000 });
  const W = Number(process.env.WAIT ?? 0); const t0 = Date.now(); await pollUntil(() => Date.now() - t0 >= W, { timeoutMs: 5000 });
  const x0 = await st();
  const PN = Number(process.env.PN ?? 20), PC = Number(process.env.PC ?? 1);
  const probe = Array.from({ length: PN }, (_, i) => mk(`probe-${i}`));
  await runLoad(PN, PC, (i) => client.chat(probe[i])); puts += PN;
  const x = await pollUntil(async () => { const y = await st(); return y.stores + y.dropped_writes + y.oversize >= puts ? y : null; });
  const d = x.dropped_writes - x0.dropped_writes;
  if (d) wedged++;
  console.log(iter, d ? 'WEDGED' : 'ok', 'probe dropped', d, 'entries', x.entries, 'evictions', x.evictions, 'dropped', x.dropped_writes, 'stores', x.stores, 'used', x.used_bytes, 'oversize', x.oversize);
  client.close(); await s.stop();
}
console.log('wedged', wedged, 'of', ITER, { TOK, CONC, N });
await mock.stop(); await cleanup();
