/* SPDX-License-Identifier: MIT */
/*
 * Xen's public ABI as xenia-vmm sees it: the headers Debian ships in
 * libxen-dev, at the latest interface version (we are the hypervisor side),
 * with <stdint.h> first because they expect it.
 */
#ifndef XENIA_VMM_XEN_H
#define XENIA_VMM_XEN_H

#include <stdint.h>

#ifndef __XEN_INTERFACE_VERSION__
#define __XEN_INTERFACE_VERSION__ 0x00040e00
#endif

#include <xen/xen.h>
#include <xen/errno.h>
#include <xen/elfnote.h>
#include <xen/sched.h>
#include <xen/version.h>
#include <xen/memory.h>
#include <xen/event_channel.h>
#include <xen/vcpu.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/params.h>
#include <xen/hvm/hvm_vcpu.h>
#include <xen/arch-x86/hvm/start_info.h>

/* The Xen release we present to guests: CPUID 0x40000001, XENVER_version. */
#define XENIA_XEN_MAJOR 4
#define XENIA_XEN_MINOR 17
#define XENIA_XEN_EXTRAVERSION ".0-xenia"

#endif
