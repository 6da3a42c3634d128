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
    keys: '/ui/api/keys',
    cache: '/ui/api/cache',
    config: '/ui/api/config',
    stream: '/ui/api/stream',
  };
  let masterKey = null; // the only copy of the key: in memory
  let streamAbort = null;
  let timer = null;
  let current = 'overview';
  const tail = []; // recent requests, newest first
  let lastSeq = -1; // the newest request seen: a reconnected stream resumes after it
  const TAIL_MAX = 200;
  const history = {}; // metric name -> last 60 values, for the sparklines
  let tailRender = null; // set while the Live requests view is shown
  let lastOverview = null;
  let streamLive = false; // the stream feeds the overview and deployments: no polling then
  let onDeployments = null; // set while the Deployments view is shown

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
  function sparkline(values, w = 160, h = 30, color = '#58a6ff') {
    const s = svg('svg', { viewBox: `0 0 ${w} ${h}`, preserveAspectRatio: 'none', 'aria-hidden': 'true' });
    const v = values.filter((x) => typeof x === 'number' && isFinite(x));
    if (v.length < 2) return s;
    const max = Math.max(...v), min = Math.min(0, ...v), span = max - min || 1;
    const pts = v.map((x, i) => `${((i / (v.length - 1)) * w).toFixed(1)},${(h - 2 - ((x - min) / span) * (h - 4)).toFixed(1)}`);
    s.append(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 1.5 }));
    return s;
  }
  // A bar for frac (0..1); a limit bar (usage against a limit) turns amber then red.
  function hbar(frac, color = '#58a6ff', limit = true) {
    const f = Math.max(0, Math.min(1, frac || 0));
    const s = svg('svg', { width: 120, height: 8, 'aria-hidden': 'true' });
    s.append(svg('rect', { x: 0, y: 0, width: 120, height: 8, rx: 4, fill: '#222c35' }));
    s.append(svg('rect', { x: 0, y: 0, width: (120 * f).toFixed(1), height: 8, rx: 4, fill: limit && f > 0.9 ? '#f85149' : limit && f > 0.7 ? '#d29922' : color }));
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
    const total = Math.max(1, Number(r.latency_ms) || 1);
    const rt = r.router;
    if (rt && typeof rt === 'object') {
      const sc = typeof rt.score === 'number' ? ' ' + rt.score.toFixed(3) : '';
      steps.push({ label: `router ${rt.name} → ${r.group ?? '?'} (${rt.reason || ''}${sc})${rt.would ? ' would ' + rt.would : ''}`, s: 0, e: 0, color: '#bc8cff' });
    }
    if (r.cache && r.cache !== 'none') steps.push({ label: 'cache ' + r.cache, s: 0, e: 0, color: r.cache === 'hit' || r.cache === 'semantic' ? '#3fb950' : '#8a99a6' });
    for (const a of Array.isArray(r.attempts) ? r.attempts : []) {
      const s = Number(a.start_ms) || 0, d = Number(a.duration_ms) || 0;
      const oc = String(a.outcome || '');
      const kind = a.hedge ? 'hedge ' : a.probe ? 'probe ' : a.group && r.model_group && a.group !== r.model_group && !r.router ? 'fallback ' : '';
      steps.push({ label: `${kind}${a.deployment} ${oc}${a.status ? ' ' + a.status : ''} ${ms(d)}`, s, e: s + d, color: oc === 'ok' ? '#3fb950' : /cancel|lost|abandon/.test(oc) ? '#8a99a6' : '#f85149' });
    }
    if (r.attempts_truncated) steps.push({ label: '… more attempts', s: 0, e: 0, color: '#8a99a6' });
    if (r.fallback) steps.push({ label: `fallback → ${r.fallback}`, s: 0, e: 0, color: '#d29922' });
    if (typeof r.overhead_ms === 'number') steps.push({ label: 'sluice overhead ' + ms(r.overhead_ms), s: Math.max(0, total - r.overhead_ms), e: total, color: '#58a6ff' });
    const W = 500, L = 280, rowh = 14;
    const s = svg('svg', { class: 'wf', width: W, height: Math.max(1, steps.length) * rowh + 2, role: 'img' });
    s.append(svg('title', null, `decision trail of ${r.id}: ${ms(total)}`));
    steps.forEach((st, i) => {
      const y = i * rowh + 1;
      s.append(svg('text', { x: 0, y: y + 10 }, st.label.length > 46 ? st.label.slice(0, 45) + '…' : st.label));
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
      const r = await fetch(API.stream + (lastSeq >= 0 ? '?after=' + lastSeq : ''), { headers: { Authorization: 'Bearer ' + masterKey, Accept: 'text/event-stream' }, signal: ctl.signal, cache: 'no-store', credentials: 'omit' });
      if (r.status === 401 || r.status === 403) return logout('The master key was refused.');
      if (!r.ok || !r.body) throw new Error('stream ' + r.status);
      streamLive = true;
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
    streamLive = false;
    if (status) { status.textContent = 'reconnecting'; status.classList.remove('live'); }
    if (streamAbort === ctl && masterKey !== null) setTimeout(() => { if (streamAbort === ctl && masterKey !== null) openStream(); }, 1000);
  }
  function onEvent(ev, data) {
    let j;
    try { j = JSON.parse(data); } catch { return; }
    if (!j || typeof j !== 'object') return;
    if (ev === 'requests' && Array.isArray(j.requests)) j.requests.slice().reverse().forEach(addRequest); // newest first
    else if (ev === 'overview') { lastOverview = j; if (current === 'overview') renderOverviewData(j); }
    else if (ev === 'deployments') { if (onDeployments) onDeployments(j); }
  }
  function addRequest(r) {
    if (!r || typeof r !== 'object') return;
    const seq = r.seq;
    if (seq !== undefined && tail.some((x) => x.seq === seq)) return;
    if (typeof seq === 'number' && seq > lastSeq) lastSeq = seq;
    tail.unshift(r);
    if (tail.length > 1 && typeof seq === 'number' && typeof tail[1].seq === 'number' && tail[1].seq > seq)
      tail.sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0)); // the initial read and the stream may interleave
    if (tail.length > TAIL_MAX) tail.pop();
    if (tailRender) tailRender();
  }

  // ---------------------------------------------------------------- views
  function card(name, value, hist) {
    return el('div', { class: 'card' }, el('div', { class: 'k' }, name), el('div', { class: 'v' }, value), hist ? sparkline(hist) : null);
  }
  const p100 = (v) => (typeof v === 'number' && isFinite(v) ? v.toFixed(1) + ' %' : '–');
  const q = (o, k) => (o && typeof o === 'object' ? o[k] : undefined);
  let overviewEl = null;
  function renderOverviewData(o) {
    if (!overviewEl || !o) return;
    const t = o.total || {};
    const cards = [
      ['requests/s', num(t.rps, 1), push('rps', t.rps)],
      ['error %', p100(t.error_pct), push('err', t.error_pct)],
      ['latency p50', ms(q(t.latency_ms, 'p50')), push('p50', q(t.latency_ms, 'p50'))],
      ['latency p95', ms(q(t.latency_ms, 'p95')), push('p95', q(t.latency_ms, 'p95'))],
      ['latency p99', ms(q(t.latency_ms, 'p99')), push('p99', q(t.latency_ms, 'p99'))],
      ['TTFT p50', ms(q(t.ttft_ms, 'p50')), push('t50', q(t.ttft_ms, 'p50'))],
      ['TTFT p95', ms(q(t.ttft_ms, 'p95')), push('t95', q(t.ttft_ms, 'p95'))],
      ['TTFT p99', ms(q(t.ttft_ms, 'p99')), push('t99', q(t.ttft_ms, 'p99'))],
      ['tokens/s', num(t.tokens_per_s, 1), push('tps', t.tokens_per_s)],
      ['$ / hour', usd(t.usd_per_hour), push('usd', t.usd_per_hour)],
      ['cache hit %', p100(t.cache_hit_pct), push('chr', t.cache_hit_pct)],
      ['in flight', num(t.in_flight), push('inf', t.in_flight)],
    ];
    const ss = o.since_start || {};
    overviewEl.replaceChildren(
      el('div', { class: 'cards' }, cards.map((c) => card(...c))),
      el('p', { class: 'muted' }, `over the last ${num(o.window_s)} s · config generation ${o.generation ?? '–'} · since start: ${ss.requests ?? 0} requests, ${ss.errors ?? 0} errors, ${usd(ss.cost_usd)}`),
      el('h2', null, 'Per group'),
      table([
        ['group', (g) => (g.router ? el('span', null, g.group, ' ', pill('router', 'dim')) : g.group)],
        ['requests', (g) => num(g.requests), 'num'],
        ['req/s', (g) => num(g.rps, 1), 'num'],
        ['error %', (g) => p100(g.error_pct), 'num'],
        ['p50', (g) => ms(q(g.latency_ms, 'p50')), 'num'],
        ['p95', (g) => ms(q(g.latency_ms, 'p95')), 'num'],
        ['p99', (g) => ms(q(g.latency_ms, 'p99')), 'num'],
        ['TTFT p50', (g) => ms(q(g.ttft_ms, 'p50')), 'num'],
        ['tokens/s', (g) => num(g.tokens_per_s, 1), 'num'],
        ['$ / hour', (g) => usd(g.usd_per_hour), 'num'],
        ['cache hit %', (g) => p100(g.cache_hit_pct), 'num'],
        ['in flight', (g) => num(g.in_flight), 'num'],
      ], Array.isArray(o.groups) ? o.groups : []));
  }
  function limitCell(w) {
    if (!w || typeof w !== 'object') return '–';
    return el('span', null, `${w.used ?? 0}${w.limit ? ' / ' + w.limit : ''} `, w.limit ? hbar((Number(w.used) || 0) / Number(w.limit)) : '');
  }
  function msgOf(e) { return e instanceof Error ? e.message : String(e); }
  const VIEWS = {
    overview: {
      title: 'Overview',
      show(root) {
        overviewEl = el('div');
        root.append(overviewEl);
        if (lastOverview) renderOverviewData(lastOverview);
        const f = () => guarded(api(API.overview).then((o) => { lastOverview = o; renderOverviewData(o); }));
        f();
        return () => { if (!streamLive) f(); };
      },
    },
    deployments: {
      title: 'Deployments',
      show(root) {
        const box = el('div');
        root.append(box);
        const render = (d) => {
          box.replaceChildren(table([
            ['group', (x) => x.group],
            ['deployment', (x) => x.id],
            ['model', (x) => x.model ?? '–'],
            ['provider', (x) => x.provider ?? '–'],
            ['state', (x) => {
              const st = String(x.state || 'healthy');
              if (st === 'cooling_down') return pill(`cooling down (${Math.ceil((Number(x.cooldown_left_ms) || 0) / 1000)} s left)`, 'bad');
              return pill(st, st === 'healthy' ? 'ok' : 'warn');
            }],
            ['EWMA latency', (x) => ms(x.ewma_latency_ms), 'num'],
            ['EWMA TTFT', (x) => ms(x.ewma_ttft_ms), 'num'],
            ['in flight', (x) => num(x.in_flight), 'num'],
            ['rpm', (x) => limitCell(x.rpm)],
            ['tpm', (x) => limitCell(x.tpm)],
            ['ok / failed', (x) => `${x.successes ?? 0} / ${x.failures ?? 0}`, 'num'],
            ['last error', (x) => { const e = x.last_error; return e ? el('span', { class: 'err' }, `${e.outcome || 'error'}${e.status ? ' ' + e.status : ''} · ${when(e.at_ms)} · ${e.request_id || ''}`) : '–'; }],
          ], Array.isArray(d && d.deployments) ? d.deployments : []));
        };
        onDeployments = render;
        const f = () => guarded(api(API.deployments).then(render));
        f();
        return () => { if (!streamLive) f(); };
      },
      hide() { onDeployments = null; },
    },
    live: {
      title: 'Live requests',
      show(root) {
        const fg = el('input', { placeholder: 'group', size: 12, 'aria-label': 'filter by group' });
        const fk = el('input', { placeholder: 'key', size: 12, 'aria-label': 'filter by key' });
        const fs = el('select', { 'aria-label': 'filter by status' }, el('option', { value: '' }, 'any status'), el('option', { value: '2xx' }, '2xx'), el('option', { value: '4xx' }, '4xx'), el('option', { value: '5xx' }, '5xx'), el('option', { value: 'error' }, 'errors'));
        const box = el('div', { id: 'tail' });
        const render = () => {
          const g = fg.value.trim(), k = fk.value.trim(), s = fs.value;
          const rows = tail.filter((r) => {
            const st = Number(r.status) || 0;
            if (g && r.group !== g && r.model_group !== g && !String(r.group || '').includes(g)) return false;
            if (k && !String(r.key || '').includes(k)) return false;
            if (s === '2xx' && !(st >= 200 && st < 300)) return false;
            if (s === '4xx' && !(st >= 400 && st < 500)) return false;
            if (s === '5xx' && !(st >= 500)) return false;
            if (s === 'error' && st < 400) return false;
            return true;
          }).slice(0, 100);
          box.replaceChildren(table([
            ['time', (r) => (typeof r.ts_ms === 'number' ? new Date(r.ts_ms).toLocaleTimeString() : '–')],
            ['request id', (r) => r.id],
            ['group', (r) => (r.model_group && r.model_group !== r.group ? `${r.model_group} → ${r.group ?? '–'}` : r.group ?? r.model_group ?? '–')],
            ['path', (r) => r.path],
            ['key', (r) => r.key],
            ['status', (r) => { const st = Number(r.status) || 0; return pill(String(st || '?') + (r.error ? ' ' + r.error : ''), st >= 200 && st < 300 ? 'ok' : st >= 500 ? 'bad' : 'warn'); }],
            ['latency', (r) => ms(r.latency_ms), 'num'],
            ['tokens', (r) => `${r.tokens_in ?? 0} → ${r.tokens_out ?? 0}`, 'num'],
            ['cost', (r) => usd(r.cost_usd), 'num'],
            ['decision trail', (r) => waterfall(r)],
          ], rows));
        };
        for (const c of [fg, fk]) c.addEventListener('input', render);
        fs.addEventListener('change', render);
        root.append(el('div', { class: 'filters' }, fg, fk, fs), box);
        tailRender = render;
        guarded(api(API.requests + '?limit=100').then((d) => { (d && Array.isArray(d.requests) ? d.requests : []).slice().reverse().forEach(addRequest); render(); }));
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
          const routers = Array.isArray(d && d.routers) ? d.routers : [];
          if (!routers.length) return box.replaceChildren(el('p', { class: 'muted' }, 'No router is configured.'));
          box.replaceChildren(...routers.map((rt) => {
            const st = rt.strongest || {};
            const parts = [el('h2', null, `router ${rt.name} (${rt.kind || '?'}) · ${rt.requests ?? 0} requests`),
              table([
                ['target', (t) => t.group],
                ['requests', (t) => num(t.requests), 'num'],
                ['share', (t) => el('span', null, hbar(t.share, '#bc8cff', false), ' ', pct(t.share))],
                ['spend', (t) => usd(t.cost_usd), 'num'],
                ['shadow would', (t) => num(t.shadow_would), 'num'],
              ], Array.isArray(rt.targets) ? rt.targets : []),
              el('p', null, `spend ${usd(rt.spend_usd)} vs always ${st.group || 'the strongest'} ${usd(st.cost_usd)}: saved ${usd(rt.saved_usd)} (${p100(rt.saved_pct)})`)];
            if (rt.eval && Array.isArray(rt.eval.points) && rt.eval.points.length > 1) {
              parts.push(el('p', { class: 'muted' }, `cost-quality (cross-validation, n=${rt.eval.n ?? '?'}, APGR ${num(rt.eval.apgr, 3)})`), evalCurve(rt.eval.points));
            }
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
        const act = (path, body) => guarded(api(path, { method: 'POST', body }).then(() => { msg.textContent = ''; f(); }).catch((e) => { msg.textContent = msgOf(e); }));
        const create = el('button', { onclick: () => guarded(api('/key/generate', { method: 'POST', body: alias.value ? { key_alias: alias.value } : {} }).then((k) => {
          // the new secret, shown once to the operator who created it
          created.replaceChildren('created (shown once): ', el('code', null, (k && k.key) || '?'));
          alias.value = '';
          f();
        }).catch((e) => { msg.textContent = msgOf(e); })) }, 'Create key');
        root.append(box, el('h2', null, 'Keys'), el('div', { class: 'row' }, alias, create), created, msg, keys);
        const sec = (name, list, label) => {
          const max = Math.max(1e-9, ...list.map((y) => Number(y.spend_usd) || 0));
          return [el('h2', null, name), list.length ? table([
            ['', label],
            ['spend', (x) => usd(x.spend_usd), 'num'],
            ['', (x) => hbar((Number(x.spend_usd) || 0) / max, '#58a6ff', false)],
          ], list) : el('p', { class: 'muted' }, 'nothing spent yet')];
        };
        const arr = (v) => (Array.isArray(v) ? v : []);
        const f = () => Promise.all([
          guarded(api(API.spend).then((d) => {
            box.replaceChildren(
              ...sec(`Spend per key (last ${d.days ?? 30} days)`, arr(d.by_key), (x) => x.key),
              ...sec('Spend per group', arr(d.by_group), (x) => x.group),
              el('h2', null, 'Spend per day'), dayBars(arr(d.by_day)),
              el('h2', null, 'Budgets'),
              arr(d.budgets).length ? table([
                ['scope', (b) => b.scope],
                ['name', (b) => b.name],
                ['spent', (b) => usd(b.spend_usd), 'num'],
                ['max', (b) => usd(b.max_budget_usd), 'num'],
                ['burn-down', (b) => el('span', null, hbar((Number(b.used_pct) || 0) / 100), ' ', p100(b.used_pct))],
                ['burn', (b) => usd(b.burn_usd_per_hour) + '/h', 'num'],
                ['resets', (b) => when(b.reset_at)],
                ['exhausted at', (b) => when(b.exhausted_at)],
              ], arr(d.budgets)) : el('p', { class: 'muted' }, 'no budgets configured'));
          })),
          guarded(api(API.keys).then((d) => {
            keys.replaceChildren(table([
              ['alias', (k) => k.key_alias],
              ['key', (k) => k.key_name],
              ['spend', (k) => usd(k.spend_usd), 'num'],
              ['budget', (k) => usd(k.max_budget_usd), 'num'],
              ['rpm', (k) => limitCell(k.rpm)],
              ['tpm', (k) => limitCell(k.tpm)],
              ['parallel', (k) => limitCell(k.parallel)],
              ['expires', (k) => (k.expires ? when(k.expires) + (k.expired ? ' (expired)' : '') : 'never')],
              ['state', (k) => (k.blocked ? pill('blocked', 'bad') : k.expired ? pill('expired', 'warn') : pill('active', 'ok'))],
              ['', (k) => el('span', null,
                el('button', { onclick: () => act(k.blocked ? '/key/unblock' : '/key/block', { key: k.token }) }, k.blocked ? 'Unblock' : 'Block'), ' ',
                el('button', { onclick: () => { if (confirm('Delete this key?')) act('/key/delete', { keys: [k.token] }); } }, 'Delete'))],
            ], arr(d && d.keys)));
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
        const say = (text, bad) => { msg.className = bad ? 'err' : ''; msg.textContent = text; };
        const flush = el('button', { onclick: () => { if (confirm('Flush the cache?')) guarded(api('/cache', { method: 'DELETE' }).then((r) => { say('cache: ' + ((r && r.status) || 'flushed') + (r && r.scope ? ' (' + r.scope + ')' : '')); f(); }).catch((e) => say(msgOf(e), true))); } }, 'Flush cache');
        const reload = el('button', { onclick: () => guarded(api('/config/reload', { method: 'POST', body: {} }).then(() => { say('config reloaded'); f(); }).catch((e) => say('reload failed: ' + msgOf(e), true))) }, 'Reload config');
        root.append(el('div', { class: 'row' }, flush, reload), msg, el('h2', null, 'Cache'), stats, el('h2', null, 'Config'), cfg);
        const flat = (o, pre = '', out = []) => {
          for (const [k, v] of Object.entries(o || {})) {
            if (v && typeof v === 'object' && !Array.isArray(v)) flat(v, pre + k + '.', out);
            else out.push({ name: pre + k, value: Array.isArray(v) ? JSON.stringify(v) : v });
          }
          return out;
        };
        const f = () => Promise.all([
          guarded(api(API.cache).then((d) => stats.replaceChildren(
            el('p', null, `window: ${d.hits ?? 0} hits, ${d.misses ?? 0} misses, hit rate ${p100(d.hit_pct)}`),
            table([['statistic', (x) => x.name], ['value', (x) => String(x.value), 'num']], flat(d.stats))))),
          guarded(api(API.config).then((d) => {
            const ign = Array.isArray(d.ignored) ? d.ignored : [];
            const lr = d.last_reload;
            cfg.replaceChildren(
              el('p', null, `generation ${d.generation ?? '–'}`, d.path ? ' · ' + d.path : ''),
              lr ? el('p', { class: lr.ok ? '' : 'err' }, `last reload${lr.at ? ' ' + when(lr.at) : ''}: ${lr.ok ? 'ok' : lr.error || 'failed'}`) : '',
              el('h2', null, 'Ignored keys'),
              ign.length ? table([['key', (x) => x.key], ['where', (x) => x.where], ['warning', (x) => x.warning]], ign) : el('p', { class: 'muted' }, 'none'),
              el('h2', null, 'Effective config (secrets redacted)'),
              el('pre', null, JSON.stringify(d.config ?? null, null, 2)));
          })),
        ]);
        f();
        return null;
      },
    },
  };
  // Spend per day as bars, oldest left; each bar's title tells the day and amount.
  function dayBars(days) {
    const W = 720, H = 120, B = 18, n = Math.max(1, days.length), bw = (W - 40) / n;
    const max = Math.max(1e-9, ...days.map((d) => Number(d.spend_usd) || 0));
    const s = svg('svg', { width: W, height: H + B, role: 'img' }, svg('title', null, 'spend per day'));
    s.append(svg('line', { x1: 40, y1: H, x2: W, y2: H, stroke: '#2a3642' }), svg('text', { x: 0, y: 12 }, usd(max)));
    days.forEach((d, i) => {
      const v = Number(d.spend_usd) || 0, h = (v / max) * (H - 10);
      s.append(svg('rect', { x: (40 + i * bw + 1).toFixed(1), y: (H - h).toFixed(1), width: Math.max(1, bw - 2).toFixed(1), height: Math.max(v > 0 ? 1 : 0, h).toFixed(1), fill: '#58a6ff' }, svg('title', null, `${d.day}: ${usd(v)}`)));
    });
    if (days.length) s.append(svg('text', { x: 40, y: H + 14 }, days[0].day), svg('text', { x: W - 70, y: H + 14 }, days[days.length - 1].day));
    return s;
  }
  function evalCurve(points) {
    const W = 320, H = 180, P = 30;
    const X = (v) => P + Math.max(0, Math.min(1, v)) * (W - 2 * P), Y = (v) => H - P - Math.max(0, Math.min(1, v)) * (H - 2 * P);
    const s = svg('svg', { width: W, height: H, role: 'img' }, svg('title', null, 'cost-quality curve'));
    s.append(svg('line', { x1: P, y1: H - P, x2: W - P, y2: H - P, stroke: '#2a3642' }), svg('line', { x1: P, y1: P, x2: P, y2: H - P, stroke: '#2a3642' }));
    s.append(svg('line', { x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), stroke: '#2a3642', 'stroke-dasharray': '4 3' }));
    s.append(svg('polyline', { points: points.map((p) => `${X(Number(p.strong_share) || 0).toFixed(1)},${Y(Number(p.pgr) || 0).toFixed(1)}`).join(' '), fill: 'none', stroke: '#bc8cff', 'stroke-width': 2 }));
    s.append(svg('text', { x: P, y: H - 8 }, 'share sent to the strong model →'), svg('text', { x: 2, y: 14 }, 'quality recovered (PGR)'));
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
    lastSeq = -1;
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
