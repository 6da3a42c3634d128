// sluice dashboard: plain JavaScript, no framework, no build step, no CDN. The one idea: the
// master key lives in the variable `masterKey` of this closure only (never localStorage,
// sessionStorage, cookies or the URL); every call is fetch() with `Authorization: Bearer`,
// the live stream too (fetch + a ReadableStream parsed as server-sent events: EventSource
// cannot send the header). The DOM is built with textContent and SVG elements, never HTML
// strings, so no value from the server can become markup. To add a view: a function in
// VIEWS that fills its element and returns an optional refresh function.
'use strict';
(() => {
  const API = {
    overview: '/ui/api/overview',
    deployments: '/ui/api/deployments',
    requests: '/ui/api/requests',
    routing: '/ui/api/routing',
    spend: '/ui/api/spend',
    config: '/ui/api/config',
    stream: '/ui/api/stream',
  };
  let masterKey = null; // the only copy of the key: in memory
  let streamAbort = null;
  let timer = null;
  let current = 'overview';
  const tail = []; // recent requests, newest first
  const TAIL_MAX = 200;
  const history = {}; // metric name -> last 60 values, for the sparklines
  let tailRender = null; // set while the Live requests view is shown
  let lastOverview = null;

  const $ = (id) => document.getElementById(id);
  const SVGNS = 'http://www.w3.org/2000/svg';

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of kids.flat()) if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    for (const c of kids.flat()) if (c) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }
  const num = (v, d = 0) => (typeof v === 'number' && isFinite(v) ? v.toFixed(d) : '–');
  const ms = (v) => (typeof v === 'number' && isFinite(v) ? (v >= 1000 ? (v / 1000).toFixed(2) + ' s' : v.toFixed(0) + ' ms') : '–');
  const usd = (v) => (typeof v === 'number' && isFinite(v) ? '$' + (v >= 100 ? v.toFixed(0) : v >= 1 ? v.toFixed(2) : v.toFixed(4)) : '–');
  const pct = (v) => (typeof v === 'number' && isFinite(v) ? (v * 100).toFixed(1) + ' %' : '–');
  const pick = (o, ...names) => { for (const n of names) if (o && o[n] !== undefined && o[n] !== null) return o[n]; return undefined; };
  const asList = (v) => (Array.isArray(v) ? v : v && typeof v === 'object' ? Object.entries(v).map(([name, x]) => (x && typeof x === 'object' ? { name, ...x } : { name, value: x })) : []);
  function when(t) {
    if (t === undefined || t === null || t === '') return '–';
    const d = typeof t === 'number' ? new Date(t < 1e12 ? t * 1000 : t) : new Date(t);
    return isNaN(d) ? String(t) : d.toLocaleString();
  }
  function pill(text, kind) { return el('span', { class: 'pill ' + kind }, text); }
  function table(cols, rows) {
    return el('table', null, el('thead', null, el('tr', null, cols.map((c) => el('th', null, c[0])))),
      el('tbody', null, rows.map((r) => el('tr', null, cols.map((c) => {
        const v = c[1](r);
        return el('td', { class: c[2] === 'num' ? 'num' : null }, v instanceof Node ? v : v === undefined ? '–' : String(v));
      })))));
  }

  // ---------------------------------------------------------------- charts (SVG by hand)
  function sparkline(values, w = 160, h = 30, color = 'var(--acc)') {
    const s = svg('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' });
    const v = values.filter((x) => typeof x === 'number' && isFinite(x));
    if (v.length < 2) return s;
    const max = Math.max(...v), min = Math.min(0, ...v), span = max - min || 1;
    const pts = v.map((x, i) => `${((i / (v.length - 1)) * w).toFixed(1)},${(h - 2 - ((x - min) / span) * (h - 4)).toFixed(1)}`);
    s.append(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 1.5 }));
    return s;
  }
  function hbar(frac, color = 'var(--acc)') {
    const f = Math.max(0, Math.min(1, frac || 0));
    const s = svg('svg', { width: 120, height: 8, 'aria-hidden': 'true' });
    s.append(svg('rect', { x: 0, y: 0, width: 120, height: 8, rx: 4, fill: '#222c35' }));
    s.append(svg('rect', { x: 0, y: 0, width: (120 * f).toFixed(1), height: 8, rx: 4, fill: f > 0.9 ? 'var(--bad)' : f > 0.7 ? 'var(--warn)' : color }));
    return s;
  }
  function push(name, v) {
    const h = (history[name] = history[name] || []);
    h.push(v);
    if (h.length > 60) h.shift();
    return h;
  }
  // A request's decision trail as a small waterfall: one row per step (router, cache, each
  // attempt, hedge, fallback), a bar from its start to its end on the request's time axis.
  function waterfall(r) {
    const steps = [];
    const total = Math.max(1, Number(pick(r, 'latency_ms', 'duration_ms', 'total_ms')) || 1);
    const rt = pick(r, 'router');
    if (rt) {
      const name = typeof rt === 'object' ? pick(rt, 'name') : rt;
      const target = typeof rt === 'object' ? pick(rt, 'target', 'choice') : pick(r, 'router_target');
      const score = typeof rt === 'object' ? pick(rt, 'score') : pick(r, 'router_score');
      steps.push({ label: `router ${name || ''} → ${target || '?'}${typeof score === 'number' ? ' (' + score.toFixed(3) + ')' : ''}`, s: 0, e: 0, color: 'var(--acc2)' });
    }
    const cache = pick(r, 'cache');
    if (cache && cache !== 'none') steps.push({ label: 'cache ' + cache, s: 0, e: 0, color: cache === 'hit' || cache === 'semantic' ? 'var(--ok)' : 'var(--dim)' });
    for (const a of pick(r, 'attempts') || []) {
      const s = Number(pick(a, 'start_ms', 'at_ms', 'offset_ms')) || 0;
      const d = Number(pick(a, 'ms', 'duration_ms', 'latency_ms')) || 0;
      const oc = String(pick(a, 'outcome', 'status') || '');
      const kind = pick(a, 'hedge') ? 'hedge ' : pick(a, 'fallback') ? 'fallback ' : '';
      steps.push({ label: `${kind}${pick(a, 'deployment', 'dep') || '?'} ${oc} ${ms(d)}`, s, e: s + d, color: /^(ok|success|won|200)$/.test(oc) ? 'var(--ok)' : /cancel|lost/.test(oc) ? 'var(--dim)' : 'var(--bad)' });
    }
    const fb = pick(r, 'fallback');
    if (fb) steps.push({ label: 'fallback → ' + fb, s: 0, e: 0, color: 'var(--warn)' });
    const ov = pick(r, 'overhead_ms');
    if (typeof ov === 'number') steps.push({ label: 'overhead ' + ms(ov), s: total - ov, e: total, color: 'var(--dim)' });
    const W = 420, L = 210, rowh = 14;
    const s = svg('svg', { class: 'wf', width: W, height: Math.max(1, steps.length) * rowh + 2, role: 'img' });
    s.append(svg('title', null, 'decision trail'));
    steps.forEach((st, i) => {
      const y = i * rowh + 1;
      s.append(svg('text', { x: 0, y: y + 10 }, st.label.length > 34 ? st.label.slice(0, 33) + '…' : st.label));
      const x0 = L + ((W - L) * Math.min(st.s, total)) / total;
      const x1 = Math.max(x0 + 3, L + ((W - L) * Math.min(st.e, total)) / total);
      s.append(svg('rect', { x: x0.toFixed(1), y: y + 2, width: (x1 - x0).toFixed(1), height: rowh - 5, rx: 2, fill: st.color }));
    });
    return s;
  }

  // ---------------------------------------------------------------- API
  class AuthError extends Error {}
  async function api(path, opts = {}) {
    if (masterKey === null) throw new AuthError('not logged in');
    const headers = { Authorization: 'Bearer ' + masterKey };
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(path, { method: opts.method || 'GET', headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body), cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' });
    if (r.status === 401 || r.status === 403) throw new AuthError('The master key was refused.');
    const text = await r.text();
    let j = null;
    try { j = text ? JSON.parse(text) : null; } catch { j = null; }
    if (!r.ok) {
      const m = (j && j.error && (j.error.message || j.error)) || text || r.statusText;
      throw new Error(`${r.status}: ${m}`);
    }
    return j;
  }
  function guarded(p) {
    return p.catch((e) => {
      if (e instanceof AuthError) logout(e.message);
      else throw e;
    });
  }

  // The live stream: fetch + ReadableStream, parsed as server-sent events.
  async function openStream() {
    if (streamAbort) streamAbort.abort();
    const ctl = new AbortController();
    streamAbort = ctl;
    const status = $('live-status');
    try {
      const r = await fetch(API.stream, { headers: { Authorization: 'Bearer ' + masterKey, Accept: 'text/event-stream' }, signal: ctl.signal, cache: 'no-store', credentials: 'omit' });
      if (r.status === 401 || r.status === 403) return logout('The master key was refused.');
      if (!r.ok || !r.body) throw new Error('stream ' + r.status);
      if (status) { status.textContent = 'live'; status.classList.add('live'); }
      const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.search(/\r?\n\r?\n/)) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + (buf[i] === '\r' ? 4 : 2));
          let ev = 'message';
          const data = [];
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith(':')) continue;
            const c = line.indexOf(':');
            const f = c < 0 ? line : line.slice(0, c);
            let v = c < 0 ? '' : line.slice(c + 1);
            if (v.startsWith(' ')) v = v.slice(1);
            if (f === 'event') ev = v;
            else if (f === 'data') data.push(v);
          }
          if (data.length) onEvent(ev, data.join('\n'));
        }
      }
    } catch (e) {
      if (ctl.signal.aborted) return;
    }
    if (status) { status.textContent = 'reconnecting'; status.classList.remove('live'); }
    if (streamAbort === ctl && masterKey !== null) setTimeout(() => { if (streamAbort === ctl && masterKey !== null) openStream(); }, 1000);
  }
  function onEvent(ev, data) {
    let j;
    try { j = JSON.parse(data); } catch { return; }
    if (ev === 'request' || (ev === 'message' && j && j.request_id !== undefined)) addRequest(j);
    else if (ev === 'stats' || ev === 'overview') { lastOverview = j; if (current === 'overview') renderOverviewData(j); }
    else if (Array.isArray(j.requests)) j.requests.forEach(addRequest);
  }
  function addRequest(r) {
    if (!r || typeof r !== 'object') return;
    const id = pick(r, 'id', 'request_id');
    if (id !== undefined && tail.some((x) => pick(x, 'id', 'request_id') === id)) return;
    tail.unshift(r);
    if (tail.length > TAIL_MAX) tail.pop();
    if (tailRender) tailRender();
  }

  // ---------------------------------------------------------------- views
  function card(name, value, hist) {
    return el('div', { class: 'card' }, el('div', { class: 'k' }, name), el('div', { class: 'v' }, value), hist ? sparkline(hist) : null);
  }
  let overviewEl = null;
  function renderOverviewData(o) {
    if (!overviewEl || !o) return;
    const lat = pick(o, 'latency_ms', 'latency') || {};
    const ttft = pick(o, 'ttft_ms', 'ttft') || {};
    const cards = [
      ['requests/s', num(pick(o, 'rps', 'requests_per_s'), 1), push('rps', pick(o, 'rps', 'requests_per_s'))],
      ['error %', pct(pick(o, 'error_rate', 'errors_frac')), push('err', pick(o, 'error_rate', 'errors_frac'))],
      ['latency p50', ms(lat.p50), push('p50', lat.p50)],
      ['latency p95', ms(lat.p95), push('p95', lat.p95)],
      ['latency p99', ms(lat.p99), push('p99', lat.p99)],
      ['TTFT p50', ms(ttft.p50), push('t50', ttft.p50)],
      ['TTFT p95', ms(ttft.p95), push('t95', ttft.p95)],
      ['TTFT p99', ms(ttft.p99), push('t99', ttft.p99)],
      ['tokens/s', num(pick(o, 'tokens_per_s', 'tps'), 1), push('tps', pick(o, 'tokens_per_s', 'tps'))],
      ['$ / hour', usd(pick(o, 'usd_per_hour', 'spend_per_hour')), push('usd', pick(o, 'usd_per_hour', 'spend_per_hour'))],
      ['cache hit %', pct(pick(o, 'cache_hit_rate', 'cache_hit_frac')), push('chr', pick(o, 'cache_hit_rate', 'cache_hit_frac'))],
      ['in flight', num(pick(o, 'in_flight', 'inflight')), push('inf', pick(o, 'in_flight', 'inflight'))],
    ];
    const groups = asList(pick(o, 'groups'));
    overviewEl.replaceChildren(
      el('div', { class: 'cards' }, cards.map((c) => card(...c))),
      el('h2', null, 'Per group'),
      table([
        ['group', (g) => pick(g, 'name', 'group')],
        ['req/s', (g) => num(pick(g, 'rps', 'requests_per_s'), 1), 'num'],
        ['error %', (g) => pct(pick(g, 'error_rate')), 'num'],
        ['p50', (g) => ms((pick(g, 'latency_ms') || {}).p50), 'num'],
        ['p95', (g) => ms((pick(g, 'latency_ms') || {}).p95), 'num'],
        ['TTFT p50', (g) => ms((pick(g, 'ttft_ms') || {}).p50), 'num'],
        ['tokens/s', (g) => num(pick(g, 'tokens_per_s'), 1), 'num'],
        ['$ / hour', (g) => usd(pick(g, 'usd_per_hour')), 'num'],
        ['in flight', (g) => num(pick(g, 'in_flight')), 'num'],
      ], groups));
  }
  const VIEWS = {
    overview: {
      title: 'Overview',
      show(root) {
        overviewEl = el('div');
        root.append(overviewEl);
        if (lastOverview) renderOverviewData(lastOverview);
        const f = () => guarded(api(API.overview).then((o) => { lastOverview = o; renderOverviewData(o); }));
        f();
        return f;
      },
    },
    deployments: {
      title: 'Deployments',
      show(root) {
        const box = el('div');
        root.append(box);
        const f = () => guarded(api(API.deployments).then((d) => {
          const deps = asList(pick(d, 'deployments') || d);
          box.replaceChildren(table([
            ['group', (x) => pick(x, 'group', 'model_name')],
            ['deployment', (x) => pick(x, 'id', 'name', 'deployment')],
            ['state', (x) => {
              const st = String(pick(x, 'state', 'status') || 'healthy');
              const left = pick(x, 'cooldown_left_s', 'cooldown_remaining_s');
              return pill(st + (st.startsWith('cool') && typeof left === 'number' ? ` (${left.toFixed(0)} s left)` : ''), st === 'healthy' ? 'ok' : st.startsWith('prob') ? 'warn' : 'bad');
            }],
            ['EWMA latency', (x) => ms(pick(x, 'ewma_latency_ms', 'latency_ms')), 'num'],
            ['EWMA TTFT', (x) => ms(pick(x, 'ewma_ttft_ms', 'ttft_ms')), 'num'],
            ['rpm', (x) => limitCell(pick(x, 'rpm'), pick(x, 'rpm_limit'))],
            ['tpm', (x) => limitCell(pick(x, 'tpm'), pick(x, 'tpm_limit'))],
            ['last error', (x) => { const e = pick(x, 'last_error'); return e ? el('span', { class: 'err' }, typeof e === 'object' ? `${pick(e, 'code', 'type') || ''} ${pick(e, 'message') || ''} ${e.at ? when(e.at) : ''}` : String(e)) : '–'; }],
          ], deps));
        }));
        f();
        return f;
      },
    },
    live: {
      title: 'Live requests',
      show(root) {
        const fg = el('input', { placeholder: 'group', size: 12, 'aria-label': 'filter by group' });
        const fk = el('input', { placeholder: 'key', size: 12, 'aria-label': 'filter by key' });
        const fs = el('select', { 'aria-label': 'filter by status' }, el('option', { value: '' }, 'any status'), el('option', { value: 'ok' }, '2xx'), el('option', { value: 'err' }, 'errors'));
        const box = el('div', { id: 'tail' });
        const render = () => {
          const g = fg.value.trim(), k = fk.value.trim(), s = fs.value;
          const rows = tail.filter((r) => {
            const st = Number(pick(r, 'status')) || 0;
            if (g && !String(pick(r, 'group', 'model') || '').includes(g)) return false;
            if (k && !String(pick(r, 'key', 'key_alias', 'key_name') || '').includes(k)) return false;
            if (s === 'ok' && !(st >= 200 && st < 300)) return false;
            if (s === 'err' && st >= 200 && st < 400) return false;
            return true;
          }).slice(0, 100);
          box.replaceChildren(table([
            ['time', (r) => when(pick(r, 'ts', 'time', 'start'))],
            ['request id', (r) => pick(r, 'id', 'request_id')],
            ['group', (r) => pick(r, 'group', 'model')],
            ['key', (r) => pick(r, 'key_alias', 'key_name', 'key')],
            ['status', (r) => { const st = Number(pick(r, 'status')) || 0; return pill(String(st || '?'), st >= 200 && st < 300 ? 'ok' : st >= 500 ? 'bad' : 'warn'); }],
            ['latency', (r) => ms(pick(r, 'latency_ms', 'duration_ms')), 'num'],
            ['cost', (r) => usd(pick(r, 'cost_usd', 'cost')), 'num'],
            ['decision trail', (r) => waterfall(r)],
          ], rows));
        };
        for (const c of [fg, fk]) c.addEventListener('input', render);
        fs.addEventListener('change', render);
        root.append(el('div', { class: 'filters' }, fg, fk, fs), box);
        tailRender = render;
        guarded(api(API.requests).then((d) => { asList(pick(d, 'requests') || d).reverse().forEach(addRequest); render(); }));
        render();
        return null;
      },
      hide() { tailRender = null; },
    },
    routing: {
      title: 'Routing and savings',
      show(root) {
        const box = el('div');
        root.append(box);
        const f = () => guarded(api(API.routing).then((d) => {
          const routers = asList(pick(d, 'routers') || d);
          if (!routers.length) return box.replaceChildren(el('p', { class: 'muted' }, 'No router is configured.'));
          box.replaceChildren(...routers.map((rt) => {
            const targets = asList(pick(rt, 'targets', 'share'));
            const tot = targets.reduce((a, t) => a + (Number(pick(t, 'requests', 'count', 'value')) || 0), 0) || 1;
            const spend = Number(pick(rt, 'spend_usd', 'spend')) || 0;
            const strong = Number(pick(rt, 'strongest_usd', 'always_strongest_usd')) || 0;
            const parts = [el('h2', null, 'router ' + (pick(rt, 'name') || '')),
              table([
                ['target', (t) => pick(t, 'name', 'target')],
                ['requests', (t) => num(Number(pick(t, 'requests', 'count', 'value'))), 'num'],
                ['share', (t) => { const fr = (Number(pick(t, 'requests', 'count', 'value')) || 0) / tot; return el('span', null, hbar(fr), ' ', pct(fr)); }],
                ['spend', (t) => usd(pick(t, 'spend_usd', 'spend')), 'num'],
              ], targets),
              el('p', null, `spend ${usd(spend)} vs always-strongest ${usd(strong)}`, strong > 0 ? ` — saved ${pct(1 - spend / strong)}` : '')];
            const curve = asList(pick(rt, 'eval_curve', 'curve'));
            if (curve.length > 1) parts.push(evalCurve(curve));
            return el('div', null, parts);
          }));
        }));
        f();
        return f;
      },
    },
    spend: {
      title: 'Spend and keys',
      show(root) {
        const box = el('div'), keys = el('div'), msg = el('p', { class: 'err' });
        const alias = el('input', { placeholder: 'new key alias', 'aria-label': 'new key alias' });
        const created = el('p');
        const create = el('button', { onclick: () => guarded(api('/key/generate', { method: 'POST', body: alias.value ? { key_alias: alias.value } : {} }).then((k) => {
          // the new key is shown once, to the operator who created it
          created.replaceChildren('created: ', el('code', null, pick(k, 'key') || '?'));
          f();
        }).catch((e) => { msg.textContent = e.message; })) }, 'Create key');
        root.append(box, el('h2', null, 'Keys'), el('div', { class: 'row' }, alias, create), created, msg, keys);
        const act = (path, body) => guarded(api(path, { method: 'POST', body }).then(f).catch((e) => { msg.textContent = e.message; }));
        const f = () => Promise.all([
          guarded(api(API.spend).then((d) => {
            const sec = (name, list) => [el('h2', null, name), table([
              ['', (x) => pick(x, 'name', 'key', 'group', 'day', 'date')],
              ['spend', (x) => usd(pick(x, 'spend_usd', 'spend', 'value')), 'num'],
              ['', (x) => hbar((Number(pick(x, 'spend_usd', 'spend', 'value')) || 0) / Math.max(1e-9, ...list.map((y) => Number(pick(y, 'spend_usd', 'spend', 'value')) || 0)))],
            ], list)];
            const budgets = asList(pick(d, 'budgets'));
            box.replaceChildren(
              ...sec('Spend per key', asList(pick(d, 'by_key', 'keys'))),
              ...sec('Spend per group', asList(pick(d, 'by_group', 'groups'))),
              ...sec('Spend per day', asList(pick(d, 'by_day', 'days'))),
              el('h2', null, 'Budgets'),
              table([
                ['budget', (b) => pick(b, 'name', 'key', 'scope')],
                ['spent', (b) => usd(pick(b, 'spend_usd', 'spend')), 'num'],
                ['max', (b) => usd(pick(b, 'max_budget', 'limit_usd')), 'num'],
                ['burn-down', (b) => hbar((Number(pick(b, 'spend_usd', 'spend')) || 0) / (Number(pick(b, 'max_budget', 'limit_usd')) || Infinity))],
                ['resets', (b) => when(pick(b, 'reset_at', 'budget_reset_at'))],
              ], budgets));
          })),
          guarded(api('/key/list?return_full_object=true').then((d) => {
            const list = asList(pick(d, 'keys', 'data') || d).filter((k) => typeof k === 'object');
            keys.replaceChildren(table([
              ['alias', (k) => pick(k, 'key_alias', 'key_name')],
              ['key', (k) => pick(k, 'key_name', 'token')],
              ['spend', (k) => usd(pick(k, 'spend')), 'num'],
              ['budget', (k) => usd(pick(k, 'max_budget')), 'num'],
              ['rpm / tpm', (k) => `${pick(k, 'rpm_used', 'rpm_current') ?? '–'}/${pick(k, 'rpm_limit') ?? '∞'} · ${pick(k, 'tpm_used', 'tpm_current') ?? '–'}/${pick(k, 'tpm_limit') ?? '∞'}`],
              ['expires', (k) => when(pick(k, 'expires'))],
              ['state', (k) => (pick(k, 'blocked') ? pill('blocked', 'bad') : pill('active', 'ok'))],
              ['', (k) => {
                const id = pick(k, 'token', 'key');
                return el('span', null,
                  el('button', { onclick: () => act(pick(k, 'blocked') ? '/key/unblock' : '/key/block', { key: id }) }, pick(k, 'blocked') ? 'Unblock' : 'Block'), ' ',
                  el('button', { onclick: () => { if (confirm('Delete this key?')) act('/key/delete', { keys: [id] }); } }, 'Delete'));
              }],
            ], list));
          })),
        ]);
        f();
        return f;
      },
    },
    cache: {
      title: 'Cache and config',
      show(root) {
        const stats = el('div'), cfg = el('div'), msg = el('p');
        const flush = el('button', { onclick: () => { if (confirm('Flush the cache?')) guarded(api('/cache', { method: 'DELETE' }).then((r) => { msg.className = ''; msg.textContent = 'cache: ' + (pick(r, 'status') || 'flushed'); f(); }).catch((e) => { msg.className = 'err'; msg.textContent = e.message; })); } }, 'Flush cache');
        const reload = el('button', { onclick: () => guarded(api('/config/reload', { method: 'POST', body: {} }).then((r) => { msg.className = ''; msg.textContent = 'reloaded' + (pick(r, 'generation') !== undefined ? ': generation ' + pick(r, 'generation') : ''); f(); }).catch((e) => { msg.className = 'err'; msg.textContent = e.message; })) }, 'Reload config');
        root.append(el('div', { class: 'row' }, flush, reload), msg, el('h2', null, 'Cache'), stats, el('h2', null, 'Config'), cfg);
        const f = () => Promise.all([
          guarded(api('/cache/stats').then((d) => stats.replaceChildren(table([['', (x) => x.name], ['', (x) => (typeof x.value === 'object' ? JSON.stringify(x.value) : x.value), 'num']], asList(d))))),
          guarded(api(API.config).then((d) => {
            const ign = asList(pick(d, 'ignored', 'ignored_keys'));
            const c = pick(d, 'config', 'effective');
            cfg.replaceChildren(
              el('p', null, 'generation ', String(pick(d, 'generation') ?? '–'), pick(d, 'path') ? ' · ' + pick(d, 'path') : ''),
              pick(d, 'last_error') ? el('p', { class: 'err' }, 'last reload: ' + pick(d, 'last_error')) : '',
              ign.length ? el('p', null, 'ignored keys: ' + ign.map((x) => (typeof x === 'object' ? pick(x, 'key', 'name', 'value') : x)).join(', ')) : '',
              el('pre', null, typeof c === 'string' ? c : JSON.stringify(c ?? d, null, 2)));
          })),
        ]);
        f();
        return null;
      },
    },
  };
  function limitCell(used, limit) {
    if (used === undefined && limit === undefined) return '–';
    return el('span', null, `${used ?? 0}${limit ? ' / ' + limit : ''} `, limit ? hbar((Number(used) || 0) / Number(limit)) : '');
  }
  function evalCurve(points) {
    const W = 320, H = 160, P = 28;
    const xs = points.map((p) => Number(pick(p, 'cost', 'x')) || 0), ys = points.map((p) => Number(pick(p, 'quality', 'y')) || 0);
    const x0 = Math.min(...xs), x1 = Math.max(...xs) || 1, y0 = Math.min(...ys), y1 = Math.max(...ys) || 1;
    const X = (v) => P + ((v - x0) / (x1 - x0 || 1)) * (W - 2 * P), Y = (v) => H - P - ((v - y0) / (y1 - y0 || 1)) * (H - 2 * P);
    const s = svg('svg', { width: W, height: H, role: 'img' }, svg('title', null, 'cost-quality curve'));
    s.append(svg('line', { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: 'var(--line)' }), svg('line', { x1: P, y1: P, x2: P, y2: H - P, stroke: 'var(--line)' }));
    s.append(svg('polyline', { points: xs.map((x, i) => `${X(x).toFixed(1)},${Y(ys[i]).toFixed(1)}`).join(' '), fill: 'none', stroke: 'var(--acc2)', 'stroke-width': 2 }));
    s.append(svg('text', { x: W / 2, y: H - 6 }, 'cost'), svg('text', { x: 2, y: 14 }, 'quality'));
    return s;
  }

  // ---------------------------------------------------------------- shell
  function show(name) {
    const prev = VIEWS[current];
    if (prev && prev.hide) prev.hide();
    current = name;
    clearInterval(timer);
    timer = null;
    overviewEl = null;
    for (const b of document.querySelectorAll('nav.tabs button')) b.classList.toggle('on', b.dataset.view === name);
    const root = $('view');
    root.replaceChildren();
    root.dataset.view = name;
    const refresh = VIEWS[name].show(root);
    if (refresh) timer = setInterval(refresh, name === 'overview' ? 1000 : 2000);
  }
  function buildApp() {
    const app = $('app');
    app.replaceChildren(
      el('header', { class: 'top' }, el('h1', null, 'sluice'),
        el('nav', { class: 'tabs' }, Object.entries(VIEWS).map(([k, v]) => el('button', { 'data-view': k, onclick: () => show(k) }, v.title))),
        el('span', { id: 'live-status', class: 'status' }, 'connecting'),
        el('button', { onclick: () => logout('') }, 'Log out')),
      el('section', { id: 'view', class: 'view' }));
    app.hidden = false;
    $('login').hidden = true;
    show('overview');
    openStream();
  }
  function logout(message) {
    masterKey = null;
    if (streamAbort) streamAbort.abort();
    streamAbort = null;
    clearInterval(timer);
    timer = null;
    tail.length = 0;
    tailRender = null;
    lastOverview = null;
    for (const k of Object.keys(history)) delete history[k];
    const app = $('app');
    app.replaceChildren();
    app.hidden = true;
    $('login').hidden = false;
    $('login-msg').textContent = message || '';
    $('master-key').focus();
  }
  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const input = $('master-key');
      const k = input.value;
      input.value = '';
      if (!k) return;
      masterKey = k;
      $('login-msg').textContent = '';
      try {
        await api(API.overview); // checks the key before anything is drawn
        buildApp();
      } catch (e) {
        logout(e instanceof AuthError ? 'Wrong master key.' : 'Cannot reach sluice: ' + e.message);
      }
    });
  });
})();
