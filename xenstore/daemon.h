/* SPDX-License-Identifier: MIT */
/* Pieces of the xenstored process shared by its files (not the library). */
#ifndef XENIA_XENSTORED_DAEMON_H
#define XENIA_XENSTORED_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "../common/list.h"

struct xs_store;

/* Every epoll registration points at one of these. */
struct ev_src {
	void (*handle)(struct ev_src *src, uint32_t events);
	struct list_head dead_link; /* on the graveyard until the batch ends */
	bool dead;
};

struct daemon {
	int epfd;
	struct xs_store *store;
	struct list_head graveyard;
	bool stopping;
};

extern struct daemon xsd;

int ev_add(int fd, struct ev_src *src, uint32_t events)
	__attribute__((warn_unused_result));
int ev_mod(int fd, struct ev_src *src, uint32_t events)
	__attribute__((warn_unused_result));
void ev_del(int fd);
/* Free `src` with free() once the current batch of events is handled. */
void ev_bury(struct ev_src *src);

/* The hypervisor port (hvport.c). */
int hvport_open(const char *path) __attribute__((warn_unused_result));
void hvport_close(void);

#endif
