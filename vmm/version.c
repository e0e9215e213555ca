/* SPDX-License-Identifier: MIT */
/* xen_version: the Xen release and feature bits we present. */
#include <string.h>

#include "hypercall.h"
#include "mem.h"
#include "xen.h"

#include <xen/features.h>

long hcall_xen_version(struct vcpu *v, const struct hypercall_args *args)
{
	struct xen_feature_info fi;
	xen_extraversion_t extra;

	switch (args->a[0]) {
	case XENVER_version:
		return XENIA_XEN_MAJOR << 16 | XENIA_XEN_MINOR;
	case XENVER_extraversion:
		memset(extra, 0, sizeof(extra));
		strncpy(extra, XENIA_XEN_EXTRAVERSION, sizeof(extra) - 1);
		if (mem_copy_to_guest(v, args->a[1], extra, sizeof(extra)) < 0)
			return -XEN_EFAULT;
		return 0;
	case XENVER_get_features:
		if (mem_copy_from_guest(v, &fi, args->a[1], sizeof(fi)) < 0)
			return -XEN_EFAULT;
		if (fi.submap_idx >= XENFEAT_NR_SUBMAPS)
			return -XEN_EINVAL;
		fi.submap = 0;
		if (mem_copy_to_guest(v, args->a[1], &fi, sizeof(fi)) < 0)
			return -XEN_EFAULT;
		return 0;
	case XENVER_pagesize:
		return VMM_PAGE_SIZE;
	default:
		hypercall_log_unknown_op("xen_version", args->a[0]);
		return -XEN_ENOSYS;
	}
}
