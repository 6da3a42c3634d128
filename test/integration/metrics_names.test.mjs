// LiteLLM's metric names (sluice_settings.metrics.litellm_names: true) against real
// processes: sluice with two workers in front of mocks gets a known mix through one
// virtual key with a budget (plain and streamed answers, a provider's 500 passed through,
// a fallback to another group, a retry that cools a deployment down), then /metrics is
// parsed with the strict text-format parser (prom_lib.mjs) and LiteLLM's families must be
// there with LiteLLM's types and exactly LiteLLM's label names, in LiteLLM's order (taken
// from litellm/types/integrations/prometheus.py), with counts equal to what the client
// saw. Without the opt-in no litellm_* family is rendered. The sluice_* latency families
// in seconds (request, TTFT, upstream, overhead) are checked for their buckets too.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startSluice, cleanup, request, pollUntil } from './lib.mjs';
import { MASTER_AUTH, PRICED, chat, newKey, keySpend } from './keys_lib.mjs';
import { routerConfig } from './routing_lib.mjs';
import { parseExposition, samples } from './prom_lib.mjs';

after(cleanup);

// LiteLLM's families: the exposed family name (prometheus_client adds _total to a
// counter), its type, and its label names in order.
const WHO = ['end_user', 'hashed_api_key', 'api_key_alias'];
const LITELLM = {
  litellm_proxy_total_requests_metric_total: ['counter', [...WHO, 'requested_model', 'team', 'team_alias', 'user',
    'status_code', 'user_email', 'route', 'client_ip', 'user_agent', 'model_id']],
  litellm_proxy_failed_requests_metric_total: ['counter', [...WHO, 'requested_model', 'team', 'team_alias', 'user',
    'user_email', 'exception_status', 'exception_class', 'route', 'client_ip', 'user_agent', 'model_id']],
  litellm_request_total_latency_metric: ['histogram', [...WHO, 'requested_model', 'team', 'team_alias', 'user', 'model',
    'model_id']],
  litellm_llm_api_latency_metric: ['histogram', ['model', 'hashed_api_key', 'api_key_alias', 'team', 'team_alias',
    'requested_model', 'end_user', 'user', 'model_id']],
  litellm_llm_api_time_to_first_token_metric: ['histogram', ['model', 'hashed_api_key', 'api_key_alias', 'team',
    'team_alias', 'requested_model', 'end_user', 'user', 'model_id']],
  litellm_overhead_latency_metric: ['histogram', ['model_group', 'api_provider', 'api_base', 'litellm_model_name',
    'hashed_api_key', 'api_key_alias', 'model_id']],
  litellm_input_tokens_metric_total: ['counter', [...WHO, 'model', 'team', 'team_alias', 'user', 'user_email',
    'requested_model', 'model_id']],
  litellm_output_tokens_metric_total: ['counter', [...WHO, 'model', 'team', 'team_alias', 'user', 'user_email',
    'requested_model', 'model_id']],
  litellm_spend_metric_total: ['counter', [...WHO, 'model', 'team', 'team_alias', 'user', 'user_email', 'client_ip',
    'user_agent', 'model_id']],
  litellm_deployment_state: ['gauge', ['litellm_model_name', 'model_id', 'api_base', 'api_provider']],
  litellm_deployment_success_responses_total: ['counter', ['requested_model', 'litellm_model_name', 'model_id',
    'api_base', 'api_provider', 'hashed_api_key', 'api_key_alias', 'team', 'team_alias', 'client_ip', 'user_agent']],
  litellm_deployment_failure_responses_total: ['counter', ['requested_model', 'litellm_model_name', 'model_id',
    'api_base', 'api_provider', 'exception_status', 'exception_class', 'hashed_api_key', 'api_key_alias', 'team',
    'team_alias', 'client_ip', 'user_agent']],
  litellm_deployment_cooled_down_total: ['counter', ['litellm_model_name', 'model_id', 'api_base', 'api_provider',
    'exception_status']],
  litellm_deployment_successful_fallbacks_total: ['counter', ['requested_model', 'fallback_model', 'hashed_api_key',
    'api_key_alias', 'team', 'team_alias', 'exception_status', 'exception_class', 'model_id']],
  litellm_remaining_api_key_budget_metric: ['gauge', ['hashed_api_key', 'api_key_alias']],
};

const sum = (fams, name, want = {}) => samples(fams, name, want).reduce((a, s) => a + s.value, 0);

async function scrape(url) {
  const r = await request(`${url}/metrics`, { headers: MASTER_AUTH });
  assert.equal(r.status, 200, r.text.slice(0, 300));
  return parseExposition(r.text);
}

function config(a, c, { litellm }) {
  const dep = (port, id, extra = {}) => ({ port, model: 'openai/mock-model', model_info: { ...PRICED, id }, ...extra });
  return routerConfig({
    groups: {
      alpha: dep(a.port, 'alpha-1'),
      broken: dep(c.port, 'broken-1'),
      dead: dep(c.port, 'dead-1'),
      flaky: [dep(c.port, 'flaky-0', { order: 1 }), dep(a.port, 'flaky-1', { order: 2 })],
    },
    router: { num_retries: 1, allowed_fails: 0, cooldown_time: 120, fallbacks: [{ dead: ['alpha'] }] },
    settings: litellm === undefined ? {} : { metrics: { litellm_names: litellm } },
    masterKey: MASTER_AUTH.authorization.slice('Bearer '.length),
  });
}

test('LiteLLM metric names: families, types, label names and counts; absent without the opt-in', async () => {
  const a = await startMock(['--seed', '31']);
  const c = await startMock(['--p-500', '1']);
  const s = await startSluice({ yaml: config(a, c, { litellm: true }), workers: 2 });

  const k = await newKey(s.url, { key_alias: 'budgeted', max_budget: 5 });
  const sent = { total: 0, ok: 0, s500: 0 };
  const go = async (model, o = {}, want = 200) => {
    const r = await chat(s.url, k.key, model, o);
    assert.equal(r.status, want, `${model}: ${r.text.slice(0, 300)}`);
    sent.total++;
    if (r.status === 200) sent.ok++;
    if (r.status === 500) sent.s500++;
    return r;
  };
  for (let i = 0; i < 5; i++) await go('alpha');
  for (let i = 0; i < 2; i++) await go('alpha', { stream: true });
  for (let i = 0; i < 2; i++) await go('broken', {}, 500);
  for (let i = 0; i < 2; i++) {
    const r = await go('dead');
    assert.equal(r.headers['x-sluice-fallback'], 'alpha');
  }
  const f = await go('flaky'); // flaky-0 fails, the retry lands on flaky-1 and flaky-0 cools down
  assert.equal(f.headers['x-sluice-deployment'], 'flaky-1');
  for (let i = 0; i < 2; i++) await go('flaky');

  let fams;
  await pollUntil(async () => {
    fams = await scrape(s.url);
    return sum(fams, 'litellm_proxy_total_requests_metric_total') === sent.total;
  }, { timeoutMs: 10000, intervalMs: 50, what: `litellm_proxy_total_requests_metric_total to reach ${sent.total}` });

  // Every family, its type, and on every sample exactly LiteLLM's labels in its order.
  for (const [name, [type, labels]] of Object.entries(LITELLM)) {
    const fam = fams.get(name);
    assert.ok(fam, `family ${name} is rendered`);
    assert.equal(fam.type, type, `${name} is a ${type}`);
    assert.ok(fam.samples.length > 0, `${name} has samples`);
    for (const smp of fam.samples) {
      const got = Object.keys(smp.labels).filter((l) => l !== 'le');
      assert.deepEqual(got, labels, `${smp.name} labels (line ${smp.line})`);
    }
  }
  // Plausible values: the counts are the requests made.
  const P = 'litellm_proxy_total_requests_metric_total';
  assert.equal(sum(fams, P, { status_code: '200' }), sent.ok);
  assert.equal(sum(fams, P, { status_code: '500' }), sent.s500);
  assert.equal(sum(fams, P, { requested_model: 'alpha' }), 2 + 7, 'alpha answered its own 7 and the 2 fallbacks');
  const failed = samples(fams, 'litellm_proxy_failed_requests_metric_total');
  assert.equal(failed.reduce((x, y) => x + y.value, 0), sent.s500);
  for (const x of failed) {
    assert.equal(x.labels.exception_status, '500');
    assert.equal(x.labels.exception_class, 'InternalServerError');
    assert.equal(x.labels.model_id, 'broken-1');
  }
  assert.equal(sum(fams, 'litellm_request_total_latency_metric_count'), sent.total);
  assert.equal(sum(fams, 'litellm_llm_api_latency_metric_count'), sum(fams, 'sluice_upstream_duration_seconds_count'));
  assert.ok(sum(fams, 'litellm_llm_api_latency_metric_count') >= sent.ok, 'every answer had a measured call');
  assert.equal(sum(fams, 'litellm_llm_api_time_to_first_token_metric_count', { model_id: 'alpha-1' }), 2, 'two streams');
  assert.equal(sum(fams, 'litellm_overhead_latency_metric_count'), sum(fams, 'litellm_llm_api_latency_metric_count'));
  const api = samples(fams, 'litellm_llm_api_latency_metric_count', { model_id: 'alpha-1' });
  assert.equal(api.length, 1);
  assert.equal(api[0].labels.model, 'openai/mock-model');
  assert.equal(api[0].labels.requested_model, 'alpha');
  assert.equal(api[0].labels.hashed_api_key, '', 'per-key labels stay empty (bounded series)');

  const tokIn = sum(fams, 'litellm_input_tokens_metric_total');
  assert.ok(tokIn > 0);
  assert.equal(tokIn, sum(fams, 'sluice_tokens_total', { direction: 'in' }));
  assert.equal(sum(fams, 'litellm_output_tokens_metric_total'), sum(fams, 'sluice_tokens_total', { direction: 'out' }));
  const spend = sum(fams, 'litellm_spend_metric_total');
  assert.ok(spend > 0);
  assert.ok(Math.abs(spend - sum(fams, 'sluice_cost_usd_total')) < 1e-9);

  const state = (id) => samples(fams, 'litellm_deployment_state', { model_id: id })[0]?.value;
  assert.equal(state('flaky-0'), 2, 'cooling down: complete outage');
  assert.equal(state('flaky-1'), 0);
  assert.equal(state('alpha-1'), 0);
  const st = samples(fams, 'litellm_deployment_state', { model_id: 'flaky-0' })[0].labels;
  assert.equal(st.api_provider, 'openai');
  assert.equal(st.api_base, `http://127.0.0.1:${c.port}/v1`);
  assert.ok(sum(fams, 'litellm_deployment_cooled_down_total', { model_id: 'flaky-0' }) >= 1);
  assert.equal(sum(fams, 'litellm_deployment_cooled_down_total', { model_id: 'alpha-1' }), 0);
  assert.equal(sum(fams, 'litellm_deployment_success_responses_total', { model_id: 'alpha-1' }), 9);
  assert.equal(sum(fams, 'litellm_deployment_success_responses_total', { model_id: 'flaky-1' }), 3);
  assert.equal(sum(fams, 'litellm_deployment_failure_responses_total', { model_id: 'broken-1', exception_status: '500' }), 2);
  const fb = samples(fams, 'litellm_deployment_successful_fallbacks_total');
  assert.equal(fb.length, 1, JSON.stringify(fb));
  assert.deepEqual([fb[0].labels.requested_model, fb[0].labels.fallback_model, fb[0].labels.model_id, fb[0].value],
    ['dead', 'alpha', 'alpha-1', 2]);

  // The key's remaining budget: LiteLLM's hashed_api_key is the SHA-256 hex of the key.
  const bud = samples(fams, 'litellm_remaining_api_key_budget_metric');
  assert.equal(bud.length, 1, JSON.stringify(bud));
  assert.equal(bud[0].labels.hashed_api_key, k.token);
  assert.equal(bud[0].labels.api_key_alias, 'budgeted');
  const spent = (await keySpend(s.url, k.key)) / 1e6;
  assert.ok(spent > 0);
  assert.ok(Math.abs(bud[0].value - (5 - spent)) < 2e-6, `remaining ${bud[0].value} = 5 - ${spent}`);

  // sluice's own latency histograms in seconds: LLM-scale buckets, and finer ones for overhead.
  const les = (name) => samples(fams, `${name}_bucket`, { deployment: 'alpha-1' }).map((x) => x.labels.le);
  assert.deepEqual(les('sluice_request_duration_seconds'),
    ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '30', '60', '120', '300', '+Inf']);
  assert.deepEqual(les('sluice_upstream_duration_seconds'), les('sluice_request_duration_seconds'));
  assert.deepEqual(les('sluice_overhead_seconds'),
    ['0.0001', '0.00025', '0.0005', '0.001', '0.0025', '0.005', '0.01', '0.025', '0.05', '0.1', '+Inf']);
  assert.equal(sum(fams, 'sluice_overhead_seconds_count', { deployment: 'alpha-1' }), 9);
  await s.stop?.();

  // Without the opt-in (absent or false): no litellm_* family at all, the sluice_* ones still there.
  for (const litellm of [undefined, false]) {
    const p = await startSluice({ yaml: config(a, c, { litellm }), workers: 1 });
    await chat(p.url, 'sk-test-master-fake', 'alpha');
    let g;
    await pollUntil(async () => {
      g = await scrape(p.url);
      return sum(g, 'sluice_request_duration_seconds_count') === 1;
    }, { timeoutMs: 10000, intervalMs: 50, what: 'the request counted' });
    const lite = [...g.keys()].filter((n) => n.startsWith('litellm_'));
    assert.deepEqual(lite, [], `no LiteLLM families without the opt-in (${litellm})`);
    assert.ok(g.get('sluice_overhead_seconds'), 'sluice_overhead_seconds is always there');
    await p.stop?.();
  }
});
