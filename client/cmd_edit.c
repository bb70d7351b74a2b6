/* SPDX-License-Identifier: MIT */
/* Parley - parley edit / delete: change or take back a sent message.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <yajl/yajl_gen.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A SEQ argument: a message's number in its chat (1, 2, ...). */
static long long seq_arg(const char *s)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 1)
        cli_die_code(CLI_EXIT_USAGE, "'%s' is not a message number (an integer >= 1)", s);
    return v;
}

/* Our own change in the local history (the server tells other devices
 * through events; this one knows now). */
static void local_change(struct cli *c, long long conv, long long seq, char kind, const char *v)
{
    cli_tx_begin(c);
    if (kind == 'D')
        cli_local_deleted(c, conv, seq);
    else if (kind == 'E')
        cli_local_edited(c, conv, seq, cli_me_id(c), 0, v);
    else
        cli_local_reaction(c, conv, seq, cli_me_id(c), 0, v);
    cli_tx_commit(c);
}

static void e2e_done(struct cli *c, long long conv, long long seq, const char *what)
{
    if (c->json)
        printf("{\"conversation_id\":%lld,\"seq\":%lld,\"e2e\":true}\n", conv, seq);
    else
        printf("%s message %lld in %s (end-to-end encrypted)\n", what, seq, cli_chat_name(c, conv));
}

/* parley edit CHAT SEQ TEXT: PATCH the message's text in a plain chat; in
 * an E2E chat an encrypted edit (actions.c), which the server checks but
 * cannot read. */
int cli_cmd_edit(struct cli *c, int argc, char **argv)
{
    if (argc != 4)
        return -1;
    long long conv = cli_chat_resolve(c, argv[1], 0), seq = seq_arg(argv[2]);
    if (!*argv[3])
        cli_die_code(CLI_EXIT_USAGE, "the new text is empty");
    if (cli_e2e_action_send(c, conv, 'E', seq, argv[3])) {
        e2e_done(c, conv, seq, "edited");
        return 0;
    }
    char path[96];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/%lld", conv, seq);
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *)"text", 4);
    yajl_gen_string(g, (const unsigned char *)argv[3], strlen(argv[3]));
    yajl_gen_map_close(g);
    char *body = cli_gen_done(g);
    yajl_val res;
    long st = cli_http(c, "PATCH", path, body, &res);
    free(body);
    cli_expect(st, res, 200, 200, "editing the message");
    local_change(c, conv, seq, 'E', argv[3]);
    if (c->json) {
        printf("{\"conversation_id\":%lld,\"seq\":%lld,\"edited_at\":\"%s\"}\n", conv, seq,
               cli_jstr(res, "edited_at") ? cli_jstr(res, "edited_at") : "");
    } else {
        printf("edited message %lld in %s\n", seq, cli_chat_name(c, conv));
    }
    yajl_tree_free(res);
    return 0;
}

/* parley delete [--for-me] CHAT SEQ: for everyone (default) or for me. */
int cli_cmd_delete(struct cli *c, int argc, char **argv)
{
    int for_me = argc == 4 && !strcmp(argv[1], "--for-me");
    if (argc != 3 && !for_me)
        return -1;
    long long conv = cli_chat_resolve(c, argv[1 + for_me], 0), seq = seq_arg(argv[2 + for_me]);
    char path[128];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages/%lld?for=%s", conv, seq,
             for_me ? "me" : "everyone");
    yajl_val res;
    long st = cli_http(c, "DELETE", path, NULL, &res);
    cli_expect(st, res, 204, 204, "deleting the message");
    yajl_tree_free(res);
    if (!for_me)
        local_change(c, conv, seq, 'D', NULL);
    if (c->json)
        printf("{\"conversation_id\":%lld,\"seq\":%lld,\"for\":\"%s\"}\n", conv, seq,
               for_me ? "me" : "everyone");
    else
        printf("deleted message %lld in %s for %s\n", seq, cli_chat_name(c, conv),
               for_me ? "you" : "everyone");
    return 0;
}

/* parley react [--remove] CHAT SEQ EMOJI: one reaction per message. */
int cli_cmd_react(struct cli *c, int argc, char **argv)
{
    int remove = argc == 5 && !strcmp(argv[1], "--remove");
    if (argc != 4 && !remove)
        return -1;
    long long conv = cli_chat_resolve(c, argv[1 + remove], 0), seq = seq_arg(argv[2 + remove]);
    if (cli_e2e_action_send(c, conv, 'R', seq, remove ? NULL : argv[3 + remove])) {
        e2e_done(c, conv, seq, remove ? "removed your reaction to" : "reacted to");
        return 0;
    }
    char *emoji = cli_urlenc(argv[3 + remove]);
    size_t cap = strlen(emoji) + 96;
    char *path = malloc(cap);
    if (!path)
        cli_die("out of memory");
    snprintf(path, cap, "/v1/conversations/%lld/messages/%lld/reactions/%s", conv, seq, emoji);
    yajl_val res;
    long st = cli_http(c, remove ? "DELETE" : "PUT", path, NULL, &res);
    free(path);
    free(emoji);
    cli_expect(st, res, 204, 204, remove ? "removing the reaction" : "reacting");
    yajl_tree_free(res);
    local_change(c, conv, seq, 'R', remove ? NULL : argv[3 + remove]);
    if (c->json)
        printf("{\"conversation_id\":%lld,\"seq\":%lld,\"removed\":%s}\n", conv, seq,
               remove ? "true" : "false");
    else
        printf("%s %s on message %lld in %s\n", remove ? "removed" : "reacted", argv[3 + remove],
               seq, cli_chat_name(c, conv));
    return 0;
}

/* parley forward FROM SEQ TO: copies message SEQ of chat FROM into chat TO
 * (plain chats; the server re-uses media and marks the copy forwarded). */
int cli_cmd_forward(struct cli *c, int argc, char **argv)
{
    if (argc != 4)
        return -1;
    long long from = cli_chat_resolve(c, argv[1], 0), seq = seq_arg(argv[2]);
    long long to = cli_chat_resolve(c, argv[3], 0);
    char path[96], body[256];
    snprintf(path, sizeof(path), "/v1/conversations/%lld/messages", to);
    snprintf(body, sizeof(body),
             "{\"client_msg_id\":\"fwd-%lld-%lld-%lld-%ld\","
             "\"forward_of\":{\"conversation_id\":%lld,\"seq\":%lld}}",
             from, seq, to, (long)time(NULL), from, seq);
    yajl_val res;
    long st = cli_http(c, "POST", path, body, &res);
    cli_expect(st, res, 201, 200, "forwarding the message");
    if (c->json)
        printf("{\"conversation_id\":%lld,\"seq\":%lld}\n", to, cli_jint(res, "seq"));
    else
        printf("forwarded message %lld of %s to %s\n", seq, cli_chat_name(c, from),
               cli_chat_name(c, to));
    yajl_tree_free(res);
    return 0;
}
