// Google Vertex AI through sluice with the official SDKs as clients: sluice-mock plays Vertex
// (the OAuth token exchange at /token checking each RS256 JWT with the service account's
// public key, model routes wanting an issued, unexpired Bearer token). A service account is
// made at test time (cloud_lib.makeServiceAccount, its token_uri the mock's /token) and given
// to sluice as a vertex_credentials file path, as the JSON content itself, and through
// GOOGLE_APPLICATION_CREDENTIALS. Gemini goes through Vertex's OpenAI-compatible endpoint
// (the `openai` SDK: plain, stream, tools); Claude on Vertex through rawPredict /
// streamRawPredict (`@anthropic-ai/sdk` and the `openai` SDK, plain and stream). A key the mock
// does not accept gives a clear 401 naming the service account, in each client's format. Token
// refresh under load: tokens living 3 s, 3 workers, concurrent requests for several lifetimes:
// every request succeeds and the exchanges stay near duration / refresh interval (one worker
// refreshes for all).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMock, startSluice, cleanup, sluiceConfig, mkTmpDir } from './lib.mjs';
import { makeServiceAccount } from './cloud_lib.mjs';

const PROJECT = 'proj-test-1';
const LOCATION = 'us-east5';
const CLAUDE = 'claude-3-5-sonnet-v2@20241022';
const GEMINI = 'gemini-2.0-flash';
const FLAGS = ['--seed', '9', '--tokens', '6', '--ttft-ms', '0', '--itl-ms', '0', '--latency-ms', '0'];

let dir;
let sa;        // the service account the mock knows
let rogue;     // same client_email, another key: the mock refuses its JWTs
let vx;
let sluice;
let client;
let anth;

/** The key file's JSON with token_uri pointing at mock's /token. */
const keyJson = (acct, mock) => JSON.stringify({ ...JSON.parse(acct.json), token_uri: `${mock.url}/token` }, null, 2);

const vertex = (mock, model, creds, extra = {}) => ({
  model: `vertex_ai/${model}`, api_base: mock.url, api_key: null, vertex_project: PROJECT,
  vertex_location: LOCATION, vertex_credentials: creds, model_info: { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }, ...extra,
});

before(async () => {
  dir = mkTmpDir('vertex-test-');
  sa = makeServiceAccount({ clientEmail: 'sluice-test@proj-test-1.iam.gserviceaccount.com', projectId: PROJECT });
  rogue = makeServiceAccount({ clientEmail: sa.clientEmail, projectId: PROJECT });
  const pub = path.join(dir, 'sa.pub.pem');
  fs.writeFileSync(pub, sa.publicKeyPem);
  vx = await startMock([...FLAGS, '--gcp-public-key', pub, '--gcp-client-email', sa.clientEmail]);
  vx.pubFile = pub;
  const keyFile = path.join(dir, 'sa-key.json');
  fs.writeFileSync(keyFile, keyJson(sa, vx));
  sluice = await startSluice({
    yaml: sluiceConfig({
      groups: {
        gemini: vertex(vx, GEMINI, keyFile),                // a file path
        claude: vertex(vx, CLAUDE, keyJson(sa, vx)),         // the JSON content
        badkey: vertex(vx, CLAUDE, keyJson(rogue, vx)),
        'badkey-gemini': vertex(vx, GEMINI, keyJson(rogue, vx)),
      },
    }),
    env: { GOOGLE_APPLICATION_CREDENTIALS: '' },
  });
  client = new OpenAI({ apiKey: 'sk-test', baseURL: `${sluice.url}/v1`, maxRetries: 0, timeout: 15000 });
  anth = new Anthropic({ apiKey: 'sk-test', baseURL: sluice.url, maxRetries: 0, timeout: 15000 });
});

after(async () => {
  try {
    if (sluice && !sluice.exited) await sluice.stop(); // SIGTERM, then no sanitizer report
    if (vx && !vx.exited) await vx.stop();
  } finally {
    await cleanup();
  }
});

const lastOf = async (mock, pred = () => true) => (await mock.stats()).last.filter(pred).at(-1);
const base = `/v1/projects/${PROJECT}/locations/${LOCATION}`;
const msgs = [{ role: 'user', content: 'Hello Vertex, say something' }];

function assertBearer(rec) {
  assert.match(rec.headers.authorization, /^Bearer ya29\.mock-\d+$/, JSON.stringify(rec.headers));
}

test('openai SDK -> Gemini on Vertex: plain, with a service-account token, model google/<m> at the OpenAI endpoint', async () => {
  const { data: r, response } = await client.chat.completions.create({ model: 'gemini', messages: msgs }).withResponse();
  assert.equal(r.object, 'chat.completion');
  assert.match(r.model, /gemini-2\.0-flash/);
  assert.equal(r.choices[0].message.content.split(' ').length, 6);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(r.usage.completion_tokens > 0);
  assert.ok(Number(response.headers.get('x-sluice-cost')) > 0);
  const rec = await lastOf(vx, (e) => e.path !== '/token');
  assert.equal(rec.path, `${base}/endpoints/openapi/chat/completions`);
  assertBearer(rec);
  assert.equal(JSON.parse(rec.body).model, `google/${GEMINI}`);
  assert.ok((await vx.stats()).token_exchanges >= 1);
});

test('openai SDK -> Gemini on Vertex: streaming (usage when asked) and tools', async () => {
  for (const includeUsage of [false, true]) {
    const s = await client.chat.completions.create({ model: 'gemini', messages: msgs, stream: true,
      ...(includeUsage ? { stream_options: { include_usage: true } } : {}) });
    let text = '';
    let finish = null;
    let usage = null;
    for await (const ch of s) {
      text += ch.choices[0]?.delta?.content ?? '';
      finish = ch.choices[0]?.finish_reason ?? finish;
      usage = ch.usage ?? usage;
    }
    assert.equal(text.split(' ').length, 6);
    assert.equal(finish, 'stop');
    assert.equal(Boolean(usage), includeUsage);
  }
  const tool = { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } };
  const r = await client.chat.completions.create({ model: 'gemini', messages: msgs, tools: [tool] });
  assert.equal(r.choices[0].finish_reason, 'tool_calls');
  const tc = r.choices[0].message.tool_calls[0];
  assert.equal(tc.function.name, 'get_weather');
  assert.equal(typeof JSON.parse(tc.function.arguments).city, 'string');
  const r2 = await client.chat.completions.create({ model: 'gemini', tools: [tool], messages: [...msgs, r.choices[0].message,
    { role: 'tool', tool_call_id: tc.id, content: 'sunny' }] });
  assert.equal(r2.choices[0].finish_reason, 'stop');
  const sent = JSON.parse((await lastOf(vx, (e) => e.path !== '/token')).body);
  assert.equal(sent.messages.at(-1).role, 'tool');
  assert.equal(sent.messages.at(-1).tool_call_id, tc.id);
});

test('@anthropic-ai/sdk -> Claude on Vertex: rawPredict and streamRawPredict with vertex-2023-10-16', async () => {
  const m = await anth.messages.create({ model: 'claude', max_tokens: 100, messages: msgs });
  assert.equal(m.type, 'message');
  assert.equal(m.content[0].text.split(' ').length, 6);
  assert.equal(m.stop_reason, 'end_turn');
  assert.equal(m.usage.output_tokens, 6);
  let rec = await lastOf(vx, (e) => e.path !== '/token');
  assert.equal(decodeURIComponent(rec.path), `${base}/publishers/anthropic/models/${CLAUDE}:rawPredict`);
  assertBearer(rec);
  const body = JSON.parse(rec.body);
  assert.equal(body.anthropic_version, 'vertex-2023-10-16');
  assert.equal(body.model, undefined);
  assert.equal(body.max_tokens, 100);

  const s = anth.messages.stream({ model: 'claude', max_tokens: 100, messages: msgs });
  let text = '';
  s.on('text', (t) => { text += t; });
  const f = await s.finalMessage();
  assert.equal(f.content[0].text, text);
  assert.equal(text.split(' ').length, 6);
  assert.equal(f.stop_reason, 'end_turn');
  rec = await lastOf(vx, (e) => e.path !== '/token');
  assert.equal(decodeURIComponent(rec.path), `${base}/publishers/anthropic/models/${CLAUDE}:streamRawPredict`);
  assert.equal(JSON.parse(rec.body).anthropic_version, 'vertex-2023-10-16');
});

test('openai SDK -> Claude on Vertex: plain and stream, translated both ways', async () => {
  const r = await client.chat.completions.create({ model: 'claude', messages: msgs, max_tokens: 50 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(r.choices[0].message.content.split(' ').length, 6);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.equal(r.usage.completion_tokens, 6);
  const s = await client.chat.completions.create({ model: 'claude', messages: msgs, max_tokens: 50, stream: true,
    stream_options: { include_usage: true } });
  let text = '';
  let usage = null;
  for await (const ch of s) {
    text += ch.choices[0]?.delta?.content ?? '';
    usage = ch.usage ?? usage;
  }
  assert.equal(text.split(' ').length, 6);
  assert.equal(usage.completion_tokens, 6);
  const rec = await lastOf(vx, (e) => e.path !== '/token');
  assert.match(decodeURIComponent(rec.path), /:streamRawPredict$/);
  assert.equal(JSON.parse(rec.body).max_tokens, 50);
});

test('a key the token endpoint refuses: a clear 401 naming the service account, in each client\'s format', async () => {
  await assert.rejects(anth.messages.create({ model: 'badkey', max_tokens: 10, messages: msgs }), (e) => {
    assert.equal(e.status, 401, String(e));
    assert.equal(e.error?.type, 'error');
    const m = e.error?.error?.message ?? '';
    assert.ok(m.includes(sa.clientEmail), m);
    assert.match(m, /Invalid JWT Signature|invalid_grant/, m);
    return true;
  });
  for (const model of ['badkey', 'badkey-gemini']) {
    await assert.rejects(client.chat.completions.create({ model, messages: msgs }), (e) => {
      assert.equal(e.status, 401, String(e));
      assert.ok(e.message.includes(sa.clientEmail), e.message);
      assert.match(e.message, /Vertex AI credentials/);
      return true;
    });
  }
  const st = await client.chat.completions.create({ model: 'badkey', messages: msgs, stream: true }).catch((e) => e);
  assert.equal(st.status, 401, String(st));
  // the good account is unaffected
  assert.equal((await client.chat.completions.create({ model: 'gemini', messages: msgs })).choices[0].finish_reason, 'stop');
});

test('credentials from GOOGLE_APPLICATION_CREDENTIALS; the project from the key file', async () => {
  const keyFile = path.join(dir, 'adc.json');
  fs.writeFileSync(keyFile, keyJson(sa, vx));
  const s = await startSluice({
    yaml: sluiceConfig({ groups: { g: { model: `vertex_ai/${GEMINI}`, api_base: vx.url, api_key: null, vertex_location: LOCATION } } }),
    env: { GOOGLE_APPLICATION_CREDENTIALS: keyFile, VERTEXAI_PROJECT: '', VERTEX_PROJECT: '' },
  });
  const c = new OpenAI({ apiKey: 'sk-test', baseURL: `${s.url}/v1`, maxRetries: 0, timeout: 15000 });
  const r = await c.chat.completions.create({ model: 'g', messages: msgs });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const rec = await lastOf(vx, (e) => e.path !== '/token');
  assert.equal(rec.path, `${base}/endpoints/openapi/chat/completions`);
  assertBearer(rec);
  await s.stop();
});

test('token refresh under load: 3-second tokens, 3 workers, ~10 s of concurrent requests: all succeed, one exchange per refresh', async () => {
  const m = await startMock([...FLAGS, '--gcp-public-key', vx.pubFile, '--gcp-client-email', sa.clientEmail, '--gcp-token-ttl', '3']);
  const keyFile = path.join(dir, 'short.json');
  fs.writeFileSync(keyFile, keyJson(sa, m));
  const WORKERS = 3;
  const s = await startSluice({ yaml: sluiceConfig({ groups: { g: vertex(m, GEMINI, keyFile), c: vertex(m, CLAUDE, keyFile) } }),
    workers: WORKERS });
  const c = new OpenAI({ apiKey: 'sk-test', baseURL: `${s.url}/v1`, maxRetries: 0, timeout: 15000 });
  const DURATION_MS = 10000;
  const MAX_REQUESTS = 20000; // a bound only: the duration ends the load
  const t0 = Date.now();
  const start = (await m.stats()).token_exchanges;
  let sent = 0;
  const failures = [];
  let ok = 0;
  const lane = async (i) => {
    while (Date.now() - t0 < DURATION_MS && sent < MAX_REQUESTS) {
      sent++;
      try {
        const r = await c.chat.completions.create({ model: i % 2 ? 'g' : 'c', messages: msgs });
        if (r.choices[0].finish_reason === 'stop') ok++;
        else failures.push(JSON.stringify(r));
      } catch (e) {
        failures.push(String(e));
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, i) => lane(i)));
  const elapsed = Date.now() - t0;
  const st = await m.stats();
  const exchanges = st.token_exchanges - start;
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${sent} failed`);
  assert.equal(ok, sent);
  assert.ok(sent >= 50, `enough load: ${sent}`);
  // A token lives 3 s and is refreshed halfway (1.5 s) on a 1 s timer: one exchange every
  // 1.5-2.5 s for the whole process. Every worker refreshing would be ~3x that; one exchange
  // per request would be hundreds.
  const most = Math.ceil(elapsed / 1500) + 2;
  const least = Math.floor(elapsed / 3000);
  assert.ok(exchanges <= most, `${exchanges} exchanges in ${elapsed} ms (at most ${most}; ${WORKERS} workers, ${sent} requests)`);
  assert.ok(exchanges >= least, `${exchanges} exchanges in ${elapsed} ms: tokens were refreshed (at least ${least})`);
  assert.equal(st.auth_failures, 0, 'no request came with an expired token');
  await s.stop();
  await m.stop();
});
