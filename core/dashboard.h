/* core/dashboard: the live dashboard's server side. One idea: the request path only
 * copies a fixed-size summary of each finished request into a bounded ring in the
 * shared-memory region (store/shm.h, no malloc, no JSON); everything the page shows is
 * computed by the reader (the worker serving /ui/api/...) from that ring and the existing
 * shm counters, so an unopened dashboard costs one memcpy per request. Files:
 * core/dashboard.c (ring writer + reader), core/dashboard_api.c (the JSON endpoints),
 * core/dashboard_stream.c (the server-sent-events stream). To show something new: a
 * field in struct sl_dash_rec (store/shm.h) filled in sl_dashboard_record, then read it
 * in dashboard_api.c and add it to this spec.
 *
 * ======================================== API SPEC ========================================
 * Auth: every /ui/api/... route needs `Authorization: Bearer <master key>`. A missing,
 * malformed or wrong key: 401 with OpenAI's error shape
 *   {"error":{"message":"...","type":"authentication_error","param":null,
 *             "code":"invalid_api_key"}} and `WWW-Authenticate: Bearer`;
 * a valid virtual key that is not the master key: 403 (code "admin_only"), as on every
 * admin route. Without a master key configured the routes are open (as the admin API).
 * Answers: 200, `Content-Type: application/json`, `Cache-Control: no-store`; bad query
 * parameters 400 (OpenAI's error shape). No answer ever
 * holds a secret: no virtual key secret (keys appear as their alias, their display form
 * "sk-...wxyz" and their hashed token, which the admin routes accept), no master key, no
 * provider api_key, no Redis password (config values: "***").
 * Units: durations in ms (numbers, may be fractional), money in USD (numbers; *_usd),
 * timestamps of events as unix ms (*_ms suffix on wall-clock times is `at_ms`/`ts_ms`),
 * dates as ISO-8601 strings, shares and percentages as stated (pct: 0..100, share: 0..1).
 * A value that does not exist (no streamed request for TTFT, no limit) is null.
 *
 * GET /ui/api/overview -> live numbers over the recent window
 *   {"generation":n, "worker":i, "now_ms":unix ms,
 *    "window_s":s,        // span the rates cover: 60 s, less when the ring holds less
 *                         // (the ring keeps the most recent SL_DASH_RING requests)
 *    "total":STATS, "groups":[{"group":"name","router":bool, ...STATS}], // groups of the config;
 *                         // a group's numbers are the requests it answered (a router's
 *                         // requests count under the target group they went to)
 *    "since_start":{"requests":n,"errors":n,"tokens_in":n,"tokens_out":n,"cost_usd":x}}
 *   STATS = {"requests":n (in window), "rps":x, "errors":n (status >= 400),
 *            "error_pct":x, "latency_ms":{"p50":x,"p95":x,"p99":x}|null,
 *            "ttft_ms":{"p50":x,"p95":x,"p99":x}|null (streamed requests only),
 *            "tokens_per_s":x (in + out), "tokens_in":n, "tokens_out":n, "cost_usd":x (in window),
 *            "usd_per_hour":x, "cache_hit_pct":x|null (hits / cache lookups, in window),
 *            "in_flight":n (upstream calls in flight now, from shm)}
 *
 * GET /ui/api/deployments
 *   {"deployments":[{"group":"name","id":"deployment id","model":"provider model",
 *     "provider":"openai|anthropic|...","region":s|null,
 *     "state":"healthy"|"cooling_down"|"probing", "cooldown_left_ms":n (0 unless cooling_down),
 *     "ewma_latency_ms":x|null, "ewma_ttft_ms":x|null, "in_flight":n,
 *     "rpm":{"used":n,"limit":n|null}, "tpm":{"used":n,"limit":n|null},  // current minute window
 *     "requests":n,"successes":n,"failures":n,"hedges":n,     // since the region was made
 *     "last_error":null|{"at_ms":unix ms,"status":n,"outcome":"code","request_id":s}}]}
 *     // last_error: the newest failed attempt on it still in the ring
 *
 * GET /ui/api/requests?group=G&key=K&status=S&limit=N&after=SEQ
 *   Tail of recent requests, newest first. group: exact group name (asked-for or answering);
 *   key: the key's alias (else its display form "sk-ab...wxyz"; "master" for master/no key);
 *   status: 200 | 2xx | 4xx | 5xx | error (>= 400); limit: 1..500, default 50;
 *   after: only records with seq > SEQ (a cursor). Bad parameters: 400.
 *   {"cursor":SEQ (the newest seq recorded; -1: none yet), "requests":[REQ...]}
 *   REQ = {"seq":n, "id":"request id", "ts_ms":unix ms at start, "method":"POST",
 *     "path":"/v1/chat/completions", "stream":bool, "model_group":s|null (asked for),
 *     "group":s|null (chosen group: the one that answered, fallback included),
 *     "key":s ("master" or alias/display form), "status":n, "error":s|null (error code),
 *     "latency_ms":x, "ttft_ms":x|null, "upstream_ms":x|null, "overhead_ms":x|null
 *     (latency - upstream time of the winner), "tokens_in":n, "tokens_out":n, "cost_usd":x,
 *     "cache":"none"|"miss"|"hit"|"bypass"|"semantic",
 *     "router":null|{"name":s,"reason":s (rule:<name>|learned|cost|override|shadow|fallback),
 *                    "score":x|null,"would":s|null (shadow: the group it would have chosen)},
 *     "fallback":s|null (the fallback group that answered), "fallbacks":[group...] (groups
 *     tried after the first, in order), "hedges_fired":n, "hedge_won":bool,
 *     "attempts":[{"deployment":"id","group":s,"outcome":"ok|timeout|rate_limited|...",
 *                  "start_ms":x (offset from the request's start),"duration_ms":x,
 *                  "hedge":bool,"probe":bool,"status":n (0: no HTTP answer)}],
 *     "attempts_truncated":bool (more than SL_DASH_ATTEMPTS attempts)}
 *   Strings are truncated to fixed widths (ids 63 bytes, paths 95).
 *
 * GET /ui/api/routing
 *   {"routers":[{"name":"router model_name","kind":"learned|rules|cost|cascade|...",
 *     "requests":n, "spend_usd":x (what its requests cost),
 *     "strongest":{"group":s|null (its strong_model, when it has one),"cost_usd":x (what
 *                  always sending to the most expensive target would have cost for the same
 *                  tokens)}, "saved_usd":x, "saved_pct":x,
 *     "targets":[{"group":s,"requests":n,"share":x,"cost_usd":x,"shadow_would":n}],
 *     "eval":null|{"source":"model","n":n,"apgr":x,"cpt50":x,"cpt80":x,"weak":x,"strong":x,
 *                  "points":[{"strong_share":x,"pgr":x}...]}}]}
 *   eval: `sluice router eval` writes no results file (stdout and an optional --svg), so the
 *   points come from the cross-validation metrics `sluice router train` stores in the
 *   learned model file (meta "cv"): (0,0), (cpt50,0.5), (cpt80,0.8), (1,1); else null.
 *
 * GET /ui/api/spend?days=N (1..366, default 30)
 *   From the spend ledger (sl_spend_report, the store function behind GET /spend/report)
 *   plus the unflushed shm part; in cluster mode this host's ledger only:
 *   {"days":N, "by_key":[{"key":s,"token":"hash"|null,"spend_usd":x}],
 *    "by_group":[{"group":s,"spend_usd":x}], "by_day":[{"day":"YYYY-MM-DD","spend_usd":x}],
 *    "budgets":[{"scope":"key"|"gateway","name":s,"max_budget_usd":x,
 *                "spend_usd":x (this period),"remaining_usd":x,"used_pct":x,
 *                "budget_duration":"30d"|null,"reset_at":ISO|null,
 *                "burn_usd_per_hour":x (over the overview window),
 *                "exhausted_at":ISO|null (projection at that burn rate)}]}
 *
 * GET /ui/api/keys
 *   {"keys":[{"token":"hash (the id for the admin routes)","key_alias":s|null,
 *     "key_name":"sk-...wxyz","models":[...],"blocked":bool,"expires":ISO|null,"expired":bool,
 *     ...every field of GET /key/info's info object (budget_duration, budget_reset_at, ...),
 *     "rpm":{"used":n,"limit":n|null},"tpm":{"used":n,"limit":n|null},
 *     "parallel":{"used":n,"limit":n|null},"spend_usd":x,"max_budget_usd":x|null}],
 *    "actions":{"generate":"POST /key/generate","delete":"POST /key/delete",
 *               "block":"POST /key/block","unblock":"POST /key/unblock"}}
 *   Actions are the existing admin routes (bodies as LiteLLM: {"key":token} for block and
 *   unblock, {"keys":[token]} for delete; /key/generate answers the new secret once).
 *
 * GET /ui/api/cache
 *   {"stats":<the body of GET /cache/stats>, "hits":n,"misses":n,"hit_pct":x|null (window),
 *    "flush":"DELETE /cache"}
 *
 * GET /ui/api/config
 *   {"generation":n, "path":"config file", "config":<the loaded config as JSON, every secret
 *    value (api_key, master_key, passwords, os.environ/ values) "***">,
 *    "ignored":[{"key":"dotted.path"|null,"where":"FILE:LINE"|null,"warning":s}] (the loader's
 *              warnings, from reading the file again: what sluice does not use),
 *    "last_reload":null (none since start)|{"ok":bool,"error":"FILE:LINE: message"|null},
 *    "reload":"POST /config/reload"}
 *   Reload is the existing POST /config/reload (master key): 200 {"status":"reloaded"},
 *   400 with the FILE:LINE message when the new config is invalid.
 *
 * GET /ui/api/stream -> server-sent events (fetch() streaming: the key stays in the
 *   Authorization header, never in a URL). Optional ?after=SEQ to resume. 200,
 *   `Content-Type: text/event-stream`, `Cache-Control: no-cache`, chunked (503 while the
 *   worker drains: reconnect). Events:
 *     event: hello        data: {"generation":n,"worker":i,"cursor":SEQ|-1} (once, at once)
 *     event: overview     data: <GET /ui/api/overview body>        every 1 s
 *     event: deployments  data: <GET /ui/api/deployments body>     every 1 s
 *     event: requests     data: {"cursor":SEQ,"dropped":n,"requests":[REQ...]} every 1 s:
 *       the requests recorded since the previous event (newest first; at most 500; dropped:
 *       records that wrapped out of the ring before they could be sent)
 *   Every event is one `event:` line, one `data:` line of JSON, a blank line. The stream
 *   ends (chunked terminator) when the worker drains (SIGTERM, reload) or the client goes.
 *   One 1 s timer per worker, running only while a stream is open, builds the events once
 *   and writes them to every open stream of that worker.
 * ========================================================================================== */
#ifndef SL_CORE_DASHBOARD_H
#define SL_CORE_DASHBOARD_H
struct sl_request;
struct sl_request_summary;
/* The request path's only work: copy s (and rq's attempts) into the shm ring. */
void sl_dashboard_record(struct sl_request *rq, const struct sl_request_summary *s);

/* Route handlers (core/routes.c rows): GET /ui/api/... */
void sl_dashboard_overview(struct sl_request *rq);
void sl_dashboard_deployments(struct sl_request *rq);
void sl_dashboard_requests(struct sl_request *rq);
void sl_dashboard_routing(struct sl_request *rq);
void sl_dashboard_spend(struct sl_request *rq);
void sl_dashboard_keys(struct sl_request *rq);
void sl_dashboard_cache(struct sl_request *rq);
void sl_dashboard_config(struct sl_request *rq);
void sl_dashboard_stream(struct sl_request *rq);
/* The worker drains (SIGTERM, reload): every open stream of it ends now. */
struct sl_worker;
void sl_dashboard_streams_close(struct sl_worker *w);
#endif
