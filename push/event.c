/* SPDX-License-Identifier: MIT */
/* Parley - immutable, refcounted SSE events.                           */
/* Copyright (c) 2026 Parley developers                                 */
#include "push_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct push_event *push_event_new(uint64_t pos, const char *name, const char *data, size_t len)
{
    char head[96];
    int n = pos ? snprintf(head, sizeof(head),
                           "id: %llu\nevent: %s\ndata: ", (unsigned long long)pos, name)
                : snprintf(head, sizeof(head), "event: %s\ndata: ", name);
    if (n < 0 || (size_t)n >= sizeof(head))
        return NULL;
    struct push_event *ev = malloc(sizeof(*ev) + (size_t)n + len + 2);
    if (!ev)
        return NULL;
    ev->refs = 1;
    ev->pos = pos;
    ev->per_device = false;
    ev->data_off = (size_t)n;
    memcpy(ev->frame, head, (size_t)n);
    memcpy(ev->frame + n, data, len);
    memcpy(ev->frame + n + len, "\n\n", 2);
    ev->len = (size_t)n + len + 2;
    return ev;
}

struct push_event *push_event_raw(const char *frame, size_t len)
{
    struct push_event *ev = malloc(sizeof(*ev) + len);
    if (!ev)
        return NULL;
    ev->refs = 1;
    ev->pos = 0;
    ev->per_device = false;
    ev->data_off = 0;
    ev->len = len;
    memcpy(ev->frame, frame, len);
    return ev;
}

void push_event_ref(struct push_event *ev)
{
    __atomic_add_fetch(&ev->refs, 1, __ATOMIC_RELAXED);
}

void push_event_unref(struct push_event *ev)
{
    if (ev && __atomic_sub_fetch(&ev->refs, 1, __ATOMIC_ACQ_REL) == 0)
        free(ev);
}

void push_event_set_per_device(struct push_event *ev)
{
    ev->per_device = true;
}

uint64_t push_event_pos(const struct push_event *ev)
{
    return ev->pos;
}

const char *push_event_data(const struct push_event *ev, size_t *len)
{
    /* The frame ends with the data and "\n\n" (push_event_new). */
    *len = ev->len - ev->data_off - (ev->data_off ? 2 : 0);
    return ev->frame + ev->data_off;
}

const char *push_event_frame(const struct push_event *ev, size_t *len)
{
    *len = ev->len;
    return ev->frame;
}
