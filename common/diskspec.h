/* SPDX-License-Identifier: MIT */
/*
 * A disk as an xm/xl config names it, 'file:/srv/guest.img,xvda,w', and
 * Xen's virtual-device numbers (docs/misc/vbd-interface.txt): xvdX is
 * 202 << 8 | index << 4 (index < 16), or 1 << 28 | index << 8 above;
 * hdX and sdX map as on Xen too.  Pure parsing, no I/O.
 */
#ifndef XENIA_DISKSPEC_H
#define XENIA_DISKSPEC_H

#include <stdbool.h>
#include <stddef.h>

#define DISKSPEC_PATH_MAX 4096

struct diskspec {
	char path[DISKSPEC_PATH_MAX];
	char vdev[16];	   /* "xvda" */
	unsigned int devid; /* Xen's virtual-device number */
	bool readonly;
	bool is_phy;	   /* phy: a block device; else an image file */
};

/*
 * Parses "[phy:|file:|tap:aio:|aio:]TARGET,VDEV[,r|ro|w|rw]" (access
 * defaults to w).  0, or -EINVAL with a reason in err (errlen bytes).
 */
int diskspec_parse(const char *spec, struct diskspec *out, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/* Xen's number for a virtual device name; -EINVAL if it names none. */
int diskspec_vdev_devid(const char *vdev, unsigned int *devid)
	__attribute__((warn_unused_result));

#endif
