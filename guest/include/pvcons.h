/*
 * The PV console frontend: the ring page named by HVM_PARAM_CONSOLE_PFN
 * and its event channel HVM_PARAM_CONSOLE_EVTCHN (xen/io/console.h).
 */
#ifndef GUEST_PVCONS_H
#define GUEST_PVCONS_H

#include <stdint.h>
#include "xen.h"
#include <xen/io/console.h>

extern struct xencons_interface *pvcons_ring;
extern uint32_t pvcons_port;

/* 0, or -XEN_ENOENT when the hypervisor offers no PV console. */
int pvcons_init(void);
/* Writes all of buf, waiting for room (bounded); the bytes written. */
unsigned long pvcons_write(const char *buf, unsigned long len);
/* Waits until the backend has taken everything (bounded); 1 if it did. */
int pvcons_flush(void);
/* Reads what the input ring holds, waiting up to timeout_ms for some. */
unsigned long pvcons_read(char *buf, unsigned long len,
			  unsigned int timeout_ms);

#endif
