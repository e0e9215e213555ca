/* SPDX-License-Identifier: MIT */
/*
 * The domain in XenStore (`xenia-vmm --xenstore`): the guest's memory is
 * registered on xenstored's hypervisor port (hv.sock, docs/xenstore.md),
 * its XenStore ring is a special page with an event channel bound to
 * dom0, XS_INTRODUCE tells xenstored where they are, and the home
 * directory is written as Xen's toolstack writes it.  xenstored kicks and
 * is kicked through two eventfds: the guest's sends on the store port go
 * straight to one, the other is a source of the domain's event loop.
 */
#ifndef XENIA_VMM_XS_DOMAIN_H
#define XENIA_VMM_XS_DOMAIN_H

#include <stdbool.h>
#include <stdint.h>

#include "loop.h"

struct xs_handle;
struct domain;

struct xs_domain {
	bool enabled;
	char name[64];
	char uuid[37];
	char home[32];	 /* /local/domain/<id> */
	char vm_path[48]; /* /vm/<uuid> */
	char hv_path[108]; /* sizeof(sockaddr_un.sun_path) */
	int hv_fd;     /* our registration; closing it ends the domain */
	int kick_fd;   /* guest -> xenstored */
	int notify_fd; /* xenstored -> guest */
	int retry_fd;  /* timerfd: register again after xenstored restarts */
	struct loop_source notify_src, hv_src, retry_src;
	uint32_t store_port; /* the guest's */
	uint32_t store_dport; /* dom0's end, ours */
	struct xs_handle *xsh;
};

/* Sets every fd to -1: xs_domain_destroy() is safe from then on. */
void xs_domain_clear(struct xs_domain *x);

/*
 * Before the guest runs: registers the domain, sets up its ring and
 * home directory (name: the domain's name; uuid NULL: a random one).
 * 0 or -errno with a message naming what failed.
 */
int xs_domain_setup(struct domain *d, const char *name, const char *uuid)
	__attribute__((warn_unused_result));

/* After the domain ends: removes its nodes and unregisters it. */
void xs_domain_destroy(struct domain *d);

#endif
