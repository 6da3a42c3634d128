// Peak RSS of a worker for hostile request bodies: a 16 MiB `[0,0,...]` body (8.4 million
// values), sent N times one after another, against one sluice worker with the default
// limits. Prints the worker's VmHWM (peak resident set) before and after, and the status.
// Run: SLUICE_BIN=build/core/sluice SLUICE_MOCK_BIN=build/bench/mock/sluice-mock \
//        node bench/json_rss.mjs [requests=3] [concurrency=1]
import fs from 'node:fs';
import { startMock, startSluice, sluiceConfig, cleanup, post, childPids } from '../test/integration/lib.mjs';

const n = Number(process.argv[2] ?? 3);
const conc = Number(process.argv[3] ?? 1);
const hwm = (pid) => {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
};
const mock = await startMock([]);
const sluice = await startSluice({
  yaml: sluiceConfig({ groups: { m: { port: mock.port } }, masterKey: 'sk-rss' }),
  workers: 1,
});
try {
  const [worker] = childPids(sluice.pid);
  const body = Buffer.from(`[${'0,'.repeat(8388606)}0]`); // 16 MiB - 1 byte, under max_body_bytes
  const before = hwm(worker);
  const statuses = [];
  for (let i = 0; i < n; i += conc) {
    const rs = await Promise.all(Array.from({ length: Math.min(conc, n - i) }, () =>
      post(`${sluice.url}/v1/chat/completions`, body, { authorization: 'Bearer sk-rss' }, { timeoutMs: 120000 })));
    for (const r of rs) statuses.push(`${r.status} ${JSON.parse(r.text).error?.code}`);
  }
  const after = hwm(worker);
  console.log(JSON.stringify({ body_bytes: body.length, requests: n, concurrency: conc, statuses: [...new Set(statuses)],
    worker_vmhwm_kb_idle: before, worker_vmhwm_kb_after: after }));
} finally {
  await sluice.stop();
  await mock.stop();
  await cleanup();
}
