/* sluice: command line. `sluice --config FILE [--host H] [--port P] [--workers N]
 * [--data-dir DIR]` serves; `sluice check FILE` validates a config and exits; `sluice
 * store check|backup` looks after the stores (core/storectl.c). With no
 * --config, sluice serves its embedded default (two local mock deployments). The flags
 * are kept with the config path (struct sl_master_opts) so a reload (SIGHUP) applies them
 * again to the re-read file. */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "core/config/config.h"
#include "core/config/config_cluster.h"
#include "core/config/config_parse.h"
#include "core/log.h"
#include "core/master.h"
#include "core/routerctl.h"
#include "core/storectl.h"

static void usage(FILE *f) {
  fprintf(f,
          "usage: sluice [--config FILE] [--host H] [--port P] [--workers N] [--data-dir DIR]\n"
          "       sluice check FILE\n"
          "       sluice store check [--config FILE | --data-dir DIR]   (exit 1 when a store is damaged)\n"
          "       sluice store backup [--config FILE | --data-dir DIR] DEST   (keys + spend ledger)\n"
          "       sluice probe http://HOST:PORT/PATH   (exit 0 on a 2xx answer; for health checks)\n"
          "       sluice router train|calibrate|eval|convert|info ...   (router models; `sluice router` for help)\n"
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

/* `sluice probe URL`: one GET, exit 0 on a 2xx status and 1 otherwise, within 2 s. For
 * container health checks where sluice listens on loopback (a kubelet httpGet probe
 * would knock on the pod IP) and the image has no curl. */
static int probe(const char *url) {
  struct sl_config_url u;
  const char *why = "invalid URL";
  if (sl_config_parse_url(url, &u, &why) || u.tls) {
    fprintf(stderr, "sluice probe: %s: %s\n", url, u.tls ? "https is not supported" : why);
    sl_config_url_clear(&u); /* safe after a failed parse too */
    return 2;
  }
  char port[8];
  snprintf(port, sizeof port, "%u", u.port);
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai = NULL;
  int rc = 1, fd = -1;
  if (getaddrinfo(u.host, port, &hints, &ai) == 0) {
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
      fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      struct timeval tv = {2, 0};
      if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect() too */
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      }
      if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
        close(fd);
        fd = -1;
      }
    }
    freeaddrinfo(ai);
  }
  if (fd < 0) {
    fprintf(stderr, "sluice probe: cannot connect to %s:%s\n", u.host, port);
    sl_config_url_clear(&u);
    return 1;
  }
  char req[1024], resp[512];
  bool v6 = strchr(u.host, ':') != NULL;
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: sluice-probe\r\nConnection: close\r\n\r\n",
                   u.path[0] ? u.path : "/", v6 ? "[" : "", u.host, v6 ? "]" : "");
  size_t got = 0;
  if (n > 0 && (size_t)n < sizeof req && write(fd, req, (size_t)n) == n) {
    ssize_t k;
    while (got < sizeof resp - 1 && (k = read(fd, resp + got, sizeof resp - 1 - got)) > 0) got += (size_t)k;
  }
  close(fd);
  resp[got] = 0;
  int status = 0;
  if (sscanf(resp, "HTTP/1.%*d %d", &status) == 1 && status >= 200 && status < 300) rc = 0;
  const char *body = strstr(resp, "\r\n\r\n");
  printf("%d %s\n", status, body ? body + 4 : "");
  sl_config_url_clear(&u);
  return rc;
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
    if (cfg->nrouters)
      printf("%s: ok (%zu deployments, %zu router%s)\n", argv[2], cfg->ndeployments, cfg->nrouters,
             cfg->nrouters == 1 ? "" : "s");
    else
      printf("%s: ok (%zu deployments)\n", argv[2], cfg->ndeployments);
    if (cfg->cluster.redis.enabled) { /* shared state: worth a line (never the password) */
      char line[600];
      sl_config_cluster_describe(cfg, line, sizeof line);
      printf("%s\n", line);
    }
    if (cfg->tracing.enabled) { /* where spans go (headers never shown: they carry credentials) */
      char ep[512];
      sl_config_redact_url(cfg->tracing.endpoint, ep, sizeof ep);
      printf("tracing: OpenTelemetry spans to %s (OTLP/HTTP JSON, service.name %s, turned on by %s%s%s)\n", ep,
             cfg->tracing.service_name, cfg->tracing.source ? cfg->tracing.source : "config",
             cfg->tracing.nheaders ? ", with headers" : "", cfg->tracing.capture_content ? ", message content captured" : "");
    }
    sl_config_free(cfg);
    return 0;
  }
  if (argc >= 2 && strcmp(argv[1], "store") == 0) return sl_storectl_cli(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "router") == 0) return sl_routerctl_cli(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "probe") == 0) {
    if (argc != 3) {
      usage(stderr);
      return 2;
    }
    return probe(argv[2]);
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
    case 'V': printf("sluice " SLUICE_VERSION "\n"); return 0;
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
