/* test_auth.c: authentication (core/auth_*.c, core/apikey.c over store_token.c) against an in-memory
 * store: login, access/refresh pairs, expiry, revocation, logout, password change and policy,
 * activation, API keys, and the password hash work done ahead of the writer (hash_work.h). */
#include "fixture.h"

#include "cmagent/apikey.h"
#include "cmagent/hash_work.h"
#include "cmagent/secret.h"
#include "cmagent/store_audit.h"
#include "cmagent/store_mail.h"
#include "cmagent/store_token.h"

#include <stdlib.h>

static struct world w;
static struct ctx *ctx = &w.ctx;

/* A world plus an activated customer user "cu@a.example.com" / "secret-password". */
static struct user cu;

static void open_with_customer_user(void)
{
    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    CHECK(activate(ctx, cu.id, "secret-password") == ERR_OK);
    act_anonymous(ctx);
}

static void close_world(void)
{
    user_release(&cu);
    world_close(&w);
}

static int login(const char *email, const char *password, struct token_pair *pair)
{
    act_anonymous(ctx);
    return TX(ctx, auth_login(ctx, email, password, pair));
}

static int authenticate(const char *token)
{
    act_anonymous(ctx);
    return TX(ctx, auth_authenticate(ctx, token));
}

static void login_should_issue_a_pair_that_authenticates(void)
{
    struct token_pair pair;
    struct credentials cred = { 0 };
    struct token row = { 0 };
    char digest[SECRET_DIGEST_HEX];

    open_with_customer_user();
    size_t events_before = event_count(ctx);
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_OK);
    CHECK(strncmp(pair.token, "cma_", 4) == 0 && strlen(pair.token) == 4 + 43);
    CHECK(strncmp(pair.refresh_token, "cmr_", 4) == 0 && strlen(pair.refresh_token) == 4 + 43);
    CHECK(pair.expires_in_ms == fixture_settings.access_token_ttl_ms);
    CHECK(event_count(ctx) == events_before);

    /* only digests are stored; access and refresh share a pair id */
    secret_digest(pair.token, digest);
    CHECK(store_token_get_by_digest(ctx->store, digest, &row) == STORE_OK);
    CHECK(row.kind == TOKEN_ACCESS && row.expires_at == ctx->now + fixture_settings.access_token_ttl_ms);
    char access_pair[UUID_STR_LEN];
    strcpy(access_pair, row.pair_id);
    token_release(&row);
    secret_digest(pair.refresh_token, digest);
    CHECK(store_token_get_by_digest(ctx->store, digest, &row) == STORE_OK);
    CHECK(row.kind == TOKEN_REFRESH);
    CHECK_STR(row.pair_id, access_pair);
    token_release(&row);

    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    CHECK(cred.last_login_ts == ctx->now && cred.failed_login_attempts == 0);
    credentials_release(&cred);

    CHECK(authenticate(pair.token) == ERR_OK);
    CHECK(ctx->who.authority == AUTHORITY_CUSTOMER_USER);
    CHECK_STR(ctx->who.user_id, cu.id);
    CHECK_STR(ctx->who.tenant_id, w.tenant_a.id);
    CHECK_STR(ctx->who.customer_id, w.customer_a.id);
    CHECK_STR(ctx->who.email, "cu@a.example.com");
    CHECK_STR(ctx->who.pair_id, access_pair);
    CHECK(ctx->who.token_kind == TOKEN_ACCESS && ctx->who.token_id[0] != '\0');
    close_world();
}

static void login_should_refuse_bad_credentials_alike(void)
{
    struct token_pair pair;
    struct credentials cred = { 0 };

    open_with_customer_user();
    CHECK(login("nobody@a.example.com", "secret-password", &pair) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Invalid username or password");
    CHECK(login("cu@a.example.com", "wrong-password", &pair) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Invalid username or password");
    CHECK(pair.token[0] == '\0');
    CHECK(login(NULL, NULL, &pair) == ERR_UNAUTHORIZED);

    /* a miss is counted although the request failed and its savepoint was rolled back */
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    CHECK(cred.failed_login_attempts == 1);
    credentials_release(&cred);
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_OK);
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    CHECK(cred.failed_login_attempts == 0);
    credentials_release(&cred);

    /* a never activated account */
    CHECK(login("admin@a.example.com", "anything-at-all", &pair) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "User account is not active");
    close_world();
}

static void authenticate_should_tell_missing_invalid_refresh_expired_and_inactive(void)
{
    struct token_pair pair;
    struct credentials cred = { 0 };

    open_with_customer_user();
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_OK);
    CHECK(authenticate(NULL) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Authentication token is missing");
    CHECK(authenticate("") == ERR_UNAUTHORIZED);
    CHECK(authenticate("cma_not-a-real-token") == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Invalid or revoked token");
    CHECK(error_code(ctx->err.kind) == 10);
    CHECK(authenticate(pair.refresh_token) == ERR_UNAUTHORIZED);
    CHECK(ctx->who.authority == AUTHORITY_NONE);

    int64_t real_now = ctx->now;
    ctx->now = real_now + fixture_settings.access_token_ttl_ms;
    CHECK(authenticate(pair.token) == ERR_TOKEN_EXPIRED);
    CHECK_STR(ctx->err.message, "Token has expired");
    CHECK(error_status(ctx->err.kind) == 401 && error_code(ctx->err.kind) == 11);
    ctx->now = real_now;

    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    cred.enabled = false;
    CHECK(store_credentials_update(ctx->store, &cred) == STORE_OK);
    credentials_release(&cred);
    CHECK(authenticate(pair.token) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "User account is not active");
    close_world();
}

static void refresh_should_replace_the_pair(void)
{
    struct token_pair first, second, third;

    open_with_customer_user();
    CHECK(login("cu@a.example.com", "secret-password", &first) == ERR_OK);
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_refresh(ctx, first.refresh_token, &second)) == ERR_OK);
    CHECK(strcmp(first.token, second.token) != 0);
    CHECK(authenticate(second.token) == ERR_OK);
    CHECK(authenticate(first.token) == ERR_UNAUTHORIZED);
    CHECK(TX(ctx, auth_refresh(ctx, first.refresh_token, &third)) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Invalid or revoked token");
    CHECK(TX(ctx, auth_refresh(ctx, second.token, &third)) == ERR_UNAUTHORIZED);
    CHECK(TX(ctx, auth_refresh(ctx, "", &third)) == ERR_UNAUTHORIZED);
    ctx->now += fixture_settings.refresh_token_ttl_ms;
    CHECK(TX(ctx, auth_refresh(ctx, second.refresh_token, &third)) == ERR_TOKEN_EXPIRED);
    close_world();
}

static void logout_should_revoke_only_the_calling_pair(void)
{
    struct token_pair one, two, out;

    open_with_customer_user();
    CHECK(login("cu@a.example.com", "secret-password", &one) == ERR_OK);
    CHECK(login("cu@a.example.com", "secret-password", &two) == ERR_OK);
    CHECK(authenticate(one.token) == ERR_OK);
    CHECK(TX(ctx, auth_logout(ctx)) == ERR_OK);
    CHECK(authenticate(one.token) == ERR_UNAUTHORIZED);
    CHECK(TX(ctx, auth_refresh(ctx, one.refresh_token, &out)) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Invalid or revoked token");
    CHECK(authenticate(two.token) == ERR_OK);
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_logout(ctx)) == ERR_UNAUTHORIZED);
    close_world();
}

static void change_password_should_check_and_revoke_sessions(void)
{
    struct token_pair pair, fresh;
    struct token key_row = { 0 };
    char key[SECRET_TOKEN_MAX];

    open_with_customer_user();
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_OK);
    CHECK(authenticate(pair.token) == ERR_OK);
    CHECK(TX(ctx, apikey_create(ctx, "ci", 0, key, &key_row)) == ERR_OK);
    CHECK(TX(ctx, auth_change_password(ctx, "not-it", "new-password", &fresh)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Current password doesn't match!");
    CHECK(TX(ctx, auth_change_password(ctx, "secret-password", "short", &fresh)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Password must be 6 or more characters in length.");
    CHECK(TX(ctx, auth_change_password(ctx, "secret-password", "secret-password", &fresh)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "New password should be different from existing!");
    CHECK(TX(ctx, auth_change_password(ctx, "secret-password", "new-password", &fresh)) == ERR_OK);
    CHECK(authenticate(pair.token) == ERR_UNAUTHORIZED);
    CHECK(authenticate(fresh.token) == ERR_OK);
    CHECK(authenticate(key) == ERR_OK); /* API keys survive a password change */
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_UNAUTHORIZED);
    CHECK(login("cu@a.example.com", "new-password", &pair) == ERR_OK);
    token_release(&key_row);
    close_world();
}

static size_t history_rows(const char *user_id)
{
    char **hashes = NULL;
    size_t n = 0;
    CHECK(store_password_history_since(ctx->store, user_id, 0, &hashes, &n) == STORE_OK);
    password_hashes_free(hashes, n);
    return n;
}

static void password_history_should_keep_only_the_reuse_window(void)
{
    struct core_settings s = fixture_settings;
    struct token_pair pair;
    const char *passwords[] = { "secret-password", "second-password", "third-password", "fourth-password" };

    open_with_customer_user();
    ctx->settings = &s;
    s.password.reuse_days = 0; /* no reuse rule: the current password's row alone is kept */
    for (int i = 0; i < 2; i++) {
        ctx->now += 1000;
        CHECK(login("cu@a.example.com", passwords[i], &pair) == ERR_OK);
        CHECK(authenticate(pair.token) == ERR_OK);
        CHECK(TX(ctx, auth_change_password(ctx, passwords[i], passwords[i + 1], &pair)) == ERR_OK);
    }
    CHECK_INT(history_rows(cu.id), 1);
    s.password.reuse_days = 30; /* the rows of the last 30 days are kept for the rule */
    ctx->now += 1000;
    CHECK(login("cu@a.example.com", passwords[2], &pair) == ERR_OK);
    CHECK(authenticate(pair.token) == ERR_OK);
    CHECK(TX(ctx, auth_change_password(ctx, passwords[2], passwords[3], &pair)) == ERR_OK);
    CHECK_INT(history_rows(cu.id), 2);
    ctx->settings = &fixture_settings;
    close_world();
}

static void api_keys_per_user_should_be_bounded(void)
{
    struct core_settings s = fixture_settings;
    struct token_pair pair;
    struct token row = { 0 };
    char key[SECRET_TOKEN_MAX];

    open_with_customer_user();
    s.max_api_keys_per_user = 2;
    ctx->settings = &s;
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_OK);
    CHECK(authenticate(pair.token) == ERR_OK);
    for (int i = 0; i < 2; i++) {
        CHECK(TX(ctx, apikey_create(ctx, "ci", 0, key, &row)) == ERR_OK);
        token_release(&row);
    }
    CHECK(TX(ctx, apikey_create(ctx, "ci", 0, key, &row)) == ERR_LIMIT_REACHED);
    CHECK_STR(ctx->err.message, "API keys limit reached");
    CHECK(ctx->err.limit == 2 && strcmp(ctx->err.entity_type, "API_KEY") == 0);
    ctx->settings = &fixture_settings;
    close_world();
}

static void password_policy_should_be_6_to_72_characters(void)
{
    struct ctx c = { 0 };
    char longest[80];

    CHECK(auth_check_password_policy(&c, "12345") == ERR_BAD_REQUEST);
    CHECK_STR(c.err.message, "Password must be 6 or more characters in length.");
    CHECK(auth_check_password_policy(&c, NULL) == ERR_BAD_REQUEST);
    CHECK(auth_check_password_policy(&c, "123456") == ERR_OK);
    CHECK(auth_check_password_policy(&c, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9") == ERR_OK);
    memset(longest, 'x', 72);
    longest[72] = '\0';
    CHECK(auth_check_password_policy(&c, longest) == ERR_OK);
    longest[72] = 'x';
    longest[73] = '\0';
    CHECK(auth_check_password_policy(&c, longest) == ERR_BAD_REQUEST);
    CHECK_STR(c.err.message, "Password must be no more than 72 characters in length.");
}

static void password_policy_should_name_every_broken_rule(void)
{
    struct core_settings s = fixture_settings;
    struct ctx c = { 0 };

    s.password.min_length = 8;
    s.password.min_uppercase = 1;
    s.password.min_lowercase = 2;
    s.password.min_digits = 1;
    s.password.min_special = 1;
    s.password.forbid_whitespace = true;
    c.settings = &s;
    CHECK(auth_check_password_policy(&c, "abc def") == ERR_BAD_REQUEST);
    CHECK_STR(c.err.message, "Password must be 8 or more characters in length.\n"
                             "Password must contain 1 or more uppercase characters.\n"
                             "Password must contain 1 or more digit characters.\n"
                             "Password must contain 1 or more special characters.\n"
                             "Password contains a whitespace character.");
    CHECK(auth_check_password_policy(&c, "Abcdef1!") == ERR_OK);
    CHECK(auth_check_password_policy(&c, "ABCDEF1!x") == ERR_BAD_REQUEST);
    CHECK_STR(c.err.message, "Password must contain 2 or more lowercase characters.");
}

static void lockout_should_disable_after_max_attempts_and_enable_should_reset(void)
{
    struct core_settings s = fixture_settings;
    struct token_pair pair;
    struct credentials cred = { 0 };

    open_with_customer_user();
    s.max_failed_login_attempts = 2;
    ctx->settings = &s;
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_OK);
    char access[SECRET_TOKEN_MAX];
    strcpy(access, pair.token);
    CHECK(login("cu@a.example.com", "wrong-1", &pair) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Invalid username or password");
    CHECK(login("cu@a.example.com", "wrong-2", &pair) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Invalid username or password");
    CHECK(login("cu@a.example.com", "wrong-3", &pair) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "User account is locked due to security policy");
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    CHECK(!cred.enabled && cred.failed_login_attempts == 3);
    credentials_release(&cred);
    CHECK(authenticate(access) == ERR_UNAUTHORIZED); /* its sessions went with the lock */
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "User account is not active");
    /* a locked account answers so whatever the password, and counts no more misses */
    CHECK(login("cu@a.example.com", "wrong-4", &pair) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "User account is not active");
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    CHECK(cred.failed_login_attempts == 3);
    credentials_release(&cred);

    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_set_enabled(ctx, cu.id, true)) == ERR_OK);
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    CHECK(cred.enabled && cred.failed_login_attempts == 0);
    credentials_release(&cred);
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_OK);
    ctx->settings = &fixture_settings;
    close_world();
}

/* How many queued mails are due at t for claimer (claimed by it until t + 1 ms); the claim is
 * committed. */
static size_t claim_at(const char *claimer, int64_t t, int64_t *expired)
{
    struct queued_mail *rows = NULL;
    size_t n = 0;
    CHECK(store_begin(ctx->store) == STORE_OK);
    CHECK(store_mail_claim(ctx->store, claimer, t, t + 1, 8, &rows, &n, expired) == STORE_OK);
    CHECK(store_commit(ctx->store) == STORE_OK);
    for (size_t i = 0; i < n; i++)
        CHECK_STR(rows[i].to, "cu@a.example.com");
    store_mail_rows_free(rows, n);
    return n;
}

static void queued_reset_mail_should_be_claimed_retried_and_expire(void)
{
    struct core_settings s = fixture_settings;
    int64_t expired = 0;

    open_with_customer_user();
    s.mail_configured = true;
    s.reset_token_ttl_ms = HOUR_MS;
    s.mail_claimer = "agent-a";
    s.mail_claim_ms = 1000;
    ctx->settings = &s;
    act_anonymous(ctx);
    /* a request rolled back after composing its mail queues none */
    CHECK(store_begin(ctx->store) == STORE_OK);
    struct ctx_mark m = ctx_item_begin(ctx);
    CHECK(auth_request_password_reset(ctx, "cu@a.example.com") == ERR_OK);
    CHECK(ctx->mails.n == 1 && ctx->mails.items[0].queue_id[0] != '\0');
    ctx_item_end(ctx, m, false);
    CHECK(ctx->mails.n == 0);
    CHECK(store_commit(ctx->store) == STORE_OK);
    int64_t now = ctx->now;
    CHECK(claim_at("agent-b", now + 5000, &expired) == 0 && expired == 0);
    /* a committed one is queued, claimed by its agent for mail_claim_ms */
    CHECK(TX(ctx, auth_request_password_reset(ctx, "cu@a.example.com")) == ERR_OK);
    CHECK(ctx->mails.n == 1 && ctx->mails.items[0].expires_at == now + HOUR_MS);
    char id[UUID_STR_LEN];
    memcpy(id, ctx->mails.items[0].queue_id, sizeof id);
    CHECK(claim_at("agent-b", now + 500, &expired) == 0);
    CHECK(claim_at("agent-b", now + 1000, &expired) == 1); /* the claim ran out: another agent takes it */
    CHECK(claim_at("agent-a", now + 1000, &expired) == 0);
    /* a failure makes it due again later, unclaimed */
    CHECK(store_begin(ctx->store) == STORE_OK);
    CHECK(store_mail_retry(ctx->store, id, 1, now + 60000) == STORE_OK);
    CHECK(store_commit(ctx->store) == STORE_OK);
    CHECK(claim_at("agent-a", now + 59999, &expired) == 0);
    CHECK(claim_at("agent-a", now + 60000, &expired) == 1);
    /* past its expiry it is deleted, not claimed */
    CHECK(claim_at("agent-a", now + HOUR_MS, &expired) == 0 && expired == 1);
    CHECK(claim_at("agent-a", now + 2 * HOUR_MS, &expired) == 0 && expired == 0);
    ctx->settings = &fixture_settings;
    close_world();
}

static void reset_should_mail_a_link_and_set_a_new_password_once(void)
{
    struct core_settings s = fixture_settings;
    struct token_pair pair;
    struct credentials cred = { 0 };

    open_with_customer_user();
    s.reset_token_ttl_ms = HOUR_MS;
    s.password.reuse_days = 30;
    ctx->settings = &s;
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_request_password_reset(ctx, "nobody@a.example.com")) == ERR_OK);
    CHECK(ctx->mails.n == 0);
    CHECK(TX(ctx, auth_request_password_reset(ctx, "")) == ERR_BAD_REQUEST);
    CHECK(TX(ctx, auth_request_password_reset(ctx, "cu@a.example.com")) == ERR_OK);
    CHECK(ctx->mails.n == 1);
    CHECK_STR(ctx->mails.items[0].to, "cu@a.example.com");
    CHECK(!ctx->mails.items[0].await);
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    char token[128];
    snprintf(token, sizeof token, "%s", cred.reset_token);
    credentials_release(&cred);
    char expect[256];
    snprintf(expect, sizeof expect, "https://cm.example.com/api/noauth/resetPassword?resetToken=%s", token);
    CHECK(strstr(ctx->mails.items[0].body, expect) != NULL);

    CHECK(TX(ctx, auth_reset_password(ctx, "not-a-token", "another-password", &pair)) == ERR_NOT_FOUND);
    CHECK_STR(ctx->err.message, "Invalid reset token!");
    CHECK(TX(ctx, auth_reset_password(ctx, token, "short", &pair)) == ERR_BAD_REQUEST);
    CHECK(TX(ctx, auth_reset_password(ctx, token, "secret-password", &pair)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "New password should be different from existing!");
    CHECK(TX(ctx, auth_reset_password(ctx, token, "another-password", &pair)) == ERR_OK);
    CHECK(pair.token[0] != '\0');
    CHECK(TX(ctx, auth_reset_password(ctx, token, "third-password", &pair)) == ERR_NOT_FOUND);
    CHECK(login("cu@a.example.com", "another-password", &pair) == ERR_OK);

    /* the reuse rule: the first password came back within 30 days */
    CHECK(TX(ctx, auth_request_password_reset(ctx, "cu@a.example.com")) == ERR_OK);
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    snprintf(token, sizeof token, "%s", cred.reset_token);
    credentials_release(&cred);
    CHECK(TX(ctx, auth_reset_password(ctx, token, "secret-password", &pair)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Password was already used for the last 30 days");
    ctx->now += HOUR_MS + 1;
    CHECK(TX(ctx, auth_reset_password(ctx, token, "fourth-password", &pair)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Password reset token expired");
    ctx->settings = &fixture_settings;
    close_world();
}

static void activation_should_check_the_token_and_emit_user_activated(void)
{
    struct user u;
    struct token_pair pair;
    char ev[1024], expected[1024];

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "new@a.example.com", &u) == ERR_OK);
    char *token = pending_activation_token(ctx, u.id);
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_check_activate_token(ctx, token)) == ERR_OK);
    CHECK(TX(ctx, auth_check_activate_token(ctx, "unknown")) == ERR_CONFLICT);
    CHECK_STR(ctx->err.message, "Unable to find user credentials by activateToken [unknown]");
    CHECK(TX(ctx, auth_activate(ctx, "unknown", "good-password", &pair)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Unable to find user credentials by activateToken [unknown]");
    CHECK(TX(ctx, auth_activate(ctx, token, "bad", &pair)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Password must be 6 or more characters in length.");

    int64_t real_now = ctx->now;
    ctx->now = real_now + fixture_settings.activation_token_ttl_ms;
    CHECK(TX(ctx, auth_check_activate_token(ctx, token)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Activation token expired");
    CHECK(TX(ctx, auth_activate(ctx, token, "good-password", &pair)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Activation token expired");
    ctx->now = real_now;

    size_t events_before = event_count(ctx);
    CHECK(TX(ctx, auth_activate(ctx, token, "good-password", &pair)) == ERR_OK);
    CHECK(strncmp(pair.token, "cma_", 4) == 0);
    CHECK(event_count(ctx) == events_before + 1);
    snprintf(expected, sizeof expected, "USER_ACTIVATED USER %s %s new@a.example.com by new@a.example.com",
             w.tenant_a.id, w.customer_a.id);
    CHECK_STR(last_event(ctx, ev, sizeof ev), expected);
    CHECK(authenticate(pair.token) == ERR_OK);
    CHECK(TX(ctx, auth_activate(ctx, token, "good-password", &pair)) == ERR_BAD_REQUEST);
    CHECK(login("new@a.example.com", "good-password", &pair) == ERR_OK);
    free(token);
    user_release(&u);
    world_close(&w);
}

static void api_keys_should_act_as_owner_and_stay_private(void)
{
    struct token_pair pair;
    struct token first = { 0 }, second = { 0 }, refused = { 0 }, *items = NULL;
    char key1[SECRET_TOKEN_MAX], key2[SECRET_TOKEN_MAX], refused_key[SECRET_TOKEN_MAX];
    size_t n = 0;
    char long_description[300];

    open_with_customer_user();
    CHECK(login("cu@a.example.com", "secret-password", &pair) == ERR_OK);
    CHECK(authenticate(pair.token) == ERR_OK);
    CHECK(TX(ctx, apikey_create(ctx, "first", 0, key1, &first)) == ERR_OK);
    CHECK(strncmp(key1, "cmk_", 4) == 0 && strlen(key1) == 4 + 43);
    CHECK(first.expires_at == 0 && first.kind == TOKEN_API_KEY);
    ctx->now += 1;
    CHECK(TX(ctx, apikey_create(ctx, "second", 60000, key2, &second)) == ERR_OK);
    CHECK(second.expires_at == ctx->now + 60000);
    memset(long_description, 'd', 256);
    long_description[256] = '\0';
    CHECK(TX(ctx, apikey_create(ctx, long_description, 0, refused_key, &refused)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Validation error: description length must be equal or less than 255");
    CHECK(TX(ctx, apikey_create(ctx, NULL, -1, refused_key, &refused)) == ERR_BAD_REQUEST);
    CHECK(refused_key[0] == '\0' && refused.id[0] == '\0');

    CHECK(TX(ctx, apikey_list(ctx, &items, &n)) == ERR_OK);
    CHECK(n == 2);
    if (n == 2) {
        CHECK_STR(items[0].description, "second");
        CHECK_STR(items[1].description, "first");
        CHECK(items[0].digest[0] != '\0');
    }
    tokens_free(items, n);

    /* a key authenticates as its owner; logout does not revoke it */
    CHECK(authenticate(key1) == ERR_OK);
    CHECK_STR(ctx->who.user_id, cu.id);
    CHECK(ctx->who.token_kind == TOKEN_API_KEY);
    CHECK(TX(ctx, auth_logout(ctx)) == ERR_BAD_REQUEST);

    /* another user's key is not found */
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, apikey_delete(ctx, first.id)) == ERR_NOT_FOUND);
    char expected[128];
    snprintf(expected, sizeof expected, "API key with id [%s] is not found", first.id);
    CHECK_STR(ctx->err.message, expected);
    CHECK(TX(ctx, apikey_list(ctx, &items, &n)) == ERR_OK && n == 0);
    tokens_free(items, n);

    /* nor is an access token, by its id */
    CHECK(authenticate(pair.token) == ERR_OK);
    char access_id[UUID_STR_LEN];
    strcpy(access_id, ctx->who.token_id);
    CHECK(TX(ctx, apikey_delete(ctx, access_id)) == ERR_NOT_FOUND);
    CHECK(TX(ctx, apikey_delete(ctx, first.id)) == ERR_OK);
    CHECK(authenticate(key1) == ERR_UNAUTHORIZED);

    /* an expiring key expires */
    CHECK(authenticate(key2) == ERR_OK);
    ctx->now += 60000;
    CHECK(authenticate(key2) == ERR_TOKEN_EXPIRED);
    token_release(&first);
    token_release(&second);
    close_world();
}

static void expired_api_key_should_answer_token_expired(void)
{
    struct token row = { 0 };
    char key[SECRET_TOKEN_MAX];
    int64_t deleted = 0;

    open_with_customer_user();
    act_as(ctx, &cu);
    CHECK(TX(ctx, apikey_create(ctx, "short", 1000, key, &row)) == ERR_OK);
    CHECK(authenticate(key) == ERR_OK);
    ctx->now += 1000;
    CHECK(authenticate(key) == ERR_TOKEN_EXPIRED);
    CHECK(store_token_purge_expired(ctx->store, ctx->now, &deleted) == STORE_OK);
    CHECK(deleted == 1);
    CHECK(authenticate(key) == ERR_UNAUTHORIZED);
    token_release(&row);
    close_world();
}

/* The verifier's run (auth_*_prepare) computes every hash and check; the writer's run of the same
 * request then computes none, unless the stored hash changed in between. */
static void hash_work_should_leave_the_writer_no_hashing_unless_the_hash_changed(void)
{
    struct core_settings s = fixture_settings;
    struct token_pair pair;
    struct credentials cred = { 0 };
    struct hash_work *hw;

    open_with_customer_user();
    s.password.reuse_days = 30;
    s.reset_token_ttl_ms = HOUR_MS;
    ctx->settings = &s;

    /* a good login, a wrong password and an unknown e-mail each cost the verifier one hash */
    const char *emails[] = { "cu@a.example.com", "cu@a.example.com", "nobody@a.example.com" };
    const char *passwords[] = { "secret-password", "wrong-password", "secret-password" };
    const int outcomes[] = { ERR_OK, ERR_UNAUTHORIZED, ERR_UNAUTHORIZED };
    for (size_t i = 0; i < 3; i++) {
        ctx->hash_work = hw = hash_work_new();
        act_anonymous(ctx);
        auth_login_prepare(ctx, emails[i], passwords[i]);
        CHECK(hash_work_computed(hw) == 1);
        hash_work_reset_count(hw);
        CHECK(login(emails[i], passwords[i], &pair) == outcomes[i]);
        CHECK(hash_work_computed(hw) == 0);
        ctx->hash_work = NULL;
        hash_work_free(hw);
    }
    /* the wrong password was counted, the good login before it had reset nothing after it */
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    CHECK(cred.failed_login_attempts == 1);
    credentials_release(&cred);

    /* a password change: current, different-from-existing (the reuse rule asks the same of the
     * one password in the history: answered once), new hash */
    ctx->hash_work = hw = hash_work_new();
    act_as(ctx, &cu);
    auth_change_password_prepare(ctx, "secret-password", "second-password");
    CHECK(hash_work_computed(hw) == 3);
    hash_work_reset_count(hw);
    CHECK(TX(ctx, auth_change_password(ctx, "secret-password", "second-password", &pair)) == ERR_OK);
    CHECK(hash_work_computed(hw) == 0);
    ctx->hash_work = NULL;
    hash_work_free(hw);
    CHECK(login("cu@a.example.com", "second-password", &pair) == ERR_OK);

    /* the verifier saw "second-password" match; the password changes before the writer's run:
     * the writer asks a new question, computes it, and refuses the old password */
    ctx->hash_work = hw = hash_work_new();
    act_anonymous(ctx);
    auth_login_prepare(ctx, "cu@a.example.com", "second-password");
    CHECK(hash_work_computed(hw) == 1);
    ctx->hash_work = NULL;
    act_as(ctx, &cu);
    CHECK(TX(ctx, auth_change_password(ctx, "second-password", "third-password", &pair)) == ERR_OK);
    ctx->hash_work = hw;
    hash_work_reset_count(hw);
    CHECK(login("cu@a.example.com", "second-password", &pair) == ERR_UNAUTHORIZED);
    CHECK(hash_work_computed(hw) == 1);
    ctx->hash_work = NULL;
    hash_work_free(hw);

    /* a reset by token: different-from-existing, the two other passwords of the history, new hash */
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_request_password_reset(ctx, "cu@a.example.com")) == ERR_OK);
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    char token[128];
    snprintf(token, sizeof token, "%s", cred.reset_token);
    credentials_release(&cred);
    ctx->hash_work = hw = hash_work_new();
    auth_reset_password_prepare(ctx, token, "fourth-password");
    CHECK(hash_work_computed(hw) == 4);
    hash_work_reset_count(hw);
    CHECK(TX(ctx, auth_reset_password(ctx, token, "fourth-password", &pair)) == ERR_OK);
    CHECK(hash_work_computed(hw) == 0);
    ctx->hash_work = NULL;
    hash_work_free(hw);

    /* an activation: the new hash only */
    struct user other;
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "other@a.example.com", &other) == ERR_OK);
    char *activation = pending_activation_token(ctx, other.id);
    act_anonymous(ctx);
    ctx->hash_work = hw = hash_work_new();
    auth_activate_prepare(ctx, activation, "other-password");
    CHECK(hash_work_computed(hw) == 1);
    hash_work_reset_count(hw);
    CHECK(TX(ctx, auth_activate(ctx, activation, "other-password", &pair)) == ERR_OK);
    CHECK(hash_work_computed(hw) == 0);
    ctx->hash_work = NULL;
    hash_work_free(hw);
    CHECK(login("other@a.example.com", "other-password", &pair) == ERR_OK);
    free(activation);
    user_release(&other);
    close_world();
}

int main(void)
{
    RUN(login_should_issue_a_pair_that_authenticates);
    RUN(login_should_refuse_bad_credentials_alike);
    RUN(authenticate_should_tell_missing_invalid_refresh_expired_and_inactive);
    RUN(refresh_should_replace_the_pair);
    RUN(logout_should_revoke_only_the_calling_pair);
    RUN(change_password_should_check_and_revoke_sessions);
    RUN(password_history_should_keep_only_the_reuse_window);
    RUN(api_keys_per_user_should_be_bounded);
    RUN(password_policy_should_be_6_to_72_characters);
    RUN(password_policy_should_name_every_broken_rule);
    RUN(lockout_should_disable_after_max_attempts_and_enable_should_reset);
    RUN(reset_should_mail_a_link_and_set_a_new_password_once);
    RUN(queued_reset_mail_should_be_claimed_retried_and_expire);
    RUN(activation_should_check_the_token_and_emit_user_activated);
    RUN(api_keys_should_act_as_owner_and_stay_private);
    RUN(expired_api_key_should_answer_token_expired);
    RUN(hash_work_should_leave_the_writer_no_hashing_unless_the_hash_changed);
    return test_report("test_auth");
}
