/* SPDX-License-Identifier: MIT */
/* Virtual block devices of a domain (vbd.c): `--disk SPEC`, xm's format. */
#ifndef XENIA_VMM_VBD_H
#define XENIA_VMM_VBD_H

struct domain;

/*
 * Opens the image and adds the device (frontend and backend directories,
 * backend in InitWait).  Needs --xenstore.  0 or -errno, with a message.
 */
int vbd_add(struct domain *d, const char *spec)
	__attribute__((warn_unused_result));

#endif
