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
#include <stddef.h>
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

/*
 * Save and restore (xs_save.c, docs/migration-stream.md, XENSTORE).
 *
 * xs_domain_save: adds the record's members (the source's "domid",
 * "home" and "vm" nodes, the guest's "watches") to the JSON object out;
 * empty lists without --xenstore.  Loop thread.  0 or -errno, logged.
 */
struct json_object;
int xs_domain_save(struct domain *d, struct json_object *out)
	__attribute__((warn_unused_result));

/* A XENSTORE record, parsed and checked: pointers into root. */
struct xs_saved_node {
	const char *path; /* relative to the subtree; "" is its top */
	const char *value;
	unsigned int vlen;
	const char *perms; /* "n@,r0" */
};
struct xs_saved_watch {
	const char *path; /* relative to the home, or absolute, or "@..." */
	const char *token;
};
struct xs_saved {
	struct json_object *root;
	unsigned int domid; /* the source's */
	struct xs_saved_node *home, *vm;
	unsigned int nr_home, nr_vm;
	struct xs_saved_watch *watches;
	unsigned int nr_watches;
};

/* 0, -ENOMEM, or -EINVAL with the reason in err.  Free it either way. */
int xs_saved_parse(const void *json, size_t len, struct xs_saved *s,
		   char *err, size_t errlen) __attribute__((warn_unused_result));
void xs_saved_free(struct xs_saved *s);

/*
 * A restored domain's registration: as xs_domain_setup(), but the guest
 * already has its ring and port (the loaded HVM params say where, and
 * they must be this VMM's store page and a port unbound to dom0), and
 * its home and /vm/<uuid> come from the save, under the new id, before
 * XS_INTRODUCE; then the guest's watches are set again.  Before the guest
 * runs.  0 or -errno with one message naming what failed.
 */
int xs_domain_restore(struct domain *d, const char *name, const char *uuid,
		      const struct xs_saved *saved)
	__attribute__((warn_unused_result));

/*
 * For xs_domain.c: the saved nodes, inside its transaction t (an
 * xs_transaction_t), and the watches, once the ring is introduced.
 */
bool xs_saved_write(struct domain *d, uint32_t t, const struct xs_saved *s);
int xs_saved_watches_restore(struct domain *d, const struct xs_saved *s)
	__attribute__((warn_unused_result));

/* After the domain ends: removes its nodes and unregisters it. */
void xs_domain_destroy(struct domain *d);

#endif
