/* SPDX-License-Identifier: MIT */
/* Parley - parley help, parley COMMAND --help, parley --version.       */
/* Copyright (c) 2026 Parley developers                                 */
#include "client/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef PARLEY_VERSION
#define PARLEY_VERSION "unknown"
#endif

const char cli_version[] = PARLEY_VERSION;

/* One entry per command: its usage lines, a summary for the overview and
 * the text of `parley help COMMAND`. Help needs no server and no state. */
struct cmd_help {
    const char *name, *usage, *summary, *text;
    int min, max; /* arguments after the command; max -1: any number */
};

static const struct cmd_help cmds[] = {
    {"register", "register USERNAME", "create an account, log this device in, publish its keys",
     "Creates the account USERNAME (password from PARLEY_PASSWORD or the terminal), logs\n"
     "this device in and publishes its end-to-end keys.\n",
     1, 1},
    {"login", "login USERNAME", "log this device in and publish its keys",
     "Logs this device in as USERNAME: a new device with its own keys. Contacts see a\n"
     "new device (their safety number with you changes).\n",
     1, 1},
    {"logout", "logout [--wipe]", "end this device's session; keep its history",
     "Ends this device's session on the server and deletes its keys, sessions and token\n"
     "from PARLEY_HOME. The local history stays (the server cannot give end-to-end\n"
     "history back) and shows again after `parley login` as the same user.\n"
     "--wipe deletes the local history too.\n",
     0, 1},
    {"chats", "chats [--json]", "list your chats, with unread counts",
     "Lists your chats: direct chats by the other person's name (\"ann\" for the end-to-end\n"
     "encrypted one, \"ann (plain)\" for a plain one), groups as \"#ID TITLE\", with the\n"
     "number of unread messages. --json: one array with the ids.\n",
     0, 0},
    {"send", "send [--plain] CHAT TEXT\n       send [--plain] --file PATH CHAT",
     "send a message or a file (end-to-end encrypted unless --plain)",
     "Sends TEXT, or the file at PATH, to CHAT: a user name (its direct chat is created\n"
     "when needed) or #ID for a group. End-to-end encrypted unless --plain, which uses\n"
     "the separate plain chat the server can read and search (\"NAME (plain)\").\n"
     "Text that starts with -- goes after a -- argument: parley send ann -- --help\n",
     2, 5},
    {"listen", "listen [--count N] [--timeout S] [--out-dir DIR] [--chat CHAT] [--json]",
     "print incoming messages and acknowledge their delivery",
     "Prints each incoming message as \"[12:04] ann: hi\" (the chat in brackets when it is\n"
     "not the sender's direct chat), decrypts, saves received files to DIR (default\n"
     "$PARLEY_HOME/files) and sends delivery receipts. --count N stops after N messages,\n"
     "--timeout S after S seconds. --chat CHAT also subscribes to the presence of CHAT's\n"
     "members and prints \"* ann is online\" as they come and go. --json: one object per\n"
     "line. When the connection drops\n"
     "it says \"reconnecting\" on stderr, waits (the server's retry: or Retry-After, then\n"
     "backing off up to 30 s) and resumes where it was; Ctrl-C ends it with status 0.\n"
     "Messages from a device whose safety number changed are held until you accept it.\n",
     0, 8},
    {"history", "history CHAT [--json]", "this device's history of CHAT",
     "Prints the messages this device sent and received in CHAT (a user name, \"NAME\n"
     "(plain)\", #ID or a group's title), oldest first: \"[12:04] ann: hi\". Works without\n"
     "a server for chats this device remembers. --json: one array with ids and times.\n",
     1, 1},
    {"edit", "edit CHAT SEQ TEXT", "change the text of a message you sent",
     "Replaces the text of your message number SEQ in CHAT (NAME, \"NAME (plain)\", #ID or\n"
     "a group's title). Only within the server's edit window (15 min by default); the\n"
     "others see it marked edited. In an E2E chat the edit is encrypted: the server learns\n"
     "only that message SEQ was edited.\n",
     3, 3},
    {"delete", "delete [--for-me] CHAT SEQ", "delete a message for everyone or for you",
     "Deletes message number SEQ of CHAT for everyone (your own within the server's delete\n"
     "window, 48 h by default, or any as a group admin): its text and media are erased and\n"
     "the others see \"deleted\". --for-me hides it from your history only.\n",
     2, 3},
    {"forward", "forward FROM SEQ TO", "forward a message into another chat",
     "Copies message number SEQ of the plain chat FROM into the plain chat TO, marked\n"
     "forwarded (media is re-used, not uploaded again).\n",
     3, 3},
    {"block", "block [--remove] USER | block --list", "block or unblock a user",
     "A blocked user cannot write to you in a direct chat, open one, add you to a group,\n"
     "or see your presence and typing; blocking also declines their pending request.\n"
     "--remove lifts the block; --list shows whom you blocked.\n",
     1, 2},
    {"expire", "expire CHAT off|1h|24h|7d|90d", "set a chat's disappearing-messages timer",
     "Messages sent in CHAT from now on are erased everywhere (server rows, search, media,\n"
     "archive) that long after they were sent; off stops it. Plain and E2E chats.\n",
     2, 2},
    {"requests", "requests [accept|decline CHAT]", "list, accept or decline message requests",
     "A chat opened by someone you have no accepted chat with (or a group they added you\n"
     "to) is a message request until you accept it or write in it. Without arguments,\n"
     "lists them; decline leaves the chat without telling its opener.\n",
     0, 2},
    {"react", "react [--remove] CHAT SEQ EMOJI", "react to a message with one emoji",
     "Sets your reaction to message number SEQ of CHAT to EMOJI, replacing your previous\n"
     "one; --remove takes it back. EMOJI must be a single emoji. In an E2E chat the\n"
     "reaction is encrypted: the server never sees the emoji.\n",
     3, 4},
    {"read", "read CHAT [--json]", "mark CHAT read and print its history",
     "Sends a read receipt up to the newest message of CHAT, then prints its history.\n", 1, 1},
    {"search", "search WORDS... [--json]", "search your messages",
     "Plain chats are searched on the server (ranked, with phrase \"a b\", or and -word);\n"
     "end-to-end encrypted chats in this device's history, since the server cannot read\n"
     "them. Without a server, only this device's history is searched. No match exits 3.\n",
     1, -1},
    {"typing", "typing CHAT", "tell CHAT's members you are typing",
     "Sends a typing indicator to the other members of CHAT (they see it for a few\n"
     "seconds).\n",
     1, 1},
    {"presence", "presence USER [--json]", "whether USER is online, or when last seen",
     "Prints \"ann: online\", \"ann: last seen 12:04\", or that the time is hidden\n"
     "(the user's privacy setting decides who may see it).\n",
     1, 1},
    {"user", "user NAME [--json]\n       users PREFIX [--json]", "look a person up",
     "user NAME shows the public profile of the exact user name NAME (anyone's).\n"
     "users PREFIX lists the people you share a chat with whose name starts with PREFIX.\n",
     1, 1},
    {"group",
     "group create TITLE USER...\n       group add GROUP USER | group remove GROUP USER\n"
     "       group rename GROUP TITLE | group leave GROUP | group info GROUP [--json]",
     "create, change, leave and inspect groups",
     "GROUP is #ID (or ID, or the group's exact title). create makes an end-to-end\n"
     "encrypted group; add and remove change members (admins only; removing rotates\n"
     "your sender key); rename sets the title; leave removes you; info lists the title,\n"
     "members and their roles.\n",
     2, -1},
    {"devices", "devices [--json]", "list your devices",
     "Lists the devices logged in to your account (those with published keys), marking\n"
     "this one.\n",
     0, 0},
    {"sessions", "sessions [list] [--json]\n       sessions revoke ID",
     "list or end your account's sessions",
     "Lists your account's sessions (one per logged-in device), or ends session ID,\n"
     "logging that device out. Needs a server that offers GET and DELETE /v1/sessions.\n",
     0, 2},
    {"verify", "verify [--accept] USER", "print (and accept) the safety number with USER",
     "Prints the 60-digit safety number of your and USER's keys; compare it with USER's\n"
     "over another channel. Keys are pinned on first use: after \"safety number with USER\n"
     "changed\" (a new device, or a new key), nothing is sent to or decrypted from USER's\n"
     "new device until you compare the new number and run verify --accept USER.\n",
     1, 2},
    {"keys", "keys [--rotate]", "prekey status; replenish and rotate prekeys",
     "Shows how many one-time prekeys the server holds for this device, uploads more\n"
     "when they run low, and rotates the signed prekey when it is old (or --rotate).\n",
     0, 1},
    {"export", "export [--out FILE]", "download an archive of your account's data",
     "Asks the server for an export of your profile, conversations and messages, waits\n"
     "until it is written (polling its state), downloads it and writes the decompressed\n"
     "JSON to FILE (standard output without --out). End-to-end encrypted chats are not\n"
     "in it (the server cannot read them): `parley history` shows this device's copy.\n",
     0, 2},
    {"account", "account delete [--password-stdin]", "delete your account",
     "Deletes your account after checking its password (PARLEY_PASSWORD, the terminal, or\n"
     "one line of standard input with --password-stdin): every session, device, key and\n"
     "upload no message uses is erased and you leave every group. Messages you sent stay\n"
     "in the others' history, from \"Deleted account\"; your username becomes free.\n"
     "This device's keys and local history are deleted too. There is no undo.\n",
     1, 2},
    {"help", "help [COMMAND]", "this help, or a command's", "Prints help. Also: COMMAND --help.\n",
     0, 1},
    {"version", "version", "print the version", "Prints parley's version. Also: --version.\n", 0,
     0},
};

static const char global[] =
    "Options (before or after the command):\n"
    "  --server URL               the server (default: PARLEY_SERVER, else the one logged in to)\n"
    "  --http1.1                  use HTTP/1.1\n"
    "  --http2-prior-knowledge    use HTTP/2 without upgrade (h2c on http://)\n"
    "  --json                     machine-readable output, with ids\n"
    "  -h, --help                 help (parley COMMAND --help: the command's)\n"
    "  --version                  print the version\n"
    "  --                         ends the options: later arguments are taken as they are\n";

static const char footer[] =
    "Environment:\n"
    "  PARLEY_SERVER      server URL (when --server is not given)\n"
    "  PARLEY_HOME        where this device's state lives (default: $HOME/.parley)\n"
    "  HOME               the default PARLEY_HOME's parent\n"
    "  PARLEY_PASSWORD    the account password (asked on the terminal when unset)\n"
    "  PARLEY_PASSPHRASE  seals this device's keys and history in PARLEY_HOME (asked on\n"
    "                     the terminal when unset); never the account password\n"
    "  PARLEY_CA_FILE     PEM file of CA certificates to trust for https:// servers\n"
    "  PARLEY_VAULT_COST  \"low\" makes the passphrase hash cheap (test builds only)\n"
    "  TZ                 the time zone of the times shown\n"
    "  http_proxy, https_proxy, all_proxy, no_proxy   proxies (read by libcurl)\n"
    "Exit status: 0 ok, 1 error, 2 usage error, 3 not found (no such user, chat, group or\n"
    "session; search without a match).\n";

static const struct cmd_help *find(const char *name)
{
    if (name && !strcmp(name, "users"))
        name = "user";
    for (size_t i = 0; name && i < sizeof(cmds) / sizeof(cmds[0]); i++)
        if (!strcmp(cmds[i].name, name))
            return &cmds[i];
    return NULL;
}

int cli_is_command(const char *name)
{
    return find(name) != NULL;
}

int cli_args_ok(const char *cmd, int nargs)
{
    const struct cmd_help *h = find(cmd);
    return h && nargs >= h->min && (h->max < 0 || nargs <= h->max);
}

int cli_help(FILE *f, const char *cmd)
{
    const struct cmd_help *h = find(cmd);
    if (cmd && !h)
        return -1;
    if (h) {
        fprintf(f, "usage: parley %s\n\n%s\n%s\n%s", h->usage, h->text, global, footer);
        return 0;
    }
    fprintf(f, "usage: parley [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
        fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\n%s\n%s\nparley help COMMAND (or parley COMMAND --help) shows a command's help.\n",
            global, footer);
    return 0;
}

_Noreturn void cli_usage_die(const char *cmd)
{
    const struct cmd_help *h = find(cmd);
    if (h)
        fprintf(stderr, "usage: parley %s\nSee `parley help %s`.\n", h->usage, h->name);
    else
        fprintf(stderr, "parley: '%s' is not a parley command. See `parley help`.\n", cmd);
    exit(CLI_EXIT_USAGE);
}
