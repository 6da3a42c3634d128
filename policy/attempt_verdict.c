/* Verdicts of a request's back half; see attempt_verdict.h. Each function reads only
 * its arguments. */
#include "policy/attempt_verdict.h"

#include "policy/hedge.h"

enum sl_failure_kind sl_policy_failure_kind(int status) {
  if (status == 429) return SL_FAIL_RATE_LIMIT;
  if (status == 401 || status == 403 || status == 404) return SL_FAIL_AUTH;
  return SL_FAIL_ERROR;
}

static bool refusal(enum sl_outcome kind) { return kind == SL_OUT_CONTEXT_WINDOW || kind == SL_OUT_CONTENT_POLICY; }

bool sl_policy_failure_blames_deployment(enum sl_outcome kind, bool client_deadline_passed) {
  return !refusal(kind) && !client_deadline_passed;
}

static uint64_t retry_after_s(uint64_t ms) {
  uint64_t s = ms / 1000 + (ms % 1000 != 0);
  return s ? s : 1;
}

struct sl_give_up sl_policy_give_up(bool attempted, enum sl_attempt_outcome last_outcome, int last_status,
                                    enum sl_choose_why why, uint64_t choice_retry_after_ms) {
  if (attempted && last_status >= 400)
    return (struct sl_give_up){SL_GIVE_UP_PASS_THROUGH, last_status, "upstream_error", 0};
  if (attempted) {
    int status = last_outcome == SL_AO_UPSTREAM_TIMEOUT ? 504 : 502;
    return (struct sl_give_up){SL_GIVE_UP_ATTEMPT_FAILED, status, sl_attempt_outcome_name(last_outcome, last_status), 0};
  }
  switch (why) {
  case SL_NONE_RATE_LIMITED:
    return (struct sl_give_up){SL_GIVE_UP_RATE_LIMITED, 429, "rate_limit_exceeded", retry_after_s(choice_retry_after_ms)};
  case SL_NONE_TOO_LONG: return (struct sl_give_up){SL_GIVE_UP_TOO_LONG, 400, "context_length_exceeded", 0};
  default:
    return (struct sl_give_up){SL_GIVE_UP_NONE_AVAILABLE, 503, "no_healthy_deployment", retry_after_s(choice_retry_after_ms)};
  }
}

static struct sl_next give_up(const struct sl_failure_facts *f) {
  return (struct sl_next){.step = SL_NEXT_GIVE_UP,
                          .give_up = sl_policy_give_up(true, f->outcome, f->status, SL_NONE_EMPTY, 0)};
}

struct sl_next sl_policy_after_failure(const struct sl_failure_facts *f, uint64_t *rng) {
  if (f->answered) return (struct sl_next){.step = SL_NEXT_NONE};
  if (f->live > 0) return (struct sl_next){.step = SL_NEXT_WAIT_FOR_LIVE};
  if (f->left_ms == 0) return give_up(f);
  bool in_group = !refusal(f->kind) && f->attempts_in_group <= f->max_retries && f->natt < f->max_attempts;
  bool same = in_group && f->kind == SL_OUT_RETRY;
  bool fresh = in_group && f->untried_left;
  if (!fresh && !same) return (struct sl_next){.step = SL_NEXT_FALL_BACK, .retry_same = false};
  uint64_t wait = sl_policy_retry_delay_ms(f->attempts_in_group, f->status == 429, !fresh, f->retry_after_ms,
                                           f->min_retry_ms, f->left_ms, rng);
  if (wait == UINT64_MAX) return give_up(f);
  return (struct sl_next){.step = fresh ? SL_NEXT_ADVANCE_IN_GROUP : SL_NEXT_RETRY_SAME, .delay_ms = wait, .retry_same = same};
}

struct sl_hedge_verdict sl_policy_should_hedge(const struct sl_hedge_facts *f) {
  struct sl_hedge_verdict no = {SL_HEDGE_NO, 0};
  if (f->fired >= f->max_extra) return no;
  if (f->ringing) {
    if (f->answered || f->head_seen) return no;
    if (sl_policy_budget_withdraw(f->budget_milli) < 0) return no;
    return (struct sl_hedge_verdict){SL_HEDGE_FIRE, 0};
  }
  if (!f->enabled || f->off) return no;
  if (f->delay_ms == 0 || f->delay_ms >= f->left_ms) return no;
  return (struct sl_hedge_verdict){SL_HEDGE_ARM, f->delay_ms};
}

bool sl_policy_attempt_billed(bool has_usage, int status, bool head, enum sl_attempt_outcome o) {
  if (has_usage) return true;
  if (status >= 400) return false;
  return head || o == SL_AO_LOST_RACE || o == SL_AO_CANCELLED || o == SL_AO_CLIENT_CLOSED || o == SL_AO_UPSTREAM_TIMEOUT;
}
