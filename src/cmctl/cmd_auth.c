/* cmd_auth.c: `cmctl login`, `cmctl logout` and `cmctl session`: the session file's life. The
 * password comes from --password, --password-stdin, CMCTL_LOGIN_PASSWORD or a prompt on the
 * terminal without echo; it is never stored, only the token pair is. */
#include "cmctl.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static int read_line(FILE *f, char *buf, size_t len)
{
    if (fgets(buf, (int)len, f) == NULL)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int prompt_password(char *buf, size_t len)
{
    struct termios old, quiet;
    FILE *tty = fopen("/dev/tty", "r+");
    int rc;
    if (tty == NULL)
        return -1;
    fprintf(tty, "Password: ");
    fflush(tty);
    bool echo_off = tcgetattr(fileno(tty), &old) == 0;
    if (echo_off) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
    }
    rc = read_line(tty, buf, len);
    if (echo_off)
        tcsetattr(fileno(tty), TCSAFLUSH, &old);
    fprintf(tty, "\n");
    fclose(tty);
    return rc;
}

static int usage_login(void)
{
    printf("usage: cmctl login [EMAIL] [--email EMAIL] [--password PASSWORD | --password-stdin]\n"
           "                   [--code CODE] [--provider TOTP|EMAIL|BACKUP_CODE]\n\n"
           "Logs in with auth.login and keeps the access and refresh token in the session file\n"
           "(mode 0600; $XDG_CONFIG_HOME/cmctl/session, or session.PROFILE with --profile), with the\n"
           "broker account that broker.credentials issues when the agent runs broker_acl dynsec\n"
           "(not with --broker-username); later commands connect with it.\n"
           "Without --password the password is read from CMCTL_LOGIN_PASSWORD, or asked for on the terminal.\n"
           "A user with two-factor authentication is asked for a code of --provider (default: the first the\n"
           "login offers; an EMAIL code is mailed first) unless --code or CMCTL_LOGIN_CODE gives it.\n");
    return 0;
}

/* The second factor's flags: --code and --provider (len bytes each). */
struct factor_args {
    char code[64], provider[32];
};

static int login_args(int argc, char **argv, char *email, char *password, size_t len, struct factor_args *f)
{
    bool from_stdin = false;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--password-stdin") == 0)
            from_stdin = true;
        else if ((strcmp(a, "--email") == 0 || strcmp(a, "--password") == 0) && i + 1 < argc)
            snprintf(a[2] == 'e' ? email : password, len, "%s", argv[++i]);
        else if (strcmp(a, "--code") == 0 && i + 1 < argc)
            snprintf(f->code, sizeof f->code, "%s", argv[++i]);
        else if (strcmp(a, "--provider") == 0 && i + 1 < argc)
            snprintf(f->provider, sizeof f->provider, "%s", argv[++i]);
        else if (strncmp(a, "--email=", 8) == 0)
            snprintf(email, len, "%s", a + 8);
        else if (strncmp(a, "--password=", 11) == 0)
            snprintf(password, len, "%s", a + 11);
        else if (a[0] != '-' && !email[0])
            snprintf(email, len, "%s", a);
        else {
            fprintf(stderr, "cmctl: login: unexpected argument '%s' (cmctl login --help)\n", a);
            return EXIT_USAGE;
        }
    }
    if (!email[0]) {
        fprintf(stderr, "cmctl: login: give the e-mail address (cmctl login EMAIL)\n");
        return EXIT_USAGE;
    }
    if (from_stdin ? read_line(stdin, password, len) : 0) {
        fprintf(stderr, "cmctl: login: no password on standard input\n");
        return EXIT_USAGE;
    }
    if (!password[0] && getenv("CMCTL_LOGIN_PASSWORD"))
        snprintf(password, len, "%s", getenv("CMCTL_LOGIN_PASSWORD"));
    if (!password[0] && prompt_password(password, len) != 0) {
        fprintf(stderr, "cmctl: login: no password (--password, --password-stdin or CMCTL_LOGIN_PASSWORD)\n");
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_login(struct settings *s, int argc, char **argv)
{
    char email[256] = "", password[256] = "", path[CMCTL_STR], *raw = NULL;
    struct client c;
    cJSON *data, *reply;
    int rc;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage_login();
    struct factor_args f = { "", "" };
    if ((rc = login_args(argc, argv, email, password, sizeof email, &f)) != 0)
        return rc;
    if (session_path(s, path, sizeof path))
        return EXIT_USAGE;
    s->token[0] = '\0'; /* a login never sends a token */
    if ((rc = client_open_anonymous(&c, s)) != 0)
        return rc;
    data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "email", email);
    cJSON_AddStringToObject(data, "password", password);
    memset(password, 0, sizeof password);
    reply = client_call(&c, "auth.login", data, true, &raw, &rc);
    cJSON_Delete(data);
    if (reply != NULL) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "status");
        if (!cJSON_IsNumber(st) || st->valueint != 200)
            rc = print_error_reply("auth.login", reply);
        else if ((rc = login_second_factor(&c, &reply, &raw, f.code, f.provider)) == 0) {
            snprintf(c.ss.email, sizeof c.ss.email, "%s", email);
            c.ss.broker_user[0] = c.ss.broker_pass[0] = '\0';
            rc = client_take_pair(&c, reply);
            /* a broker locked down by the agent (broker_acl dynsec) wants an account of the user's */
            if (rc == 0 && !s->username[0])
                rc = client_fetch_broker_account(&c);
        }
    }
    if (rc == 0 && s->json) {
        cJSON *o = cJSON_CreateObject(), *d = cJSON_AddObjectToObject(o, "data");
        cJSON_AddNumberToObject(o, "status", 200);
        cJSON_AddStringToObject(d, "email", email);
        cJSON_AddStringToObject(d, "session", path);
        cJSON_AddNumberToObject(d, "expiresAt", (double)c.ss.expires_at_ms);
        if (c.ss.broker_user[0])
            cJSON_AddStringToObject(d, "brokerUsername", c.ss.broker_user);
        char *t = cJSON_PrintUnformatted(o);
        printf("%s\n", t);
        cJSON_free(t);
        cJSON_Delete(o);
    } else if (rc == 0)
        printf("Logged in as %s; session in %s\n", email, path);
    cJSON_Delete(reply);
    free(raw);
    client_close(&c);
    return rc;
}

int cmd_logout(struct settings *s, int argc, char **argv)
{
    struct client c;
    int rc;
    if (argc > 0) {
        printf("usage: cmctl logout\n\nRevokes the session's token pair (auth.logout) and removes the session file.\n");
        return strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ? 0 : EXIT_USAGE;
    }
    s->token[0] = '\0';
    if ((rc = client_open(&c, s)) != 0)
        return rc;
    if (c.have_session) {
        char *raw = NULL;
        cJSON *reply = client_call(&c, "auth.logout", NULL, false, &raw, &rc);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(reply, "status");
        if (reply != NULL && cJSON_IsNumber(st) && st->valueint != 200 && st->valueint != 401)
            rc = print_error_reply("auth.logout", reply);
        cJSON_Delete(reply);
        free(raw);
    }
    client_close(&c);
    if (rc == 0 && session_remove(s) != 0)
        rc = EXIT_USAGE;
    if (rc == 0 && !s->json)
        printf("Logged out\n");
    return rc;
}

int cmd_session(struct settings *s, int argc, char **argv)
{
    struct session ss;
    char path[CMCTL_STR];
    int rc;
    if (argc > 0) {
        printf("usage: cmctl session\n\nShows the session file of the profile: who is logged in, where, until when.\n");
        return strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0 ? 0 : EXIT_USAGE;
    }
    if (session_path(s, path, sizeof path) || (rc = session_load(s, &ss)) < 0)
        return EXIT_USAGE;
    if (rc == 1) {
        fprintf(stderr, "cmctl: not logged in (no %s)\n", path);
        return EXIT_REPLY;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "email", ss.email);
    cJSON_AddStringToObject(o, "broker", ss.broker);
    if (ss.broker_user[0])
        cJSON_AddStringToObject(o, "brokerUsername", ss.broker_user);
    cJSON_AddStringToObject(o, "session", path);
    cJSON_AddNumberToObject(o, "expiresAt", (double)ss.expires_at_ms);
    cJSON_AddBoolToObject(o, "expired", ss.expires_at_ms > 0 && now_ms() >= ss.expires_at_ms);
    if (s->json) {
        char *t = cJSON_PrintUnformatted(o);
        printf("%s\n", t);
        cJSON_free(t);
    } else
        render_object(o);
    cJSON_Delete(o);
    return 0;
}
