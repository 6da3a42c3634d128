/* `sluice router export|import|rollback|history NAME`: an online router's learned state
 * (core/router_online.h) from the command line, on DATA_DIR/feedback while sluice runs
 * (LMDB takes a second process; workers see a change within a second). Export writes
 * JSON (the slots that are not all zero); import and rollback keep the replaced state as
 * a snapshot first, so both can be undone with another rollback. To add a command: a
 * cmd_* function and its line in sl_learnctl_cli. */
#include "core/learnctl.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy/bandit.h"
#include "store/feedback.h"
#include "store/lmdb_env.h"

#define FEEDBACK_MAP_SIZE ((size_t)1 << 30)
#define KEEP_SNAPSHOTS    24

static void usage(void) {
  fprintf(stderr, "usage: sluice router export NAME [--data-dir DIR] > state.json\n"
                  "       sluice router import NAME FILE [--data-dir DIR]\n"
                  "       sluice router rollback NAME [--to UNIX_SECONDS] [--data-dir DIR]\n"
                  "       sluice router history NAME [--data-dir DIR]\n"
                  "DIR: sluice_settings.data_dir (default ./sluice-data); the state is in DIR/feedback.\n");
}

struct args {
  const char *name, *file, *dir;
  int64_t to;
  bool has_to;
};

static int parse_args(int argc, char **argv, int npos, struct args *a) {
  *a = (struct args){.dir = "./sluice-data"};
  int pos = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--data-dir") == 0 && i + 1 < argc)
      a->dir = argv[++i];
    else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
      char *end;
      long long v = strtoll(argv[++i], &end, 10);
      if (*end || v <= 0) {
        fprintf(stderr, "sluice router: --to takes unix seconds (e.g. %lld)\n", (long long)time(NULL) - 3600);
        return -1;
      }
      a->to = v;
      a->has_to = true;
    } else if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "sluice router: unknown option '%s'\n", argv[i]);
      return -1;
    } else if (pos == 0)
      a->name = argv[i], pos++;
    else if (pos == 1 && npos == 2)
      a->file = argv[i], pos++;
    else {
      usage();
      return -1;
    }
  }
  if (pos != npos) {
    usage();
    return -1;
  }
  return 0;
}

static struct sl_lmdb *open_env(const char *dir) {
  char path[4200], msg[512] = "";
  snprintf(path, sizeof path, "%s/feedback", dir);
  struct sl_lmdb *e = NULL;
  int rc = sl_lmdb_open(path, FEEDBACK_MAP_SIZE, 0, &e, msg, sizeof msg);
  if (msg[0]) fprintf(stderr, "sluice router: %s\n", msg);
  if (rc) {
    fprintf(stderr, "sluice router: cannot open %s (%s)\n", path, strerror(-rc));
    return NULL;
  }
  return e;
}

static int load(struct sl_lmdb *e, const char *name, struct sl_learn_state *st) {
  size_t len = 0;
  int rc = sl_fb_state_get(e, name, st, sizeof *st, &len);
  if (rc == -ENOENT) {
    fprintf(stderr, "sluice router: router '%s' has no learned state (no outcomes yet, or not an online router)\n",
            name);
    return 1;
  }
  if (rc || !sl_learn_valid(st, len)) {
    fprintf(stderr, "sluice router: the state of '%s' cannot be read (%s)\n", name,
            rc ? strerror(-rc) : "another version or damaged");
    return 1;
  }
  return 0;
}

static int cmd_export(int argc, char **argv) {
  struct args a;
  if (parse_args(argc, argv, 1, &a)) return 2;
  struct sl_lmdb *e = open_env(a.dir);
  if (!e) return 1;
  struct sl_learn_state st;
  int rc = load(e, a.name, &st);
  sl_lmdb_close(e);
  if (rc) return rc;
  cJSON *j = cJSON_CreateObject(), *slots = cJSON_CreateArray();
  cJSON_AddStringToObject(j, "router", a.name);
  cJSON_AddNumberToObject(j, "version", SL_LEARN_VERSION);
  cJSON_AddNumberToObject(j, "updated", (double)st.updated_s);
  cJSON_AddNumberToObject(j, "outcomes", (double)st.outcomes);
  for (unsigned i = 0; i < SL_LEARN_SLOTS; i++) {
    if (!st.bias[i] && !st.ok[i] && !st.need[i]) continue;
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "slot", i);
    cJSON_AddNumberToObject(s, "bias", st.bias[i]);
    cJSON_AddNumberToObject(s, "ok", st.ok[i]);
    cJSON_AddNumberToObject(s, "need", st.need[i]);
    cJSON_AddItemToArray(slots, s);
  }
  cJSON_AddItemToObject(j, "slots", slots);
  char *txt = cJSON_Print(j);
  cJSON_Delete(j);
  if (!txt) return 1;
  printf("%s\n", txt);
  free(txt);
  return 0;
}

static int num(const cJSON *o, const char *k, double lo, double hi, double *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) return -1;
  *out = v->valuedouble;
  return 0;
}

static int cmd_import(int argc, char **argv) {
  struct args a;
  if (parse_args(argc, argv, 2, &a)) return 2;
  FILE *f = fopen(a.file, "rb");
  if (!f) {
    fprintf(stderr, "sluice router: cannot open %s: %s\n", a.file, strerror(errno));
    return 1;
  }
  char *buf = malloc(1 << 20);
  size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
  fclose(f);
  if (!buf) return 1;
  cJSON *j = cJSON_ParseWithLength(buf, n);
  free(buf);
  struct sl_learn_state st;
  sl_learn_init(&st);
  const char *bad = NULL;
  double v;
  const cJSON *slots = cJSON_GetObjectItemCaseSensitive(j, "slots");
  if (!cJSON_IsObject(j))
    bad = "not a JSON object";
  else if (num(j, "version", SL_LEARN_VERSION, SL_LEARN_VERSION, &v))
    bad = "'version' is not this sluice's (1)";
  else if (!cJSON_IsArray(slots))
    bad = "'slots' must be an array";
  if (!bad && !num(j, "updated", 0, 1e12, &v)) st.updated_s = (uint64_t)v;
  if (!bad && !num(j, "outcomes", 0, 1e15, &v)) st.outcomes = (uint64_t)v;
  for (const cJSON *s = bad ? NULL : slots->child; s && !bad; s = s->next) {
    double i, b, ok, need;
    if (num(s, "slot", 0, SL_LEARN_SLOTS - 1, &i) || num(s, "bias", -1, 1, &b) || num(s, "ok", 0, 1e6, &ok) ||
        num(s, "need", 0, 1e6, &need) || i != floor(i))
      bad = "every slot needs 'slot' (0..1023), 'bias' (-1..1), 'ok' and 'need' (>= 0)";
    else {
      st.bias[(unsigned)i] = (float)b;
      st.ok[(unsigned)i] = (float)ok;
      st.need[(unsigned)i] = (float)need;
    }
  }
  cJSON_Delete(j);
  if (bad) {
    fprintf(stderr, "sluice router: %s: %s\n", a.file, bad);
    return 1;
  }
  struct sl_lmdb *e = open_env(a.dir);
  if (!e) return 1;
  int rc = sl_fb_state_put(e, a.name, &st, sizeof st, (int64_t)time(NULL), KEEP_SNAPSHOTS);
  sl_lmdb_close(e);
  if (rc) {
    fprintf(stderr, "sluice router: cannot write the state (%s)\n", strerror(-rc));
    return 1;
  }
  fprintf(stderr, "imported the state of router '%s' (the previous one is kept as a snapshot)\n", a.name);
  return 0;
}

static int cmd_rollback(int argc, char **argv) {
  struct args a;
  if (parse_args(argc, argv, 1, &a)) return 2;
  struct sl_lmdb *e = open_env(a.dir);
  if (!e) return 1;
  struct sl_learn_state st;
  size_t len = 0;
  int64_t at = 0;
  int rc = sl_fb_snapshot_get(e, a.name, a.has_to ? a.to : INT64_MAX, &st, sizeof st, &len, &at);
  if (rc == 0 && !sl_learn_valid(&st, len)) rc = -EINVAL;
  if (rc == 0) rc = sl_fb_state_put(e, a.name, &st, sizeof st, (int64_t)time(NULL), KEEP_SNAPSHOTS);
  sl_lmdb_close(e);
  if (rc == -ENOENT) {
    fprintf(stderr, "sluice router: router '%s' has no snapshot%s\n", a.name,
            a.has_to ? " at or before that time" : "");
    return 1;
  }
  if (rc) {
    fprintf(stderr, "sluice router: rollback failed (%s)\n", strerror(-rc));
    return 1;
  }
  printf("rolled back router '%s' to its snapshot of %" PRId64 " (%" PRIu64 " outcomes)\n", a.name, at, st.outcomes);
  return 0;
}

static int cmd_history(int argc, char **argv) {
  struct args a;
  if (parse_args(argc, argv, 1, &a)) return 2;
  struct sl_lmdb *e = open_env(a.dir);
  if (!e) return 1;
  int64_t ts[256];
  int n = sl_fb_snapshots(e, a.name, ts, 256);
  sl_lmdb_close(e);
  if (n < 0) return 1;
  for (int i = 0; i < n; i++) printf("%" PRId64 "\n", ts[i]);
  return 0;
}

int sl_learnctl_cli(int argc, char **argv) {
  if (argc < 1) return -1;
  const char *c = argv[0];
  if (strcmp(c, "export") == 0) return cmd_export(argc, argv);
  if (strcmp(c, "import") == 0) return cmd_import(argc, argv);
  if (strcmp(c, "rollback") == 0) return cmd_rollback(argc, argv);
  if (strcmp(c, "history") == 0) return cmd_history(argc, argv);
  return -1;
}
