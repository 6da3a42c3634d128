// #15: does an online router follow a shift in the models' quality? A simulation over real
// processes on loopback: sluice (2 workers) and two sluice-mock providers ("strong" and
// "weak"), and two learned routers with the same threshold in front of them: `online`
// (learning: online, an exploration budget) and `frozen` (learning: online, frozen: true:
// it records outcomes but never changes). Prompts come from four topics (fixed templates
// and vocabularies); whether an answer is right is decided by the simulation from (model,
// topic, phase) with a fixed seed, and sent as POST /v1/feedback {score: 1 | 0} (what a
// user's rating would say: it teaches only about weak answers). Mid-run the weak model
// becomes good at `code`. Printed: per phase and router, the strong share, quality
// (answers right), explorations, and the strong share per topic.
//
// Run (from the repo, after `meson compile -C build`):
//   SLUICE_BIN=build/sluice SLUICE_MOCK_BIN=build/bench/mock/sluice-mock \
//     node bench/learn/learn_sim.mjs [--per-phase 600] [--seed 1] [--rate 60]
// Bounded: 2 x per-phase requests per router, at --rate requests/s (paced, so the
// workers' once-a-second refresh of the learned state sees the outcomes as they come).
import path from 'node:path';
import { startMock, startSluice, cleanup, post, toYaml, HOST, stopAll } from '../../test/integration/lib.mjs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const PER_PHASE = arg('per-phase', 600);
const SEED = arg('seed', 1);
const RATE = arg('rate', 60);
const MASTER = 'sk-sim-master';

// P(right) per model, topic and phase (phase 2: weak becomes good at code)
const QUALITY = {
  strong: { math: [0.92, 0.92], code: [0.92, 0.92], history: [0.92, 0.92], cooking: [0.92, 0.92] },
  weak: { math: [0.3, 0.3], code: [0.3, 0.9], history: [0.85, 0.85], cooking: [0.9, 0.9] },
};
const TOPICS = {
  math: ['Prove that the integral of', 'Solve the equation', 'Find the derivative of', 'Show the theorem about'],
  code: ['Write a Python function that', 'Fix the bug in this JavaScript loop that', 'Refactor the C code that', 'Explain the compiler error when'],
  history: ['Summarize the fall of the empire of', 'Which century did the war of', 'Describe the treaty that ended', 'Who ruled the kingdom of'],
  cooking: ['Give a recipe to bake bread with', 'How long should I roast', 'What spices go with', 'How do I make a sauce from'],
};
const TAILS = {
  math: ['x squared plus one', 'a polynomial of degree three', 'prime numbers and their sums', 'a matrix determinant'],
  code: ['parses a CSV file', 'sorts a list of integers', 'reads lines from a socket', 'counts words in a string'],
  history: ['Rome and Carthage', 'the Ottoman sultans', 'the Hundred Years', 'the Tang dynasty'],
  cooking: ['rye flour and honey', 'a chicken and potatoes', 'lentils and carrots', 'fresh tomatoes and basil'],
};
const NAMES = Object.keys(TOPICS);

// xorshift64*, fixed seed: the prompts and the verdicts repeat run to run
let st = BigInt(SEED) * 0x9e3779b97f4a7c15n & 0xffffffffffffffffn || 1n;
function rnd() {
  st ^= st >> 12n; st ^= (st << 25n) & 0xffffffffffffffffn; st ^= st >> 27n;
  return Number(((st * 0x2545f4914f6cdd1dn) & 0xffffffffffffffffn) >> 11n) / 2 ** 53;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];

function config(strong, weak, thr) {
  const dep = (name, port, price) => ({
    model_name: name,
    litellm_params: { model: 'openai/mock-model', api_base: `http://${HOST}:${port}/v1`, api_key: 'sk-mock' },
    model_info: price,
  });
  const R = (name, p) => ({ model_name: name, litellm_params: { model: 'sluice_router/learned', strong_model: 'strong', weak_model: 'weak', threshold: thr, ...p } });
  return toYaml({
    model_list: [
      dep('strong', strong.port, { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 }),
      dep('weak', weak.port, { input_cost_per_token: 0.000001, output_cost_per_token: 0.000002 }),
      R('online', { learning: 'online', exploration_budget_usd_per_day: 0.5, max_shift_per_hour: 2, evidence_half_life: '10s' }),
      R('frozen', { learning: 'online', frozen: true }),
      R('probe', {}),
    ],
    general_settings: { master_key: MASTER },
  });
}

const H = { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' };
async function chat(url, model, content) {
  const r = await post(`${url}/v1/chat/completions`, JSON.stringify({ model, max_tokens: 16, messages: [{ role: 'user', content }] }), H);
  if (r.status !== 200) throw new Error(`chat ${r.status}: ${r.text}`);
  return r.headers;
}

async function main() {
  const strong = await startMock(['--tokens', '5']);
  const weak = await startMock(['--tokens', '5']);
  // the threshold: the median score of a sample of the prompts (half strong before learning)
  let s = await startSluice({ yaml: config(strong, weak, 0), workers: 2 });
  const scores = [];
  for (let i = 0; i < 80; i++) {
    const t = NAMES[i % 4];
    scores.push(Number((await chat(s.url, 'probe', `${pick(TOPICS[t])} ${pick(TAILS[t])}?`))['x-sluice-router-score']));
  }
  await stopAll(s);
  scores.sort((a, b) => a - b);
  const thr = scores[40];
  s = await startSluice({ yaml: config(strong, weak, thr), workers: 2 });

  const rows = [];
  const gap = 1000 / RATE;
  for (const phase of [0, 1]) {
    const stats = {};
    const blank = () => ({ n: 0, strong: 0, right: 0, explore: 0, byTopic: Object.fromEntries(NAMES.map((t) => [t, [0, 0]])) });
    for (const r of ['online', 'frozen']) stats[r] = blank(), stats[`${r} (2nd half)`] = blank();
    const t0 = Date.now();
    for (let i = 0; i < PER_PHASE; i++) {
      const topic = pick(NAMES);
      const prompt = `${pick(TOPICS[topic])} ${pick(TAILS[topic])}?`;
      const u = rnd(); // one draw per prompt: both routers' answers judged with it
      await Promise.all(['online', 'frozen'].map(async (r) => {
        const h = await chat(s.url, r, prompt);
        const target = h['x-sluice-router-target'];
        const right = u < QUALITY[target][topic][phase];
        for (const x of i >= PER_PHASE / 2 ? [stats[r], stats[`${r} (2nd half)`]] : [stats[r]]) {
          x.n++; x.strong += target === 'strong'; x.right += right;
          x.explore += h['x-sluice-router-reason'] === 'explore';
          x.byTopic[topic][0]++; x.byTopic[topic][1] += target === 'strong';
        }
        const f = await post(`${s.url}/v1/feedback`, JSON.stringify({ request_id: h['x-request-id'], score: right ? 1 : 0 }), H);
        if (f.status !== 200) throw new Error(`feedback ${f.status}: ${f.text}`);
      }));
      const wait = t0 + (i + 1) * gap - Date.now();
      if (wait > 0) await new Promise((res) => setTimeout(res, wait));
    }
    for (const r of Object.keys(stats)) {
      const x = stats[r];
      rows.push({ phase: phase + 1, router: r, n: x.n, strong: x.strong / x.n, quality: x.right / x.n, explore: x.explore,
        topics: Object.fromEntries(NAMES.map((t) => [t, x.byTopic[t][1] / Math.max(1, x.byTopic[t][0])])) });
    }
  }
  await stopAll(s, strong, weak);
  // the best possible per phase: strong only where weak is worse
  const best = [0, 1].map((p) => NAMES.reduce((a, t) => a + Math.max(QUALITY.weak[t][p], QUALITY.strong[t][p]), 0) / 4);
  console.log(`threshold ${thr.toFixed(4)}, ${PER_PHASE} prompts per phase, seed ${SEED}, ${RATE}/s; best possible quality: phase 1 ${best[0].toFixed(3)}, phase 2 ${best[1].toFixed(3)}`);
  console.log('| phase | router | strong share | quality | explorations | strong share: math / code / history / cooking |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.phase} | ${r.router} | ${(100 * r.strong).toFixed(1)}% | ${(100 * r.quality).toFixed(1)}% | ${r.explore} | ${NAMES.map((t) => (100 * r.topics[t]).toFixed(0) + '%').join(' / ')} |`);
}

main().then(() => cleanup()).catch(async (e) => { console.error(e); await cleanup(); process.exit(1); });
