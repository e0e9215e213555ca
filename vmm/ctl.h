/* SPDX-License-Identifier: MIT */
/*
 * The toolstack's control socket (`xenia-vmm --control PATH`): xend asks
 * the domain's own VMM for its state and to pause, unpause, change its
 * memory ceiling and attach or detach devices, one JSON object a line
 * each way (docs/vmm-control.md).  Served by the domain's event loop,
 * never by a vCPU thread.
 */
#ifndef XENIA_VMM_CTL_H
#define XENIA_VMM_CTL_H

struct domain;

/* The longest request line, its newline not counted. */
#define CTL_LINE_MAX (1 << 20) /* a save request carries the config */
/* Clients connected at once; one more is told so and closed. */
#define CTL_MAX_CLIENTS 16

/*
 * Listens on a Unix stream socket at path (mode 0600; a stale socket
 * there is replaced, a live one is an error) and serves it from d's loop,
 * which must be running.  0 or -errno, logged.
 */
int ctl_open(struct domain *d, const char *path)
	__attribute__((warn_unused_result));

/*
 * Once the loop has stopped (domain_destroy): closes every client and
 * removes the socket.  Safe when ctl_open() was never called.
 */
void ctl_destroy(struct domain *d);

#endif
