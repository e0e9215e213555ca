/* SPDX-License-Identifier: MIT */
/*
 * The Xen state of a domain: set-up, shared_info placement, vcpu_info
 * lookup and serialisation.
 *
 * Until the guest places shared_info with XENMEM_add_to_physmap, the page
 * is a private one of ours; placing it copies the current contents into
 * the guest frame (whatever the guest had there is replaced, as on Xen,
 * where the frame is remapped).  A vCPU's vcpu_info is the slot in
 * shared_info until VCPUOP_register_vcpu_info moves it.
 */
#include "xenstate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain.h"
#include "log.h"
#include "mem.h"

/* Standalone domains are domain 1; xend will pass the real id. */
#define XEN_STATE_DEFAULT_DOMID 1

int xen_state_init(struct domain *d)
{
	struct xen_state *x = &d->xen;
	unsigned int i;
	pthread_condattr_t ca;
	int rc;

	pthread_mutex_init(&x->lock, NULL);
	/* Poll timeouts are absolute CLOCK_MONOTONIC times. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->wake, &ca);
	pthread_condattr_destroy(&ca);
	x->domid = XEN_STATE_DEFAULT_DOMID;
	x->shared_info_gfn = SHARED_INFO_NONE;
	x->epoll_fd = -1;
	x->stop_fd = -1;
	for (i = 0; i < XEN_STATE_MAX_VCPUS; i++) {
		x->vcpu[i].vcpu_info_gpa = VCPU_INFO_NONE;
		x->vcpu[i].timer_fd = -1;
	}
	x->initialised = true;
	x->evtchn[0].state = EVTCHN_RESERVED;
	x->shinfo_private = aligned_alloc(VMM_PAGE_SIZE, VMM_PAGE_SIZE);
	if (!x->shinfo_private) {
		log_errx("xenstate: out of memory");
		return -ENOMEM;
	}
	/* A zeroed page, as Xen gives: no port pending, none masked. */
	memset(x->shinfo_private, 0, VMM_PAGE_SIZE);
	x->shinfo = x->shinfo_private;
	rc = time_init(d);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&x->lock);
	for (i = 0; i < d->nr_vcpus; i++)
		time_update_vcpu(d, i);
	pthread_mutex_unlock(&x->lock);
	return 0;
}

void xen_state_destroy(struct domain *d)
{
	struct xen_state *x = &d->xen;

	if (!x->initialised)
		return;
	time_destroy(d);
	free(x->shinfo_private);
	x->shinfo_private = NULL;
	x->shinfo = NULL;
}

void xen_state_wake_all(struct domain *d)
{
	pthread_mutex_lock(&d->xen.lock);
	pthread_cond_broadcast(&d->xen.wake);
	pthread_mutex_unlock(&d->xen.lock);
}

struct vcpu_info *xen_vcpu_info(struct domain *d, unsigned int id)
{
	struct xen_state *x = &d->xen;
	uint64_t gpa = x->vcpu[id].vcpu_info_gpa;
	void *p;

	if (gpa != VCPU_INFO_NONE) {
		/* Checked at registration; RAM does not shrink. */
		p = mem_gpa_ptr(d, gpa, sizeof(struct vcpu_info));
		if (p)
			return p;
	}
	if (id < XEN_LEGACY_MAX_VCPUS)
		return &x->shinfo->vcpu_info[id];
	/* No slot in shared_info: events for it go nowhere visible. */
	return &x->shinfo_private->vcpu_info[0];
}

int xen_map_shared_info(struct domain *d, uint64_t gfn)
{
	struct xen_state *x = &d->xen;
	struct shared_info *page;
	unsigned int i;

	if (gfn > UINT64_MAX / VMM_PAGE_SIZE)
		return -EINVAL;
	page = mem_gpa_ptr(d, gfn * VMM_PAGE_SIZE, VMM_PAGE_SIZE);
	if (!page)
		return -EINVAL;
	if (page != x->shinfo)
		memmove(page, x->shinfo, VMM_PAGE_SIZE);
	x->shinfo = page;
	x->shared_info_gfn = gfn;
	for (i = 0; i < d->nr_vcpus; i++)
		time_update_vcpu(d, i);
	log_debug("xenstate: shared_info at gfn 0x%llx",
		  (unsigned long long)gfn);
	return 0;
}

/*
 * Serialised form, version 1 (native endianness; the stream format for
 * migration wraps it): a header, then the arrays as they are in memory
 * minus the host fds.  The guest-memory parts (shared_info and vcpu_info
 * when they live in RAM) travel with RAM; the private page is appended
 * when shared_info is not placed yet.
 */
struct xen_state_image {
	uint32_t magic;
	uint32_t version;
	uint16_t domid;
	uint8_t callback_vector;
	uint8_t pad[5];
	uint64_t shared_info_gfn;
	uint64_t hvm_params[HVM_NR_PARAMS];
	uint64_t tsc0, mono0_ns, wall0_ns;
	uint32_t nr_vcpus;
	uint32_t nr_evtchn;
};

#define XEN_STATE_MAGIC 0x58656e53 /* "XenS" */

long xen_state_save(struct domain *d, void *buf, size_t size)
{
	struct xen_state *x = &d->xen;
	struct xen_state_image h;
	uint8_t *p = buf;
	size_t need, off;
	unsigned int i;

	need =
	    sizeof(h) + sizeof(x->evtchn) +
	    d->nr_vcpus * (sizeof(uint64_t) * 2 + sizeof(x->vcpu[0].virq_port));
	if (x->shared_info_gfn == SHARED_INFO_NONE)
		need += VMM_PAGE_SIZE;
	if (need > size)
		return -ENOSPC;
	memset(&h, 0, sizeof(h));
	pthread_mutex_lock(&x->lock);
	h.magic = XEN_STATE_MAGIC;
	h.version = 1;
	h.domid = x->domid;
	h.callback_vector = x->callback_vector;
	h.shared_info_gfn = x->shared_info_gfn;
	memcpy(h.hvm_params, x->hvm_params, sizeof(h.hvm_params));
	h.tsc0 = x->tsc0;
	h.mono0_ns = x->mono0_ns;
	h.wall0_ns = x->wall0_ns;
	h.nr_vcpus = d->nr_vcpus;
	h.nr_evtchn = EVTCHN_MAX;
	memcpy(p, &h, sizeof(h));
	off = sizeof(h);
	memcpy(p + off, x->evtchn, sizeof(x->evtchn));
	off += sizeof(x->evtchn);
	for (i = 0; i < d->nr_vcpus; i++) {
		const struct xen_vcpu_state *vs = &x->vcpu[i];

		memcpy(p + off, &vs->vcpu_info_gpa, sizeof(uint64_t));
		off += sizeof(uint64_t);
		memcpy(p + off, &vs->timer_deadline, sizeof(uint64_t));
		off += sizeof(uint64_t);
		memcpy(p + off, vs->virq_port, sizeof(vs->virq_port));
		off += sizeof(vs->virq_port);
	}
	if (x->shared_info_gfn == SHARED_INFO_NONE) {
		memcpy(p + off, x->shinfo_private, VMM_PAGE_SIZE);
		off += VMM_PAGE_SIZE;
	}
	pthread_mutex_unlock(&x->lock);
	return (long)off;
}
