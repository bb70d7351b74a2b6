/* SPDX-License-Identifier: MIT */
/* Parley - messages: sending (handed to the writer) and history.      */
/* Copyright (c) 2026 Parley developers                                 */
#include "api_int.h"

#include "storage/keys.h"
#include "storage/messages.h"

#include <string.h>

#define CLIENT_MSG_ID_MAX 64 /* characters */
#define TEXT_MAX 65536       /* bytes */
#define PAGE_DEFAULT 50
#define PAGE_MAX 200

static const char *const status_names[] = {"sent", "delivered", "read"};

void api__gen_message(yajl_gen g, const struct store_message *m)
{
    yajl_gen_map_open(g);
    api__gen_int(g, "id", m->id);
    api__gen_int(g, "conversation_id", m->conversation_id);
    api__gen_int(g, "seq", m->seq);
    api__gen_int(g, "sender", m->sender_id);
    api__gen_int(g, "sender_device_id", m->sender_device_id);
    api__gen_str(g, "client_msg_id", m->client_msg_id);
    api__gen_str(g, "kind", m->kind);
    bool e2e = strcmp(m->kind, "e2e") == 0;
    if (e2e) {
        api__gen_key(g, "text"); /* the server has no text to show */
        yajl_gen_null(g);
    } else if (strcmp(m->kind, "deleted") == 0) {
        api__gen_key(g, "text"); /* erased for everyone */
        yajl_gen_null(g);
    } else if (strcmp(m->kind, "media") == 0) {
        api__gen_media_body(g, m->body);
    } else {
        api__gen_str(g, "text", m->body);
    }
    api__gen_key(g, "reply_to");
    if (m->reply_to)
        yajl_gen_integer(g, m->reply_to);
    else
        yajl_gen_null(g);
    api__gen_str(g, "created_at", m->created_at);
    api__gen_key(g, "edited_at");
    m->edited_at ? yajl_gen_string(g, (const unsigned char *)m->edited_at, strlen(m->edited_at))
                 : yajl_gen_null(g);
    api__gen_key(g, "deleted_at");
    m->deleted_at ? yajl_gen_string(g, (const unsigned char *)m->deleted_at, strlen(m->deleted_at))
                  : yajl_gen_null(g);
    api__gen_str(g, "status", status_names[m->status]);
    if (m->forwarded) {
        api__gen_key(g, "forwarded");
        yajl_gen_bool(g, 1);
    }
    if (m->n_reactions)
        api__gen_reactions(g, m);
    /* Last: e2e payloads end with it (see api/e2e.c). */
    if (e2e)
        api__gen_e2e(g, m);
    yajl_gen_map_close(g);
}

/* ---- POST /v1/conversations/{id}/messages ---- */

/* Reads and checks the body into job->s. Media and e2e messages will
 * carry a JSON document in body; the job and the row already allow it. */
static int read_send(struct api_call *c, int64_t conv, struct store_send *s)
{
    const char *kind = NULL;
    const struct api_json *reply = NULL, *media = NULL, *e2e = NULL, *fwd = NULL;
    const struct api_field fields[] = {
        {"client_msg_id", API_FIELD_STRING, true, &s->client_msg_id},
        {"kind", API_FIELD_STRING, false, &kind},
        {"text", API_FIELD_STRING, false, &s->body},
        {"reply_to", API_FIELD_ANY, false, &reply},
        {"e2e", API_FIELD_ANY, false, &e2e},
        {"media", API_FIELD_ANY, false, &media},
        {"forward_of", API_FIELD_ANY, false, &fwd},
    };
    int rc = api__bind_body(c, fields, PL_ARRAY_LEN(fields));
    if (rc < 0)
        return rc;
    /* On the loop thread (API_LOOP) only a text message: a forward, a
     * media message and an e2e envelope are checked against storage. */
    if (!c->w && (fwd || media || e2e || (kind && strcmp(kind, "text") != 0)))
        return API_WORKER;
    if (fwd && (kind || s->body || e2e || media || reply))
        api_errors_add(&c->errs, "/forward_of",
                       "comes without kind, text, media, e2e and reply_to");
    else if (!fwd && !kind)
        api_errors_add(&c->errs, "/kind", "is required");
    if (s->client_msg_id && !api__valid_display_text(s->client_msg_id, CLIENT_MSG_ID_MAX))
        api_errors_add(&c->errs, "/client_msg_id",
                       "must be 1 to 64 characters without control characters");
    if (fwd)
        return c->errs.n ? api__fail_validation(c) : api__forward_read(c, fwd, s);
    bool is_e2e = kind && strcmp(kind, "e2e") == 0;
    bool is_media = kind && strcmp(kind, "media") == 0;
    if (kind && strcmp(kind, "text") != 0 && !is_media && !is_e2e)
        api_errors_add(&c->errs, "/kind", "must be \"text\", \"media\" or \"e2e\"");
    if (is_e2e && s->body)
        api_errors_add(&c->errs, "/kind", "kind \"e2e\" carries an e2e envelope, not text");
    if (is_e2e && !e2e)
        api_errors_add(&c->errs, "/e2e", "is required for kind \"e2e\"");
    if (!is_e2e && e2e)
        api_errors_add(&c->errs, "/e2e", "is only for kind \"e2e\"");
    if (is_media && s->body)
        api_errors_add(&c->errs, "/kind", "kind \"media\" carries a media object, not text");
    else if (is_media && (rc = api__media_msg_read(c, media, s)) < 0)
        return rc;
    if (media && !is_media)
        api_errors_add(&c->errs, "/media", "is only allowed for kind \"media\"");
    if (kind && !strcmp(kind, "text") && !s->body)
        api_errors_add(&c->errs, "/text", "is required for kind \"text\"");
    if (s->body && (!*s->body || strlen(s->body) > TEXT_MAX))
        api_errors_add(&c->errs, "/text", "must be 1 to 65536 bytes of UTF-8");
    if (reply && !(api_json_int(reply, &s->reply_to) && s->reply_to > 0))
        api_errors_add(&c->errs, "/reply_to", "must be the seq of a message (an integer >= 1)");
    if (c->errs.n)
        return api__fail_validation(c);
    if (is_e2e)
        return api__e2e_read_send(c, conv, e2e, s);
    if (!is_media)
        s->kind = "text";
    return 0;
}

static int messages_post(struct api_call *c)
{
    int64_t conv;
    /* The sends quota is kept in Redis: a worker asks it. */
    if (!c->w && api__limit_on(c->env, API_LIMIT_SENDS))
        return API_WORKER;
    int rc = api__conversation_id(c, &conv);
    if (rc < 0)
        return rc;
    struct api_send *job = pl_arena_zalloc(c->a, sizeof(*job));
    if (!job)
        return PL_ENOMEM;
    if ((rc = read_send(c, conv, &job->s)) != 0)
        return rc;
    if (!job->s.forwarded && strcmp(job->s.kind, "media") == 0 &&
        (rc = api__media_msg_check(c, &job->s)) < 0)
        return rc;
    if ((rc = api__limit_user(c, API_LIMIT_SENDS, c->user_id, 1)) < 0)
        return rc;
    job->req = c->req;
    job->s.conversation_id = conv;
    job->s.sender_id = c->user_id;
    job->s.sender_device_id = c->device_id;
    if (!c->env->send)
        return PL_EUNAVAIL;
    /* From here on the writer owns the request: it may already be
     * answered, so neither c->req nor c->a may be touched again. */
    rc = c->env->send(c->env->send_ctx, job);
    return rc < 0 ? rc : API_DEFERRED;
}

/* ---- GET /v1/conversations/{id}/messages ---- */

/* A non-negative integer query parameter; absent leaves *out alone. */
static bool query_uint(struct api_call *c, const char *name, int64_t *out)
{
    const char *v = http_req_query(c->req, name);
    if (!v)
        return true;
    if (strcmp(v, "0") == 0) {
        *out = 0;
        return true;
    }
    return api__parse_id(v, out);
}

static int read_page(struct api_call *c, struct store_msg_page *page)
{
    int64_t before = 0, after = 0, limit = PAGE_DEFAULT;
    const char *bad = NULL;
    if (!query_uint(c, "before", &before))
        bad = "before must be a message seq (an integer)";
    else if (!query_uint(c, "after", &after))
        bad = "after must be a message seq (an integer)";
    else if (!query_uint(c, "limit", &limit) || limit < 1 || limit > PAGE_MAX)
        bad = "limit must be an integer from 1 to 200";
    if (bad) {
        api_problem_send(c->req, PL_EMALFORMED, bad);
        return PL_EMALFORMED;
    }
    /* before=0 would name an empty page; treat it like "before the first". */
    if (http_req_query(c->req, "before") && before == 0)
        before = 1;
    *page = (struct store_msg_page){.before = before,
                                    .after = after,
                                    .limit = (unsigned)limit,
                                    .forward = http_req_query(c->req, "after") != NULL};
    return 0;
}

/* Fills the calling device's own ciphertext into the page's e2e messages
 * (one query, only when the page has any). */
static int project_page(struct api_call *c, int64_t conv, struct store_message *m, unsigned n)
{
    int64_t *seqs = pl_arena_alloc(c->a, (n ? n : 1) * sizeof(*seqs));
    if (!seqs)
        return PL_ENOMEM;
    unsigned k = 0;
    for (unsigned i = 0; i < n; i++)
        if (strcmp(m[i].kind, "e2e") == 0)
            seqs[k++] = m[i].seq;
    if (k == 0)
        return 0;
    struct store_e2e_ct *ct;
    unsigned n_ct;
    int rc = store_pg_e2e_for_device(c->w->pg, c->a, conv, c->device_id, seqs, k, &ct, &n_ct);
    if (rc < 0)
        return rc;
    /* Both are ascending by seq. */
    for (unsigned i = 0, j = 0; i < n && j < n_ct; i++) {
        if (m[i].seq != ct[j].seq)
            continue;
        m[i].e2e_type = ct[j].type;
        m[i].e2e_ciphertext = ct[j].ciphertext;
        j++;
    }
    return 0;
}

static int messages_list(struct api_call *c)
{
    int64_t conv;
    struct store_msg_page page;
    int rc = api__conversation_id(c, &conv);
    if (rc == 0)
        rc = read_page(c, &page);
    if (rc < 0)
        return rc;
    struct store_message *m;
    unsigned n;
    bool more;
    API_READ(c, pg, rc, store_pg_messages_list(pg, c->a, conv, c->user_id, &page, &m, &n, &more));
    if (rc == PL_ENOTFOUND)
        return api__conversation_not_found(c);
    if (rc < 0 || (rc = project_page(c, conv, m, n)) < 0 ||
        (rc = api__reactions_attach(c, conv, m, n)) < 0)
        return rc;
    yajl_gen g = api__gen_new();
    if (!g)
        return PL_ENOMEM;
    yajl_gen_map_open(g);
    api__gen_key(g, "messages");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < n; i++)
        api__gen_message(g, &m[i]);
    yajl_gen_array_close(g);
    api__gen_key(g, "has_more");
    yajl_gen_bool(g, more);
    yajl_gen_map_close(g);
    return api__reply_json(c, 200, g);
}

const struct api_route_def api__message_routes[] = {
    {"POST", "/v1/conversations/{id}/messages", messages_post, API_AUTH | API_BATCH | API_LOOP},
    {"GET", "/v1/conversations/{id}/messages", messages_list, API_AUTH},
    {"POST", "/v1/conversations/{id}/receipts", api__receipts_post, API_AUTH | API_BATCH},
    {"GET", "/v1/conversations/{id}/messages/{seq}/receipts", api__receipts_get, API_AUTH},
    {"PATCH", "/v1/conversations/{id}/messages/{seq}", api__message_patch, API_AUTH},
    {"PUT", "/v1/conversations/{id}/messages/{seq}/reactions/{emoji}", api__reaction_put, API_AUTH},
    {"DELETE", "/v1/conversations/{id}/messages/{seq}/reactions/{emoji}", api__reaction_delete,
     API_AUTH},
    {"DELETE", "/v1/conversations/{id}/messages/{seq}", api__message_delete, API_AUTH},
    {NULL, NULL, NULL, 0},
};
