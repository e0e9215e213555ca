/* SPDX-License-Identifier: MIT */
/* Virtual block devices of a domain (vbd.c): `--disk SPEC`, xm's format. */
#ifndef XENIA_VMM_VBD_H
#define XENIA_VMM_VBD_H

#include "xenbus_back.h"

struct domain;
struct json_object;

/*
 * Opens the image and adds the device (frontend and backend directories,
 * backend in InitWait).  Needs --xenstore.  0 or -errno, with a message.
 */
int vbd_add(struct domain *d, const char *spec)
	__attribute__((warn_unused_result));

/*
 * A disk of a restored domain: as vbd_add(), in the state its DEVICE
 * record rec says (xenbus_dev_restore()).  0 or -errno, with a message.
 */
int vbd_restore(struct domain *d, const char *spec, struct json_object *rec)
	__attribute__((warn_unused_result));

/*
 * Detaches the disk named vdev ("xvdb"): the frontend is asked to close,
 * in-flight I/O drains, then the device goes (xenbus_dev_remove(), with
 * timeout_ms for the frontend and done(arg, forced) at the end).  On the
 * loop thread.  0, -EINVAL for a bad name, -ENOENT for no such disk,
 * -EBUSY while it is being removed.
 */
/*
 * A migration's handover: every disk's image lock released (the source,
 * before it says GO) or taken (the destination, after it hears GO; or
 * the source again if the handover failed).  Taking is all or none:
 * -EBUSY if another process holds one.  0 or -errno.
 */
int vbd_locks(struct domain *d, bool lock) __attribute__((warn_unused_result));
/*
 * Every writable image's acknowledged writes to stable storage (a
 * migration, before the other host reads them).  0 or -errno, logged.
 */
int vbd_sync(struct domain *d) __attribute__((warn_unused_result));

int vbd_remove(struct domain *d, const char *vdev, unsigned int timeout_ms,
	       xenbus_removed_fn *done, void *arg)
	__attribute__((warn_unused_result));

#endif
