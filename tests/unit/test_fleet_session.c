/*
 * test_fleet_session.c -- the etcd session's bookkeeping
 * (fleet/fleet_session.h): the watch's resume revision moves only with
 * what the watch delivered, and a session is lost only for the causes
 * named there.
 */
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet_session.h"
#include "tap.h"

/* A watch message as etcd's JSON gateway sends it ("result" object):
 * 64-bit numbers as strings, as the gateway writes them. */
static json_t *msg(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, 0, &err);
    if (!j)
        abort();
    return j;
}

static int64_t step(int64_t rev, const char *text)
{
    json_t *j = msg(text);
    int64_t r = fleet_session_watch_rev(rev, j);
    json_decref(j);
    return r;
}

static void test_created_does_not_move(struct tap *t)
{
    /* The watch resumes from 11; the member is at 20 and sends the
     * catch-up events 12..20 after the created reply. */
    int64_t rev = step(10, "{\"header\":{\"revision\":\"20\"},\"created\":true}");
    TAP_CHECK(t, rev == 10, "the created reply's header (the member's revision) is not delivered");
    /* The stream ends here: the next watch starts from rev + 1 = 11, so
     * the event at 12 is still delivered (before the fix it started at 21). */
    TAP_CHECK(t, rev + 1 == 11, "a watch ending after the created reply resumes at 11, not 21");
    rev = step(rev, "{\"header\":{\"revision\":\"20\"},\"events\":[{\"kv\":{\"key\":\"a2V5\","
                    "\"mod_revision\":\"12\"}}]}");
    TAP_CHECK(t, rev == 12, "a catch-up event moves it to its own revision");
}

static void test_batches(struct tap *t)
{
    /* A watch catching up gets batches headed with the member's current
     * revision: only the events count. */
    int64_t rev = step(10, "{\"header\":{\"revision\":\"5000\"},\"events\":["
                           "{\"type\":\"PUT\",\"kv\":{\"mod_revision\":\"11\"}},"
                           "{\"type\":\"DELETE\",\"kv\":{\"mod_revision\":\"1010\"}}]}");
    TAP_CHECK(t, rev == 1010, "a batch moves to its last event, not its header (5000)");
    rev = step(rev, "{\"header\":{\"revision\":\"5000\"},\"events\":["
                    "{\"kv\":{\"mod_revision\":1500}}]}");
    TAP_CHECK(t, rev == 1500, "numbers as JSON numbers are read too");
    rev = step(rev, "{\"header\":{\"revision\":\"5000\"},\"events\":["
                    "{\"kv\":{\"mod_revision\":\"900\"}}]}");
    TAP_CHECK(t, rev == 1500, "an event replayed from an older revision does not move it back");
}

static void test_progress_and_cancel(struct tap *t)
{
    int64_t rev = step(40, "{\"header\":{\"revision\":\"77\"}}");
    TAP_CHECK(t, rev == 77, "a progress notification moves it to its header");
    rev = step(rev, "{\"header\":{\"revision\":\"60\"}}");
    TAP_CHECK(t, rev == 77, "an older progress notification (another member) does not move back");
    rev = step(rev, "{\"header\":{\"revision\":\"90\"},\"canceled\":true,"
                    "\"compact_revision\":\"85\"}");
    TAP_CHECK(t, rev == 77, "a cancel (compaction) does not move it");
    rev = step(rev, "{\"header\":{\"revision\":\"95\"},\"events\":[]}");
    TAP_CHECK(t, rev == 95, "an empty event list is a progress notification");
    TAP_CHECK(t, fleet_session_watch_rev(95, NULL) == 95, "no message: unchanged");
    rev = step(95, "{\"header\":{\"revision\":\"99\"},\"events\":[{\"kv\":{}}]}");
    TAP_CHECK(t, rev == 95, "an event without a revision moves nothing");
}

static void test_expired(struct tap *t)
{
    struct fleet_session_in in = {.cause = FLEET_SESSION_NO_REPLY,
                                  .synced = true,
                                  .now = 100.0,
                                  .last_quorum = 99.0,
                                  .stale_after = 3.0};
    TAP_CHECK(t, !fleet_session_expired(&in), "no reply 1 s after a quorum reply: kept");
    in.now = 101.9;
    TAP_CHECK(t, !fleet_session_expired(&in), "no reply 2.9 s after: kept (TTL 3 s)");
    in.now = 102.0;
    TAP_CHECK(t, fleet_session_expired(&in), "stale_after without a quorum reply: lost");
    in.now = 100.0;
    in.synced = false;
    TAP_CHECK(t, fleet_session_expired(&in), "a failure during the sync starts it again");
    in.synced = true;
    in.cause = FLEET_SESSION_ERROR_ANSWER;
    TAP_CHECK(t, fleet_session_expired(&in), "an error answer: lost");
    in.cause = FLEET_SESSION_LEASE_LOST;
    TAP_CHECK(t, fleet_session_expired(&in), "a lost lease: lost");
    in.cause = FLEET_SESSION_COMPACTED;
    TAP_CHECK(t, fleet_session_expired(&in), "a compacted revision: lost");
    TAP_CHECK(t, strcmp(fleet_session_cause_name(FLEET_SESSION_NO_REPLY), "no reply") == 0,
              "cause names");
}

int main(void)
{
    struct tap t = {0};
    test_created_does_not_move(&t);
    test_batches(&t);
    test_progress_and_cancel(&t);
    test_expired(&t);
    return tap_done(&t);
}
