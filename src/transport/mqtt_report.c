/* mqtt_report.c: why a connect failed, in words. A CONNACK refusal is logged with its reason code
 * and meaning; a TLS connect's failure, which paho only calls "TCP/TLS connect failure", is looked
 * into by tls_check.c from the main thread. A TLS reason on the first connect of the process (or
 * a TLS file that cannot be used) stops the agent (exit 3): it is a setting to fix, not a broker
 * that is not up yet. On a reconnect, when the agent was connected before, the reason is logged
 * and the agent keeps retrying: a broker whose certificate is being replaced comes back. */
#include "transport_int.h"

#include "cmagent/clock.h"
#include "cmagent/log.h"
#include "tls_check.h"

#include <MQTTReasonCodes.h>
#include <stdio.h>
#include <string.h>

/* paho's message for a failure that carries the CONNACK's code in code. */
#define CONNACK_FAILURE "CONNACK return code"

/* MQTT 3.1.1 CONNACK return codes 1..5 (MQTT 3.1.1 section 3.2.2.3). */
static const char *const mqtt3_connack[] = {
    "accepted", "unacceptable protocol version", "identifier rejected", "server unavailable",
    "bad user name or password", "not authorized",
};

const char *transport_reason_text(int mqtt_version, int code, char *buf, size_t len)
{
    if (mqtt_version != 5) {
        const char *w = code >= 0 && code < 6 ? mqtt3_connack[code] : "unknown return code";
        snprintf(buf, len, "return code %d %s", code, w);
        return buf;
    }
    const char *w = MQTTReasonCode_toString((enum MQTTReasonCodes)code);
    snprintf(buf, len, "0x%02X %s", (unsigned)code & 0xFFu, w != NULL ? w : "(unknown reason code)");
    return buf;
}

static const char *connack_hint(int mqtt_version, int code)
{
    if ((mqtt_version == 5 && code == MQTTREASONCODE_BAD_USER_NAME_OR_PASSWORD) || (mqtt_version != 5 && code == 4))
        return " (check username and password)";
    if ((mqtt_version == 5 && code == MQTTREASONCODE_NOT_AUTHORIZED) || (mqtt_version != 5 && code == 5))
        return " (check username and password: mosquitto answers a wrong password so too; or the broker does not "
               "let this user or client id connect)";
    if ((mqtt_version == 5 && code == MQTTREASONCODE_CLIENT_IDENTIFIER_NOT_VALID) || (mqtt_version != 5 && code == 2))
        return " (check client_id)";
    return "";
}

static void schedule_retry(struct transport *t)
{
    t->next_attempt_ms = clock_mono_ms() + t->backoff_ms;
}

static void grow_backoff(struct transport *t)
{
    t->backoff_ms = t->backoff_ms * 2 > 30000 ? 30000 : t->backoff_ms * 2;
}

void transport_report_connect_failed(struct transport *t, int code, const char *message)
{
    char words[160];
    schedule_retry(t);
    if (message != NULL && strcmp(message, CONNACK_FAILURE) == 0) {
        log_error("The broker %s refused the connection as %s: CONNACK %s%s; retrying in %lld ms.", t->opt.broker,
                  t->opt.client_id, transport_reason_text(t->opt.mqtt_version, code, words, sizeof words),
                  connack_hint(t->opt.mqtt_version, code), (long long)t->backoff_ms);
    } else if (t->tls) {
        pthread_mutex_lock(&t->report_lock);
        snprintf(t->report_paho, sizeof t->report_paho, "%s", message != NULL ? message : MQTTAsync_strerror(code));
        t->report_pending = true;
        pthread_mutex_unlock(&t->report_lock);
        t->connecting = false;
        return; /* logged by transport_report_tick, with the backoff it had */
    } else {
        log_warn("Connecting to %s failed (%s); retrying in %lld ms.", t->opt.broker,
                 message != NULL ? message : MQTTAsync_strerror(code), (long long)t->backoff_ms);
    }
    grow_backoff(t);
    t->connecting = false;
}

static void tls_settings_of(const struct transport *t, struct tls_settings *s)
{
    s->cafile = t->opt.cafile;
    s->capath = t->opt.capath;
    s->certfile = t->opt.certfile;
    s->keyfile = t->opt.keyfile;
    s->keyfile_password = t->opt.keyfile_password;
}

int transport_report_check_files(struct transport *t)
{
    struct tls_settings s;
    char err[700];
    tls_settings_of(t, &s);
    if (!t->tls) {
        if (s.cafile[0] || s.capath[0] || s.certfile[0] || s.keyfile[0] || s.keyfile_password[0])
            log_warn("TLS settings (cafile, capath, certfile, keyfile, keyfile_password) are set, but the broker %s "
                     "is not an ssl:// or mqtts:// URI: they are not used and the connection is not encrypted.",
                     t->opt.broker);
        return 0;
    }
    if (tls_check_files(&s, err, sizeof err) == 0)
        return 0;
    log_error("Cannot connect to %s over TLS: %s.", t->opt.broker, err);
    t->failure = TRANSPORT_TLS_FAILED;
    return -1;
}

void transport_report_tick(struct transport *t)
{
    struct tls_settings s;
    char paho[256], why[900], host[256];
    int port = 0;
    enum tls_verdict v = TLS_PASSED;

    pthread_mutex_lock(&t->report_lock);
    bool pending = t->report_pending;
    t->report_pending = false;
    snprintf(paho, sizeof paho, "%s", t->report_paho);
    pthread_mutex_unlock(&t->report_lock);
    if (!pending)
        return;
    tls_settings_of(t, &s);
    why[0] = '\0';
    if (tls_uri_host_port(t->opt.broker, host, sizeof host, &port))
        v = tls_diagnose(&s, host, port, 3000, why, sizeof why);
    if (v == TLS_REFUSED && !t->ever_connected) {
        log_error("Cannot connect to %s over TLS: %s. Stopping (exit %d): fix the TLS settings (cafile, capath, "
                  "certfile, keyfile, keyfile_password) or the broker's certificate.", t->opt.broker, why,
                  TRANSPORT_TLS_FAILED);
        t->failure = TRANSPORT_TLS_FAILED;
        return;
    }
    if (v == TLS_REFUSED)
        log_error("Connecting to %s failed over TLS: %s; retrying in %lld ms.", t->opt.broker, why,
                  (long long)t->backoff_ms);
    else
        log_warn("Connecting to %s failed (%s%s%s); retrying in %lld ms.", t->opt.broker, paho,
                 v == TLS_UNREACHABLE ? ": " : "", v == TLS_UNREACHABLE ? why : "", (long long)t->backoff_ms);
    grow_backoff(t);
}
