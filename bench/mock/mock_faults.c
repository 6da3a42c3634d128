/* mock_faults.c: which fault a request gets, and the per-request "mock" override.
 *
 * The idea: one uniform draw per request, compared against the cumulative probabilities in a
 * fixed order (reset-before, stall, 429, 500, 503, reset-during, bad_crc, stream_exception),
 * so a given --seed and request order always produce the same faults (the last two change
 * only AWS event streams; drawn for another request they are counted and do nothing). A test
 * that needs one exact behaviour sends a "mock" object in the request body instead, which
 * wins over the draw for that request. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mock.h"

enum mock_fault mock_fault_draw(const struct mock_config *cfg, double u)
{
	double acc = cfg->p_reset_before;
	if (u < acc)
		return MOCK_F_RESET_BEFORE;
	acc += cfg->p_stall;
	if (u < acc)
		return MOCK_F_STALL;
	acc += cfg->p_429;
	if (u < acc)
		return MOCK_F_429;
	acc += cfg->p_500;
	if (u < acc)
		return MOCK_F_500;
	acc += cfg->p_503;
	if (u < acc)
		return MOCK_F_503;
	acc += cfg->p_reset_during;
	if (u < acc)
		return MOCK_F_RESET_DURING;
	acc += cfg->p_bad_crc;
	if (u < acc)
		return MOCK_F_BAD_CRC;
	acc += cfg->p_stream_exception;
	if (u < acc)
		return MOCK_F_STREAM_EXCEPTION;
	return MOCK_F_NONE;
}

static const char *const fault_names[MOCK_F_COUNT] = {
	[MOCK_F_NONE] = "none",
	[MOCK_F_RESET_BEFORE] = "reset-before",
	[MOCK_F_STALL] = "stall",
	[MOCK_F_429] = "429",
	[MOCK_F_500] = "500",
	[MOCK_F_503] = "503",
	[MOCK_F_RESET_DURING] = "reset-during",
	[MOCK_F_BAD_CRC] = "bad_crc",
	[MOCK_F_STREAM_EXCEPTION] = "stream_exception",
	[MOCK_F_STATUS] = "status",
};

const char *mock_fault_name(enum mock_fault f)
{
	return (unsigned)f < MOCK_F_COUNT ? fault_names[f] : "none";
}

/* A number field: absent is fine; present must be a finite number in [lo, hi]. */
static int num_field(const cJSON *obj, const char *name, double lo, double hi, bool integer,
                     bool *has, double *out, char *err, size_t errlen)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (!it)
		return 0;
	double v = it->valuedouble;
	if (!cJSON_IsNumber(it) || !isfinite(v) || v < lo || v > hi || (integer && v != floor(v))) {
		snprintf(err, errlen, "mock.%s must be %s between %g and %g", name,
		         integer ? "an integer" : "a number", lo, hi);
		return -1;
	}
	*has = true;
	*out = v;
	return 0;
}

int mock_override_parse(const cJSON *m, struct mock_override *ov, char *err, size_t errlen)
{
	memset(ov, 0, sizeof *ov);
	if (!m)
		return 0;
	if (!cJSON_IsObject(m)) {
		snprintf(err, errlen, "'mock' must be an object");
		return -1;
	}
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(m, "fault");
	if (f) {
		if (!cJSON_IsString(f)) {
			snprintf(err, errlen, "mock.fault must be a string");
			return -1;
		}
		unsigned i;
		for (i = 0; i < MOCK_F_STATUS; i++)
			if (strcmp(f->valuestring, fault_names[i]) == 0)
				break;
		if (i == MOCK_F_STATUS) {
			snprintf(err, errlen,
			         "mock.fault must be one of 429, 500, 503, reset-before, reset-during, "
			         "stall, bad_crc, stream_exception, none");
			return -1;
		}
		ov->has_fault = true;
		ov->fault = (enum mock_fault)i;
	}
	double v = 0;
	if (num_field(m, "tokens", 0, MOCK_MAX_TOKENS, true, &ov->has_tokens, &v, err, errlen))
		return -1;
	if (ov->has_tokens)
		ov->tokens = (long)v;
	if (num_field(m, "ttft_ms", 0, 1e9, false, &ov->has_ttft, &ov->ttft_ms, err, errlen) ||
	    num_field(m, "itl_ms", 0, 1e9, false, &ov->has_itl, &ov->itl_ms, err, errlen) ||
	    num_field(m, "latency_ms", 0, 1e9, false, &ov->has_latency, &ov->latency_ms, err,
	              errlen) ||
	    num_field(m, "retry_after", 0, 1e9, false, &ov->has_retry_after, &ov->retry_after, err,
	              errlen))
		return -1;
	if (num_field(m, "stall_ms", 0, 1e9, true, &ov->has_stall, &v, err, errlen))
		return -1;
	if (ov->has_stall)
		ov->stall_ms = (long)v;
	if (num_field(m, "fault_at", 0, MOCK_MAX_TOKENS, true, &ov->has_fault_at, &v, err, errlen))
		return -1;
	if (ov->has_fault_at)
		ov->fault_at = (long)v;
	if (num_field(m, "status", 200, 599, true, &ov->has_status, &v, err, errlen))
		return -1;
	if (ov->has_status)
		ov->status = (int)v;
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(m, "error_message");
	if (msg) {
		if (!cJSON_IsString(msg)) {
			snprintf(err, errlen, "mock.error_message must be a string");
			return -1;
		}
		ov->error_message = msg->valuestring;
	}
	return 0;
}
