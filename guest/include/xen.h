/*
 * Xen's public interface, from libxen-dev.  The headers expect the fixed
 * width integer types to be in scope already; gcc's freestanding
 * <stdint.h> provides them.
 */
#ifndef GUEST_XEN_H
#define GUEST_XEN_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/version.h>
#include <xen/sched.h>
#include <xen/arch-x86/hvm/start_info.h>
#include <xen/event_channel.h>
#include <xen/memory.h>
#include <xen/vcpu.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>

#endif
