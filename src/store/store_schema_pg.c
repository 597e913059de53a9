/* store_schema_pg.c: the PostgreSQL text of the schema migrations of store_schema.c, step for
 * step: the same tables, keys, unique constraints and indexes; BIGINT for SQLite's INTEGER (BOOLEAN
 * for customer.is_public, which a statement tests bare: 1 and 0 bind to it as text); the
 * triggers as PL/pgSQL functions; the contact-field indexes under a case-ignoring ICU collation
 * named nocase (so COLLATE NOCASE in a statement means the same on both). Append a step here
 * whenever one is appended there. */
#include "store_schema.h"

/* An AFTER trigger of table that runs body (PL/pgSQL statements) for each row, when cond holds. */
#define PG_TRIGGER(name, when, table, cond, body)                                                   \
    "CREATE FUNCTION " name "_fn() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN " body              \
    " RETURN NULL; END $$;"                                                                         \
    "CREATE TRIGGER " name " AFTER " when " ON " table " FOR EACH ROW" cond " EXECUTE FUNCTION " name \
    "_fn();"

static const char *const migrations[] = {
    /* 1 */
    "CREATE TABLE counter (name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
    "INSERT INTO counter(name, value) VALUES ('event_seq', 0);"
    "CREATE TABLE tenant ("
    "  id TEXT PRIMARY KEY, created_time BIGINT NOT NULL, title TEXT NOT NULL,"
    "  country TEXT, state TEXT, city TEXT, address TEXT, address2 TEXT, zip TEXT, phone TEXT, email TEXT,"
    "  additional_info TEXT,"
    "  max_customers BIGINT NOT NULL DEFAULT 0, max_users BIGINT NOT NULL DEFAULT 0,"
    "  max_devices BIGINT NOT NULL DEFAULT 0, max_assets BIGINT NOT NULL DEFAULT 0,"
    "  max_edges BIGINT NOT NULL DEFAULT 0, max_dashboards BIGINT NOT NULL DEFAULT 0,"
    "  version BIGINT NOT NULL DEFAULT 1);"
    "CREATE TABLE customer ("
    "  id TEXT PRIMARY KEY, created_time BIGINT NOT NULL, tenant_id TEXT NOT NULL REFERENCES tenant(id),"
    "  title TEXT NOT NULL,"
    "  country TEXT, state TEXT, city TEXT, address TEXT, address2 TEXT, zip TEXT, phone TEXT, email TEXT,"
    "  additional_info TEXT, external_id TEXT, is_public BOOLEAN NOT NULL DEFAULT false,"
    "  version BIGINT NOT NULL DEFAULT 1,"
    "  CONSTRAINT customer_title_unq_key UNIQUE (tenant_id, title),"
    "  CONSTRAINT customer_external_id_unq_key UNIQUE (tenant_id, external_id));"
    "CREATE INDEX customer_tenant_id ON customer(tenant_id, id);"
    "CREATE INDEX customer_public ON customer(tenant_id) WHERE is_public;"
    "CREATE TABLE tb_user ("
    "  id TEXT PRIMARY KEY, created_time BIGINT NOT NULL, tenant_id TEXT NOT NULL, customer_id TEXT NOT NULL,"
    "  email TEXT NOT NULL UNIQUE, authority TEXT NOT NULL, first_name TEXT, last_name TEXT, phone TEXT,"
    "  additional_info TEXT, version BIGINT NOT NULL DEFAULT 1);"
    "CREATE INDEX user_tenant ON tb_user(tenant_id, authority, id);"
    "CREATE INDEX user_customer ON tb_user(customer_id, id);"
    "CREATE TABLE user_credentials ("
    "  user_id TEXT PRIMARY KEY REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  enabled BIGINT NOT NULL DEFAULT 0, password_hash TEXT,"
    "  activate_token TEXT UNIQUE, activate_token_exp BIGINT, reset_token TEXT UNIQUE, reset_token_exp BIGINT,"
    "  last_login_ts BIGINT, failed_login_attempts BIGINT NOT NULL DEFAULT 0);"
    "CREATE TABLE auth_token ("
    "  digest TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  user_id TEXT NOT NULL REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh', 'api_key')), pair_id TEXT,"
    "  created_time BIGINT NOT NULL, expires_at BIGINT NOT NULL DEFAULT 0, description TEXT);"
    "CREATE INDEX auth_token_user ON auth_token(user_id, kind);"
    "CREATE INDEX auth_token_pair ON auth_token(pair_id);"
    "CREATE TABLE outbox ("
    "  seq BIGINT PRIMARY KEY, ts BIGINT NOT NULL, tenant_id TEXT NOT NULL, entity_type TEXT NOT NULL,"
    "  event_type TEXT NOT NULL, payload TEXT NOT NULL, published BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_unpublished ON outbox(seq) WHERE published = 0;"
    "CREATE INDEX outbox_tenant ON outbox(tenant_id, seq);",

    /* 2 */
#define OWNED_ENTITY_TABLE(table, extra)                                                           \
    "CREATE TABLE " table " ("                                                                     \
    "  id TEXT PRIMARY KEY, created_time BIGINT NOT NULL, tenant_id TEXT NOT NULL REFERENCES tenant(id)," \
    "  customer_id TEXT, name TEXT NOT NULL, type TEXT NOT NULL, label TEXT, additional_info TEXT," \
    extra "  version BIGINT NOT NULL DEFAULT 1,"                                                   \
    "  CONSTRAINT " table "_name_unq_key UNIQUE (tenant_id, name));"                               \
    "CREATE INDEX " table "_tenant ON " table "(tenant_id, id);"                                   \
    "CREATE INDEX " table "_tenant_type ON " table "(tenant_id, type, id);"                        \
    "CREATE INDEX " table "_customer ON " table "(customer_id, id) WHERE customer_id IS NOT NULL;"
    OWNED_ENTITY_TABLE("device", "")
    OWNED_ENTITY_TABLE("asset", "")
    OWNED_ENTITY_TABLE("edge", "  routing_key TEXT NOT NULL UNIQUE,  secret TEXT NOT NULL,")
#undef OWNED_ENTITY_TABLE
    "CREATE TABLE dashboard ("
    "  id TEXT PRIMARY KEY, created_time BIGINT NOT NULL, tenant_id TEXT NOT NULL REFERENCES tenant(id),"
    "  title TEXT NOT NULL, configuration TEXT, version BIGINT NOT NULL DEFAULT 1);"
    "CREATE INDEX dashboard_tenant ON dashboard(tenant_id, id);"
    "CREATE TABLE dashboard_customer ("
    "  dashboard_id TEXT NOT NULL REFERENCES dashboard(id) ON DELETE CASCADE,"
    "  customer_id TEXT NOT NULL REFERENCES customer(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (dashboard_id, customer_id));"
    "CREATE INDEX dashboard_customer_customer ON dashboard_customer(customer_id, dashboard_id);",

    /* 3 */
    "CREATE TABLE audit_log ("
    "  id TEXT PRIMARY KEY, created_time BIGINT NOT NULL, tenant_id TEXT NOT NULL, customer_id TEXT,"
    "  entity_type TEXT, entity_id TEXT, entity_name TEXT, user_id TEXT, user_name TEXT,"
    "  action_type TEXT NOT NULL, action_data TEXT,"
    "  action_status TEXT NOT NULL CHECK (action_status IN ('SUCCESS', 'FAILURE')),"
    "  action_failure_details TEXT);"
    "CREATE INDEX audit_log_tenant_time ON audit_log(tenant_id, created_time);"
    "CREATE INDEX audit_log_time ON audit_log(created_time);"
    "CREATE TABLE password_history ("
    "  user_id TEXT NOT NULL REFERENCES tb_user(id) ON DELETE CASCADE, password_hash TEXT NOT NULL,"
    "  ts BIGINT NOT NULL);"
    "CREATE INDEX password_history_user ON password_history(user_id, ts);",

    /* 4 */
    "CREATE TABLE idempotency ("
    "  principal TEXT NOT NULL, request_id TEXT NOT NULL, op TEXT NOT NULL, created_time BIGINT NOT NULL,"
    "  reply TEXT NOT NULL, PRIMARY KEY (principal, request_id));"
    "CREATE INDEX idempotency_created ON idempotency(created_time);",

    /* 5 */
    "CREATE INDEX customer_tenant_created ON customer(tenant_id, created_time, id);",

    /* 6 */
    "CREATE TABLE unassign_job ("
    "  customer_id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, created_time BIGINT NOT NULL,"
    "  unassigned BIGINT NOT NULL DEFAULT 0);",

    /* 7: the kept counts; the triggers of SQLite's step 7 as PL/pgSQL. */
    "CREATE TABLE row_count ("
    "  owner_id TEXT NOT NULL, kind TEXT NOT NULL, n BIGINT NOT NULL, PRIMARY KEY (owner_id, kind));"
#define COUNT_ADD(owner, kind)                                                                     \
    "INSERT INTO row_count(owner_id, kind, n) VALUES (" owner ", '" kind "', 1)"                   \
    " ON CONFLICT (owner_id, kind) DO UPDATE SET n = row_count.n + 1;"
#define COUNT_SUB(owner, kind) "UPDATE row_count SET n = n - 1 WHERE owner_id = " owner " AND kind = '" kind "';"
#define COUNTED_BY_TENANT(table)                                                                   \
    PG_TRIGGER(table "_count_delete", "DELETE", table, "", COUNT_SUB("OLD.tenant_id", table))     \
    "INSERT INTO row_count(owner_id, kind, n) SELECT tenant_id, '" table "', count(*) FROM " table \
    " GROUP BY tenant_id;"
#define COUNTED_BY_CUSTOMER(table)                                                                 \
    PG_TRIGGER(table "_customer_count_delete", "DELETE", table, " WHEN (OLD.customer_id IS NOT NULL)", \
               COUNT_SUB("OLD.customer_id", table))                                                \
    PG_TRIGGER(table "_customer_count_move", "UPDATE OF customer_id", table,                       \
               " WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id)",                         \
               "IF OLD.customer_id IS NOT NULL THEN " COUNT_SUB("OLD.customer_id", table) " END IF;" \
               " IF NEW.customer_id IS NOT NULL THEN " COUNT_ADD("NEW.customer_id", table) " END IF;") \
    "INSERT INTO row_count(owner_id, kind, n) SELECT customer_id, '" table "', count(*) FROM " table \
    " WHERE customer_id IS NOT NULL GROUP BY customer_id;"                                         \
    "CREATE INDEX " table "_customer_created ON " table "(customer_id, created_time, id)"          \
    " WHERE customer_id IS NOT NULL;"                                                              \
    "CREATE INDEX " table "_tenant_created ON " table "(tenant_id, created_time, id);"
    COUNTED_BY_TENANT("customer")
    COUNTED_BY_TENANT("device")
    COUNTED_BY_TENANT("asset")
    COUNTED_BY_TENANT("edge")
    COUNTED_BY_TENANT("dashboard")
    COUNTED_BY_CUSTOMER("device")
    COUNTED_BY_CUSTOMER("asset")
    COUNTED_BY_CUSTOMER("edge")
#undef COUNTED_BY_CUSTOMER
#undef COUNTED_BY_TENANT
#undef COUNT_SUB
#undef COUNT_ADD
    PG_TRIGGER("customer_counts_drop", "DELETE", "customer", "", "DELETE FROM row_count WHERE owner_id = OLD.id;")
    PG_TRIGGER("tenant_counts_drop", "DELETE", "tenant", "", "DELETE FROM row_count WHERE owner_id = OLD.id;"),

    /* 8 */
    "CREATE TABLE broker_account ("
    "  username TEXT PRIMARY KEY, user_id TEXT NOT NULL, key_id TEXT, version BIGINT NOT NULL DEFAULT 1,"
    "  applied BIGINT NOT NULL DEFAULT 0, password TEXT, rotate BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX broker_account_user ON broker_account(user_id);"
    "CREATE INDEX broker_account_key ON broker_account(key_id) WHERE key_id IS NOT NULL;"
    "CREATE INDEX broker_account_pending ON broker_account(username) WHERE version > applied;"
    PG_TRIGGER("broker_credentials_change", "UPDATE OF enabled, password_hash", "user_credentials",
               " WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled OR OLD.password_hash IS DISTINCT FROM"
               " NEW.password_hash)",
               "UPDATE broker_account SET version = version + 1, rotate = CASE WHEN rotate <> 0 OR"
               " OLD.password_hash IS DISTINCT FROM NEW.password_hash THEN 1 ELSE 0 END"
               " WHERE user_id = NEW.user_id;")
    PG_TRIGGER("broker_user_delete", "DELETE", "tb_user", "",
               "UPDATE broker_account SET version = version + 1 WHERE user_id = OLD.id;")
    PG_TRIGGER("broker_key_delete", "DELETE", "auth_token", " WHEN (OLD.kind = 'api_key')",
               "UPDATE broker_account SET version = version + 1 WHERE key_id = OLD.id;"),

    /* 9 */
    "CREATE TABLE tenant_delete_job ("
    "  tenant_id TEXT PRIMARY KEY, created_time BIGINT NOT NULL, deleted BIGINT NOT NULL DEFAULT 0);",

    /* 10: nocase ignores case (ICU level 2) as SQLite's NOCASE ignores ASCII case. */
    "CREATE COLLATION IF NOT EXISTS nocase (provider = icu, locale = 'und-u-ks-level2', deterministic = false);"
    "CREATE INDEX customer_email ON customer(tenant_id, email COLLATE nocase, id);"
    "CREATE INDEX customer_phone ON customer(tenant_id, phone COLLATE nocase, id);"
    "CREATE INDEX customer_city ON customer(tenant_id, city COLLATE nocase, id);"
    "CREATE INDEX customer_country ON customer(tenant_id, country COLLATE nocase, id);",

    /* 11: two-factor authentication (store_schema.c says what each table holds) */
    "CREATE TABLE twofa_account ("
    "  user_id TEXT PRIMARY KEY REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  totp_secret TEXT,"
    "  backup_codes TEXT,"
    "  email TEXT);"
    "CREATE TABLE twofa_challenge ("
    "  digest TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  expires_at BIGINT NOT NULL,"
    "  code_digest TEXT,"
    "  code_expires_at BIGINT NOT NULL DEFAULT 0,"
    "  sent_count BIGINT NOT NULL DEFAULT 0,"
    "  last_sent_at BIGINT NOT NULL DEFAULT 0,"
    "  purpose TEXT NOT NULL DEFAULT 'login' CHECK (purpose IN ('login', 'config')));"
    "CREATE INDEX twofa_challenge_user ON twofa_challenge(user_id);"
    "CREATE TABLE twofa_settings ("
    "  id BIGINT PRIMARY KEY CHECK (id = 1),"
    "  providers TEXT NOT NULL,"
    "  code_lifetime_s BIGINT NOT NULL,"
    "  total_time_s BIGINT NOT NULL,"
    "  send_period_s BIGINT NOT NULL,"
    "  max_sends BIGINT NOT NULL,"
    "  enforce BIGINT NOT NULL DEFAULT 0,"
    "  enforce_filter TEXT NOT NULL DEFAULT 'ALL',"
    "  enforce_tenant TEXT);",

    /* 12: each tenant's event counter (store_schema.c) */
    "CREATE TABLE tenant_event_seq (tenant_id TEXT PRIMARY KEY, value BIGINT NOT NULL);",

    /* 13: the rate limits' token buckets (store_schema.c) */
    "CREATE TABLE rate_bucket ("
    "  name TEXT PRIMARY KEY, tokens DOUBLE PRECISION NOT NULL, last_ms BIGINT NOT NULL,"
    "  granted BIGINT NOT NULL DEFAULT 0);",

    /* 14: "login as" and the replay rule of TOTP codes (store_schema.c says what each column holds) */
    "ALTER TABLE auth_token ADD COLUMN acting_user_id TEXT REFERENCES tb_user(id) ON DELETE CASCADE;"
    "CREATE INDEX auth_token_acting ON auth_token(acting_user_id) WHERE acting_user_id IS NOT NULL;"
    "ALTER TABLE audit_log ADD COLUMN acting_user_id TEXT;"
    "ALTER TABLE audit_log ADD COLUMN acting_user_name TEXT;"
    "ALTER TABLE twofa_account ADD COLUMN totp_last_step BIGINT NOT NULL DEFAULT 0;",

    /* 15: import jobs (store_schema.c says what each table holds) */
    "CREATE TABLE import_job ("
    "  id TEXT PRIMARY KEY,"
    "  tenant_id TEXT NOT NULL,"
    "  user_id TEXT NOT NULL,"
    "  entity_type TEXT NOT NULL,"
    "  options TEXT NOT NULL,"
    "  total BIGINT NOT NULL,"
    "  done BIGINT NOT NULL DEFAULT 0,"
    "  created BIGINT NOT NULL DEFAULT 0,"
    "  failed BIGINT NOT NULL DEFAULT 0,"
    "  created_time BIGINT NOT NULL,"
    "  finished_time BIGINT NOT NULL DEFAULT 0,"
    "  error TEXT);"
    "CREATE INDEX import_job_running ON import_job(created_time, id) WHERE finished_time = 0;"
    "CREATE INDEX import_job_finished ON import_job(finished_time) WHERE finished_time > 0;"
    "CREATE TABLE import_job_row ("
    "  job_id TEXT NOT NULL,"
    "  row_no BIGINT NOT NULL,"
    "  line BIGINT NOT NULL DEFAULT 0,"
    "  data TEXT,"
    "  status BIGINT,"
    "  result TEXT,"
    "  PRIMARY KEY (job_id, row_no));",

    /* 16: the mail queue (store_schema.c says what each column holds) */
    "CREATE TABLE mail_queue ("
    "  id TEXT PRIMARY KEY,"
    "  recipient TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_time BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL,"
    "  attempts BIGINT NOT NULL DEFAULT 0,"
    "  next_attempt BIGINT NOT NULL,"
    "  claimed_by TEXT,"
    "  claim_until BIGINT NOT NULL DEFAULT 0);"
    "CREATE INDEX mail_queue_due ON mail_queue(next_attempt);",
};

const char *const *store_schema_pg_migrations(size_t *count)
{
    *count = sizeof migrations / sizeof migrations[0];
    return migrations;
}
