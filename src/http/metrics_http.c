/* metrics_http.c: GET /metrics (and HEAD) answered with metrics_render_prometheus(); any other
 * path 404, any other method 405. Loopback only: the figures carry no tenant's data, but they are
 * the agent's and nobody off the host is meant to read them (docs/protocol.md 1.16). */
#include "cmagent/metrics_http.h"

#include "cmagent/alloc.h"
#include "cmagent/metrics.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define MAX_CONNECTIONS 16
#define CONNECTION_TIMEOUT_S 10

struct metrics_http {
    struct MHD_Daemon *daemon;
};

struct address {
    struct sockaddr_storage ss;
    int family;
};

/* Parses host:port into a loopback address; NULL or why not. */
static const char *parse_listen(const char *listen, struct address *out)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    const char *h = listen;
    size_t hlen;

    if (colon == NULL)
        return "must be host:port";
    if (*h == '[') {
        h++;
        if (colon == listen || colon[-1] != ']')
            return "an IPv6 address goes in brackets: [::1]:9464";
        hlen = (size_t)(colon - 1 - h);
    } else {
        hlen = (size_t)(colon - h);
    }
    if (hlen == 0 || hlen >= sizeof host)
        return "must be host:port";
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    char *end = NULL;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end != '\0' || port < 1 || port > 65535)
        return "the port must be 1..65535";
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
    if (strcmp(host, "localhost") == 0)
        snprintf(host, sizeof host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
            return "the address must be a loopback one (127.0.0.0/8 or ::1)";
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        out->family = AF_INET;
        return NULL;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
            return "the address must be a loopback one (127.0.0.0/8 or ::1)";
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        out->family = AF_INET6;
        return NULL;
    }
    return "the host must be an IP address or localhost";
}

const char *metrics_http_refusal(const char *listen)
{
    struct address a;
    return parse_listen(listen, &a);
}

static enum MHD_Result answer_text(struct MHD_Connection *c, unsigned status, char *text, const char *type)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (r == NULL) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    (void)cls;
    (void)version;
    (void)upload_data;
    if (*state == NULL) { /* the headers: answer once the (empty) body is read */
        *state = c;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0; /* a body is ignored */
        return MHD_YES;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return answer_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, xstrdup("Only GET and HEAD.\n"), "text/plain");
    if (strcmp(url, "/metrics") != 0)
        return answer_text(c, MHD_HTTP_NOT_FOUND, xstrdup("Not found: the figures are at /metrics.\n"), "text/plain");
    return answer_text(c, MHD_HTTP_OK, metrics_render_prometheus(), "text/plain; version=0.0.4; charset=utf-8");
}

struct metrics_http *metrics_http_start(const char *listen, char *err, size_t errlen)
{
    struct address addr;
    const char *why = parse_listen(listen, &addr);
    if (why != NULL) {
        snprintf(err, errlen, "metrics_listen \"%s\": %s", listen, why);
        return NULL;
    }
    struct metrics_http *h = xcalloc(1, sizeof *h);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | (addr.family == AF_INET6 ? MHD_USE_IPv6 : 0);
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR,
                                 (struct sockaddr *)&addr.ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)MAX_CONNECTIONS,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S, MHD_OPTION_END);
    if (h->daemon == NULL) {
        snprintf(err, errlen, "metrics_listen \"%s\": cannot listen there (in use, or not permitted)", listen);
        free(h);
        return NULL;
    }
    return h;
}

void metrics_http_stop(struct metrics_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
