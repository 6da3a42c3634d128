/* JSON-lines logger; see log.h. Timestamps are wall-clock (they are shown to people).
 * The destination is one descriptor per process: stdout, or the log file opened with
 * O_APPEND (each line is one write(2), so processes sharing the file never interleave).
 * A reopen swaps the descriptor in place with dup3(), so a line is never lost between
 * closing the old file and opening the new one. */
#include "core/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static enum sl_log_level level = SL_LOG_INFO;
static const char *names[] = {"debug", "info", "warn", "error"};
static int log_fd = STDOUT_FILENO;
static char log_path[PATH_MAX]; /* "" while logging to stdout */

static int open_log(const char *path) {
  int fd;
  do fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
  while (fd < 0 && errno == EINTR);
  return fd < 0 ? -errno : fd;
}

int sl_log_set_file(const char *path, char *err, size_t errlen) {
  if (!path || !*path) {
    if (log_fd != STDOUT_FILENO) close(log_fd);
    log_fd = STDOUT_FILENO;
    log_path[0] = 0;
    return 0;
  }
  if (strlen(path) >= sizeof log_path) {
    snprintf(err, errlen, "log file path too long");
    return -ENAMETOOLONG;
  }
  int fd = open_log(path);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open log file '%s': %s", path, strerror(-fd));
    return fd;
  }
  if (log_fd != STDOUT_FILENO) close(log_fd);
  log_fd = fd;
  memmove(log_path, path, strlen(path) + 1);
  return 0;
}

int sl_log_reopen(void) {
  if (!log_path[0]) return 0;
  int fd = open_log(log_path);
  if (fd < 0) return fd;
  int rc = dup3(fd, log_fd, O_CLOEXEC) < 0 ? -errno : 0;
  close(fd);
  return rc;
}

const char *sl_log_file(void) { return log_path[0] ? log_path : NULL; }

void sl_log_set_level(enum sl_log_level l) { level = l; }
bool sl_log_enabled(enum sl_log_level l) { return l >= level; }

int sl_log_level_parse(const char *s, enum sl_log_level *out) {
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (enum sl_log_level)i;
      return 0;
    }
  return -1;
}

static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t k = write(log_fd, p, n);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) return;
    p += k;
    n -= (size_t)k;
  }
}

void sl_log_raw(const char *json, size_t n) {
  char line[8192];
  if (n < sizeof line) {
    memcpy(line, json, n);
    line[n] = '\n';
    write_all(line, n + 1);
  } else {
    write_all(json, n);
    write_all("\n", 1);
  }
}

int sl_log_open(char *buf, size_t cap, enum sl_log_level l, const char *msg) {
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  int n = snprintf(buf, cap,
                   "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",\"msg\":\"%s\",\"pid\":%d",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   (long)(tv.tv_usec / 1000), names[l], msg, (int)getpid());
  return n < 0 || (size_t)n >= cap ? -1 : n;
}

void sl_log(enum sl_log_level l, const char *msg, const char *fields, ...) {
  if (l < level) return;
  char line[4096];
  int n = sl_log_open(line, sizeof line, l, msg);
  if (fields && n > 0 && (size_t)n < sizeof line - 2) {
    line[n++] = ',';
    va_list ap;
    va_start(ap, fields);
    int k = vsnprintf(line + n, sizeof line - (size_t)n - 2, fields, ap);
    va_end(ap);
    if (k > 0) n += k < (int)(sizeof line - (size_t)n - 2) ? k : (int)(sizeof line - (size_t)n - 3);
  }
  if (n < 0) return;
  if ((size_t)n > sizeof line - 3) n = (int)sizeof line - 3;
  line[n++] = '}';
  line[n++] = '\n';
  write_all(line, (size_t)n);
}
