/* tls_check.h: the transport's own look at TLS with OpenSSL, for what paho does not say. Never
 * included outside src/transport/. */
#ifndef CMAGENT_TLS_CHECK_H
#define CMAGENT_TLS_CHECK_H

#include <stdbool.h>
#include <stddef.h>

struct tls_settings {
    const char *cafile, *capath;        /* both "": the system's trust store */
    const char *certfile, *keyfile;     /* "": no client certificate; keyfile "": the key is in certfile */
    const char *keyfile_password;       /* "": none */
};

/* Checks the TLS files before any connect: each readable, certificates and a key where they are
 * expected, the key opened by keyfile_password and belonging to certfile. 0, or -1 with a
 * sentence naming the file and the cause in err. A client certificate past its end date is only
 * logged (the broker decides). */
int tls_check_files(const struct tls_settings *s, char *err, size_t errlen);

enum tls_verdict {
    TLS_PASSED,       /* our handshake and the host name check passed: the failure was not TLS */
    TLS_UNREACHABLE,  /* no TCP connection: not a TLS reason (the broker may not be up yet) */
    TLS_REFUSED,      /* a TLS reason, named in why */
};

/* Connects to host:port, handshakes as paho does (the same files, the server certificate
 * verified), checks that the certificate names host (a DNS name or an IP address) and waits
 * briefly for the broker's alert on a client certificate it did not accept. Each step is bounded
 * by timeout_ms. */
enum tls_verdict tls_diagnose(const struct tls_settings *s, const char *host, int port, int timeout_ms, char *why,
                              size_t whylen);

/* Splits a broker URI (ssl://host:port, mqtts://[::1]:port) into host and port (8883 when none
 * is given). false when the host does not fit. */
bool tls_uri_host_port(const char *uri, char *host, size_t hostlen, int *port);

#endif
