/* SPDX-License-Identifier: MIT */
/* Parley - load generator: CPU use of the processes under test.        */
/* Copyright (c) 2026 Parley developers                                 */
#include "lg.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*
 * On a 2-CPU machine that runs the server, PostgreSQL, Redis and the load
 * generator together, "who used the CPUs during the window" is the first
 * question behind any number. --cpu-watch "name=pid,name=pid+,..." names
 * processes to account; a trailing + adds the pid's direct children (the
 * PostgreSQL backends of a postmaster). Each is read from /proc/<pid>/stat
 * (utime + stime, all threads) at both ends of the measured window.
 */

static uint64_t ticks_of(int pid, int *ppid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* The command name may hold spaces and parentheses; fields resume after the last ')'. */
    char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    int pp = 0;
    if (!p ||
        sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &pp, &ut, &st) != 3)
        return 0;
    if (ppid)
        *ppid = pp;
    return ut + st;
}

static uint64_t children_ticks(int parent)
{
    DIR *d = opendir("/proc");
    if (!d)
        return 0;
    uint64_t sum = 0;
    struct dirent *e;
    for (unsigned k = 0; k < 1000000 && (e = readdir(d)); k++) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        int pp = 0;
        uint64_t t = ticks_of(atoi(e->d_name), &pp);
        if (pp == parent)
            sum += t;
    }
    closedir(d);
    return sum;
}

void lg_cpu_sample(struct lg_bench *b, uint64_t *out)
{
    const char *s = b->o.cpu_watch;
    unsigned i = 0;
    for (; s && *s && i < LG_CPU_MAX - 1; i++) {
        const char *eq = strchr(s, '=');
        if (!eq)
            break;
        char *end;
        int pid = (int)strtol(eq + 1, &end, 10);
        out[i] = ticks_of(pid, NULL);
        if (*end == '+')
            out[i] += children_ticks(pid), end++;
        s = *end == ',' ? end + 1 : NULL;
    }
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    /* Our own use, in the same clock ticks as /proc. */
    out[i] = ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) /
             (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK));
}

void lg_cpu_print(struct lg_bench *b, const uint64_t *a, const uint64_t *z, double secs)
{
    const char *s = b->o.cpu_watch;
    double hz = (double)sysconf(_SC_CLK_TCK);
    unsigned i = 0;
    for (; s && *s && i < LG_CPU_MAX - 1; i++) {
        const char *eq = strchr(s, '=');
        if (!eq)
            break;
        printf(" cpu_%.*s=%.0f", (int)(eq - s), s, (double)(z[i] - a[i]) / hz / secs * 100.0);
        s = strchr(eq, ',');
        s = s ? s + 1 : NULL;
    }
    printf(" cpu_loadgen=%.0f", (double)(z[i] - a[i]) / hz / secs * 100.0);
}
