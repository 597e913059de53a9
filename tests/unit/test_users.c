/* test_users.c: user management (core/user*.c over store_user.c) against an in-memory store:
 * ThingsBoard's validation messages, permissions (404 before 403), limits, activation, enable and
 * disable, delete rules, listings, the system administrator's bootstrap and the events. */
#include "fixture.h"

#include "cmagent/apikey.h"
#include "cmagent/secret.h"
#include "cmagent/store_token.h"

#include <stdlib.h>

static struct world w;
static struct ctx *ctx = &w.ctx;

/* Creates u as caller and returns the error kind; ctx->err holds the message. */
static int create_as(const struct user *caller, struct user *u, bool mail)
{
    act_as(ctx, caller);
    return TX(ctx, user_create(ctx, u, mail));
}

static void expect_create_error(const struct user *caller, struct user u, int kind, const char *message)
{
    CHECK(create_as(caller, &u, false) == kind);
    CHECK_STR(ctx->err.message, message);
    user_release(&u);
}

static void bootstrap_should_create_the_sysadmin_once(void)
{
    char err[256], generated[64];
    struct ctx c = { 0 };
    struct user u = { 0 };
    struct credentials cred = { 0 };
    int64_t users = 0;

    c.store = store_open(":memory:", err, sizeof err);
    c.settings = &fixture_settings;
    c.render_event = fixture_render;
    c.now = clock_now_ms();
    CHECK(user_bootstrap_sysadmin(&c, "root@example.com", "", generated) == ERR_OK);
    CHECK(strlen(generated) == 16);
    CHECK(store_user_get_by_email(c.store, "root@example.com", &u) == STORE_OK);
    CHECK(u.authority == AUTHORITY_SYS_ADMIN);
    CHECK_STR(u.tenant_id, NULL_UUID);
    CHECK_STR(u.customer_id, NULL_UUID);
    CHECK(store_credentials_get(c.store, u.id, &cred) == STORE_OK);
    CHECK(cred.enabled && cred.activate_token == NULL);
    CHECK(secret_check_password(generated, cred.password_hash));
    CHECK(user_bootstrap_sysadmin(&c, "other@example.com", "whatever-password", generated) == ERR_OK);
    CHECK(generated[0] == '\0');
    CHECK(store_user_count_all(c.store, &users) == STORE_OK && users == 1);
    CHECK(event_count(&c) == 0);
    user_release(&u);
    credentials_release(&cred);
    store_close(c.store);
}

static void bootstrap_should_refuse_a_bad_email_and_keep_nothing(void)
{
    char err[256], generated[64];
    struct ctx c = { 0 };
    int64_t users = -1;

    c.store = store_open(":memory:", err, sizeof err);
    c.settings = &fixture_settings;
    c.now = clock_now_ms();
    CHECK(user_bootstrap_sysadmin(&c, "not-an-email", "", generated) == ERR_BAD_REQUEST);
    CHECK_STR(c.err.message, "Invalid email address format 'not-an-email'!");
    CHECK(generated[0] == '\0');
    CHECK(store_user_count_all(c.store, &users) == STORE_OK && users == 0);
    CHECK(user_bootstrap_sysadmin(&c, "root@example.com", "short", generated) == ERR_BAD_REQUEST);
    CHECK_STR(c.err.message, "Password must be 6 or more characters in length.");
    store_close(c.store);
}

static void create_should_store_a_pending_customer_user(void)
{
    struct user u;
    struct credentials cred = { 0 };
    char ev[1024], expected[1024];

    world_open(&w);
    size_t events_before = event_count(ctx);
    u = user_new(AUTHORITY_CUSTOMER_USER, "jane@a.example.com", NULL, w.customer_a.id);
    u.first_name = strdup("Jane");
    CHECK(create_as(&w.admin_a, &u, false) == ERR_OK);
    CHECK(u.id[0] != '\0' && u.version == 1 && u.created_time == ctx->now);
    CHECK_STR(u.tenant_id, w.tenant_a.id);
    CHECK(store_credentials_get(ctx->store, u.id, &cred) == STORE_OK);
    CHECK(!cred.enabled && cred.password_hash == NULL);
    CHECK(cred.activate_token != NULL && strlen(cred.activate_token) == 40);
    CHECK(cred.activate_token_exp == ctx->now + fixture_settings.activation_token_ttl_ms);
    CHECK(event_count(ctx) == events_before + 1);
    snprintf(expected, sizeof expected, "ENTITY_CREATED USER %s - jane@a.example.com by admin@a.example.com",
             w.tenant_a.id);
    CHECK_STR(last_event(ctx, ev, sizeof ev), expected);
    credentials_release(&cred);
    user_release(&u);
    world_close(&w);
}

static void create_should_apply_thingsboard_validation_messages(void)
{
    char other_tenant_customer[96];

    world_open(&w);
    expect_create_error(&w.admin_a, user_new(AUTHORITY_TENANT_ADMIN, NULL, NULL, NULL), ERR_BAD_REQUEST,
                        "User email should be specified!");
    expect_create_error(&w.admin_a, user_new(AUTHORITY_TENANT_ADMIN, "  ", NULL, NULL), ERR_BAD_REQUEST,
                        "User email should be specified!");
    expect_create_error(&w.admin_a, user_new(AUTHORITY_TENANT_ADMIN, "bad@", NULL, NULL), ERR_BAD_REQUEST,
                        "Invalid email address format 'bad@'!");
    expect_create_error(&w.admin_a, user_new(AUTHORITY_TENANT_ADMIN, "admin@b.example.com", NULL, NULL),
                        ERR_BAD_REQUEST, "User with email 'admin@b.example.com' already present in database!");
    expect_create_error(&w.admin_a, user_new(AUTHORITY_CUSTOMER_USER, "c@a.example.com", NULL, NULL),
                        ERR_BAD_REQUEST, "Customer user should be assigned to customer!");
    expect_create_error(&w.admin_a, user_new(AUTHORITY_TENANT_ADMIN, "t@a.example.com", NULL, w.customer_a.id),
                        ERR_BAD_REQUEST, "Tenant administrator can't be assigned to customer!");
    expect_create_error(&w.admin_a, user_new(AUTHORITY_NONE, "n@a.example.com", NULL, NULL), ERR_BAD_REQUEST,
                        "User authority isn't defined!");
    expect_create_error(&w.admin_a,
                        user_new(AUTHORITY_CUSTOMER_USER, "c@a.example.com", NULL, "0190a0a0-0000-7000-8000-000000000000"),
                        ERR_BAD_REQUEST, "User is referencing to non-existent customer!");
    snprintf(other_tenant_customer, sizeof other_tenant_customer, "%s", w.customer_b.id);
    expect_create_error(&w.admin_a, user_new(AUTHORITY_CUSTOMER_USER, "c@a.example.com", NULL, other_tenant_customer),
                        ERR_BAD_REQUEST, "User can't be assigned to customer from different tenant!");
    expect_create_error(&w.sysadmin,
                        user_new(AUTHORITY_TENANT_ADMIN, "t@x.example.com", "0190a0a0-0000-7000-8000-000000000000", NULL),
                        ERR_BAD_REQUEST, "User is referencing to non-existent tenant!");

    struct user u = user_new(AUTHORITY_TENANT_ADMIN, "long@a.example.com", NULL, NULL);
    char *name = calloc(257, 1);
    memset(name, 'x', 256);
    u.first_name = name;
    u.last_name = strdup("<script>alert(1)</script>");
    expect_create_error(&w.admin_a, u, ERR_BAD_REQUEST,
                        "Validation error: first name length must be equal or less than 255, last name is malformed");
    world_close(&w);
}

static void create_should_follow_who_may_create_whom(void)
{
    struct user cu;

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    /* a customer user creates nobody */
    expect_create_error(&cu, user_new(AUTHORITY_CUSTOMER_USER, "x@a.example.com", w.tenant_a.id, w.customer_a.id),
                        ERR_FORBIDDEN, "You don't have permission to perform this operation!");
    /* the system administrator has no access to customer users */
    expect_create_error(&w.sysadmin, user_new(AUTHORITY_CUSTOMER_USER, "y@a.example.com", w.tenant_a.id, w.customer_a.id),
                        ERR_FORBIDDEN, "You don't have permission to perform this operation!");
    /* a tenant administrator creates no system administrator */
    expect_create_error(&w.admin_a, user_new(AUTHORITY_SYS_ADMIN, "z@a.example.com", NULL, NULL), ERR_FORBIDDEN,
                        "You don't have permission to perform this operation!");
    /* a tenant administrator's tenantId is forced to its own */
    struct user forced = user_new(AUTHORITY_TENANT_ADMIN, "second@a.example.com", w.tenant_b.id, NULL);
    CHECK(create_as(&w.admin_a, &forced, false) == ERR_OK);
    CHECK_STR(forced.tenant_id, w.tenant_a.id);
    user_release(&forced);
    user_release(&cu);
    world_close(&w);
}

static void create_should_enforce_max_users(void)
{
    struct user u1, u2;

    world_open(&w);
    w.tenant_a.limits.max_users = 2; /* the tenant already has its administrator */
    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, tenant_update(ctx, &w.tenant_a, 0)) == ERR_OK);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "one@a.example.com", &u1) == ERR_OK);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "two@a.example.com", &u2) == ERR_LIMIT_REACHED);
    CHECK_STR(ctx->err.message, "Users limit reached");
    CHECK_STR(ctx->err.entity_type, "USER");
    CHECK(ctx->err.limit == 2);
    user_release(&u1);
    user_release(&u2);
    world_close(&w);
}

/* The first run of a request that awaits its mails, as the agent's writer runs it: rolled back
 * whole, its mails kept in plan for the second run (ctx->mailed). */
static int first_run_mailing(struct mail_list *plan, int (*call)(const void *), const void *arg)
{
    tx_begin(ctx);
    ctx->mailed = NULL;
    int rc = call(arg);
    store_rollback(ctx->store);
    mail_list_release(plan);
    *plan = ctx->mails;
    memset(&ctx->mails, 0, sizeof ctx->mails);
    return rc;
}

static struct user *mailed_user;
static int create_mailed(const void *arg)
{
    (void)arg;
    return user_create(ctx, mailed_user, true);
}

static int send_mail_again(const void *email)
{
    return user_send_activation_mail(ctx, email);
}

static void create_with_activation_mail_should_fail_and_keep_nothing(void)
{
    struct user u, found = { 0 };
    struct mail_list plan = { 0 };

    world_open(&w);
    size_t events_before = event_count(ctx);
    u = user_new(AUTHORITY_CUSTOMER_USER, "mail@a.example.com", NULL, w.customer_a.id);
    mailed_user = &u;
    /* first run: every check, the mail awaited, rolled back */
    act_as(ctx, &w.admin_a);
    CHECK(first_run_mailing(&plan, create_mailed, NULL) == ERR_OK);
    CHECK(plan.n == 1 && plan.items[0].await);
    CHECK_STR(plan.items[0].to, "mail@a.example.com");
    CHECK(plan.items[0].user_id[0] != '\0' && strlen(plan.items[0].token) == 40);
    CHECK(strstr(plan.items[0].body, plan.items[0].token) != NULL);
    CHECK(store_user_get_by_email(ctx->store, "mail@a.example.com", &found) == STORE_NOT_FOUND);
    /* second run after a failed mail */
    plan.items[0].outcome = MAIL_FAILED;
    ctx->mailed = &plan;
    CHECK(create_as(&w.admin_a, &u, true) == ERR_INTERNAL);
    CHECK_STR(ctx->err.message, "Couldn't send user activation email");
    CHECK(store_user_get_by_email(ctx->store, "mail@a.example.com", &found) == STORE_NOT_FOUND);
    CHECK(event_count(ctx) == events_before);
    ctx->mailed = NULL;
    mail_list_release(&plan);
    user_release(&u);
    world_close(&w);
}

static void create_with_activation_mail_sent_should_use_the_mailed_token(void)
{
    struct user u, found = { 0 };
    struct mail_list plan = { 0 };

    world_open(&w);
    u = user_new(AUTHORITY_CUSTOMER_USER, "sent@a.example.com", NULL, w.customer_a.id);
    mailed_user = &u;
    act_as(ctx, &w.admin_a);
    CHECK(first_run_mailing(&plan, create_mailed, NULL) == ERR_OK);
    plan.items[0].outcome = MAIL_SENT;
    ctx->mailed = &plan;
    CHECK(create_as(&w.admin_a, &u, true) == ERR_OK);
    CHECK_STR(u.id, plan.items[0].user_id);
    CHECK(ctx->mails.n == 0);
    CHECK(store_user_get_by_email(ctx->store, "sent@a.example.com", &found) == STORE_OK);
    char *pending = pending_activation_token(ctx, found.id);
    CHECK_STR(pending, plan.items[0].token);
    free(pending);
    /* a second run with no mail for its command creates nothing */
    user_release(&found);
    user_release(&u);
    u = user_new(AUTHORITY_CUSTOMER_USER, "unmailed@a.example.com", NULL, w.customer_a.id);
    ctx->command = 3;
    CHECK(create_as(&w.admin_a, &u, true) == ERR_CONFLICT);
    CHECK(store_user_get_by_email(ctx->store, "unmailed@a.example.com", &found) == STORE_NOT_FOUND);
    ctx->command = 0;
    ctx->mailed = NULL;
    mail_list_release(&plan);
    user_release(&u);
    world_close(&w);
}

static void send_activation_mail_should_check_and_await(void)
{
    struct user u;
    struct mail_list plan = { 0 };

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "again@a.example.com", &u) == ERR_OK);
    /* another tenant's user answers as a missing one, and is named in no audit row */
    act_as(ctx, &w.admin_b);
    CHECK(TX(ctx, user_send_activation_mail(ctx, "again@a.example.com")) == ERR_NOT_FOUND);
    CHECK_STR(ctx->err.message, "User with the given email is not found");
    CHECK(ctx->audit_entity_id[0] == '\0' && ctx->audit_entity_name[0] == '\0');
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_send_activation_mail(ctx, "nobody@a.example.com")) == ERR_NOT_FOUND);
    CHECK_STR(ctx->err.message, "User with the given email is not found");
    CHECK(first_run_mailing(&plan, send_mail_again, "again@a.example.com") == ERR_OK);
    CHECK(plan.n == 1 && plan.items[0].await);
    CHECK_STR(plan.items[0].user_id, u.id);
    char *pending = pending_activation_token(ctx, u.id);
    CHECK(strstr(plan.items[0].body, pending) != NULL);
    CHECK_STR(plan.items[0].token, pending);
    free(pending);
    ctx->mailed = &plan;
    plan.items[0].outcome = MAIL_FAILED;
    CHECK(TX(ctx, user_send_activation_mail(ctx, "again@a.example.com")) == ERR_INTERNAL);
    CHECK_STR(ctx->err.message, "Couldn't send user activation email");
    plan.items[0].outcome = MAIL_SENT;
    CHECK(TX(ctx, user_send_activation_mail(ctx, "again@a.example.com")) == ERR_OK);
    CHECK(ctx->mails.n == 0);
    ctx->mailed = NULL;
    mail_list_release(&plan);
    CHECK(activate(ctx, u.id, "good-password") == ERR_OK);
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_send_activation_mail(ctx, "again@a.example.com")) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "User is already activated!");
    user_release(&u);
    world_close(&w);
}

static void update_should_keep_tenant_authority_and_customer(void)
{
    struct user cu, cu2, u = { 0 };

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    struct customer second = { 0 };
    world_customer(&w, &second, "Second", &w.admin_a);

    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_get(ctx, cu.id, &u, NULL)) == ERR_OK);
    u.authority = AUTHORITY_TENANT_ADMIN;
    strcpy(u.customer_id, NULL_UUID);
    CHECK(TX(ctx, user_update(ctx, &u, UPDATE_CHECK_VERSION)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Can't update user authority!");
    u.authority = AUTHORITY_CUSTOMER_USER;
    strcpy(u.customer_id, second.id);
    CHECK(TX(ctx, user_update(ctx, &u, UPDATE_CHECK_VERSION)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Can't update user customer id!");
    strcpy(u.customer_id, cu.customer_id);

    /* the system administrator moving a tenant administrator */
    struct user admin = { 0 };
    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, user_get(ctx, w.admin_a.id, &admin, NULL)) == ERR_OK);
    strcpy(admin.tenant_id, w.tenant_b.id);
    CHECK(TX(ctx, user_update(ctx, &admin, UPDATE_CHECK_VERSION)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Can't update user tenant id!");
    user_release(&admin);

    /* versions: a stale one is a conflict, none is a forced overwrite */
    act_as(ctx, &w.admin_a);
    free(u.first_name);
    u.first_name = strdup("Renamed");
    CHECK(TX(ctx, user_update(ctx, &u, UPDATE_CHECK_VERSION)) == ERR_OK);
    CHECK(u.version == 2);
    u.version = 1;
    CHECK(TX(ctx, user_update(ctx, &u, UPDATE_CHECK_VERSION)) == ERR_CONFLICT);
    CHECK_STR(ctx->err.message, "User was already changed by someone else");
    CHECK(TX(ctx, user_update(ctx, &u, 0)) == ERR_OK);
    CHECK(u.version == 3);

    /* e-mail uniqueness on update */
    free(u.email);
    u.email = strdup("admin@b.example.com");
    CHECK(TX(ctx, user_update(ctx, &u, 0)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "User with email 'admin@b.example.com' already present in database!");

    /* a customer user writes only itself */
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu2@a.example.com", &cu2) == ERR_OK);
    act_as(ctx, &cu);
    free(cu.last_name);
    cu.last_name = strdup("Self");
    CHECK(TX(ctx, user_update(ctx, &cu, 0)) == ERR_OK);
    CHECK(TX(ctx, user_update(ctx, &cu2, 0)) == ERR_FORBIDDEN);
    user_release(&u);
    user_release(&cu);
    user_release(&cu2);
    customer_release(&second);
    world_close(&w);
}

static void get_should_answer_404_before_403(void)
{
    struct user cu, u = { 0 };
    struct credentials cred;
    static const char unknown[] = "0190a0a0-0000-7000-8000-000000000001";
    char expected[128];

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    act_as(ctx, &cu);
    CHECK(TX(ctx, user_get(ctx, unknown, &u, NULL)) == ERR_NOT_FOUND);
    snprintf(expected, sizeof expected, "User with id [%s] is not found", unknown);
    CHECK_STR(ctx->err.message, expected);
    CHECK(TX(ctx, user_get(ctx, w.admin_a.id, &u, NULL)) == ERR_FORBIDDEN);
    act_as(ctx, &w.admin_b);
    CHECK(TX(ctx, user_get(ctx, cu.id, &u, NULL)) == ERR_FORBIDDEN);
    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, user_get(ctx, cu.id, &u, NULL)) == ERR_FORBIDDEN);
    CHECK(TX(ctx, user_get(ctx, w.admin_b.id, &u, &cred)) == ERR_OK);
    CHECK_STR(u.email, "admin@b.example.com");
    CHECK(!cred.enabled && cred.activate_token != NULL);
    user_release(&u);
    credentials_release(&cred);
    user_release(&cu);
    world_close(&w);
}

static void delete_should_protect_last_admin_and_self_and_cascade(void)
{
    struct user cu, admin2, found = { 0 };
    struct token t = { 0 };
    char key[SECRET_TOKEN_MAX];

    world_open(&w);
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_delete(ctx, w.admin_a.id)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "At least one tenant administrator must remain!");
    act_as(ctx, &w.sysadmin);
    CHECK(TX(ctx, user_delete(ctx, w.sysadmin.id)) == ERR_FORBIDDEN);
    CHECK_STR(ctx->err.message, "Sysadmin is not allowed to delete himself");

    admin2 = user_new(AUTHORITY_TENANT_ADMIN, "admin2@a.example.com", w.tenant_a.id, NULL);
    CHECK(create_as(&w.sysadmin, &admin2, false) == ERR_OK);
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_delete(ctx, admin2.id)) == ERR_OK);

    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    CHECK(activate(ctx, cu.id, "secret-password") == ERR_OK);
    act_as(ctx, &cu);
    CHECK(TX(ctx, apikey_create(ctx, "k", 0, key, &t)) == ERR_OK);
    act_as(ctx, &w.admin_b);
    CHECK(TX(ctx, user_delete(ctx, cu.id)) == ERR_FORBIDDEN);
    act_as(ctx, &cu);
    CHECK(TX(ctx, user_delete(ctx, cu.id)) == ERR_FORBIDDEN);
    act_as(ctx, &w.admin_a);
    size_t events_before = event_count(ctx);
    CHECK(TX(ctx, user_delete(ctx, cu.id)) == ERR_OK);
    CHECK(event_count(ctx) == events_before + 1);
    struct credentials cred = { 0 };
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_NOT_FOUND);
    struct token gone = { 0 };
    CHECK(store_token_get(ctx->store, t.id, &gone) == STORE_NOT_FOUND);
    CHECK(store_user_get(ctx->store, cu.id, &found) == STORE_NOT_FOUND);
    CHECK(TX(ctx, user_delete(ctx, cu.id)) == ERR_NOT_FOUND);
    token_release(&t);
    user_release(&cu);
    user_release(&admin2);
    world_close(&w);
}

static void activation_link_should_renew_near_expiry_and_stop_after_activation(void)
{
    struct user cu;
    char *link = NULL, expected[256];
    int64_t ttl = 0;

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    char *first = pending_activation_token(ctx, cu.id);

    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_activation_link(ctx, cu.id, &link, &ttl)) == ERR_OK);
    snprintf(expected, sizeof expected, "https://cm.example.com/api/noauth/activate?activateToken=%s", first);
    CHECK_STR(link, expected);
    CHECK(ttl == fixture_settings.activation_token_ttl_ms);
    free(link);

    /* 10 minutes before expiry the token is replaced by a fresh one */
    int64_t real_now = ctx->now;
    ctx->now = real_now + fixture_settings.activation_token_ttl_ms - 10 * 60 * 1000;
    CHECK(TX(ctx, user_activation_link(ctx, cu.id, &link, &ttl)) == ERR_OK);
    char *second = pending_activation_token(ctx, cu.id);
    CHECK(strcmp(first, second) != 0 && strlen(second) == 40);
    CHECK(ttl == fixture_settings.activation_token_ttl_ms);
    CHECK(strstr(link, second) != NULL);
    free(link);
    ctx->now = real_now;

    act_as(ctx, &cu);
    CHECK(TX(ctx, user_activation_link(ctx, cu.id, &link, &ttl)) == ERR_FORBIDDEN);
    CHECK(activate(ctx, cu.id, "secret-password") == ERR_OK);
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_activation_link(ctx, cu.id, &link, &ttl)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "User is already activated!");
    CHECK(link == NULL);
    free(first);
    free(second);
    user_release(&cu);
    world_close(&w);
}

static void set_enabled_should_need_a_password_and_revoke_tokens(void)
{
    struct user cu;
    struct token_pair pair;
    struct token key_row = { 0 };
    struct credentials cred = { 0 };
    char key[SECRET_TOKEN_MAX], ev[1024];

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_set_enabled(ctx, cu.id, true)) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Enabled user credentials should have password!");

    CHECK(activate(ctx, cu.id, "secret-password") == ERR_OK);
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_login(ctx, "cu@a.example.com", "secret-password", &pair)) == ERR_OK);
    act_as(ctx, &cu);
    CHECK(TX(ctx, apikey_create(ctx, NULL, 0, key, &key_row)) == ERR_OK);

    act_as(ctx, &w.admin_b);
    CHECK(TX(ctx, user_set_enabled(ctx, cu.id, false)) == ERR_FORBIDDEN);
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_set_enabled(ctx, cu.id, false)) == ERR_OK);
    CHECK(strncmp(last_event(ctx, ev, sizeof ev), "USER_DISABLED USER ", 19) == 0);
    CHECK(TX(ctx, auth_authenticate(ctx, pair.token)) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "Invalid or revoked token");
    CHECK(TX(ctx, auth_authenticate(ctx, key)) == ERR_UNAUTHORIZED);
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_login(ctx, "cu@a.example.com", "secret-password", &pair)) == ERR_UNAUTHORIZED);
    CHECK_STR(ctx->err.message, "User account is not active");

    /* enabling resets the failed attempts */
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    cred.failed_login_attempts = 4;
    CHECK(store_credentials_update(ctx->store, &cred) == STORE_OK);
    credentials_release(&cred);
    act_as(ctx, &w.admin_a);
    CHECK(TX(ctx, user_set_enabled(ctx, cu.id, true)) == ERR_OK);
    CHECK(strncmp(last_event(ctx, ev, sizeof ev), "USER_ENABLED USER ", 18) == 0);
    CHECK(store_credentials_get(ctx->store, cu.id, &cred) == STORE_OK);
    CHECK(cred.enabled && cred.failed_login_attempts == 0);
    credentials_release(&cred);
    act_anonymous(ctx);
    CHECK(TX(ctx, auth_login(ctx, "cu@a.example.com", "secret-password", &pair)) == ERR_OK);
    token_release(&key_row);
    user_release(&cu);
    world_close(&w);
}

/* Emails of a page, joined with ','. */
static const char *emails(struct user *items, size_t n, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? "," : "", items[i].email);
    users_free(items, n);
    return buf;
}

static void listings_should_filter_search_sort_and_page(void)
{
    struct user made[4], *items = NULL;
    struct customer second = { 0 };
    struct page_info info;
    struct page_request p = { .page_size = 10 };
    size_t n = 0;
    char buf[512];
    static char by_email[] = "email", by_password[] = "password", search_b_one[] = "B_ONE";
    static const char *const names[] = { "b_one@a.example.com", "Bxone@a.example.com", "carol@a.example.com",
                                         "dave@a.example.com" };

    world_open(&w);
    world_customer(&w, &second, "Second", &w.admin_a);
    for (int i = 0; i < 4; i++)
        CHECK(make_customer_user(&w, &w.admin_a, i < 3 ? &w.customer_a : &second, names[i], &made[i]) == ERR_OK);

    /* TENANT_ADMIN: every user of its tenant */
    act_as(ctx, &w.admin_a);
    p.sort_property = by_email;
    CHECK(user_list(ctx, NULL, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(emails(items, n, buf, sizeof buf),
              "Bxone@a.example.com,admin@a.example.com,b_one@a.example.com,carol@a.example.com,dave@a.example.com");
    CHECK(info.total_elements == 5 && info.total_pages == 1 && !info.has_next);
    /* textSearch is a case-insensitive substring of the email; '_' is literal */
    p.text_search = search_b_one;
    CHECK(user_list(ctx, NULL, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(emails(items, n, buf, sizeof buf), "b_one@a.example.com");
    p.text_search = NULL;
    CHECK(user_list(ctx, w.tenant_b.id, &p, &items, &n, &info) == ERR_FORBIDDEN);

    /* customer.users: CUSTOMER_USER users of one customer, paged, descending */
    p.page_size = 2;
    p.descending = true;
    CHECK(user_list_by_customer(ctx, w.customer_a.id, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(emails(items, n, buf, sizeof buf), "carol@a.example.com,b_one@a.example.com");
    CHECK(info.total_elements == 3 && info.total_pages == 2 && info.has_next);
    p.page = 1;
    CHECK(user_list_by_customer(ctx, w.customer_a.id, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(emails(items, n, buf, sizeof buf), "Bxone@a.example.com");
    CHECK(!info.has_next);
    p.page = 0;
    CHECK(user_list_by_customer(ctx, w.customer_b.id, &p, &items, &n, &info) == ERR_FORBIDDEN);
    p.sort_property = by_password;
    CHECK(user_list_by_customer(ctx, w.customer_a.id, &p, &items, &n, &info) == ERR_BAD_REQUEST);
    CHECK_STR(ctx->err.message, "Invalid sort property 'password'");
    p.sort_property = by_email;
    p.descending = false;
    p.page_size = 10;

    /* CUSTOMER_USER: the users of its own customer */
    act_as(ctx, &made[3]);
    CHECK(user_list(ctx, NULL, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(emails(items, n, buf, sizeof buf), "dave@a.example.com");
    CHECK(user_list_by_customer(ctx, second.id, &p, &items, &n, &info) == ERR_FORBIDDEN);

    /* SYS_ADMIN: the tenant administrators of a tenant it names */
    act_as(ctx, &w.sysadmin);
    CHECK(user_list(ctx, w.tenant_a.id, &p, &items, &n, &info) == ERR_OK);
    CHECK_STR(emails(items, n, buf, sizeof buf), "admin@a.example.com");
    CHECK(user_list(ctx, NULL, &p, &items, &n, &info) == ERR_BAD_REQUEST);
    CHECK(user_list(ctx, "0190a0a0-0000-7000-8000-000000000002", &p, &items, &n, &info) == ERR_NOT_FOUND);
    CHECK_STR(ctx->err.message, "Tenant with id [0190a0a0-0000-7000-8000-000000000002] is not found");
    for (int i = 0; i < 4; i++)
        user_release(&made[i]);
    customer_release(&second);
    world_close(&w);
}

static void customer_delete_should_delete_its_users(void)
{
    struct user cu, other, found = { 0 };

    world_open(&w);
    CHECK(make_customer_user(&w, &w.admin_a, &w.customer_a, "cu@a.example.com", &cu) == ERR_OK);
    CHECK(make_customer_user(&w, &w.admin_b, &w.customer_b, "cu@b.example.com", &other) == ERR_OK);
    act_as(ctx, &w.admin_a);
    size_t events_before = event_count(ctx);
    CHECK(TX(ctx, customer_delete(ctx, w.customer_a.id)) == ERR_OK);
    CHECK(event_count(ctx) == events_before + 1);
    CHECK(store_user_get(ctx->store, cu.id, &found) == STORE_NOT_FOUND);
    CHECK(store_user_get(ctx->store, other.id, &found) == STORE_OK);
    user_release(&found);
    user_release(&cu);
    user_release(&other);
    world_close(&w);
}

int main(void)
{
    RUN(bootstrap_should_create_the_sysadmin_once);
    RUN(bootstrap_should_refuse_a_bad_email_and_keep_nothing);
    RUN(create_should_store_a_pending_customer_user);
    RUN(create_should_apply_thingsboard_validation_messages);
    RUN(create_should_follow_who_may_create_whom);
    RUN(create_should_enforce_max_users);
    RUN(create_with_activation_mail_should_fail_and_keep_nothing);
    RUN(create_with_activation_mail_sent_should_use_the_mailed_token);
    RUN(send_activation_mail_should_check_and_await);
    RUN(update_should_keep_tenant_authority_and_customer);
    RUN(get_should_answer_404_before_403);
    RUN(delete_should_protect_last_admin_and_self_and_cascade);
    RUN(activation_link_should_renew_near_expiry_and_stop_after_activation);
    RUN(set_enabled_should_need_a_password_and_revoke_tokens);
    RUN(listings_should_filter_search_sort_and_page);
    RUN(customer_delete_should_delete_its_users);
    return test_report("test_users");
}
