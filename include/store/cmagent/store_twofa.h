/* store_twofa.h: queries of the two-factor tables: a user's account config (the TOTP secret and the
 * digests of the unused backup codes) and the pre-verification tokens of logins waiting for a code
 * (stored as SHA-256 digests, as other tokens are). */
#ifndef CMAGENT_STORE_TWOFA_H
#define CMAGENT_STORE_TWOFA_H

#include "cmagent/store.h"

#include <stdbool.h>
#include <stdint.h>

struct twofa_account {
    char user_id[37];
    char *totp_secret;  /* base32, NULL when TOTP is not configured */
    char *backup_codes; /* SHA-256 hex digests of the unused codes, space separated; NULL for none */
    char *email;        /* "1" when e-mail codes are configured, NULL otherwise */
    int64_t totp_last_step; /* the RFC 6238 step of the last TOTP code accepted (0: none yet) */
};

struct twofa_challenge {
    char digest[65];  /* of the pre-verification token */
    char user_id[37];
    int64_t expires_at;
    char *code_digest; /* of the last mailed code, NULL when none was sent */
    int64_t code_expires_at;
    int64_t sent_count;    /* codes mailed for this login */
    int64_t last_sent_at;
    bool config_only;      /* an MFA configuration token: twoFa.accountConfig.* only, no login */
};

/* The platform's settings (ThingsBoard's PlatformTwoFaSettings). */
struct twofa_settings {
    char providers[64];      /* the allowed providers' names, space separated */
    int64_t code_lifetime_s; /* of a mailed code */
    int64_t total_time_s;    /* of a pre-verification token */
    int64_t send_period_s;   /* between two mailed codes of one login */
    int64_t max_sends;       /* mailed codes of one login */
    bool enforce;            /* users of the filter must configure a provider before they log in */
    char enforce_filter[32]; /* ALL, SYSTEM_ADMINISTRATORS, TENANT_ADMINISTRATORS, CUSTOMER_USERS */
    char enforce_tenant[37]; /* "" or the one tenant the filter is limited to */
};

/* STORE_NOT_FOUND when none were saved. */
int store_twofa_settings_get(struct store *s, struct twofa_settings *out);
int store_twofa_settings_save(struct store *s, const struct twofa_settings *in);

void twofa_account_release(struct twofa_account *a);
void twofa_challenge_release(struct twofa_challenge *c);

/* STORE_NOT_FOUND when the user has no config. The caller releases out. */
int store_twofa_get(struct store *s, const char *user_id, struct twofa_account *out);
/* Inserts or replaces the user's config; a config with no provider left is deleted instead. */
int store_twofa_save(struct store *s, const struct twofa_account *a);
int store_twofa_delete(struct store *s, const char *user_id);

int store_twofa_challenge_insert(struct store *s, const struct twofa_challenge *c);
/* STORE_NOT_FOUND for an unknown digest. The caller releases out. */
int store_twofa_challenge_get(struct store *s, const char *digest, struct twofa_challenge *out);
/* The challenge a login goes on to change (a code mailed, the token spent): on PostgreSQL locked
 * until the transaction ends (store_credentials_get_for_update). The account read locks too. */
int store_twofa_challenge_get_for_update(struct store *s, const char *digest, struct twofa_challenge *out);
/* Saves the mailed code fields of c (by its digest). */
int store_twofa_challenge_update(struct store *s, const struct twofa_challenge *c);
/* Deletes the challenge of digest: STORE_NOT_FOUND when it is gone (spent by another login). */
int store_twofa_challenge_delete(struct store *s, const char *digest);
/* Deletes the user's challenges (pending logins and MFA configuration tokens). */
int store_twofa_challenge_delete_by_user(struct store *s, const char *user_id);
/* Deletes the challenges that expired before now. */
int store_twofa_challenge_purge(struct store *s, int64_t now);

#endif
