/* What happened to one attempt (one upstream exchange), as the access log, error codes
 * and billing see it. The one idea: an attempt's fate is an enum plus, for an HTTP
 * answer, its status; the strings that clients and operators read ("ok", "http_500",
 * "upstream_timeout", "lost_race", ...) come from one names table here and are never
 * compared. Not to be confused with enum sl_outcome (policy/classify.h), which classifies
 * a provider's error (retry it? a context-window refusal?).
 *
 * To add an outcome: add it to the enum (before SL_AO__COUNT) and its name to the table
 * in outcome.c (a _Static_assert keeps the two the same length). */
#ifndef SL_POLICY_OUTCOME_H
#define SL_POLICY_OUTCOME_H

enum sl_attempt_outcome {
  SL_AO_RUNNING = 0,             /* "running": not ended yet */
  SL_AO_OK,                      /* "ok": a complete answer (or a whole stream) */
  SL_AO_HTTP_STATUS,             /* "http_<status>": an HTTP answer that was not ok (the
                                  * status is kept beside the outcome) */
  SL_AO_UPSTREAM_TIMEOUT,        /* "upstream_timeout": connect, first byte, whole call,
                                  * stream silence or the request deadline */
  SL_AO_UPSTREAM_TLS_ERROR,      /* "upstream_tls_error" */
  SL_AO_UPSTREAM_RESET,          /* "upstream_reset": the connection was reset */
  SL_AO_UPSTREAM_CONNECT_ERROR,  /* "upstream_connect_error": no connection (or not sent) */
  SL_AO_UPSTREAM_PROTOCOL_ERROR, /* "upstream_protocol_error": not a valid answer */
  SL_AO_UPSTREAM_ERROR,          /* "upstream_error": an error event inside a stream */
  SL_AO_OUT_OF_MEMORY,           /* "out_of_memory": the answer could not be buffered */
  SL_AO_INVALID_REQUEST,         /* "invalid_request": not expressible in the deployment's format */
  SL_AO_CLIENT_STALLED,          /* "client_stalled": the client stopped reading the stream */
  SL_AO_CLIENT_CLOSED,           /* "client_closed": the client left before a winner */
  SL_AO_CANCELLED,               /* "cancelled": the request ended after a winner */
  SL_AO_LOST_RACE,               /* "lost_race": another attempt won */
  SL_AO_CHECK_FAILED,            /* "check_failed": a cascade step's answer failed a check
                                  * (the request went on to the next target) */
  SL_AO__COUNT
};

/* The outcome's name, a static string. For SL_AO_HTTP_STATUS it is "http_<status>"
 * (statuses 100..999; any other gives "http_status"); status is ignored otherwise. An
 * out-of-range outcome gives "unknown". */
const char *sl_attempt_outcome_name(enum sl_attempt_outcome o, int status);

#endif
