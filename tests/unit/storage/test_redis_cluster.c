/* SPDX-License-Identifier: MIT */
/* Parley - unit tests for storage/redis_cluster.c (slots, map, MOVED). */
/* Copyright (c) 2026 Parley developers                                 */
#include "tests/pltest.h"

#include "storage/redis_cluster.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>

#define S(x) (x), strlen(x)

PLTEST(crc16_matches_the_cluster_specification)
{
    /* The check value of CRC16-CCITT (XMODEM) from the specification. */
    PL_ASSERT_INT_EQ(store_redis_crc16(S("123456789")), 0x31C3);
    PL_ASSERT_INT_EQ(store_redis_crc16("", 0), 0);
}

PLTEST(key_slots_match_redis)
{
    /* Values Redis itself gives for CLUSTER KEYSLOT. */
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("123456789")), 12739);
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("foo")), 12182);
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("bar")), 5061);
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("")), 0);
}

PLTEST(hash_tags_put_keys_in_one_slot)
{
    unsigned tag = store_redis_key_slot(S("user1000"));
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("{user1000}.following")), tag);
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("{user1000}.followers")), tag);
    /* Only the first '{' and the next '}' count. */
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("foo{bar}{zap}")), store_redis_key_slot(S("bar")));
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("foo{{bar}}zap")), store_redis_key_slot(S("{bar")));
    /* An empty tag, or no closing brace, means the whole key. */
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("foo{}{bar}")),
                     store_redis_crc16(S("foo{}{bar}")) & 16383);
    PL_ASSERT_INT_EQ(store_redis_key_slot(S("foo{bar")), store_redis_crc16(S("foo{bar")) & 16383);
    /* Our own tags: every subscription key shares the tag's slot. */
    unsigned p = store_redis_key_slot(S(STORE_REDIS_TAG_PRESENCE));
    PL_ASSERT_INT_EQ(store_redis_key_slot(S(STORE_REDIS_TAG_PRESENCE "psub:t:7")), p);
    PL_ASSERT_INT_EQ(store_redis_key_slot(S(STORE_REDIS_TAG_PRESENCE "psub:dn:42")), p);
}

/* Heartbeat buckets: a bucket's keys share its slot, and the buckets are
 * spread over every third of the ring, i.e. over each master of a 3-master
 * cluster made by redis-cli --cluster create (0-5460, 5461-10922,
 * 10923-16383), and over 16 distinct slots. */
PLTEST(presence_buckets_spread_over_the_ring)
{
    unsigned per_third[3] = {0, 0, 0}, slots[STORE_REDIS_PRESENCE_BUCKETS];
    for (unsigned b = 0; b < STORE_REDIS_PRESENCE_BUCKETS; b++) {
        char tag[STORE_REDIS_TAG_MAX], key[64];
        store_redis_presence_bucket_tag(b, tag);
        unsigned s = store_redis_key_slot(tag, strlen(tag));
        snprintf(key, sizeof(key), "%spresence:u:%u", tag, b + 1000);
        PL_ASSERT_INT_EQ(store_redis_key_slot(key, strlen(key)), s);
        snprintf(key, sizeof(key), "%spresence:hb", tag);
        PL_ASSERT_INT_EQ(store_redis_key_slot(key, strlen(key)), s);
        for (unsigned k = 0; k < b; k++)
            PL_ASSERT(slots[k] != s);
        slots[b] = s;
        per_third[s <= 5460 ? 0 : s <= 10922 ? 1 : 2]++;
    }
    for (unsigned t = 0; t < 3; t++)
        PL_ASSERT(per_third[t] >= 3);
}

PLTEST(redirections_are_parsed)
{
    unsigned slot = 0;
    char addr[STORE_REDIS_ADDR_MAX];
    PL_ASSERT_INT_EQ(
        store_redis__redirect_parse("MOVED 3999 127.0.0.1:6381", &slot, addr, sizeof(addr)), 1);
    PL_ASSERT_INT_EQ(slot, 3999);
    PL_ASSERT_STR_EQ(addr, "127.0.0.1:6381");
    PL_ASSERT_INT_EQ(
        store_redis__redirect_parse("ASK 12182 10.0.0.2:7000", &slot, addr, sizeof(addr)), 2);
    PL_ASSERT_INT_EQ(slot, 12182);
    PL_ASSERT_STR_EQ(addr, "10.0.0.2:7000");
    PL_ASSERT_INT_EQ(store_redis__redirect_parse("ERR unknown command", &slot, addr, 64), 0);
    PL_ASSERT_INT_EQ(store_redis__redirect_parse("MOVED 16384 1.2.3.4:5", &slot, addr, 64), 0);
    PL_ASSERT_INT_EQ(store_redis__redirect_parse("MOVED 1 :6380", &slot, addr, 64), 0);
    PL_ASSERT_INT_EQ(store_redis__redirect_parse("MOVED x 1.2.3.4:5", &slot, addr, 64), 0);
    PL_ASSERT_INT_EQ(store_redis__redirect_parse("MOVED 1 1.2.3.4:5", &slot, addr, 4), 0);
}

static int command_slot(int argc, const char **argv)
{
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    PL_ASSERT(len > 0);
    int slot = store_redis__command_slot(cmd, (size_t)len);
    redisFreeCommand(cmd);
    return slot;
}

PLTEST(commands_are_routed_by_their_key)
{
    const char *get[] = {"GET", "foo"};
    PL_ASSERT_INT_EQ(command_slot(2, get), 12182);
    const char *eval[] = {"EVAL", "return 1", "2", "{user1000}.a", "{user1000}.b", "arg"};
    PL_ASSERT_INT_EQ(command_slot(6, eval), (int)store_redis_key_slot(S("user1000")));
    const char *eval0[] = {"EVAL", "return 1", "0", "arg"};
    PL_ASSERT_INT_EQ(command_slot(4, eval0), -1);
    const char *spublish[] = {"SPUBLISH", "bar", "hello"};
    PL_ASSERT_INT_EQ(command_slot(3, spublish), 5061);
    const char *ping[] = {"PING"};
    PL_ASSERT_INT_EQ(command_slot(1, ping), -1);
    const char *slots[] = {"CLUSTER", "SLOTS"};
    PL_ASSERT_INT_EQ(command_slot(2, slots), -1);
    PL_ASSERT_INT_EQ(store_redis__command_slot("*2\r\n$3\r\nGET", 12), -1);
    PL_ASSERT_INT_EQ(store_redis__command_slot("garbage", 7), -1);
}

/* A CLUSTER SLOTS reply built by hand: hiredis's reader parses RESP. */
static redisReply *parse_resp(const char *resp)
{
    redisReader *rd = redisReaderCreate();
    PL_ASSERT(rd);
    PL_ASSERT_INT_EQ(redisReaderFeed(rd, resp, strlen(resp)), REDIS_OK);
    void *rep = NULL;
    PL_ASSERT_INT_EQ(redisReaderGetReply(rd, &rep), REDIS_OK);
    PL_ASSERT(rep);
    redisReaderFree(rd);
    return rep;
}

PLTEST(the_slot_map_follows_cluster_slots)
{
    /* Two ranges on two masters (each with a replica), one master with an
     * empty ip (the address we asked), one entry with an unknown endpoint. */
    redisReply *rep = parse_resp("*4\r\n"
                                 "*4\r\n:0\r\n:8191\r\n"
                                 "*3\r\n$9\r\n127.0.0.1\r\n:7000\r\n$2\r\nid\r\n"
                                 "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"
                                 "*3\r\n:8192\r\n:16000\r\n"
                                 "*3\r\n$0\r\n\r\n:7001\r\n$2\r\nid\r\n"
                                 "*3\r\n:16001\r\n:16383\r\n"
                                 "*3\r\n$1\r\n?\r\n:7002\r\n$2\r\nid\r\n"
                                 "*2\r\n:1\r\n:2\r\n");
    struct store_redis_slotmap *m = malloc(sizeof(*m));
    PL_ASSERT(m);
    PL_ASSERT_INT_EQ(store_redis__slotmap_parse(m, rep, "10.1.1.1:7005"), 0);
    PL_ASSERT_INT_EQ(m->n, 2);
    PL_ASSERT_STR_EQ(store_redis__slotmap_lookup(m, 0), "127.0.0.1:7000");
    PL_ASSERT_STR_EQ(store_redis__slotmap_lookup(m, 8191), "127.0.0.1:7000");
    PL_ASSERT_STR_EQ(store_redis__slotmap_lookup(m, 8192), "10.1.1.1:7001");
    PL_ASSERT_STR_EQ(store_redis__slotmap_lookup(m, 16000), "10.1.1.1:7001");
    PL_ASSERT(store_redis__slotmap_lookup(m, 16001) == NULL);
    PL_ASSERT(store_redis__slotmap_lookup(m, 16384) == NULL);
    /* A node added by a MOVED gets an index; a known one keeps its own. */
    PL_ASSERT_INT_EQ(store_redis__slotmap_node(m, "127.0.0.1:7000"), 0);
    PL_ASSERT_INT_EQ(store_redis__slotmap_node(m, "127.0.0.1:7009"), 2);
    freeReplyObject(rep);
    /* A reply that serves nothing leaves the map empty. */
    rep = parse_resp("*0\r\n");
    PL_ASSERT_INT_EQ(store_redis__slotmap_parse(m, rep, ""), PL_EINTERNAL);
    PL_ASSERT_INT_EQ(m->n, 0);
    freeReplyObject(rep);
    rep = parse_resp("-ERR This instance has cluster support disabled\r\n");
    PL_ASSERT_INT_EQ(store_redis__slotmap_parse(m, rep, ""), PL_EINTERNAL);
    freeReplyObject(rep);
    free(m);
}

PLTEST(seed_lists_are_checked)
{
    char *seeds[4];
    unsigned n = 0;
    PL_ASSERT_INT_EQ(
        store_redis__seeds_parse("127.0.0.1:7000, 127.0.0.1:7001,[::1]:7002", seeds, 4, &n), 0);
    PL_ASSERT_INT_EQ(n, 3);
    PL_ASSERT_STR_EQ(seeds[1], "127.0.0.1:7001");
    PL_ASSERT_STR_EQ(seeds[2], "[::1]:7002");
    for (unsigned i = 0; i < n; i++)
        free(seeds[i]);
    PL_ASSERT_INT_EQ(store_redis__seeds_parse("", seeds, 4, &n), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_redis__seeds_parse(" , ", seeds, 4, &n), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_redis__seeds_parse("127.0.0.1:7000,nope", seeds, 4, &n), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_redis__seeds_parse("/run/redis.sock", seeds, 4, &n), PL_EINVAL);
    PL_ASSERT_INT_EQ(store_redis__seeds_parse("a:1,b:2,c:3,d:4,e:5", seeds, 4, &n), PL_EINVAL);
    PL_ASSERT_INT_EQ(n, 0);
}
