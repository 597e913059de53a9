/* test_status_guard.c: the rules by which an agent tells, from its own status topic, that another
 * agent with the same agent_id holds the client id (src/transport/status_guard.c). */
#include "status_guard.h"
#include "test.h"

#define MINE "{\"state\":\"online\",\"agentId\":\"a\",\"instance\":\"mine\"}"
#define THEIRS "{\"state\":\"online\",\"agentId\":\"a\",\"instance\":\"theirs\"}"
#define THEIRS_OFFLINE "{\"state\":\"offline\",\"agentId\":\"a\",\"instance\":\"theirs\"}"
#define LEN(s) (sizeof(s) - 1)

static void parses_state_and_instance(void)
{
    char inst[64];
    CHECK(guard_parse(MINE, LEN(MINE), inst, sizeof inst));
    CHECK_STR(inst, "mine");
    CHECK(!guard_parse(THEIRS_OFFLINE, LEN(THEIRS_OFFLINE), inst, sizeof inst));
    CHECK(guard_parse("{ \"instance\" : \"x\", \"state\" : \"online\" }", 40, inst, sizeof inst));
    CHECK_STR(inst, "x");
    CHECK(guard_parse("{\"state\":\"online\"}", 18, inst, sizeof inst));
    CHECK_STR(inst, "");
    CHECK(!guard_parse("{\"state\":\"onl", 13, inst, sizeof inst));
    CHECK(!guard_parse("", 0, inst, sizeof inst));
}

static void first_connect_goes_on_over_another_instance(void)
{
    struct status_guard g;
    guard_init(&g, "mine");
    guard_connected(&g);
    guard_subscribed(&g, 1000);
    /* held back by the session: no evidence */
    CHECK_INT(guard_message(&g, THEIRS, LEN(THEIRS), false), GUARD_NOTHING);
    CHECK_INT(guard_message(&g, THEIRS, LEN(THEIRS), true), GUARD_ANNOUNCE);
    CHECK(g.stale_seen);
    CHECK_STR(g.other, "theirs");
}

static void reconnect_over_another_instance_is_a_takeover(void)
{
    struct status_guard g;
    guard_init(&g, "mine");
    guard_connected(&g);
    guard_subscribed(&g, 0);
    CHECK_INT(guard_tick(&g, GUARD_RETAINED_WAIT_MS - 1), GUARD_NOTHING);
    CHECK_INT(guard_tick(&g, GUARD_RETAINED_WAIT_MS), GUARD_ANNOUNCE); /* no retained status */
    guard_announced(&g);
    CHECK_INT(guard_message(&g, MINE, LEN(MINE), false), GUARD_NOTHING); /* our own echo */
    guard_lost(&g);
    guard_connected(&g);
    CHECK_INT(guard_tick(&g, 100000), GUARD_NOTHING); /* no SUBACK yet */
    CHECK_INT(guard_message(&g, MINE, LEN(MINE), true), GUARD_ANNOUNCE);
    guard_announced(&g);
    guard_lost(&g);
    guard_connected(&g);
    CHECK_INT(guard_message(&g, THEIRS_OFFLINE, LEN(THEIRS_OFFLINE), true), GUARD_ANNOUNCE);
    guard_announced(&g);
    guard_lost(&g);
    guard_connected(&g);
    CHECK_INT(guard_message(&g, THEIRS, LEN(THEIRS), true), GUARD_TAKEN_OVER);
    CHECK_STR(g.other, "theirs");
    CHECK(!g.other_live);
}

static void another_instance_announcing_while_online(void)
{
    struct status_guard g;
    guard_init(&g, "mine");
    guard_connected(&g);
    CHECK_INT(guard_message(&g, MINE, LEN(MINE), true), GUARD_ANNOUNCE);
    guard_announced(&g);
    CHECK_INT(guard_message(&g, THEIRS, LEN(THEIRS), true), GUARD_NOTHING);
    CHECK_INT(guard_message(&g, THEIRS_OFFLINE, LEN(THEIRS_OFFLINE), false), GUARD_NOTHING);
    CHECK_INT(guard_message(&g, THEIRS, LEN(THEIRS), false), GUARD_TAKEN_OVER);
    CHECK(g.other_live);
}

int main(void)
{
    RUN(parses_state_and_instance);
    RUN(first_connect_goes_on_over_another_instance);
    RUN(reconnect_over_another_instance_is_a_takeover);
    RUN(another_instance_announcing_while_online);
    return test_report("test_status_guard");
}
