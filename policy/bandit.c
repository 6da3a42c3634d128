/* Online correction and Thompson exploration for learned routers; see bandit.h. Pure:
 * libc and libm only, time and randomness passed in. */
#include "policy/bandit.h"

#include <math.h>
#include <string.h>

void sl_learn_init(struct sl_learn_state *st) {
  memset(st, 0, sizeof *st);
  st->magic = SL_LEARN_MAGIC;
  st->version = SL_LEARN_VERSION;
}

bool sl_learn_valid(const void *bytes, size_t n) {
  if (!bytes || n != sizeof(struct sl_learn_state)) return false;
  struct sl_learn_state st;
  memcpy(&st, bytes, sizeof st);
  if (st.magic != SL_LEARN_MAGIC || st.version != SL_LEARN_VERSION) return false;
  for (size_t i = 0; i < SL_LEARN_SLOTS; i++)
    if (!isfinite(st.bias[i]) || !isfinite(st.ok[i]) || !isfinite(st.need[i]) || !isfinite(st.moved[i]) ||
        fabsf(st.bias[i]) > 1.0f || st.ok[i] < 0 || st.need[i] < 0)
      return false;
  return true;
}

size_t sl_learn_slots(const uint32_t *buckets, size_t n, uint16_t *out, size_t max) {
  uint8_t seen[SL_LEARN_SLOTS / 8] = {0};
  size_t k = 0;
  for (size_t i = 0; i < n && k < max; i++) {
    unsigned s = buckets[i] & (SL_LEARN_SLOTS - 1);
    if (seen[s / 8] & (1u << (s % 8))) continue;
    seen[s / 8] |= (uint8_t)(1u << (s % 8));
    out[k++] = (uint16_t)s;
  }
  return k;
}

static double clamp1(double x) { return x < -1 ? -1 : x > 1 ? 1 : x; }

double sl_learn_adjust(const struct sl_learn_state *st, const uint16_t *slots, size_t n) {
  if (!n) return 0;
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += st->bias[slots[i] & (SL_LEARN_SLOTS - 1)];
  return clamp1(sum / (double)n);
}

double sl_learn_keep(uint64_t seen_s, uint64_t now_s, double half_life_s) {
  if (!(half_life_s > 0) || !seen_s || now_s <= seen_s) return 1;
  return exp2(-(double)(now_s - seen_s) / half_life_s);
}

void sl_learn_observe(struct sl_learn_state *st, const uint16_t *slots, size_t n, double need, uint64_t now_s,
                      double max_shift_per_hour, double half_life_s) {
  if (!(need >= 0 && need <= 1) || !n) return;
  uint64_t hour = now_s / 3600;
  if (hour != st->hour) {
    st->hour = hour;
    memset(st->moved, 0, sizeof st->moved);
  }
  if (!(max_shift_per_hour >= 0)) max_shift_per_hour = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned s = slots[i] & (SL_LEARN_SLOTS - 1);
    float keep = (float)sl_learn_keep(st->seen_s[s], now_s, half_life_s) * SL_LEARN_DECAY;
    st->ok[s] = st->ok[s] * keep + (float)(1 - need);
    st->need[s] = st->need[s] * keep + (float)need;
    st->seen_s[s] = (uint32_t)now_s;
    double target = SL_LEARN_GAIN * (st->need[s] - st->ok[s]) / (st->need[s] + st->ok[s] + 2.0);
    double step = target - st->bias[s], left = max_shift_per_hour - st->moved[s];
    if (left <= 0) continue;
    if (step > left) step = left;
    if (step < -left) step = -left;
    st->bias[s] = (float)clamp1(st->bias[s] + step);
    st->moved[s] += (float)fabs(step);
  }
  st->outcomes++;
  if (now_s > st->updated_s) st->updated_s = now_s;
}

/* ---- randomness ---- */

uint64_t sl_rng_next(struct sl_rng *r) {
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double sl_rng_unit(struct sl_rng *r) { return ((double)(sl_rng_next(r) >> 11) + 0.5) / 9007199254740992.0; }

double sl_rng_normal(struct sl_rng *r) {
  double u = sl_rng_unit(r), v = sl_rng_unit(r);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static double gamma_draw(struct sl_rng *r, double a) {
  if (a < 1) return gamma_draw(r, a + 1) * pow(sl_rng_unit(r), 1.0 / a);
  double d = a - 1.0 / 3, c = 1.0 / sqrt(9 * d);
  for (;;) {
    double x = sl_rng_normal(r), v = 1 + c * x;
    if (v <= 0) continue;
    v = v * v * v;
    double u = sl_rng_unit(r);
    if (log(u) < 0.5 * x * x + d - d * v + d * log(v)) return d * v;
  }
}

double sl_bandit_beta(struct sl_rng *r, double a, double b) {
  double x = gamma_draw(r, a), y = gamma_draw(r, b);
  return x + y > 0 ? x / (x + y) : 0.5;
}

double sl_bandit_sample_adjust(const struct sl_learn_state *st, const uint16_t *slots, size_t n, struct sl_rng *r,
                               uint64_t now_s, double half_life_s) {
  if (!n) return 0;
  double ok = 0, need = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned s = slots[i] & (SL_LEARN_SLOTS - 1);
    double keep = sl_learn_keep(st->seen_s[s], now_s, half_life_s);
    ok += st->ok[s] * keep;
    need += st->need[s] * keep;
  }
  ok /= (double)n;
  need /= (double)n;
  double a = 1 + need, b = 1 + ok, p = sl_bandit_beta(r, a, b);
  return clamp1(sl_learn_adjust(st, slots, n) + SL_LEARN_GAIN * 2 * (p - a / (a + b)));
}

bool sl_bandit_budget_take(struct sl_bandit_budget *b, uint64_t now_s, double cost_usd, double limit_usd) {
  uint64_t day = now_s / 86400;
  if (day != b->day) {
    b->day = day;
    b->spent_usd = 0;
  }
  if (!(cost_usd >= 0) || !(limit_usd > 0) || b->spent_usd + cost_usd > limit_usd) return false;
  b->spent_usd += cost_usd;
  b->explorations++;
  return true;
}
