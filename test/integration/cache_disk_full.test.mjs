// The data dir on a full filesystem (a 2 MiB tmpfs, far below cache max_size): stores go
// on landing because the writer evicts inside the file, the trouble is counted by reason
// (/cache/stats store_errors, sluice_cache_store_errors_total{reason="no_space"}) and logged
// once per interval rather than dropped silently. Needs root for the mount: skipped otherwise.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startMock, startSluice, cleanup, post, request, mkTmpDir, pollUntil } from './lib.mjs';
import { routerConfig, runLoad } from './routing_lib.mjs';

const GROUP = 'mock-model';
const MASTER = 'sk-disk';
const AUTH = { authorization: `Bearer ${MASTER}` };
let mnt;
let mounted = false;

after(async () => {
  await cleanup().catch(() => {});
  if (mounted) execFileSync('umount', ['-l', mnt]);
});

function tryMount() {
  mnt = mkTmpDir('sluice-full-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt], { stdio: 'pipe' });
    mounted = true;
  } catch { /* not root, or no mount in this sandbox */ }
  return mounted;
}

test('a full disk under the cache: evicts, counts, logs once per interval, keeps storing', async (t) => {
  if (!tryMount()) {
    t.skip('cannot mount a tmpfs (needs root)');
    return;
  }
  const mock = await startMock(['--seed', '3', '--tokens', '300', '--ttft-ms', '0', '--itl-ms', '0']);
  const s = await startSluice({
    yaml: routerConfig({
      groups: { [GROUP]: { port: mock.port } },
      litellm: { cache: true, cache_params: { type: 'local', ttl: 3600 } },
      settings: { cache: { max_size: '64MiB' } },
      masterKey: MASTER,
    }),
    workers: 1,
    args: ['--data-dir', path.join(mnt, 'data')],
  });
  try {
    const chat = (i) => post(`${s.url}/v1/chat/completions`,
      { model: GROUP, messages: [{ role: 'user', content: `fill ${i} ${'x'.repeat(64)}` }] }, AUTH);
    const stats = async () => (await request(`${s.url}/cache/stats`, { headers: AUTH })).json();
    // distinct prompts until the filesystem has been found full (bounded in count and time)
    const t0 = Date.now();
    let st;
    for (let round = 0; round < 20 && Date.now() - t0 < 60000; round++) {
      const rs = await runLoad(200, 4, (i) => chat(round * 200 + i));
      for (const r of rs) assert.equal(r.status, 200, r.text);
      st = await stats();
      if (st.store_errors.no_space > 0 && st.evictions > 0) break;
    }
    assert.ok(st.store_errors.no_space > 0, `no_space counted: ${JSON.stringify(st)}`);
    assert.ok(st.evictions > 0, `evicted: ${JSON.stringify(st)}`);
    assert.ok(st.used_bytes > 0 && st.used_bytes <= 2 * 1024 * 1024, `used_bytes current: ${JSON.stringify(st)}`);
    // stores still land: a new prompt is committed and then served from the cache
    const fresh = { model: GROUP, messages: [{ role: 'user', content: 'after the disk filled up' }] };
    assert.equal((await post(`${s.url}/v1/chat/completions`, fresh, AUTH)).headers['x-sluice-cache'], 'miss');
    await pollUntil(async () => {
      const r = await post(`${s.url}/v1/chat/completions`, fresh, AUTH);
      return r.headers['x-sluice-cache'] === 'hit' || null;
    }, { timeoutMs: 5000, intervalMs: 50, what: 'a store to land on the full disk' });
    // the metric, and the log line: at least one, at most one per 10 s interval
    const m = (await request(`${s.url}/metrics`)).text;
    const v = /sluice_cache_store_errors_total\{reason="no_space"\} (\d+)/.exec(m);
    assert.ok(v && Number(v[1]) > 0, m.split('\n').filter((l) => l.includes('store_errors')).join('\n'));
    const lines = s.lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('filesystem is full'));
    assert.ok(lines.length >= 1, 'a log line says the disk is full');
    assert.ok(lines.length <= 1 + Math.floor((Date.now() - t0) / 10000), `rate-limited: ${lines.length} lines`);
    assert.ok(lines[0].no_space > 0 && /space/i.test(lines[0].last_error), JSON.stringify(lines[0]));
  } finally {
    assert.equal(await s.stop(), 0);
    await mock.stop();
  }
});
