/* mailer.c: one SMTP transaction per mail with libcurl (the only file that includes curl): the
 * RFC 5322 message (Date, From, To, Subject, Message-ID, MIME headers, CRLF lines), STARTTLS
 * tried on smtp:// (CURLUSESSL_TRY), authentication when a user name is configured. */
#include "cmagent/mailer.h"

#include "cmagent/alloc.h"
#include "cmagent/secret.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void mailer_global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void mailer_global_cleanup(void) { curl_global_cleanup(); }

struct upload {
    const char *data;
    size_t len, pos;
};

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct upload *u = arg;
    size_t room = size * nitems, left = u->len - u->pos;
    size_t n = left < room ? left : room;
    memcpy(buf, u->data + u->pos, n);
    u->pos += n;
    return n;
}

static int has_line_break(const char *s)
{
    return s == NULL || strpbrk(s, "\r\n") != NULL;
}

/* The message text: headers, a blank line, the body with every line ending in CRLF. Heap. */
static char *build_message(const char *from, const char *to, const char *subject, const char *body)
{
    char date[64], id[SECRET_TOKEN_MAX];
    time_t now = time(NULL);
    struct tm tm;
    const char *at = strchr(from, '@');
    size_t cap = strlen(body) * 2 + strlen(subject) + strlen(from) + strlen(to) + 512;
    char *msg = xmalloc(cap);
    size_t n;

    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    secret_token(id, "", 12);
    n = (size_t)snprintf(msg, cap,
                         "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@%s>\r\n"
                         "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                         "Content-Transfer-Encoding: 8bit\r\n\r\n",
                         date, from, to, subject, id, at != NULL ? at + 1 : "cmagent");
    for (const char *p = body; *p != '\0' && n + 3 < cap; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            msg[n++] = '\r';
        msg[n++] = *p;
    }
    if (n < 2 || msg[n - 1] != '\n') {
        msg[n++] = '\r';
        msg[n++] = '\n';
    }
    msg[n] = '\0';
    return msg;
}

int mailer_send(const struct mailer_options *o, const char *to, const char *subject, const char *body, char *err,
                size_t errlen)
{
    CURL *curl = NULL;
    struct curl_slist *rcpt = NULL;
    char *msg = NULL, addr[512], errbuf[CURL_ERROR_SIZE] = "";
    struct upload up = { 0 };
    int rc = -1;

    if (o->url == NULL || o->url[0] == '\0') {
        snprintf(err, errlen, "no SMTP server is configured (smtp_url)");
        goto out;
    }
    if (has_line_break(to) || has_line_break(o->from) || has_line_break(subject)) {
        snprintf(err, errlen, "an address or the subject contains a line break");
        goto out;
    }
    msg = build_message(o->from, to, subject, body ? body : "");
    curl = curl_easy_init();
    if (curl == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    up.data = msg;
    up.len = strlen(msg);
    snprintf(addr, sizeof addr, "<%s>", to);
    rcpt = curl_slist_append(NULL, addr);
    snprintf(addr, sizeof addr, "<%s>", o->from);
    curl_easy_setopt(curl, CURLOPT_URL, o->url);
    curl_easy_setopt(curl, CURLOPT_MAIL_FROM, addr);
    curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(curl, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    if (o->username != NULL && o->username[0] != '\0') {
        curl_easy_setopt(curl, CURLOPT_USERNAME, o->username);
        curl_easy_setopt(curl, CURLOPT_PASSWORD, o->password ? o->password : "");
    }
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(curl, CURLOPT_READDATA, &up);
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, o->timeout_s > 0 ? o->timeout_s : 30L);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode res = curl_easy_perform(curl);
    if (res != CURLE_OK) {
        snprintf(err, errlen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(rcpt);
    if (curl != NULL)
        curl_easy_cleanup(curl);
    free(msg);
    return rc;
}
