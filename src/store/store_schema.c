/* store_schema.c: the database schema, as numbered migrations. Ids are canonical UUID text;
 * times are milliseconds since the epoch; JSON documents are stored as text. */
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

    /* 2: the first reply of every write request that carried an envelope id, per principal
     * (protocol section 7), written in the same transaction as the write it reports. */
    "CREATE TABLE idempotency ("
    "  principal TEXT NOT NULL,"
    "  request_id TEXT NOT NULL,"
    "  op TEXT NOT NULL,"
    "  created_time INTEGER NOT NULL,"
    "  reply TEXT NOT NULL,"
    "  PRIMARY KEY (principal, request_id)) WITHOUT ROWID;"
    "CREATE INDEX idempotency_created ON idempotency(created_time);",

    /* 3: customer listings ordered by createdTime (ThingsBoard's usual order) read a range of an
     * index instead of sorting the tenant's customers, with a cursor and with offset paging. */
    "CREATE INDEX customer_tenant_created ON customer(tenant_id, created_time, id);",
};

const char *const *store_schema_migrations(size_t *count)
{
    *count = sizeof migrations / sizeof migrations[0];
    return migrations;
}
