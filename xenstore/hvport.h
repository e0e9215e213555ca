/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor port protocol (RUNDIR/xenstored/hv.sock, SOCK_SEQPACKET):
 * xenia-vmm sends one hvport_msg with SCM_RIGHTS fds
 *   [0] the guest's memory (memfd), [1] kick eventfd (guest -> xenstored),
 *   [2] notify eventfd (xenstored -> guest)
 * and gets an hvport_reply.  It keeps the socket open while the domain
 * lives.  See docs/xenstore.md.
 */
#ifndef XENIA_XS_HVPORT_H
#define XENIA_XS_HVPORT_H

#include <stdint.h>

#define HVPORT_MAGIC 0x31564858u /* "XHV1" */
#define HVPORT_OP_REGISTER 1u

struct hvport_msg {
	uint32_t magic;
	uint32_t op;
	uint32_t domid;
	uint32_t reserved;
};

struct hvport_reply {
	uint32_t magic;
	int32_t status; /* 0 or -errno */
};

#endif
