/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for api/replica.c: which reads the standby takes. */
/* Copyright (c) 2026 Parley developers                                 */
#include "api/replica.c"

#include "pltest.h"

/* Each case runs in a process of its own, so the process-wide state
 * starts empty every time. */

/* Routing on, as if a poll after the start had found the standby caught
 * up (the cases below test the rest of the rules). */
static void enable(void)
{
    api_replica_enable(true);
    atomic_store(&enabled_ms, 0);
}

PLTEST(nothing_reads_the_standby_unless_enabled_and_replaying)
{
    PL_ASSERT(!api_replica_readable(1));
    api_replica_standby_set(1000);
    PL_ASSERT(!api_replica_readable(1)); /* not enabled */
    enable();
    PL_ASSERT(api_replica_readable(1));
    api_replica_standby_set(0); /* down */
    PL_ASSERT(!api_replica_readable(1));
}

PLTEST(a_users_reads_wait_for_replay_of_their_last_write)
{
    enable();
    api_replica_note_write(7, 500);
    api_replica_standby_set(499);
    PL_ASSERT(!api_replica_readable(7));
    PL_ASSERT(api_replica_readable(8)); /* another user: not held back */
    api_replica_standby_set(500);
    PL_ASSERT(api_replica_readable(7));
    /* A slot only grows: an older position noted late changes nothing. */
    api_replica_note_write(7, 900);
    api_replica_note_write(7, 600);
    api_replica_standby_set(899);
    PL_ASSERT(!api_replica_readable(7));
    api_replica_standby_set(900);
    PL_ASSERT(api_replica_readable(7));
}

PLTEST(users_sharing_a_slot_wait_for_the_larger_position)
{
    enable();
    /* Find another user in user 1's slot. */
    int64_t other = 2;
    while (slot(other) != slot(1))
        other++;
    api_replica_note_write(1, 100);
    api_replica_note_write(other, 300);
    api_replica_standby_set(200);
    PL_ASSERT(!api_replica_readable(1));
    api_replica_standby_set(300);
    PL_ASSERT(api_replica_readable(1));
    PL_ASSERT(api_replica_readable(other));
}

PLTEST(an_unknown_position_waits_for_a_full_catch_up_after_it)
{
    enable();
    api_replica_standby_set(1000);
    atomic_store(&unknown_at_ms, 5000);
    api_replica_note_write(3, UNKNOWN_LSN);
    PL_ASSERT(!api_replica_readable(3));
    api_replica_caught_up(4999); /* a poll that began before the write */
    PL_ASSERT(!api_replica_readable(3));
    api_replica_caught_up(5001);
    PL_ASSERT(api_replica_readable(3));
    /* Covered, it gives way to the next known position. */
    api_replica_note_write(3, 2000);
    PL_ASSERT(!api_replica_readable(3));
    api_replica_standby_set(2000);
    PL_ASSERT(api_replica_readable(3));
}

PLTEST(a_started_process_reads_the_primary_until_a_catch_up_after_its_start)
{
    api_replica_enable(true);
    api_replica_standby_set(1000);
    uint64_t now_ms = pl_now_us() / 1000;
    PL_ASSERT(!api_replica_readable(1));   /* nobody's writes are known yet */
    api_replica_caught_up(now_ms - 60000); /* a poll that began before the start */
    PL_ASSERT(!api_replica_readable(1));
    api_replica_caught_up(pl_now_us() / 1000 + 1);
    PL_ASSERT(api_replica_readable(1));
}

PLTEST(a_user_reads_what_they_were_told_of)
{
    enable();
    api_replica_standby_set(1000);
    api_replica_standby_pos_set(41);
    const int64_t users[] = {5, 6};
    api_replica_note_seen(42, users, 2);
    PL_ASSERT(!api_replica_readable(5)); /* event 42 is not on the standby */
    PL_ASSERT(!api_replica_readable(6));
    PL_ASSERT(api_replica_readable(9)); /* told nothing */
    api_replica_standby_pos_set(42);
    PL_ASSERT(api_replica_readable(5));
    /* Only grows: an older event delivered late changes nothing. */
    api_replica_note_seen(50, users, 1);
    api_replica_note_seen(45, users, 1);
    PL_ASSERT(!api_replica_readable(5));
    PL_ASSERT(api_replica_readable(6));
    api_replica_standby_pos_set(50);
    PL_ASSERT(api_replica_readable(5));
    /* Routing off: nothing is noted. */
    api_replica_enable(false);
    api_replica_note_seen(99, users, 2);
    enable();
    PL_ASSERT(api_replica_readable(5));
}

PLTEST(counters_add_up)
{
    enable();
    api_replica_count(true, false);
    api_replica_count(false, false);
    api_replica_count(false, true);
    struct api_replica_stats st;
    api_replica_stats(&st);
    PL_ASSERT_INT_EQ(st.standby_reads, 1);
    PL_ASSERT_INT_EQ(st.primary_reads, 2);
    PL_ASSERT_INT_EQ(st.fallbacks, 1);
}
