// sluice-mock as AWS Bedrock and Google Vertex AI, driven directly from node with independent
// signers (cloud_lib.mjs: SigV4, RS256 JWTs, an event-stream decoder on zlib.crc32): the mock
// accepts a good signature and refuses a changed body, secret, date, key or token with
// Bedrock's error shape; Converse / ConverseStream / invoke / invoke-with-response-stream and
// the embedding models answer in Bedrock's shapes, stream frames carry good CRCs and the
// bad_crc / stream_exception faults break them on purpose; Vertex's token exchange checks the
// JWT as Google does and its model routes want an issued, unexpired token; --gemini-errors
// gives Gemini's array-shaped errors.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, cleanup } from './lib.mjs';
import {
  sigv4Sign, decodeEventStream, jwtRs256, makeServiceAccount, gcpClaims, rawRequest,
} from './cloud_lib.mjs';

const AK = 'AKIDMOCKEXAMPLE';
const SK = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';
const TOKEN = 'session-token-mock';
const MODEL = 'anthropic.claude-3-5-sonnet-20241022-v2:0';
const MODEL_PATH = encodeURIComponent(MODEL); // ':' as %3A, as the AWS SDKs send it

let br; // Bedrock, SigV4 with a session token
let bk; // Bedrock, API key only
let vx; // Vertex with a public key
let sa;
let other; // a second service account the mock does not know

before(async () => {
  const flags = ['--seed', '5', '--tokens', '6', '--ttft-ms', '0', '--itl-ms', '0', '--latency-ms', '0'];
  br = await startMock([...flags, '--aws-access-key-id', AK, '--aws-secret-access-key', SK,
    '--aws-session-token', TOKEN, '--aws-region', 'us-west-2']);
  bk = await startMock([...flags, '--bedrock-api-key', 'bedrock-api-key-mock']);
  sa = makeServiceAccount();
  other = makeServiceAccount();
  const fs = await import('node:fs');
  const os = await import('node:os');
  const path = await import('node:path');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mock-cloud-'));
  const pub = path.join(dir, 'sa.pub.pem');
  fs.writeFileSync(pub, sa.publicKeyPem);
  vx = await startMock([...flags, '--gcp-public-key', pub, '--gcp-client-email', sa.clientEmail]);
  vx.pubFile = pub;
});

after(cleanup);

function signed(mock, op, body, { secret = SK, key = AK, token = TOKEN, date, model = MODEL_PATH, region = 'us-west-2', tamper } = {}) {
  const url = `${mock.url}/model/${model}/${op}`;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const s = sigv4Sign({ url, body: text, accessKeyId: key, secretAccessKey: secret, sessionToken: token,
    region, date, headers: { 'content-type': 'application/json' } });
  return rawRequest(url, { headers: s.headers, body: tamper ? tamper(text) : text });
}

const chat = { messages: [{ role: 'user', content: [{ text: 'Hello there, Bedrock' }] }],
  inferenceConfig: { maxTokens: 100 } };

function assertBedrockError(r, status, type, includes) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.headers['x-amzn-errortype'], type);
  const j = r.json();
  assert.deepEqual(Object.keys(j), ['message']);
  if (includes) assert.ok(j.message.includes(includes), j.message);
}

test('SigV4: a good signature is accepted; Converse answers in Bedrock\'s shape', async () => {
  const r = await signed(br, 'converse', chat);
  assert.equal(r.status, 200, r.text);
  const j = r.json();
  assert.equal(j.output.message.role, 'assistant');
  assert.equal(typeof j.output.message.content[0].text, 'string');
  assert.equal(j.output.message.content[0].text.split(' ').length, 6);
  assert.equal(j.stopReason, 'end_turn');
  assert.equal(j.usage.outputTokens, 6);
  assert.equal(j.usage.totalTokens, j.usage.inputTokens + 6);
  assert.equal(typeof j.metrics.latencyMs, 'number');
  const st = await br.stats();
  const last = st.last.at(-1);
  assert.deepEqual(last.cloud, { service: 'bedrock', operation: 'converse', model: MODEL });
});

test('SigV4: a changed body, secret, key, date, region or session token is refused as Bedrock refuses it', async () => {
  const before = (await br.stats()).auth_failures;
  assertBedrockError(await signed(br, 'converse', chat, { tamper: (t) => t.replace('Hello', 'Hellp') }),
    403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.');
  assertBedrockError(await signed(br, 'converse', chat, { secret: `${SK}x` }), 403, 'InvalidSignatureException', 'does not match');
  assertBedrockError(await signed(br, 'converse', chat, { key: 'AKIDOTHER' }), 403, 'UnrecognizedClientException', 'security token included in the request is invalid');
  assertBedrockError(await signed(br, 'converse', chat, { date: new Date(Date.now() - 20 * 60 * 1000) }),
    403, 'InvalidSignatureException', 'Signature expired');
  assertBedrockError(await signed(br, 'converse', chat, { region: 'eu-west-1' }), 403, 'InvalidSignatureException', 'region');
  assertBedrockError(await signed(br, 'converse', chat, { token: 'other-token' }), 403, 'UnrecognizedClientException');
  // The path is signed as sent: signing the model id unencoded while sending it encoded fails.
  const url = `${br.url}/model/${MODEL_PATH}/converse`;
  const text = JSON.stringify(chat);
  const s = sigv4Sign({ url: `${br.url}/model/${MODEL.replace(':', '%3B')}/converse`, body: text, accessKeyId: AK,
    secretAccessKey: SK, sessionToken: TOKEN, region: 'us-west-2' });
  assertBedrockError(await rawRequest(url, { headers: s.headers, body: text }), 403, 'InvalidSignatureException');
  assertBedrockError(await rawRequest(url, { headers: { 'content-type': 'application/json' }, body: text }),
    403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  assert.equal((await br.stats()).auth_failures - before, 8);
});

test('Bedrock API keys: Bearer accepted when it is the key, refused otherwise', async () => {
  const url = `${bk.url}/model/${MODEL_PATH}/converse`;
  const body = JSON.stringify(chat);
  const ok = await rawRequest(url, { headers: { authorization: 'Bearer bedrock-api-key-mock', 'content-type': 'application/json' }, body });
  assert.equal(ok.status, 200, ok.text);
  assertBedrockError(await rawRequest(url, { headers: { authorization: 'Bearer nope', 'content-type': 'application/json' }, body }),
    403, 'UnrecognizedClientException');
});

test('Converse: tools give a toolUse of the first tool (stopReason tool_use); a toolResult ends it', async () => {
  const tools = { tools: [{ toolSpec: { name: 'get_weather', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } } },
    { toolSpec: { name: 'other', inputSchema: { json: { type: 'object' } } } }] };
  const r = await signed(br, 'converse', { ...chat, toolConfig: tools });
  assert.equal(r.status, 200, r.text);
  const j = r.json();
  assert.equal(j.stopReason, 'tool_use');
  const tu = j.output.message.content[0].toolUse;
  assert.equal(tu.name, 'get_weather');
  assert.match(tu.toolUseId, /^tooluse_/);
  assert.deepEqual(tu.input, { city: 'text' });
  const r2 = await signed(br, 'converse', { toolConfig: tools, messages: [...chat.messages,
    { role: 'assistant', content: [{ toolUse: tu }] },
    { role: 'user', content: [{ toolResult: { toolUseId: tu.toolUseId, content: [{ text: 'sunny' }] } }] }] });
  assert.equal(r2.json().stopReason, 'end_turn');
  const r3 = await signed(br, 'converse', { ...chat, toolConfig: { ...tools, toolChoice: { tool: { name: 'other' } } } });
  assert.equal(r3.json().output.message.content[0].toolUse.name, 'other');
});

test('ConverseStream: event-stream frames with good CRCs, the same words as Converse, usage in metadata', async () => {
  const whole = (await signed(br, 'converse', chat)).json();
  const r = await signed(br, 'converse-stream', chat);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/vnd.amazon.eventstream');
  const { frames, rest } = decodeEventStream(r.body);
  assert.equal(rest.length, 0);
  for (const f of frames) {
    assert.ok(f.preludeCrcOk && f.messageCrcOk, 'CRCs');
    assert.equal(f.headers[':message-type'], 'event');
    assert.equal(f.headers[':content-type'], 'application/json');
  }
  const types = frames.map((f) => f.headers[':event-type']);
  assert.deepEqual(types, ['messageStart', ...Array(6).fill('contentBlockDelta'), 'contentBlockStop', 'messageStop', 'metadata']);
  const text = frames.filter((f) => f.headers[':event-type'] === 'contentBlockDelta').map((f) => f.json.delta.text).join('');
  assert.equal(text, whole.output.message.content[0].text);
  assert.equal(frames.at(-2).json.stopReason, 'end_turn');
  assert.deepEqual(frames.at(-1).json.usage, whole.usage);
});

test('ConverseStream is paced by the timing options (itl_ms between the deltas)', async () => {
  const t0 = Date.now();
  const r = await signed(br, 'converse-stream', { ...chat, mock: { itl_ms: 40 } });
  const elapsed = Date.now() - t0;
  assert.equal(r.status, 200);
  assert.ok(elapsed >= 5 * 40 - 10, `6 deltas 40 ms apart took ${elapsed} ms`);
  const { frames } = decodeEventStream(r.body);
  assert.equal(frames.filter((f) => f.headers[':event-type'] === 'contentBlockDelta').length, 6);
  assert.equal(frames.at(-1).headers[':event-type'], 'metadata');
});

test('ConverseStream with tools: contentBlockStart toolUse then input deltas that join into the arguments', async () => {
  const r = await signed(br, 'converse-stream', { ...chat, toolConfig: { tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object', properties: { n: { type: 'integer' } } } } } }] } });
  const { frames } = decodeEventStream(r.body);
  const start = frames.find((f) => f.headers[':event-type'] === 'contentBlockStart');
  assert.equal(start.json.start.toolUse.name, 'f');
  const input = frames.filter((f) => f.headers[':event-type'] === 'contentBlockDelta').map((f) => f.json.delta.toolUse.input).join('');
  assert.deepEqual(JSON.parse(input), { n: 1 });
  assert.equal(frames.find((f) => f.headers[':event-type'] === 'messageStop').json.stopReason, 'tool_use');
});

test('stream faults: bad_crc gives a frame whose CRC is wrong; stream_exception a throttlingException frame', async () => {
  const bad = await signed(br, 'converse-stream', { ...chat, mock: { fault: 'bad_crc', fault_at: 2 } });
  assert.equal(bad.status, 200);
  const fb = decodeEventStream(bad.body).frames;
  assert.equal(fb.length, 4, 'messageStart, two good deltas, the bad one, then the end');
  assert.ok(fb.slice(0, 3).every((f) => f.messageCrcOk));
  assert.equal(fb[3].messageCrcOk, false);
  assert.equal(fb[3].preludeCrcOk, true);
  const ex = await signed(br, 'converse-stream', { ...chat, mock: { fault: 'stream_exception' } });
  const fe = decodeEventStream(ex.body).frames;
  const last = fe.at(-1);
  assert.ok(last.messageCrcOk);
  assert.equal(last.headers[':message-type'], 'exception');
  assert.equal(last.headers[':exception-type'], 'throttlingException');
  assert.match(last.json.message, /Too many requests/);
  const st = await br.stats();
  assert.equal(st.faults.bad_crc, 1);
  assert.equal(st.faults.stream_exception, 1);
});

test('--p-bad-crc 1: every event stream gets a bad frame first; whole answers are unchanged', async () => {
  const m = await startMock(['--p-bad-crc', '1', '--tokens', '4', '--ttft-ms', '0', '--itl-ms', '0']);
  const url = `${m.url}/model/${MODEL_PATH}/converse-stream`;
  const r = await rawRequest(url, { headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat) });
  const f = decodeEventStream(r.body).frames;
  assert.deepEqual(f.map((x) => x.messageCrcOk), [true, false]);
  const w = await rawRequest(url.replace('converse-stream', 'converse'), { headers: { 'content-type': 'application/json' }, body: JSON.stringify(chat) });
  assert.equal(w.status, 200);
  assert.equal(w.json().stopReason, 'end_turn');
  await m.stop();
});

test('status faults come in Bedrock\'s shape (x-amzn-ErrorType, {"message"})', async () => {
  const r = await signed(br, 'converse', { ...chat, mock: { fault: '429' } });
  assertBedrockError(r, 429, 'ThrottlingException', 'Rate limit');
  assertBedrockError(await signed(br, 'converse', { ...chat, mock: { status: 400, error_message: 'bad' } }), 400, 'ValidationException', 'bad');
  assertBedrockError(await signed(br, 'converse', { messages: [] }), 400, 'ValidationException');
});

const anthBody = { anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] };

test('invoke: Anthropic-on-Bedrock (anthropic_version required, no model), Titan and Cohere embeddings', async () => {
  const r = await signed(br, 'invoke', anthBody);
  assert.equal(r.status, 200, r.text);
  const j = r.json();
  assert.equal(j.type, 'message');
  assert.equal(j.model, MODEL);
  assert.equal(j.content[0].type, 'text');
  assert.equal(j.stop_reason, 'end_turn');
  assertBedrockError(await signed(br, 'invoke', { ...anthBody, anthropic_version: undefined }), 400, 'ValidationException', 'anthropic_version');
  assertBedrockError(await signed(br, 'invoke', { ...anthBody, model: 'x' }), 400, 'ValidationException', 'extraneous key [model]');
  const t = await signed(br, 'invoke', { inputText: 'hello world', dimensions: 256 }, { model: 'amazon.titan-embed-text-v2%3A0' });
  assert.equal(t.status, 200, t.text);
  assert.equal(t.json().embedding.length, 256);
  assert.equal(t.json().inputTextTokenCount, 3);
  const c = await signed(br, 'invoke', { texts: ['a', 'b'], input_type: 'search_document' }, { model: 'cohere.embed-english-v3' });
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json().embeddings.length, 2);
  assert.deepEqual(c.json().texts, ['a', 'b']);
  assert.equal(typeof c.json().id, 'string');
});

test('invoke-with-response-stream: chunk frames whose bytes are the Anthropic events', async () => {
  const r = await signed(br, 'invoke-with-response-stream', anthBody);
  assert.equal(r.status, 200, r.text);
  const { frames } = decodeEventStream(r.body);
  assert.ok(frames.every((f) => f.messageCrcOk && f.headers[':event-type'] === 'chunk'));
  const events = frames.map((f) => JSON.parse(Buffer.from(f.json.bytes, 'base64').toString('utf8')));
  assert.equal(events[0].type, 'message_start');
  assert.equal(events.at(-1).type, 'message_stop');
  assert.equal(events.at(-1)['amazon-bedrock-invocationMetrics'].outputTokenCount, 6);
  assert.ok(!events.some((e) => e.type === 'ping'));
  const text = events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
  assert.equal(text.split(' ').length, 6);
  const bad = decodeEventStream((await signed(br, 'invoke-with-response-stream', { ...anthBody, mock: { fault: 'bad_crc' } })).body).frames;
  assert.equal(bad.at(-1).messageCrcOk, false);
});

// ---- Vertex -------------------------------------------------------------------------------

async function exchange(mock, { key = sa.privateKeyPem, claims = {}, grant = 'urn:ietf:params:oauth:grant-type:jwt-bearer' } = {}) {
  const tokenUri = `${mock.url}/token`;
  const jwt = jwtRs256({ ...gcpClaims({ clientEmail: sa.clientEmail, tokenUri }), ...claims }, key, { kid: 'k1' });
  const body = new URLSearchParams({ grant_type: grant, assertion: jwt }).toString();
  return rawRequest(tokenUri, { headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
}

const vxBase = (m) => `${m.url}/v1/projects/proj-1/locations/us-east5`;
const vxBody = { anthropic_version: 'vertex-2023-10-16', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] };

function vxPost(url, body, token) {
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return rawRequest(url, { headers, body: JSON.stringify(body) });
}

test('Vertex token exchange: a good JWT gets a token; a bad signature, issuer, audience, time or scope gets invalid_grant', async () => {
  const before = await vx.stats();
  const r = await exchange(vx);
  assert.equal(r.status, 200, r.text);
  const j = r.json();
  assert.match(j.access_token, /^ya29\.mock-\d+$/);
  assert.equal(j.expires_in, 3600);
  assert.equal(j.token_type, 'Bearer');
  const now = Math.floor(Date.now() / 1000);
  const bad = [
    [{ key: other.privateKeyPem }, 'invalid_grant', 'Invalid JWT Signature'],
    [{ claims: { iss: 'someone@else.iam.gserviceaccount.com' } }, 'invalid_grant', 'account not found'],
    [{ claims: { aud: 'https://oauth2.googleapis.com/token' } }, 'invalid_grant', 'audience'],
    [{ claims: { iat: now - 7200, exp: now - 3600 } }, 'invalid_grant', 'short-lived'],
    [{ claims: { iat: now, exp: now + 7200 } }, 'invalid_grant', 'short-lived'],
    [{ claims: { scope: 'https://www.googleapis.com/auth/userinfo.email' } }, 'invalid_scope', 'scope'],
    [{ grant: 'client_credentials' }, 'unsupported_grant_type', 'grant_type'],
  ];
  for (const [o, error, includes] of bad) {
    const e = await exchange(vx, o);
    assert.equal(e.status, 400, e.text);
    assert.equal(e.json().error, error, e.text);
    assert.ok(e.json().error_description.includes(includes), e.text);
  }
  const after = await vx.stats();
  assert.equal(after.token_exchanges - before.token_exchanges, 1);
  assert.equal(after.auth_failures - before.auth_failures, bad.length);
});

test('Vertex model routes want an issued, unexpired Bearer token; Claude rawPredict / streamRawPredict, Gemini OpenAI chat', async () => {
  const token = (await exchange(vx)).json().access_token;
  const raw = `${vxBase(vx)}/publishers/anthropic/models/claude-3-5-sonnet-v2%4020241022:rawPredict`;
  for (const t of [undefined, 'ya29.mock-999999', 'garbage']) {
    const r = await vxPost(raw, vxBody, t);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.json().error.status, 'UNAUTHENTICATED');
    assert.equal(r.json().error.code, 401);
    assert.match(r.json().error.message, /^Request had invalid authentication credentials/);
  }
  const r = await vxPost(raw, vxBody, token);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json().type, 'message');
  assert.equal(r.json().model, 'claude-3-5-sonnet-v2@20241022');
  const nov = await vxPost(raw, { ...vxBody, anthropic_version: 'bedrock-2023-05-31' }, token);
  assert.equal(nov.status, 400, nov.text);
  assert.equal(nov.json().error.status, 'INVALID_ARGUMENT');
  const s = await vxPost(raw.replace(':rawPredict', ':streamRawPredict'), { ...vxBody, stream: true }, token);
  assert.equal(s.status, 200, s.text);
  assert.match(s.headers['content-type'], /text\/event-stream/);
  assert.match(s.text, /event: message_start[\s\S]*event: message_stop/);
  const chatUrl = `${vxBase(vx)}/endpoints/openapi/chat/completions`;
  const c = await vxPost(chatUrl, { model: 'google/gemini-2.0-flash', messages: [{ role: 'user', content: 'Hi' }] }, token);
  assert.equal(c.status, 200, c.text);
  assert.equal(c.json().object, 'chat.completion');
  assert.equal(c.json().model, 'google/gemini-2.0-flash');
  const cs = await vxPost(chatUrl, { model: 'google/gemini-2.0-flash', stream: true, messages: [{ role: 'user', content: 'Hi' }] }, token);
  assert.match(cs.text, /data: \[DONE\]/);
  assert.equal((await vxPost(chatUrl, { model: 'gemini-2.0-flash', messages: [{ role: 'user', content: 'Hi' }] }, token)).status, 400);
  const st = await vx.stats();
  assert.deepEqual(st.last.at(-2).cloud, { service: 'vertex', operation: 'chat/completions', project: 'proj-1', location: 'us-east5', model: 'google/gemini-2.0-flash' });
  assert.equal(st.last.at(-1).cloud.model, undefined, 'the refused request named no google/ model');
  const rec = st.last.find((e) => e.cloud?.operation === 'rawPredict');
  assert.deepEqual(rec.cloud, { service: 'vertex', operation: 'rawPredict', project: 'proj-1', location: 'us-east5', model: 'claude-3-5-sonnet-v2@20241022' });
});

test('Vertex tokens expire: with --gcp-token-ttl 0 an issued token is refused at once', async () => {
  const m = await startMock(['--gcp-public-key', vx.pubFile, '--gcp-token-ttl', '0']);
  const r = await exchange(m);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json().expires_in, 0);
  const raw = `${vxBase(m)}/publishers/anthropic/models/claude:rawPredict`;
  assert.equal((await vxPost(raw, vxBody, r.json().access_token)).status, 401);
  await m.stop();
});

test('--gemini-errors: errors on the OpenAI routes come as Gemini\'s [{"error":{code,message,status}}]', async () => {
  const m = await startMock(['--gemini-errors']);
  const r = await vxPost(`${m.url}/v1/chat/completions`, { model: 'gemini-2.0-flash', messages: [{ role: 'user', content: 'x' }], mock: { fault: '429' } });
  assert.equal(r.status, 429);
  const j = r.json();
  assert.ok(Array.isArray(j) && j.length === 1, r.text);
  assert.equal(j[0].error.code, 429);
  assert.equal(j[0].error.status, 'RESOURCE_EXHAUSTED');
  assert.equal(typeof j[0].error.message, 'string');
  await m.stop();
});

test('the mock refuses flags that do not go together', async () => {
  await assert.rejects(startMock(['--aws-access-key-id', 'A'], { timeoutMs: 3000 }));
  await assert.rejects(startMock(['--gcp-public-key', '/nonexistent.pem'], { timeoutMs: 3000 }));
});
