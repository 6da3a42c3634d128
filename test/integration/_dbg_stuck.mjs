import { startMock, startSluice, cleanup, request, pollUntil } from './lib.mjs';
import { routerConfig, makeClient, runLoad } from './routing_lib.mjs';
const mock = await startMock(['--seed', '11']);
for (let iter = 0; iter < 40; iter++) {
  const s = await startSluice({ yaml: routerConfig({ groups: { 'mock-model': { port: mock.port } }, litellm: { cache: true, cache_params: { ttl: 3600 } }, settings: { cache: { max_size: '1MiB' }, access_log: false } }), workers: 1 });
  const client = makeClient(s.url, { maxSockets: 16 });
  const st = async () => (await request(`${s.url}/cache/stats`)).json();
  let seq = 0;
  const mk = (tag) => JSON.stringify({ model: 'mock-model', messages: [{ role: 'user', content: `${tag} ${iter} ${++seq}` }] });
  const filler = Array.from({ length: 5000 }, (_, i) => mk(`fill-${i} ${'x'.repeat(200)}`));
  for (let off = 0; off < filler.length; off += 500) await runLoad(500, 8, (i) => client.chat(filler[off + i]));
  await pollUntil(async () => { const x = await st(); return x.stores + x.dropped_writes >= 5000; });
  const x0 = await st();
  const probe = Array.from({ length: 20 }, (_, i) => mk(`probe-${i}`));
  await runLoad(20, 1, (i) => client.chat(probe[i]));
  const x = await pollUntil(async () => { const y = await st(); return y.stores + y.dropped_writes >= 5020 ? y : null; });
  if (x.dropped_writes > x0.dropped_writes) {
    console.log(iter, 'probe dropped', x.dropped_writes - x0.dropped_writes, 'of 20; before', JSON.stringify(x0));
    console.log(iter, 'WEDGED after filler', JSON.stringify(x));
    for (let round = 0; round < 5; round++) {
      const t0 = Date.now(); await pollUntil(() => Date.now() - t0 > 2000, { timeoutMs: 3000 });
      const b = Array.from({ length: 20 }, (_, i) => mk(`later-${round}-${i}`));
      await runLoad(20, 1, (i) => client.chat(b[i]));
      const y = await st();
      console.log('  +', (round + 1) * 2, 's: entries', y.entries, 'stores', y.stores, 'dropped', y.dropped_writes, 'evictions', y.evictions, 'errors', y.errors, 'used', y.used_bytes);
    }
    client.close(); await s.stop();
    break;
  }
  console.log(iter, 'ok', x.evictions, x.dropped_writes);
  client.close(); await s.stop();
}
await mock.stop(); await cleanup();
