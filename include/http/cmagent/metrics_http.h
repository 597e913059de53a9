/* metrics_http.h: the Prometheus scrape endpoint: GET /metrics over HTTP on a loopback address
 * (libmicrohttpd, a thread of its own). The only place that includes libmicrohttpd. */
#ifndef CMAGENT_METRICS_HTTP_H
#define CMAGENT_METRICS_HTTP_H

#include <stddef.h>

struct metrics_http;

/* Whether listen ("127.0.0.1:9464", "[::1]:9464", "localhost:9464") names a loopback address and
 * a port: NULL when it does, else why not. */
const char *metrics_http_refusal(const char *listen);

/* Starts listening on listen (checked by metrics_http_refusal). NULL and err on failure. */
struct metrics_http *metrics_http_start(const char *listen, char *err, size_t errlen);
void metrics_http_stop(struct metrics_http *h);

#endif
