/* tls_check.c: the transport's own TLS checks with OpenSSL. paho says "TCP/TLS connect failure"
 * for every TLS problem and prompts on the terminal for a key's missing password; so the files of
 * the TLS settings are checked here before the first connect, and when a TLS connect fails a short
 * handshake of our own (the same files, the same verification as paho) names the reason: the
 * verify error with the certificate it is about, a host name mismatch with the names the
 * certificate holds, or the broker's alert. */
#include "tls_check.h"

#include "cmagent/log.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static bool set(const char *s) { return s != NULL && s[0] != '\0'; }

/* The reason of OpenSSL's last queued error ("unspecified" when there is none); the queue is emptied. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e, last = 0;
    while ((e = ERR_get_error()) != 0)
        last = e;
    const char *r = last != 0 ? ERR_reason_error_string(last) : NULL;
    snprintf(buf, len, "%s", r != NULL ? r : "unspecified");
    return buf;
}

static int readable(const char *key, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s %s cannot be read: %s", key, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

struct password { const char *text; int asked; };

static int password_cb(char *buf, int size, int rwflag, void *u)
{
    struct password *p = u;
    (void)rwflag;
    p->asked++;
    if (!set(p->text) || size <= 0)
        return 0;
    int n = (int)strlen(p->text);
    if (n > size)
        n = size;
    memcpy(buf, p->text, (size_t)n);
    return n;
}

static int load_trust(SSL_CTX *ctx, const struct tls_settings *s, char *err, size_t errlen)
{
    char r[200];
    if (set(s->cafile) && readable("cafile", s->cafile, err, errlen) != 0)
        return -1;
    if (set(s->capath)) {
        DIR *d = opendir(s->capath);
        if (d == NULL) {
            snprintf(err, errlen, "capath %s cannot be read as a directory: %s", s->capath, strerror(errno));
            return -1;
        }
        closedir(d);
    }
    if (!set(s->cafile) && !set(s->capath)) {
        if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            snprintf(err, errlen, "the system's trust store cannot be loaded: %s", ssl_reason(r, sizeof r));
            return -1;
        }
        return 0;
    }
    if (SSL_CTX_load_verify_locations(ctx, set(s->cafile) ? s->cafile : NULL, set(s->capath) ? s->capath : NULL) != 1) {
        snprintf(err, errlen, "cafile %s holds no PEM certificate: %s", s->cafile, ssl_reason(r, sizeof r));
        return -1;
    }
    return 0;
}

static int load_key(SSL_CTX *ctx, const struct tls_settings *s, char *err, size_t errlen)
{
    const char *path = set(s->keyfile) ? s->keyfile : s->certfile;
    const char *key = set(s->keyfile) ? "keyfile" : "certfile (which holds the key when keyfile is not set)";
    struct password pw = { s->keyfile_password, 0 };
    char r[200];

    if (readable(key, path, err, errlen) != 0)
        return -1;
    BIO *bio = BIO_new_file(path, "r");
    EVP_PKEY *pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, password_cb, &pw) : NULL;
    BIO_free(bio);
    if (pkey == NULL) {
        ssl_reason(r, sizeof r);
        if (pw.asked > 0 && !set(s->keyfile_password))
            snprintf(err, errlen, "%s %s is encrypted: set keyfile_password", key, path);
        else if (pw.asked > 0)
            snprintf(err, errlen, "%s %s cannot be decrypted with keyfile_password (wrong password? %s)", key, path, r);
        else
            snprintf(err, errlen, "%s %s holds no PEM private key: %s", key, path, r);
        return -1;
    }
    int ok = SSL_CTX_use_PrivateKey(ctx, pkey) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    EVP_PKEY_free(pkey);
    if (!ok) {
        snprintf(err, errlen, "%s %s does not belong to certfile %s: %s", key, path, s->certfile, ssl_reason(r, sizeof r));
        return -1;
    }
    return 0;
}

static void warn_expired_client_cert(SSL_CTX *ctx, const char *path)
{
    X509 *c = SSL_CTX_get0_certificate(ctx);
    if (c != NULL && X509_cmp_current_time(X509_get0_notAfter(c)) < 0)
        log_warn("The client certificate in certfile %s has expired; the broker will likely refuse it.", path);
}

/* A client context as paho makes it (paho sets security level 1), with every file loaded. */
static SSL_CTX *make_ctx(const struct tls_settings *s, char *err, size_t errlen)
{
    char r[200];
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, errlen, "OpenSSL cannot make a TLS context: %s", ssl_reason(r, sizeof r));
        return NULL;
    }
    SSL_CTX_set_security_level(ctx, 1);
    if (set(s->keyfile) && !set(s->certfile)) {
        snprintf(err, errlen, "keyfile %s is set without certfile: set certfile to the client certificate", s->keyfile);
        goto fail;
    }
    if (set(s->certfile)) {
        if (readable("certfile", s->certfile, err, errlen) != 0)
            goto fail;
        if (SSL_CTX_use_certificate_chain_file(ctx, s->certfile) != 1) {
            snprintf(err, errlen, "certfile %s holds no PEM certificate: %s", s->certfile, ssl_reason(r, sizeof r));
            goto fail;
        }
        if (load_key(ctx, s, err, errlen) != 0)
            goto fail;
    }
    if (load_trust(ctx, s, err, errlen) != 0)
        goto fail;
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

int tls_check_files(const struct tls_settings *s, char *err, size_t errlen)
{
    SSL_CTX *ctx = make_ctx(s, err, errlen);
    if (ctx == NULL)
        return -1;
    if (set(s->certfile))
        warn_expired_client_cert(ctx, s->certfile);
    SSL_CTX_free(ctx);
    return 0;
}

bool tls_uri_host_port(const char *uri, char *host, size_t hostlen, int *port)
{
    const char *h = strstr(uri, "://");
    h = h != NULL ? h + 3 : uri;
    const char *end, *colon;
    if (*h == '[') {
        h++;
        end = strchr(h, ']');
        if (end == NULL)
            return false;
        colon = end[1] == ':' ? end + 1 : NULL;
    } else {
        colon = strrchr(h, ':');
        end = colon != NULL ? colon : h + strcspn(h, "/");
    }
    size_t n = (size_t)(end - h);
    if (n == 0 || n >= hostlen)
        return false;
    memcpy(host, h, n);
    host[n] = '\0';
    *port = colon != NULL ? atoi(colon + 1) : 8883;
    return *port > 0 && *port < 65536;
}

static void set_timeouts(int fd, int timeout_ms)
{
    struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A connected blocking socket whose reads and writes time out after timeout_ms, or -1. */
static int tcp_connect(const char *host, int port, int timeout_ms)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    char service[16];
    int fd = -1;

    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &res) != 0)
        return -1;
    for (struct addrinfo *ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        int rc = connect(fd, ai->ai_addr, ai->ai_addrlen), soerr = 0;
        socklen_t len = sizeof soerr;
        struct pollfd p = { fd, POLLOUT, 0 };
        if (rc != 0 && (errno != EINPROGRESS || poll(&p, 1, timeout_ms) != 1 ||
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0)) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd >= 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        set_timeouts(fd, timeout_ms);
    }
    return fd;
}

/* What the verify callback saw about the first certificate that failed. */
struct seen {
    bool captured;
    int error;
    char subject[256], issuer[256], not_before[64], not_after[64];
};

static void time_text(const ASN1_TIME *t, char *out, size_t len)
{
    BIO *b = BIO_new(BIO_s_mem());
    out[0] = '\0';
    if (b == NULL)
        return;
    if (ASN1_TIME_print(b, t) == 1) {
        int n = BIO_read(b, out, (int)len - 1);
        out[n > 0 ? n : 0] = '\0';
    }
    BIO_free(b);
}

static int verify_cb(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct seen *s = ssl != NULL ? SSL_get_app_data(ssl) : NULL;
    X509 *c = X509_STORE_CTX_get_current_cert(x);
    if (!ok && s != NULL && !s->captured && c != NULL) {
        s->captured = true;
        s->error = X509_STORE_CTX_get_error(x);
        X509_NAME_oneline(X509_get_subject_name(c), s->subject, sizeof s->subject);
        X509_NAME_oneline(X509_get_issuer_name(c), s->issuer, sizeof s->issuer);
        time_text(X509_get0_notBefore(c), s->not_before, sizeof s->not_before);
        time_text(X509_get0_notAfter(c), s->not_after, sizeof s->not_after);
    }
    return ok;
}

static const char *trust_of(const struct tls_settings *s, char *buf, size_t len)
{
    if (set(s->cafile) && set(s->capath))
        snprintf(buf, len, "cafile %s or capath %s", s->cafile, s->capath);
    else if (set(s->cafile))
        snprintf(buf, len, "cafile %s", s->cafile);
    else if (set(s->capath))
        snprintf(buf, len, "capath %s", s->capath);
    else
        snprintf(buf, len, "the system's trust store (set cafile to the broker's CA)");
    return buf;
}

static void verify_failure(const struct tls_settings *s, long code, const struct seen *seen, char *why, size_t len)
{
    char trust[600];
    const char *what = X509_verify_cert_error_string(code);
    if (!seen->captured)
        snprintf(why, len, "certificate verify failed: %s", what);
    else if (code == X509_V_ERR_CERT_HAS_EXPIRED)
        snprintf(why, len, "certificate verify failed: %s (%s expired on %s)", what, seen->subject, seen->not_after);
    else if (code == X509_V_ERR_CERT_NOT_YET_VALID)
        snprintf(why, len, "certificate verify failed: %s (%s is valid from %s)", what, seen->subject, seen->not_before);
    else if (code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || code == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
             code == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || code == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN)
        snprintf(why, len, "certificate verify failed: %s (the broker's certificate chain leads to %s, which is not in "
                 "%s)", what, seen->issuer, trust_of(s, trust, sizeof trust));
    else
        snprintf(why, len, "certificate verify failed: %s (certificate %s)", what, seen->subject);
}

/* The DNS names and IP addresses a certificate is for, else its common name. */
static void names_of(X509 *c, char *out, size_t len)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(c, NID_subject_alt_name, NULL, NULL);
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && used + 2 < len; i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        char ip[INET6_ADDRSTRLEN] = "";
        const char *text = NULL;
        if (g->type == GEN_DNS)
            text = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
        else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4)
            text = inet_ntop(AF_INET, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip);
        else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 16)
            text = inet_ntop(AF_INET6, ASN1_STRING_get0_data(g->d.iPAddress), ip, sizeof ip);
        if (text != NULL)
            used += (size_t)snprintf(out + used, len - used, "%s%s", used > 0 ? ", " : "", text);
    }
    GENERAL_NAMES_free(names);
    if (used == 0)
        X509_NAME_oneline(X509_get_subject_name(c), out, (int)len);
}

/* paho's own check: the host as a DNS name, else as an IP address. */
static bool host_matches(X509 *c, const char *host)
{
    return X509_check_host(c, host, 0, 0, NULL) == 1 || X509_check_ip_asc(c, host, 0) == 1;
}

static const char *alert_hint(const char *reason)
{
    if (strstr(reason, "certificate required") != NULL)
        return " (the broker requires a client certificate: set certfile and keyfile)";
    if (strstr(reason, "unknown ca") != NULL || strstr(reason, "bad certificate") != NULL ||
        strstr(reason, "certificate unknown") != NULL || strstr(reason, "certificate expired") != NULL)
        return " (the broker did not accept the client certificate in certfile)";
    if (strstr(reason, "wrong version number") != NULL || strstr(reason, "packet length too long") != NULL)
        return " (this port does not speak TLS: is it a plain tcp:// listener?)";
    return "";
}

static enum tls_verdict handshake_failed(SSL *ssl, int rc, const struct tls_settings *s, const struct seen *seen,
                                         const char *stage, char *why, size_t len)
{
    char r[200];
    long vr = SSL_get_verify_result(ssl);
    int e = SSL_get_error(ssl, rc);
    if (vr != X509_V_OK) {
        ERR_clear_error();
        verify_failure(s, vr, seen, why, len);
    } else if (e == SSL_ERROR_SSL) {
        ssl_reason(r, sizeof r);
        snprintf(why, len, "%s: %s%s", *stage != '\0' ? "the broker refused the connection after the TLS handshake"
                 : "the TLS handshake failed", r, alert_hint(r));
    } else {
        int saved = errno;
        ERR_clear_error();
        if (e == SSL_ERROR_SYSCALL && (saved == EAGAIN || saved == EWOULDBLOCK))
            return TLS_PASSED; /* nothing within the timeout: no alert came */
        if (*stage != '\0')
            return TLS_PASSED; /* closed after the handshake without an alert: not a TLS reason */
        snprintf(why, len, "the broker closed the connection during the TLS handshake%s%s (is this port a TLS "
                 "listener?)", saved != 0 ? ": " : "", saved != 0 ? strerror(saved) : "");
    }
    return TLS_REFUSED;
}

/* After a handshake that passed, the broker may still refuse the client certificate (TLS 1.3
 * sends that alert after the handshake): read briefly for it. */
static enum tls_verdict await_alert(SSL *ssl, int fd, const struct tls_settings *s, const struct seen *seen,
                                    char *why, size_t len)
{
    char byte;
    set_timeouts(fd, 700);
    errno = 0;
    int rc = SSL_read(ssl, &byte, 1);
    if (rc > 0)
        return TLS_PASSED;
    return handshake_failed(ssl, rc, s, seen, " after the handshake", why, len);
}

enum tls_verdict tls_diagnose(const struct tls_settings *s, const char *host, int port, int timeout_ms, char *why,
                              size_t whylen)
{
    struct seen seen;
    enum tls_verdict v = TLS_REFUSED;
    SSL_CTX *ctx = make_ctx(s, why, whylen);
    if (ctx == NULL)
        return TLS_REFUSED;
    int fd = tcp_connect(host, port, timeout_ms);
    if (fd < 0) {
        snprintf(why, whylen, "no TCP connection to %s:%d", host, port);
        SSL_CTX_free(ctx);
        return TLS_UNREACHABLE;
    }
    memset(&seen, 0, sizeof seen);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        snprintf(why, whylen, "OpenSSL cannot make a TLS connection");
        goto done;
    }
    SSL_set_app_data(ssl, &seen);
    SSL_set_tlsext_host_name(ssl, host);
    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(ssl);
    if (rc != 1) {
        v = handshake_failed(ssl, rc, s, &seen, "", why, whylen);
        goto done;
    }
    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer != NULL && !host_matches(peer, host)) {
        char names[400];
        names_of(peer, names, sizeof names);
        snprintf(why, whylen, "host name mismatch: the broker's certificate is for %s, not for %s", names, host);
        X509_free(peer);
        goto done;
    }
    X509_free(peer);
    v = await_alert(ssl, fd, s, &seen, why, whylen);
done:
    if (ssl != NULL) {
        SSL_set_quiet_shutdown(ssl, 1);
        SSL_free(ssl);
    }
    close(fd);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return v;
}
