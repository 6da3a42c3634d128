// The dashboard at /ui in a real browser: Debian's chromium, headless, driven by
// playwright-core, against sluice in front of a mock (two groups, one deployment that
// cannot be reached). It checks what an operator and an attacker would see: before login
// only the login form and no API call; a wrong key stays on the form with a message; the
// right key shows the config's groups and deployments; a request made during the test
// reaches the live tail within 2 s; a screenshot is not blank (its PNG decoded here: chunks,
// IDAT inflated, rows unfiltered, colours counted); the CSP header is strict and no CSP
// violation is logged; no response the page received, nor its DOM, holds a deployment's
// api_key or the master key. Needs /usr/bin/chromium (test/install-deps installs it).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { chromium } from 'playwright-core';
import { startMock, startSluice, cleanup, toYaml, freePort, request, HOST } from './lib.mjs';

const CHROMIUM = '/usr/bin/chromium';
const MASTER = 'sk-master-dash-7f3c91e0b2';
const SECRETS = ['sk-dep-alpha-5d1e8a77c4', 'sk-dep-beta-90b2f6e13a', 'sk-dep-dead-c4f7a1d259'];

let browser = null;
after(async () => {
  if (browser) await browser.close().catch(() => {});
  await cleanup();
});

/** Decodes an 8-bit RGB/RGBA non-interlaced PNG into {width, height, channels, pixels}. */
function decodePng(buf) {
  assert.deepEqual([...buf.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10], 'PNG signature');
  let off = 8, ihdr = null;
  const idat = [];
  while (off < buf.length) {
    const len = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    const data = buf.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') ihdr = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), depth: data[8], ctype: data[9], interlace: data[12] };
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  assert.ok(ihdr, 'IHDR chunk');
  assert.equal(ihdr.depth, 8, 'bit depth');
  assert.equal(ihdr.interlace, 0, 'not interlaced');
  const channels = { 2: 3, 6: 4 }[ihdr.ctype];
  assert.ok(channels, `colour type ${ihdr.ctype}`);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = ihdr.width * channels;
  assert.equal(raw.length, ihdr.height * (stride + 1), 'inflated size');
  const px = Buffer.alloc(ihdr.height * stride);
  for (let y = 0; y < ihdr.height; y++) {
    const f = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = px.subarray(y * stride, (y + 1) * stride);
    const prev = y ? px.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? row[x - channels] : 0, b = prev[x], c = x >= channels ? prev[x - channels] : 0;
      let p;
      if (f === 0) p = 0;
      else if (f === 1) p = a;
      else if (f === 2) p = b;
      else if (f === 3) p = (a + b) >> 1;
      else if (f === 4) {
        const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`PNG filter ${f}`);
      row[x] = (src[x] + p) & 255;
    }
  }
  return { width: ihdr.width, height: ihdr.height, channels, pixels: px };
}

test('the dashboard in headless chromium: login, groups and deployments, live tail, no secrets', { timeout: 100000 }, async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: test/install-deps installs Debian's chromium`);
  const mock = await startMock();
  const deadPort = await freePort(); // nothing listens there: the deployment fails
  const price = { input_cost_per_token: 0.00001, output_cost_per_token: 0.00003 };
  const dep = (group, id, port, key) => ({
    model_name: group,
    litellm_params: { model: 'openai/mock-model', api_base: `http://${HOST}:${port}/v1`, api_key: key },
    model_info: { id, ...price },
  });
  const yaml = toYaml({
    model_list: [
      dep('dash-alpha', 'alpha-live', mock.port, SECRETS[0]),
      dep('dash-alpha', 'alpha-dead', deadPort, SECRETS[2]),
      dep('dash-beta', 'beta-live', mock.port, SECRETS[1]),
      { model_name: 'dash-router', litellm_params: { model: 'sluice_router/rules', default_model: 'dash-alpha',
        rules: [{ name: 'gold', if: { header: { 'x-tier': 'gold' } }, then: 'dash-beta' }] } },
    ],
    general_settings: { master_key: MASTER },
  });
  const sl = await startSluice({ yaml });
  const chat = (model, headers = {}) => fetch(`${sl.url}/v1/chat/completions`, {
    method: 'POST', headers: { Authorization: `Bearer ${MASTER}`, 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hello dashboard' }] }),
  });
  // traffic on dash-alpha, whose second deployment cannot be reached
  for (let i = 0; i < 4; i++) {
    const r = await chat('dash-alpha');
    const text = await r.text();
    assert.equal(r.status, 200, text);
  }

  // the assets themselves: CSP, nosniff, no-referrer, ETag -> 304
  const head = await request(`${sl.url}/ui`);
  assert.equal(head.status, 200);
  const csp = head.headers['content-security-policy'];
  for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"])
    assert.ok(csp && csp.includes(d), `CSP has ${d}: ${csp}`);
  assert.ok(!/unsafe-inline|unsafe-eval|https?:/.test(csp), `CSP is strict: ${csp}`);
  assert.equal(head.headers['x-content-type-options'], 'nosniff');
  assert.equal(head.headers['referrer-policy'], 'no-referrer');
  const again = await request(`${sl.url}/ui/app.js`, { headers: { 'if-none-match': (await request(`${sl.url}/ui/app.js`)).headers.etag } });
  assert.equal(again.status, 304, 'If-None-Match with the ETag answers 304');

  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const bodies = [], consoleLines = [], apiCalls = [], pageErrors = [];
  let mainCsp = null;
  page.on('console', (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('request', (r) => { if (new URL(r.url()).pathname !== '/ui' && !new URL(r.url()).pathname.startsWith('/ui/app.') && !r.url().endsWith('/favicon.ico')) apiCalls.push(r.url()); });
  const encodings = {};
  page.on('response', (r) => {
    if (new URL(r.url()).pathname === '/ui') mainCsp = r.headers()['content-security-policy'];
    if (new URL(r.url()).pathname.startsWith('/ui/app.')) encodings[new URL(r.url()).pathname] = r.headers()['content-encoding'];
    if (r.url().includes('/ui/api/stream')) return; // never ends: read separately below
    bodies.push(r.body().then((b) => ({ url: r.url(), text: b.toString('latin1') }), () => null));
  });

  // before login: the login form only, and nothing asked of the API
  await page.goto(`${sl.url}/ui`);
  await page.waitForSelector('#master-key');
  assert.equal(await page.isVisible('#login-form'), true);
  assert.equal(await page.isVisible('#app'), false);
  assert.equal(await page.$eval('#app', (e) => e.childElementCount), 0, 'nothing but the login form is rendered');
  assert.deepEqual(apiCalls, [], 'no API call before login');
  assert.equal(mainCsp, csp, 'the browser got the same CSP');
  assert.deepEqual(encodings, { '/ui/app.js': 'gzip', '/ui/app.css': 'gzip' }, 'the browser got the assets gzip\'d');

  // a wrong key: back to the form, with a message
  await page.fill('#master-key', 'sk-wrong-key');
  await page.click('#login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('login-msg').textContent.length > 0, null, { timeout: 5000 });
  assert.match(await page.textContent('#login-msg'), /wrong|refused/i);
  assert.equal(await page.isVisible('#app'), false, 'a wrong key sees no dashboard');
  assert.equal(await page.$eval('#app', (e) => e.childElementCount), 0);

  // the right key: the dashboard, with the config's groups and deployments
  await page.fill('#master-key', MASTER);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#app nav.tabs', { timeout: 5000 });
  assert.equal(await page.isVisible('#login'), false);
  await page.click('nav.tabs button[data-view=deployments]');
  await page.waitForFunction((names) => names.every((n) => document.getElementById('view').textContent.includes(n)),
    ['dash-alpha', 'dash-beta', 'alpha-live', 'alpha-dead', 'beta-live'], { timeout: 5000 });

  // a request made now reaches the live tail within 2 s
  await page.click('nav.tabs button[data-view=live]');
  await page.waitForSelector('#tail');
  const t0 = Date.now();
  const r = await chat('dash-router', { 'x-tier': 'gold' }); // routed to dash-beta
  assert.equal(r.status, 200, await r.clone().text());
  assert.equal(r.headers.get('x-sluice-router-target'), 'dash-beta');
  const rid = r.headers.get('x-request-id');
  assert.ok(rid, 'x-request-id');
  await r.text();
  await page.waitForFunction((id) => document.getElementById('tail')?.textContent.includes(id), rid, { timeout: 2000 });
  const elapsed = Date.now() - t0;
  assert.ok(elapsed < 2000, `the request reached the live tail in ${elapsed} ms`);
  assert.ok(await page.$('#tail svg.wf'), 'the request has a decision-trail waterfall');
  const trail = await page.$$eval('#tail tr', (rows, id) => rows.find((tr) => tr.textContent.includes(id))?.querySelector('svg.wf')?.textContent || '', rid);
  assert.match(trail, /router dash-router → dash-beta/, `the waterfall names the router's choice: ${trail}`);
  assert.match(trail, /beta-live ok/, `the waterfall shows the attempt: ${trail}`);

  // the other views render without errors (SLUICE_DASH_SHOTS=DIR: a screenshot of each, to look at)
  const shots = process.env.SLUICE_DASH_SHOTS;
  if (shots) await page.screenshot({ path: `${shots}/live.png`, fullPage: true });
  for (const v of ['deployments', 'routing', 'spend', 'cache', 'overview']) {
    await page.click(`nav.tabs button[data-view=${v}]`);
    await page.waitForFunction((name) => document.getElementById('view')?.dataset.view === name && document.getElementById('view').childElementCount > 0, v, { timeout: 3000 });
    if (shots) { await page.waitForTimeout(1200); await page.screenshot({ path: `${shots}/${v}.png`, fullPage: true }); }
  }
  await page.waitForSelector('.cards .card', { timeout: 3000 });
  await page.click('nav.tabs button[data-view=routing]');
  await page.waitForFunction(() => /router dash-router/.test(document.getElementById('view').textContent), null, { timeout: 3000 });
  await page.click('nav.tabs button[data-view=overview]');
  await page.waitForSelector('.cards .card', { timeout: 3000 });

  // a screenshot that is not blank
  const png = decodePng(await page.screenshot({ fullPage: false }));
  assert.equal(png.width, 1280);
  const colours = new Set();
  let nonBg = 0;
  const bg = png.pixels.readUIntBE(0, 3);
  for (let i = 0; i < png.pixels.length; i += png.channels) {
    const c = png.pixels.readUIntBE(i, 3);
    colours.add(c);
    if (c !== bg) nonBg++;
  }
  assert.ok(colours.size >= 8, `the screenshot has ${colours.size} colours`);
  assert.ok(nonBg > png.width * png.height * 0.01, `the screenshot has ${nonBg} non-background pixels`);

  // the live stream, read as the page reads it, for the secret check
  const ctl = new AbortController();
  const sr = await fetch(`${sl.url}/ui/api/stream`, { headers: { Authorization: `Bearer ${MASTER}` }, signal: ctl.signal });
  assert.equal(sr.status, 200);
  const reader = sr.body.getReader();
  let streamText = '';
  const reading = (async () => { try { for (;;) { const { value, done } = await reader.read(); if (done) break; streamText += Buffer.from(value).toString('latin1'); } } catch {} })();
  const r2 = await chat('dash-alpha');
  const rid2 = r2.headers.get('x-request-id');
  await r2.text();
  const until = Date.now() + 3000;
  while (!streamText.includes(rid2) && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
  ctl.abort();
  await reading;
  assert.ok(streamText.includes(rid2), 'the stream carried the request');

  // no secret ever reached the page
  const got = (await Promise.all(bodies)).filter(Boolean);
  for (const ep of ['overview', 'deployments', 'requests', 'routing', 'spend', 'keys', 'cache', 'config'])
    assert.ok(got.some((b) => new URL(b.url).pathname === `/ui/api/${ep}`), `the page read /ui/api/${ep}`);
  assert.ok(got.some((b) => b.text.includes('"api_key":"***"')), 'the config the page read has its api_keys redacted');
  const dom = await page.evaluate(() => document.documentElement.outerHTML + '\n' + document.body.innerText + '\n' +
    [...document.querySelectorAll('input')].map((i) => i.value).join('\n'));
  for (const s of [...SECRETS, MASTER]) {
    for (const b of got) assert.ok(!b.text.includes(s), `${b.url} holds a secret`);
    assert.ok(!streamText.includes(s), 'the stream holds a secret');
    assert.ok(!dom.includes(s), 'the DOM holds a secret');
  }
  const cspErrors = consoleLines.filter((l) => /Content Security Policy|Refused to/i.test(l));
  assert.deepEqual(cspErrors, [], 'no CSP violation');
  assert.deepEqual(pageErrors, [], 'no page error');

  // logging out forgets the key: the form again, no dashboard
  await page.click('header.top button:has-text("Log out")');
  assert.equal(await page.isVisible('#login-form'), true);
  assert.equal(await page.$eval('#app', (e) => e.childElementCount), 0);
});
