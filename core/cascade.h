/* The cascade router's work in the attempts (FrugalGPT's idea inside the gateway): the
 * route stage sends a request to the cascade's cheapest target; each whole answer of a
 * target that is not the last is checked (net/wire/answer_check.h: length, empty,
 * refusal, JSON and schema, tool arguments, mean logprob, arithmetic); a failed check
 * escalates the request to the next target (core/attempt.c), and the client gets the
 * first answer that passes, or the last one. A streaming client's request to a checked
 * target is sent as a whole request ("held"), checked, then replayed to the client as a
 * stream: the price of checking is the cheap answer's time to first token. Every step is
 * an attempt in the trail (outcome check_failed, with the check's name) and is billed.
 * To add a check: net/wire/answer_check.c; nothing here changes. */
#ifndef SL_CORE_CASCADE_H
#define SL_CORE_CASCADE_H

#include <cjson/cJSON.h>
#include <stdbool.h>

struct sl_request;
struct sl_attempt;

/* The request as this attempt must send it, when the cascade changes it (a checked step:
 * stream off, logprobs on when the logprob check runs and the client did not ask); a new
 * tree the caller deletes, at->held set; NULL when the client's request goes as it is. */
cJSON *sl_cascade_request(struct sl_attempt *at);
/* A whole 2xx answer (at->resp, in the client's chat format) of a step that is not the
 * last: the name of the check it fails (also recorded on the attempt and the request),
 * or NULL when it passes or is not checked. */
const char *sl_cascade_check(struct sl_attempt *at);

/* Whether this attempt is a checked step of a streaming client with `stream_checks:
 * early`: its stream is held until its first `early_tokens` events pass the checks that
 * a prefix can fail (refusal; and, when the stream ends inside the window, every check). */
bool sl_cascade_early(const struct sl_attempt *at);
size_t sl_cascade_early_tokens(const struct sl_attempt *at);
/* The held part of a step's stream (assembled into a chat.completion, json/len): the check
 * it fails, or NULL. complete: the stream ended (all checks), else only prefix checks. */
const char *sl_cascade_check_stream(struct sl_attempt *at, const char *json, size_t len, bool complete);

/* The judge (judge_model): after a checked step's answer passed every check, a chat group
 * is asked through sluice itself (core/selfcall.h) whether the answer is correct and
 * complete, in one word. True when the call started: `verdict` then comes once, from the
 * loop, with pass false only for a clear "no" (an unavailable, slow or unclear judge, or
 * a spent daily budget, lets the answer through: the judge may only cost an escalation
 * when it says so). The request is kept alive meanwhile; verdict is not called when it
 * ended (the client left). False: no judge for this step (none configured, budget spent). */
typedef void (*sl_cascade_verdict)(struct sl_attempt *at, bool pass);
bool sl_cascade_judge(struct sl_attempt *at, sl_cascade_verdict verdict);

/* A step cut before its first tokens could be checked (stream_checks: early), counted. */
void sl_cascade_count_incomplete(struct sl_request *rq);
/* Counters of failed checks, for /metrics: the label of counter i ("" for an unused slot,
 * NULL past the last). */
const char *sl_cascade_counter_label(size_t i);

#endif
