/* mailer.h: sending one plain-text mail through SMTP (libcurl): smtp:// with STARTTLS when the
 * server offers it, or smtps://. Blocking: only the agent's mailer thread calls it, never the
 * writer. No business rules live here. */
#ifndef CMAGENT_MAILER_H
#define CMAGENT_MAILER_H

#include <stddef.h>

struct mailer_options {
    const char *url;          /* smtp://host:port or smtps://host:port; "" = no server */
    const char *from;         /* sender address */
    const char *username;     /* "" = no authentication */
    const char *password;
    long timeout_s;           /* the whole transfer */
};

/* Initializes libcurl once, before any thread starts. */
void mailer_global_init(void);
void mailer_global_cleanup(void);

/* Sends a mail with subject and body (plain text, UTF-8) from o->from to to. Returns 0, or -1
 * with the reason in err (no server configured, an address with a line break, curl's error). */
int mailer_send(const struct mailer_options *o, const char *to, const char *subject, const char *body, char *err,
                size_t errlen);

#endif
