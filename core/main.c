/* sluice: command line. `sluice --config FILE [--host H] [--port P] [--workers N]
 * [--data-dir DIR]` serves; `sluice check FILE` validates a config and exits. With no
 * --config, sluice serves its embedded default (two local mock deployments). The flags
 * are kept with the config path (struct sl_master_opts) so a reload (SIGHUP) applies them
 * again to the re-read file. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/master.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sluice [--config FILE] [--host H] [--port P] [--workers N] [--data-dir DIR]\n"
          "       sluice check FILE\n"
          "       sluice --version\n"
          "Without --config, sluice serves its embedded demo config (mock deployments on\n"
          "127.0.0.1:18081 and :18082). See README.md for the config reference.\n");
}

static int load(const struct sl_master_opts *o, bool json_warnings, struct sl_config **cfg) {
  char err[1024];
  if (sl_master_load_config(o, json_warnings, cfg, err, sizeof err)) {
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
    struct sl_master_opts co = {.config_path = argv[2], .port = -1, .workers = -1};
    int rc = load(&co, false, &cfg);
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
  struct sl_master_opts o = {.config_path = config, .host = host, .data_dir = data_dir, .port = port,
                             .workers = workers};
  struct sl_config *cfg;
  int rc = load(&o, true, &cfg);
  if (rc) return rc;
  enum sl_log_level lvl;
  if (cfg->log_level && sl_log_level_parse(cfg->log_level, &lvl) == 0) sl_log_set_level(lvl);
  char err[512];
  if (sl_log_set_file(cfg->log_file, err, sizeof err)) {
    fprintf(stderr, "sluice: sluice_settings.log_file: %s\n", err);
    sl_config_free(cfg);
    return 1;
  }
  if (!config) sl_log(SL_LOG_INFO, "no --config given: serving the embedded demo config", NULL);
  rc = sl_master_run(cfg, &o); /* owns cfg */
  return rc;
}
