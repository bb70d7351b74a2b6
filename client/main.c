/* SPDX-License-Identifier: MIT */
/* Parley - parley(1): the command-line client with end-to-end crypto.  */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <curl/curl.h>
#include <yajl/yajl_gen.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

_Noreturn void cli_die(const char *fmt, ...)
{
    va_list ap;
    fputs("parley: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(CLI_EXIT_ERROR);
}

_Noreturn void cli_die_code(int code, const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("parley: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static const char *password(void)
{
    const char *p = getenv("PARLEY_PASSWORD");
    if (p)
        return p;
    if (!isatty(0))
        cli_die("set PARLEY_PASSWORD or run from a terminal");
    p = getpass("Password: ");
    return p ? strdup(p) : NULL;
}

/* The store's passphrase: PARLEY_PASSPHRASE, else asked on the terminal
 * (twice when the store is new). */
static const char *passphrase(const char *home, int fresh)
{
    const char *p = getenv("PARLEY_PASSPHRASE");
    char prompt[4300];
    if (p)
        return p;
    if (!isatty(0))
        return NULL; /* cli_store_open says what to set */
    snprintf(prompt, sizeof(prompt), "Passphrase for %s (protects this device's keys): ", home);
    char *a = getpass(prompt), *first = a ? strdup(a) : NULL;
    if (first && fresh) {
        char *b = getpass("Repeat the passphrase: ");
        if (!b || strcmp(first, b) != 0)
            cli_die("the passphrases differ");
    }
    return first;
}

static char *json_creds(const char *user, const char *pw, int session)
{
    const unsigned char *buf;
    size_t len;
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_map_open(g);
    yajl_gen_string(g, (const unsigned char *)"username", 8);
    yajl_gen_string(g, (const unsigned char *)user, strlen(user));
    yajl_gen_string(g, (const unsigned char *)"password", 8);
    yajl_gen_string(g, (const unsigned char *)pw, strlen(pw));
    if (session) {
        yajl_gen_string(g, (const unsigned char *)"device_name", 11);
        yajl_gen_string(g, (const unsigned char *)"parley-cli", 10);
    }
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);
    char *s = cli_strndup((const char *)buf, len);
    yajl_gen_free(g);
    return s;
}

static void login(struct cli *c, const char *user, const char *pw)
{
    yajl_val res;
    char num[24];
    if (cli_conf(c, "token"))
        cli_die("already logged in as %s (parley logout first)", cli_conf(c, "username"));
    if (strcmp(c->pass, pw) == 0)
        cli_die("the passphrase must not be the account password (the server sees the "
                "password): set PARLEY_PASSPHRASE to something else");
    const char *owner = cli_conf(c, "owner");
    if (owner && strcmp(owner, user) != 0)
        cli_die("%s holds the local history of %s: use another PARLEY_HOME, or `parley logout "
                "--wipe` first",
                c->home, owner);
    char *body = json_creds(user, pw, 1);
    long st = cli_http(c, "POST", "/v1/sessions", body, &res);
    free(body);
    cli_expect(st, res, 201, 200, "login");
    const char *tok = cli_jstr(res, "token");
    long long dev = cli_jint(res, "device_id"), uid = cli_jint(cli_jget(res, "user"), "id");
    if (!tok || dev <= 0 || uid <= 0)
        cli_die("login: unexpected answer");
    cli_tx_begin(c);
    cli_conf_set(c, "token", tok);
    cli_conf_set(c, "owner", user);
    cli_conf_set(c, "server", c->server);
    cli_conf_set(c, "username", user);
    snprintf(num, sizeof(num), "%lld", dev);
    cli_conf_set(c, "device_id", num);
    snprintf(num, sizeof(num), "%lld", uid);
    cli_conf_set(c, "user_id", num);
    cli_tx_commit(c);
    yajl_tree_free(res);
    cli_keys_upload(c, 1, 0, 100);
    if (c->json)
        printf("{\"username\":\"%s\",\"user_id\":%lld,\"device_id\":%lld}\n", user, uid, dev);
    else
        printf("logged in as %s (user %lld, device %lld)\n", user, uid, dev);
}

#define JSTR(g, s) yajl_gen_string((g), (const unsigned char *)(s), strlen(s))

static void chats(struct cli *c)
{
    yajl_val res;
    long st = cli_http(c, "GET", "/v1/conversations?limit=100", NULL, &res);
    cli_expect(st, res, 200, 200, "listing chats");
    yajl_val list = cli_jget(res, "conversations");
    yajl_gen g = yajl_gen_alloc(NULL);
    yajl_gen_array_open(g);
    for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
        yajl_val v = list->u.array.values[i];
        const char *title = cli_jstr(v, "title"), *enc = cli_jstr(v, "encryption"),
                   *kind = cli_jstr(v, "kind"), *peer = cli_jstr(cli_jget(v, "peer"), "username");
        if (!c->json) {
            long long unread = cli_jint(v, "unread_count");
            printf("%-24s %-6s %-5s", cli_chat_name(c, cli_jint(v, "id")), kind ? kind : "",
                   enc && !strcmp(enc, "e2e") ? "e2e" : "plain");
            if (unread > 0)
                printf("  %lld unread", unread);
            putchar('\n');
            continue;
        }
        /* --json: one array of {id, kind, encryption, title, peer, last_seq}. */
        yajl_gen_map_open(g);
        JSTR(g, "id");
        yajl_gen_integer(g, cli_jint(v, "id"));
        JSTR(g, "kind");
        kind ? JSTR(g, kind) : yajl_gen_null(g);
        JSTR(g, "encryption");
        JSTR(g, enc ? enc : "none");
        JSTR(g, "title");
        title ? JSTR(g, title) : yajl_gen_null(g);
        JSTR(g, "peer");
        peer ? JSTR(g, peer) : yajl_gen_null(g);
        JSTR(g, "name");
        JSTR(g, cli_chat_name(c, cli_jint(v, "id")));
        JSTR(g, "unread_count");
        yajl_gen_integer(g, cli_jint(v, "unread_count") > 0 ? cli_jint(v, "unread_count") : 0);
        JSTR(g, "last_seq");
        cli_jint(v, "last_seq") >= 0 ? yajl_gen_integer(g, cli_jint(v, "last_seq"))
                                     : yajl_gen_null(g);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    char *out = cli_gen_done(g);
    if (c->json)
        printf("%s\n", out);
    free(out);
    yajl_tree_free(res);
}

/* The commands of issue 15 (cmd_info.c, group_info.c). */
static int more(struct cli *c, int argc, char **argv)
{
    const char *cmd = argv[0];
    if (!strcmp(cmd, "typing"))
        return cli_cmd_typing(c, argc, argv);
    if (!strcmp(cmd, "presence"))
        return cli_cmd_presence(c, argc, argv);
    if (!strcmp(cmd, "devices"))
        return cli_cmd_devices(c, argc, argv);
    if (!strcmp(cmd, "sessions"))
        return cli_cmd_sessions(c, argc, argv);
    if (!strcmp(cmd, "user") || !strcmp(cmd, "users"))
        return cli_cmd_user(c, argc, argv);
    if (!strcmp(cmd, "edit"))
        return cli_cmd_edit(c, argc, argv);
    if (!strcmp(cmd, "delete"))
        return cli_cmd_delete(c, argc, argv);
    if (!strcmp(cmd, "react"))
        return cli_cmd_react(c, argc, argv);
    if (!strcmp(cmd, "forward"))
        return cli_cmd_forward(c, argc, argv);
    if (!strcmp(cmd, "block"))
        return cli_cmd_block(c, argc, argv);
    if (!strcmp(cmd, "requests"))
        return cli_cmd_requests(c, argc, argv);
    if (!strcmp(cmd, "expire"))
        return cli_cmd_expire(c, argc, argv);
    if (!strcmp(cmd, "account"))
        return cli_cmd_account(c, argc, argv);
    if (!strcmp(cmd, "export"))
        return cli_cmd_export(c, argc, argv);
    return -1;
}

static int run(struct cli *c, int argc, char **argv)
{
    const char *cmd = argv[0];
    if (!strcmp(cmd, "register") && argc == 2) {
        const char *pw = password();
        yajl_val res;
        char *body = json_creds(argv[1], pw, 0);
        long st = cli_http(c, "POST", "/v1/users", body, &res);
        free(body);
        cli_expect(st, res, 201, 201, "register");
        yajl_tree_free(res);
        login(c, argv[1], pw);
    } else if (!strcmp(cmd, "login") && argc == 2) {
        login(c, argv[1], password());
    } else if (!strcmp(cmd, "logout") && (argc == 1 || (argc == 2 && !strcmp(argv[1], "--wipe")))) {
        yajl_val res;
        long st = cli_http(c, "DELETE", "/v1/sessions/current", NULL, &res);
        yajl_tree_free(res);
        if (st != 204 && st != 401)
            cli_die("logout failed: HTTP %ld", st);
        cli_state_wipe_keys(c);
        if (argc == 2) {
            cli_store_wipe(c);
            puts("logged out; this device's keys and local history are deleted");
        } else {
            printf("logged out; this device's keys are deleted, its local history is kept in %s "
                   "(`parley logout --wipe` deletes it too)\n",
                   c->home);
        }
    } else if (!strcmp(cmd, "chats") && argc == 1) {
        chats(c);
    } else if (!strcmp(cmd, "send") && argc >= 3) {
        int plain = 0, i = 1;
        const char *file = NULL;
        for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
            if (!strcmp(argv[i], "--plain"))
                plain = 1;
            else if (!strcmp(argv[i], "--file") && i + 1 < argc)
                file = argv[++i];
            else
                return -1;
        }
        /* "NAME (plain)", as chats names it, is NAME with --plain. */
        size_t n = i < argc ? strlen(argv[i]) : 0;
        if (n > 8 && !strcmp(argv[i] + n - 8, " (plain)")) {
            argv[i][n - 8] = 0;
            plain = 1;
        }
        if (file && argc == i + 1) {
            cli_send_file(c, argv[i], file, plain);
        } else if (!file && argc == i + 2) {
            struct cli_msg m = {.text = argv[i + 1]};
            cli_send(c, argv[i], &m, plain);
        } else {
            return -1;
        }
    } else if (!strcmp(cmd, "listen")) {
        long count = 0, timeout = 0;
        for (int i = 1; i < argc; i++) {
            if (!strcmp(argv[i], "--count") && i + 1 < argc)
                count = atol(argv[++i]);
            else if (!strcmp(argv[i], "--timeout") && i + 1 < argc)
                timeout = atol(argv[++i]);
            else if (!strcmp(argv[i], "--out-dir") && i + 1 < argc)
                c->out_dir = argv[++i];
            else if (!strcmp(argv[i], "--chat") && i + 1 < argc)
                cli_presence_watch(c, argv[++i]);
            else
                return -1;
        }
        cli_listen(c, count, timeout);
    } else if (!strcmp(cmd, "verify") && argc == 2) {
        cli_verify(c, argv[1], 0);
    } else if (!strcmp(cmd, "verify") && argc == 3 && !strcmp(argv[1], "--accept")) {
        cli_verify(c, argv[2], 1);
    } else if (!strcmp(cmd, "history") && argc == 2) {
        cli_history(c, argv[1]);
    } else if (!strcmp(cmd, "read") && argc == 2) {
        cli_read(c, argv[1]);
    } else if (!strcmp(cmd, "search") && argc >= 2) {
        cli_search(c, argc - 1, argv + 1);
    } else if (!strcmp(cmd, "group")) {
        return cli_group_cmd(c, argc, argv);
    } else if (!strcmp(cmd, "keys") && (argc == 1 || (argc == 2 && !strcmp(argv[1], "--rotate")))) {
        cli_keys_status(c, argc == 2);
    } else {
        return more(c, argc, argv);
    }
    return 0;
}

/* Takes the options that may stand anywhere before `--` out of argv
 * (--json, --help, --version, and the global ones), and the first `--`
 * itself, so that no command ever sees them as arguments. Returns the new
 * argc; *help is set for --help/-h, *version for --version. */
static int take_options(struct cli *c, int argc, char **argv, const char **server, int *help,
                        int *version)
{
    int n = 1, dashdash = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash) {
            argv[n++] = argv[i];
        } else if (!strcmp(a, "--")) {
            dashdash = 1;
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
        } else if (!strcmp(a, "--version")) {
            *version = 1;
        } else if (!strcmp(a, "--json")) {
            c->json = 1;
        } else if (!strcmp(a, "--http1.1")) {
            c->http11 = 1;
        } else if (!strcmp(a, "--http2-prior-knowledge")) {
            c->h2c = 1;
        } else if (!strcmp(a, "--server")) {
            if (i + 1 >= argc)
                cli_die_code(CLI_EXIT_USAGE, "--server needs a URL");
            *server = argv[++i];
        } else {
            argv[n++] = argv[i];
        }
    }
    argv[n] = NULL;
    return n;
}

int main(int argc, char **argv)
{
    struct cli c = {0};
    int i = 1, help = 0, version = 0;
    const char *server = getenv("PARLEY_SERVER");
    argc = take_options(&c, argc, argv, &server, &help, &version);
    /* Help and the version need neither a server nor any state. */
    if (help && !version) {
        if (cli_help(stdout, i < argc ? argv[i] : NULL) < 0)
            cli_usage_die(argv[i]);
        return CLI_EXIT_OK;
    }
    if (version || (i < argc && !strcmp(argv[i], "version"))) {
        printf("parley %s\n", cli_version);
        return CLI_EXIT_OK;
    }
    if (i < argc && !strcmp(argv[i], "help")) {
        if (argc > i + 2)
            cli_usage_die("help");
        if (cli_help(stdout, argc > i + 1 ? argv[i + 1] : NULL) < 0)
            cli_usage_die(argv[i + 1]);
        return CLI_EXIT_OK;
    }
    if (i >= argc) {
        cli_help(stderr, NULL);
        return CLI_EXIT_USAGE;
    }
    if (!cli_is_command(argv[i]) || !cli_args_ok(argv[i], argc - i - 1))
        cli_usage_die(argv[i]);
    if (e2e_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0 ||
        !(c.curl = curl_easy_init()))
        cli_die("cannot initialise libsodium or libcurl");
    const char *home = getenv("PARLEY_HOME"), *h = getenv("HOME");
    char buf[4096];
    if (!home) {
        snprintf(buf, sizeof(buf), "%s/.parley", h ? h : ".");
        home = buf;
    }
    c.home = strdup(home);
    /* register and login make the store; everything else needs one. */
    int makes = !strcmp(argv[i], "register") || !strcmp(argv[i], "login");
    char db[4200];
    snprintf(db, sizeof(db), "%s/parley.db", c.home);
    c.pass = passphrase(c.home, makes && access(db, F_OK) != 0);
    int fresh = cli_store_open(&c, makes);
    if (!server)
        server = fresh ? NULL : cli_conf(&c, "server");
    if (!server)
        cli_die("no server: pass --server URL or set PARLEY_SERVER (e.g. "
                "PARLEY_SERVER=http://127.0.0.1:8080)");
    if (fresh && !makes)
        cli_die("not logged in (run parley login USER; PARLEY_HOME is %s)", c.home);
    c.server = strdup(server);
    size_t n = strlen(c.server);
    while (n && c.server[n - 1] == '/')
        c.server[--n] = 0;
    if (run(&c, argc - i, argv + i) < 0)
        cli_usage_die(argv[i]);
    int rc = CLI_EXIT_OK;
    /* Everything is released, so leak checkers see a clean exit. */
    cli_store_close(&c);
    free(c.home);
    free(c.server);
    curl_easy_cleanup(c.curl);
    if (c.curl_req)
        curl_easy_cleanup(c.curl_req);
    curl_global_cleanup();
    return rc;
}
