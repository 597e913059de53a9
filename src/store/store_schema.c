/* store_schema.c: the database schema, as numbered migrations. Ids are canonical UUID text;
 * times are milliseconds since the epoch; JSON documents are stored as text. Append new steps at
 * the end; never edit a step a database may already have run. */
#include "store_schema.h"

static const char *const migrations[] = {
    /* 1: tenants, customers, users, credentials, tokens and the event outbox. */
    "CREATE TABLE counter ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL);"
    "INSERT INTO counter(name, value) VALUES ('event_seq', 0);"

    "CREATE TABLE tenant ("
    "  id TEXT PRIMARY KEY,"
    "  created_time INTEGER NOT NULL,"
    "  title TEXT NOT NULL,"
    "  country TEXT, state TEXT, city TEXT, address TEXT, address2 TEXT, zip TEXT, phone TEXT, email TEXT,"
    "  additional_info TEXT,"
    "  max_customers INTEGER NOT NULL DEFAULT 0,"
    "  max_users INTEGER NOT NULL DEFAULT 0,"
    "  max_devices INTEGER NOT NULL DEFAULT 0,"
    "  max_assets INTEGER NOT NULL DEFAULT 0,"
    "  max_edges INTEGER NOT NULL DEFAULT 0,"
    "  max_dashboards INTEGER NOT NULL DEFAULT 0,"
    "  version INTEGER NOT NULL DEFAULT 1);"

    "CREATE TABLE customer ("
    "  id TEXT PRIMARY KEY,"
    "  created_time INTEGER NOT NULL,"
    "  tenant_id TEXT NOT NULL REFERENCES tenant(id),"
    "  title TEXT NOT NULL,"
    "  country TEXT, state TEXT, city TEXT, address TEXT, address2 TEXT, zip TEXT, phone TEXT, email TEXT,"
    "  additional_info TEXT,"
    "  external_id TEXT,"
    "  is_public INTEGER NOT NULL DEFAULT 0,"
    "  version INTEGER NOT NULL DEFAULT 1,"
    "  CONSTRAINT customer_title_unq_key UNIQUE (tenant_id, title),"
    "  CONSTRAINT customer_external_id_unq_key UNIQUE (tenant_id, external_id));"
    "CREATE INDEX customer_tenant_id ON customer(tenant_id, id);"
    "CREATE INDEX customer_public ON customer(tenant_id) WHERE is_public;"

    "CREATE TABLE tb_user ("
    "  id TEXT PRIMARY KEY,"
    "  created_time INTEGER NOT NULL,"
    "  tenant_id TEXT NOT NULL,"
    "  customer_id TEXT NOT NULL,"
    "  email TEXT NOT NULL UNIQUE,"
    "  authority TEXT NOT NULL,"
    "  first_name TEXT, last_name TEXT, phone TEXT,"
    "  additional_info TEXT,"
    "  version INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX user_tenant ON tb_user(tenant_id, authority, id);"
    "CREATE INDEX user_customer ON tb_user(customer_id, id);"

    "CREATE TABLE user_credentials ("
    "  user_id TEXT PRIMARY KEY REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  enabled INTEGER NOT NULL DEFAULT 0,"
    "  password_hash TEXT,"
    "  activate_token TEXT UNIQUE,"
    "  activate_token_exp INTEGER,"
    "  reset_token TEXT UNIQUE,"
    "  reset_token_exp INTEGER,"
    "  last_login_ts INTEGER,"
    "  failed_login_attempts INTEGER NOT NULL DEFAULT 0);"

    "CREATE TABLE auth_token ("
    "  digest TEXT PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  user_id TEXT NOT NULL REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh', 'api_key')),"
    "  pair_id TEXT,"
    "  created_time INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL DEFAULT 0,"
    "  description TEXT);"
    "CREATE INDEX auth_token_user ON auth_token(user_id, kind);"
    "CREATE INDEX auth_token_pair ON auth_token(pair_id);"

    "CREATE TABLE outbox ("
    "  seq INTEGER PRIMARY KEY,"
    "  ts INTEGER NOT NULL,"
    "  tenant_id TEXT NOT NULL,"
    "  entity_type TEXT NOT NULL,"
    "  event_type TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  published INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX outbox_unpublished ON outbox(seq) WHERE published = 0;"
    "CREATE INDEX outbox_tenant ON outbox(tenant_id, seq);",

    /* 2: devices, assets, edges and dashboards. customer_id is NULL when an entity is not assigned,
     * and the per-customer indexes are partial (customer_id IS NOT NULL): unassigning all of a
     * customer's entities is one set-based UPDATE that finds them through the index and only
     * removes index entries, and unassigned entities cost the index nothing. */
#define OWNED_ENTITY_TABLE(table, extra)                                                   \
    "CREATE TABLE " table " ("                                                             \
    "  id TEXT PRIMARY KEY,"                                                               \
    "  created_time INTEGER NOT NULL,"                                                     \
    "  tenant_id TEXT NOT NULL REFERENCES tenant(id),"                                     \
    "  customer_id TEXT,"                                                                  \
    "  name TEXT NOT NULL,"                                                                \
    "  type TEXT NOT NULL,"                                                                \
    "  label TEXT,"                                                                        \
    "  additional_info TEXT,"                                                              \
    extra                                                                                  \
    "  version INTEGER NOT NULL DEFAULT 1,"                                                \
    "  CONSTRAINT " table "_name_unq_key UNIQUE (tenant_id, name));"                       \
    "CREATE INDEX " table "_tenant ON " table "(tenant_id, id);"                           \
    "CREATE INDEX " table "_tenant_type ON " table "(tenant_id, type, id);"                \
    "CREATE INDEX " table "_customer ON " table "(customer_id, id) WHERE customer_id IS NOT NULL;"
    OWNED_ENTITY_TABLE("device", "")
    OWNED_ENTITY_TABLE("asset", "")
    OWNED_ENTITY_TABLE("edge", "  routing_key TEXT NOT NULL UNIQUE,  secret TEXT NOT NULL,")
#undef OWNED_ENTITY_TABLE

    "CREATE TABLE dashboard ("
    "  id TEXT PRIMARY KEY,"
    "  created_time INTEGER NOT NULL,"
    "  tenant_id TEXT NOT NULL REFERENCES tenant(id),"
    "  title TEXT NOT NULL,"
    "  configuration TEXT,"
    "  version INTEGER NOT NULL DEFAULT 1);"
    "CREATE INDEX dashboard_tenant ON dashboard(tenant_id, id);"

    /* A dashboard's customers (ThingsBoard's assignedCustomers and its Contains relations). */
    "CREATE TABLE dashboard_customer ("
    "  dashboard_id TEXT NOT NULL REFERENCES dashboard(id) ON DELETE CASCADE,"
    "  customer_id TEXT NOT NULL REFERENCES customer(id) ON DELETE CASCADE,"
    "  PRIMARY KEY (dashboard_id, customer_id)) WITHOUT ROWID;"
    "CREATE INDEX dashboard_customer_customer ON dashboard_customer(customer_id, dashboard_id);",

    /* 3: the audit log (one row per write, kept for audit_retention_days) and the password history
     * of the reuse rule. */
    "CREATE TABLE audit_log ("
    "  id TEXT PRIMARY KEY,"
    "  created_time INTEGER NOT NULL,"
    "  tenant_id TEXT NOT NULL,"
    "  customer_id TEXT,"
    "  entity_type TEXT,"
    "  entity_id TEXT,"
    "  entity_name TEXT,"
    "  user_id TEXT,"
    "  user_name TEXT,"
    "  action_type TEXT NOT NULL,"
    "  action_data TEXT,"
    "  action_status TEXT NOT NULL CHECK (action_status IN ('SUCCESS', 'FAILURE')),"
    "  action_failure_details TEXT);"
    "CREATE INDEX audit_log_tenant_time ON audit_log(tenant_id, created_time);"
    "CREATE INDEX audit_log_time ON audit_log(created_time);"

    "CREATE TABLE password_history ("
    "  user_id TEXT NOT NULL REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  password_hash TEXT NOT NULL,"
    "  ts INTEGER NOT NULL);"
    "CREATE INDEX password_history_user ON password_history(user_id, ts);",

    /* 4: the first reply of every write request that carried an envelope id, per principal
     * (protocol section 7), written in the same transaction as the write it reports. */
    "CREATE TABLE idempotency ("
    "  principal TEXT NOT NULL,"
    "  request_id TEXT NOT NULL,"
    "  op TEXT NOT NULL,"
    "  created_time INTEGER NOT NULL,"
    "  reply TEXT NOT NULL,"
    "  PRIMARY KEY (principal, request_id)) WITHOUT ROWID;"
    "CREATE INDEX idempotency_created ON idempotency(created_time);",

    /* 5: customer listings ordered by createdTime (ThingsBoard's usual order) read a range of an
     * index instead of sorting the tenant's customers, with a cursor and with offset paging. */
    "CREATE INDEX customer_tenant_created ON customer(tenant_id, created_time, id);",

    /* 6: deleted customers whose devices, assets and edges are still to be unassigned. customer.delete
     * records the job in its own transaction; the writer then unassigns the rows in small
     * transactions of their own between requests, so a customer with a million devices never holds
     * the writer for seconds. Until a job is finished its customer's entities read as unassigned. */
    "CREATE TABLE unassign_job ("
    "  customer_id TEXT PRIMARY KEY,"
    "  tenant_id TEXT NOT NULL,"
    "  created_time INTEGER NOT NULL,"
    "  unassigned INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",

    /* 7: exact row counts per owner, so that an unfiltered listing answers totalElements without
     * counting its rows. owner_id is a tenant's id (every row of the tenant) or a customer's id (the
     * rows assigned to it); kind names the table. The store adds a new row's counts right after its
     * INSERT (store_row_count_add); triggers follow every DELETE and every change of customer_id,
     * whatever statement makes it (one row, or the set-based UPDATE of the delete cascade), in the
     * transaction of the write. The migration counts the rows already there. The
     * (customer_id, created_time, id) and (tenant_id, created_time, id) indexes let a listing in
     * ThingsBoard's usual order, by offset or by cursor, read an index range instead of sorting the
     * owner's rows. A customer's entities get no index by name: every index holding customer_id
     * adds to each row the delete cascade unassigns (about 1.8 us a row for a name index), so a
     * customer's listing by name sorts that customer's rows.
     *
     * The trigger statements cannot fail (OR IGNORE): a trigger statement that may fail makes
     * SQLite keep a statement journal for every multi-row UPDATE that fires it. INSERT has no
     * trigger for the same reason: with one, every single-row INSERT (which may fail on a unique
     * name) kept a statement journal, which doubled the CPU of a create. */
    "CREATE TABLE row_count ("
    "  owner_id TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (owner_id, kind)) WITHOUT ROWID;"
#define COUNT_ADD(owner, kind)                                                                \
    "INSERT OR IGNORE INTO row_count(owner_id, kind, n) VALUES (" owner ", '" kind "', 0);"   \
    "UPDATE OR IGNORE row_count SET n = n + 1 WHERE owner_id = " owner " AND kind = '" kind "';"
#define COUNT_SUB(owner, kind) \
    "UPDATE OR IGNORE row_count SET n = n - 1 WHERE owner_id = " owner " AND kind = '" kind "';"
#define COUNTED_BY_TENANT(table)                                                             \
    "CREATE TRIGGER " table "_count_delete AFTER DELETE ON " table " BEGIN "                 \
    COUNT_SUB("OLD.tenant_id", table) " END;"                                               \
    "INSERT INTO row_count(owner_id, kind, n) SELECT tenant_id, '" table "', count(*) FROM " table \
    " GROUP BY tenant_id;"
#define COUNTED_BY_CUSTOMER(table)                                                           \
    "CREATE TRIGGER " table "_customer_count_delete AFTER DELETE ON " table                  \
    " WHEN OLD.customer_id IS NOT NULL BEGIN " COUNT_SUB("OLD.customer_id", table) " END;"  \
    "CREATE TRIGGER " table "_customer_count_move AFTER UPDATE OF customer_id ON " table     \
    " WHEN OLD.customer_id IS NOT NEW.customer_id BEGIN "                                   \
    COUNT_SUB("OLD.customer_id", table) COUNT_ADD("NEW.customer_id", table) " END;"         \
    "INSERT INTO row_count(owner_id, kind, n) SELECT customer_id, '" table "', count(*) FROM " table \
    " WHERE customer_id IS NOT NULL GROUP BY customer_id;"                                  \
    "CREATE INDEX " table "_customer_created ON " table "(customer_id, created_time, id)"    \
    " WHERE customer_id IS NOT NULL;"                                                       \
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
    /* A deleted owner's counts go with it (a customer's entities may be unassigned after its row is
     * gone: their decrements then find no row, which is right). */
    "CREATE TRIGGER customer_counts_drop AFTER DELETE ON customer BEGIN"
    "  DELETE FROM row_count WHERE owner_id = OLD.id; END;"
    "CREATE TRIGGER tenant_counts_drop AFTER DELETE ON tenant BEGIN"
    "  DELETE FROM row_count WHERE owner_id = OLD.id; END;",

    /* 8: the broker accounts of users and API keys (broker_acl dynsec, store_broker.h). A row is
     * made by broker.credentials; version counts the changes the broker must hear of, applied the
     * last one it confirmed. Triggers bump version in the transaction of whatever write disables,
     * locks, deletes or re-passwords the user, or deletes the key (a cascade of a customer or
     * tenant delete included), so a crash after the commit leaves the row pending and the agent
     * tells the broker at its next start. password holds a password broker.credentials issued until
     * the broker took it; rotate asks for a new random one (the user's password changed). */
    "CREATE TABLE broker_account ("
    "  username TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL,"
    "  key_id TEXT,"
    "  version INTEGER NOT NULL DEFAULT 1,"
    "  applied INTEGER NOT NULL DEFAULT 0,"
    "  password TEXT,"
    "  rotate INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX broker_account_user ON broker_account(user_id);"
    "CREATE INDEX broker_account_key ON broker_account(key_id) WHERE key_id IS NOT NULL;"
    "CREATE INDEX broker_account_pending ON broker_account(username) WHERE version > applied;"
    "CREATE TRIGGER broker_credentials_change AFTER UPDATE OF enabled, password_hash ON user_credentials"
    "  WHEN OLD.enabled IS NOT NEW.enabled OR OLD.password_hash IS NOT NEW.password_hash BEGIN"
    "  UPDATE OR IGNORE broker_account SET version = version + 1,"
    "    rotate = rotate OR (OLD.password_hash IS NOT NEW.password_hash) WHERE user_id = NEW.user_id; END;"
    "CREATE TRIGGER broker_user_delete AFTER DELETE ON tb_user BEGIN"
    "  UPDATE OR IGNORE broker_account SET version = version + 1 WHERE user_id = OLD.id; END;"
    "CREATE TRIGGER broker_key_delete AFTER DELETE ON auth_token WHEN OLD.kind = 'api_key' BEGIN"
    "  UPDATE OR IGNORE broker_account SET version = version + 1 WHERE key_id = OLD.id; END;",

    /* 9: deleted tenants whose rows are still to be deleted. tenant.delete deletes the tenant's users
     * and records the job in its own transaction; from then on the tenant reads as gone, and the
     * writer deletes its devices, assets, edges, dashboards and customers, then the tenant row, in
     * small transactions of their own between requests, so a tenant with a million devices never
     * holds the writer for seconds. */
    "CREATE TABLE tenant_delete_job ("
    "  tenant_id TEXT PRIMARY KEY,"
    "  created_time INTEGER NOT NULL,"
    "  deleted INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",

    /* 10: customers searched and sorted by contact fields (customer.list email, phone, city, country):
     * one index each, ASCII case ignored, so a prefix is a range and a sort a walk. */
    "CREATE INDEX customer_email ON customer(tenant_id, email COLLATE NOCASE, id);"
    "CREATE INDEX customer_phone ON customer(tenant_id, phone COLLATE NOCASE, id);"
    "CREATE INDEX customer_city ON customer(tenant_id, city COLLATE NOCASE, id);"
    "CREATE INDEX customer_country ON customer(tenant_id, country COLLATE NOCASE, id);",

    /* 11: two-factor authentication (ThingsBoard's TwoFactorAuth*): a user's account config (the
     * TOTP secret in base32, the SHA-256 digests of the unused backup codes, whether e-mail codes
     * are on) and the logins waiting for a code: the digest of their pre-verification token, its
     * expiry, and the digest of the last code mailed for it with its lifetime and re-send counts;
     * the platform's settings. A challenge of purpose 'config' is the token of a login that the
     * settings' enforcement sent to configure a provider first (twoFa.accountConfig.* only). */
    "CREATE TABLE twofa_account ("
    "  user_id TEXT PRIMARY KEY REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  totp_secret TEXT,"
    "  backup_codes TEXT,"
    "  email TEXT) WITHOUT ROWID;"
    "CREATE TABLE twofa_challenge ("
    "  digest TEXT PRIMARY KEY,"
    "  user_id TEXT NOT NULL REFERENCES tb_user(id) ON DELETE CASCADE,"
    "  expires_at INTEGER NOT NULL,"
    "  code_digest TEXT,"
    "  code_expires_at INTEGER NOT NULL DEFAULT 0,"
    "  sent_count INTEGER NOT NULL DEFAULT 0,"
    "  last_sent_at INTEGER NOT NULL DEFAULT 0,"
    "  purpose TEXT NOT NULL DEFAULT 'login' CHECK (purpose IN ('login', 'config'))) WITHOUT ROWID;"
    "CREATE INDEX twofa_challenge_user ON twofa_challenge(user_id);"
    /* the platform's two-factor settings (twoFa.settings.save), one row; none: the defaults */
    "CREATE TABLE twofa_settings ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  providers TEXT NOT NULL,"
    "  code_lifetime_s INTEGER NOT NULL,"
    "  total_time_s INTEGER NOT NULL,"
    "  send_period_s INTEGER NOT NULL,"
    "  max_sends INTEGER NOT NULL,"
    "  enforce INTEGER NOT NULL DEFAULT 0,"
    "  enforce_filter TEXT NOT NULL DEFAULT 'ALL',"
    "  enforce_tenant TEXT);",

    /* 12: each tenant's event counter (the tenantSeq of its events, gapless per tenant), bumped
     * in the write's own transaction next to the event_seq counter; a tenant's row is created at
     * its first event after this migration. */
    "CREATE TABLE tenant_event_seq ("
    "  tenant_id TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL) WITHOUT ROWID;",

    /* 13: the rate limits' token buckets shared by agents on one PostgreSQL database (store_rate.h):
     * one row per bucket, named by its limit and the SHA-256 of its key (a client, an e-mail, a
     * user), with the tokens left at last_ms and whether the last take was granted. A single agent
     * on SQLite keeps its buckets in memory and leaves the table empty. */
    "CREATE TABLE rate_bucket ("
    "  name TEXT PRIMARY KEY,"
    "  tokens REAL NOT NULL,"
    "  last_ms INTEGER NOT NULL,"
    "  granted INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",

    /* 14: "login as" (user.token) and the replay rule of TOTP codes. A token issued by user.token
     * names the user who asked for it (acting_user_id; NULL for every other token), and so does
     * every audit row of a request made with it (with that user's e-mail). A deleted acting user
     * takes its tokens with it. totp_last_step is the RFC 6238 time step of the last TOTP code
     * accepted for the user: a code of that step or an earlier one is refused (RFC 6238 5.2). */
    "ALTER TABLE auth_token ADD COLUMN acting_user_id TEXT REFERENCES tb_user(id) ON DELETE CASCADE;"
    "CREATE INDEX auth_token_acting ON auth_token(acting_user_id) WHERE acting_user_id IS NOT NULL;"
    "ALTER TABLE audit_log ADD COLUMN acting_user_id TEXT;"
    "ALTER TABLE audit_log ADD COLUMN acting_user_name TEXT;"
    "ALTER TABLE twofa_account ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;",

    /* 15: import jobs (import.run with more rows than import_chunk_rows): the job with who started
     * it, its options and counts, and its rows: the CSV line each starts on (0: JSON rows), each
     * row's create data until it ran, then its status and result (the row's answer, JSON).
     * finished_time 0: the writer still has rows of it to run. */
    "CREATE TABLE import_job ("
    "  id TEXT PRIMARY KEY,"
    "  tenant_id TEXT NOT NULL,"
    "  user_id TEXT NOT NULL,"
    "  entity_type TEXT NOT NULL,"
    "  options TEXT NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  done INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL DEFAULT 0,"
    "  failed INTEGER NOT NULL DEFAULT 0,"
    "  created_time INTEGER NOT NULL,"
    "  finished_time INTEGER NOT NULL DEFAULT 0,"
    "  error TEXT) WITHOUT ROWID;"
    "CREATE INDEX import_job_running ON import_job(created_time, id) WHERE finished_time = 0;"
    "CREATE INDEX import_job_finished ON import_job(finished_time) WHERE finished_time > 0;"
    "CREATE TABLE import_job_row ("
    "  job_id TEXT NOT NULL,"
    "  row_no INTEGER NOT NULL,"
    "  line INTEGER NOT NULL DEFAULT 0,"
    "  data TEXT,"
    "  status INTEGER,"
    "  result TEXT,"
    "  PRIMARY KEY (job_id, row_no)) WITHOUT ROWID;",

    /* 16: the mail queue: the mails no reply waits for (password reset, two-factor code, an import
     * job's activation mails), written in the transaction of the write that composed them and
     * deleted once sent (store_mail.h). expires_at: past it the mail is dropped, not sent (its link
     * or code is no longer valid). next_attempt: when it is due (a failed one later, with backoff).
     * claimed_by/claim_until: the agent sending it and until when; a claim past claim_until (its
     * agent died) is taken by any agent. */
    "CREATE TABLE mail_queue ("
    "  id TEXT PRIMARY KEY,"
    "  recipient TEXT NOT NULL,"
    "  subject TEXT NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_time INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL,"
    "  claimed_by TEXT,"
    "  claim_until INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE INDEX mail_queue_due ON mail_queue(next_attempt);",
};

const char *const *store_schema_migrations(enum sql_dialect dialect, size_t *count)
{
    if (dialect == SQL_POSTGRES)
        return store_schema_pg_migrations(count);
    *count = sizeof migrations / sizeof migrations[0];
    return migrations;
}
