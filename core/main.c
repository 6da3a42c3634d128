/* sluice: command line. `sluice --config FILE [--host H] [--port P] [--workers N]
 * [--data-dir DIR]` serves; `sluice check FILE` validates a config and exits. With no
 * --config, sluice serves its embedded default (two local mock deployments). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/master.h"
#include "net/buf.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sluice [--config FILE] [--host H] [--port P] [--workers N] [--data-dir DIR]\n"
          "       sluice check FILE\n"
          "       sluice --version\n"
          "Without --config, sluice serves its embedded demo config (mock deployments on\n"
          "127.0.0.1:18081 and :18082). See README.md for the config reference.\n");
}

static void warn_cb(void *ud, const char *msg) {
  bool *json = ud;
  if (*json) {
    struct sl_buf b = {0};
    sl_buf_json_escape(&b, msg, strlen(msg));
    sl_log(SL_LOG_WARN, "config", "\"detail\":\"%s\"", b.p ? b.p : "");
    sl_buf_free(&b);
  }
  else fprintf(stderr, "sluice: warning: %s\n", msg);
}

static int load(const char *path, bool json_warnings, struct sl_config **cfg) {
  char err[1024];
  int rc = path ? sl_config_load_file(path, warn_cb, &json_warnings, cfg, err, sizeof err)
                : sl_config_load_string(sl_config_default_yaml, strlen(sl_config_default_yaml), "<embedded>",
                                        warn_cb, &json_warnings, cfg, err, sizeof err);
  if (rc) {
    fprintf(stderr, "sluice: invalid config: %s\n", err);
    return 2;
  }
  return 0;
}

static int parse_int(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *s == 0 || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "check") == 0) {
    if (argc != 3) {
      usage(stderr);
      return 2;
    }
    struct sl_config *cfg;
    int rc = load(argv[2], false, &cfg);
    if (rc) return rc;
    printf("%s: ok (%zu deployments)\n", argv[2], cfg->ndeployments);
    sl_config_free(cfg);
    return 0;
  }
  static const struct option opts[] = {
    {"config", required_argument, 0, 'c'}, {"host", required_argument, 0, 'H'},
    {"port", required_argument, 0, 'p'},   {"workers", required_argument, 0, 'w'},
    {"data-dir", required_argument, 0, 'd'}, {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},      {0, 0, 0, 0},
  };
  const char *config = NULL, *host = NULL, *data_dir = NULL;
  long port = -1, workers = -1;
  int c;
  while ((c = getopt_long(argc, argv, "c:H:p:w:d:hV", opts, NULL)) != -1) {
    switch (c) {
    case 'c': config = optarg; break;
    case 'H': host = optarg; break;
    case 'd': data_dir = optarg; break;
    case 'p':
      if (parse_int(optarg, 0, 65535, &port)) {
        fprintf(stderr, "sluice: --port: expected 0..65535, got '%s'\n", optarg);
        return 2;
      }
      break;
    case 'w':
      if (parse_int(optarg, 0, 256, &workers)) {
        fprintf(stderr, "sluice: --workers: expected 0..256, got '%s'\n", optarg);
        return 2;
      }
      break;
    case 'h': usage(stdout); return 0;
    case 'V': printf("sluice 0.1.0\n"); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "sluice: unexpected argument '%s'\n", argv[optind]);
    usage(stderr);
    return 2;
  }
  struct sl_config *cfg;
  int rc = load(config, true, &cfg);
  if (rc) return rc;
  if (host) {
    free(cfg->listen_host);
    cfg->listen_host = strdup(host);
  }
  if (data_dir) {
    free(cfg->data_dir);
    cfg->data_dir = strdup(data_dir);
  }
  if (port >= 0) cfg->port = (uint16_t)port;
  if (workers >= 0) cfg->workers = (int)workers;
  enum sl_log_level lvl;
  if (cfg->log_level && sl_log_level_parse(cfg->log_level, &lvl) == 0) sl_log_set_level(lvl);
  if (!config) sl_log(SL_LOG_INFO, "no --config given: serving the embedded demo config", NULL);
  rc = sl_master_run(cfg);
  sl_config_free(cfg);
  return rc;
}
