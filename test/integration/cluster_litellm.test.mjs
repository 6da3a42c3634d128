// LiteLLM's production config, as its deployment guide writes it, starts sluice in cluster
// mode and shares state across instances: `litellm_settings.cache: true` with
// `cache_params: {type: redis, host/port/password: os.environ/REDIS_*}` and
// `router_settings.redis_host/redis_port/redis_password`, against a real redis-server
// that requires a password. Two instances (2 workers each) then share a virtual key (made
// on one, used on the other), its rpm_limit (counted once for both) and the response cache
// (filled on one, a hit on the other); `sluice check` says cluster mode is on and never
// prints the password. Every wait is a bounded poll.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startMock, startSluice, cleanup, pollUntil, runCommand, mkTmpDir, HOST, SLUICE_BIN, request } from './lib.mjs';
import { startRedis } from './cluster_lib.mjs';
import { MASTER, newKey, chat, roomInMinute } from './keys_lib.mjs';

after(async () => { await cleanup(); });

const PASSWORD = 'test-redis-password-not-a-secret';

function litellmProductionConfig(mockPort) {
  return `
model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o
      api_base: http://${HOST}:${mockPort}/v1
      api_key: sk-mock-fake
      rpm: 1000
    model_info:
      input_cost_per_token: 0.000001
      output_cost_per_token: 0.000002

litellm_settings:
  cache: true
  cache_params:
    type: redis
    host: os.environ/REDIS_HOST
    port: os.environ/REDIS_PORT
    password: os.environ/REDIS_PASSWORD
    ttl: 600

router_settings:
  routing_strategy: simple-shuffle
  redis_host: os.environ/REDIS_HOST
  redis_password: os.environ/REDIS_PASSWORD
  redis_port: os.environ/REDIS_PORT

general_settings:
  master_key: ${MASTER}
`;
}

const up = async (s) => {
  const r = await request(`${s.url}/metrics`, { headers: { authorization: `Bearer ${MASTER}` } });
  return /^sluice_cluster_redis_up(\{[^}]*\})? 1$/m.test(r.text);
};

test("LiteLLM's production config (cache_params type redis + router_settings.redis_*, os.environ, AUTH) shares keys, limits and cache across instances", async () => {
  const mock = await startMock();
  const redis = await startRedis({ args: ['--requirepass', PASSWORD] });
  const env = { REDIS_HOST: HOST, REDIS_PORT: String(redis.port), REDIS_PASSWORD: PASSWORD };
  const yaml = litellmProductionConfig(mock.port);

  // sluice check: cluster mode named, with its source; the password never printed
  const dir = mkTmpDir('sluice-litellm-');
  const file = path.join(dir, 'config.yaml');
  fs.writeFileSync(file, yaml);
  const chk = await runCommand(SLUICE_BIN, ['check', file], { env });
  assert.equal(chk.code, 0, chk.stderr + chk.stdout);
  const out = chk.stdout + chk.stderr;
  assert.match(out, /cluster mode: Redis .*127\.0\.0\.1:\d+/, out);
  assert.match(out, /cache tier on/, out);
  assert.ok(!out.includes(PASSWORD), 'sluice check never prints the Redis password');

  const A = await startSluice({ yaml, workers: 2, env });
  const B = await startSluice({ yaml, workers: 2, env });
  await pollUntil(async () => ((await up(A)) && (await up(B))) || null,
    { timeoutMs: 15000, what: 'both instances report sluice_cluster_redis_up 1' });
  // the AUTH was needed: a client without it is refused by this Redis
  await assert.rejects(redis.cmd('PING'), /NOAUTH/);

  // a key made on A (rpm_limit 4) works on B
  const k = await newKey(A.url, { rpm_limit: 4, key_alias: 'litellm-prod' });
  await pollUntil(async () => (await chat(B.url, k.key, 'gpt-4o')).status === 200 || null,
    { timeoutMs: 5000, what: 'the key from A works on B' });

  // its rpm_limit is counted once for both instances: within one window, whatever was used
  // above plus what follows never exceeds 4 in total
  await roomInMinute(20);
  const k2 = await newKey(A.url, { rpm_limit: 4, key_alias: 'litellm-prod-rpm' });
  await pollUntil(async () => (await chat(B.url, k2.key, 'gpt-4o', { extra: { messages: [{ role: 'user', content: 'probe' }] } })).status === 200 || null,
    { timeoutMs: 5000, what: 'the second key works on B' });
  const statuses = [];
  for (let i = 0; i < 8; i++) {
    const s = i % 2 ? B : A;
    const r = await chat(s.url, k2.key, 'gpt-4o', { extra: { messages: [{ role: 'user', content: `n${i}-${Date.now()}` }] } });
    statuses.push(r.status);
  }
  assert.equal(statuses.filter((x) => x === 200).length, 3, `one admitted above + 3 here = rpm_limit 4: ${statuses}`);
  assert.equal(statuses.filter((x) => x === 429).length, 5, `${statuses}`);

  // the cache: a fill on A is a hit on B (the Redis tier behind each host's LMDB)
  const body = { messages: [{ role: 'user', content: `cache me ${Date.now()}` }] };
  const before = (await mock.stats()).requests;
  const r1 = await chat(A.url, MASTER, 'gpt-4o', { extra: body });
  assert.equal(r1.status, 200);
  assert.equal(r1.headers['x-sluice-cache'], 'miss');
  let r2;
  await pollUntil(async () => {
    r2 = await chat(B.url, MASTER, 'gpt-4o', { extra: body });
    return r2.headers['x-sluice-cache'] === 'hit' || null;
  }, { timeoutMs: 5000, what: 'the answer filled on A is a hit on B' });
  assert.equal(r2.text, r1.text, 'the same answer');
  assert.equal((await mock.stats()).requests - before, 1, 'the provider was asked once');

  assert.equal(await A.stop(), 0);
  assert.equal(await B.stop(), 0);
  await redis.kill();
  await mock.stop();
});
