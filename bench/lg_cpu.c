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

/* Busy ticks of the whole machine (all CPUs), from the first line of /proc/stat. */
static uint64_t machine_busy(void)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long v[8] = {0};
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                       &v[4], &v[5], &v[6], &v[7])
              : 0;
    if (f)
        fclose(f);
    /* user nice system idle iowait irq softirq steal: all but idle and iowait. */
    return n == 8 ? v[0] + v[1] + v[2] + v[5] + v[6] + v[7] : 0;
}

void lg_cpu_sample(struct lg_bench *b, uint64_t *out)
{
    const char *s = b->o.cpu_watch;
    unsigned i = 0;
    for (; s && *s && i < LG_CPU_MAX - 2; i++) {
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
    out[LG_CPU_MAX - 1] = machine_busy();
}

void lg_cpu_print(struct lg_bench *b, const uint64_t *a, const uint64_t *z, double secs)
{
    const char *s = b->o.cpu_watch;
    double hz = (double)sysconf(_SC_CLK_TCK);
    unsigned i = 0;
    for (; s && *s && i < LG_CPU_MAX - 2; i++) {
        const char *eq = strchr(s, '=');
        if (!eq)
            break;
        printf(" cpu_%.*s=%.0f", (int)(eq - s), s, (double)(z[i] - a[i]) / hz / secs * 100.0);
        s = strchr(eq, ',');
        s = s ? s + 1 : NULL;
    }
    printf(" cpu_loadgen=%.0f", (double)(z[i] - a[i]) / hz / secs * 100.0);
    /* Everything else the machine did meanwhile: other people's work skews a benchmark. */
    uint64_t ours = 0;
    for (unsigned k = 0; k <= i; k++)
        ours += z[k] - a[k];
    uint64_t busy = z[LG_CPU_MAX - 1] - a[LG_CPU_MAX - 1];
    printf(" cpu_machine=%.0f cpu_other=%.0f", (double)busy / hz / secs * 100.0,
           busy > ours ? (double)(busy - ours) / hz / secs * 100.0 : 0.0);
}
