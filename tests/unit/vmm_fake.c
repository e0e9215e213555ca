/* SPDX-License-Identifier: MIT */
/*
 * Domains without KVM for the unit tests and fuzz harnesses of the VMM's
 * Xen state: RAM from malloc, real timerfds that nothing arms into the
 * past, a 1 GHz TSC.  A frontend's domain (vmm_fake_guest) adds a grant
 * table in its RAM that the harness, as the guest, writes.
 */
#include "vmm_fake.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "balloon.h"
#include "gnttab.h"
#include "mem.h"

/* Set-up failures are the harness's own: stop right there. */
static void vmm_fake_ok(bool ok)
{
	if (!ok) {
		fprintf(stderr, "vmm_fake: set-up failed\n");
		abort();
	}
}

#define vmm_fake_check(x) vmm_fake_ok((x) != 0)

struct domain *vmm_fake_domain(uint16_t domid, unsigned int nr_vcpus)
{
	struct domain *d = malloc(sizeof(*d));
	struct xen_state *x;
	unsigned int i;

	vmm_fake_check(d);
	/* What xenia-vmm's domain_build() would do without KVM. */
	domain_init(d, domid);
	x = &d->xen;
	d->ram_size = VMM_FAKE_RAM_SIZE;
	d->max_pages = d->cur_pages = VMM_FAKE_RAM_SIZE / 4096;
	d->ram = aligned_alloc(4096, VMM_FAKE_RAM_SIZE);
	vmm_fake_check(d->ram);
	memset(d->ram, 0, VMM_FAKE_RAM_SIZE);
	d->nr_vcpus = nr_vcpus;
	pthread_mutex_init(&x->lock, NULL);
	pthread_cond_init(&x->wake, NULL);
	x->shared_info_gfn = SHARED_INFO_NONE;
	x->shinfo_private = aligned_alloc(4096, 4096);
	vmm_fake_check(x->shinfo_private);
	memset(x->shinfo_private, 0, 4096);
	x->shinfo = x->shinfo_private;
	/* A 1 GHz TSC: ns = (delta << 1) * 2^31 >> 32 = delta. */
	x->tsc_khz = 1000000;
	x->tsc_mul = 1u << 31;
	x->tsc_shift = 1;
	x->evtchn[0].state = EVTCHN_RESERVED;
	for (i = 0; i < XEN_STATE_MAX_VCPUS; i++) {
		x->vcpu[i].vcpu_info_gpa = VCPU_INFO_NONE;
		x->vcpu[i].timer_fd = -1;
		x->vcpu[i].periodic_fd = -1;
	}
	for (i = 0; i < nr_vcpus; i++) {
		x->vcpu[i].timer_fd = timerfd_create(CLOCK_MONOTONIC, 0);
		x->vcpu[i].periodic_fd = timerfd_create(CLOCK_MONOTONIC, 0);
		vmm_fake_check(x->vcpu[i].timer_fd >= 0 &&
			       x->vcpu[i].periodic_fd >= 0);
	}
	vmm_fake_check(gnttab_init(d) == 0);
	return d;
}

void vmm_fake_free(struct domain *d)
{
	unsigned int i;

	for (i = 0; i < d->nr_vcpus; i++) {
		close(d->xen.vcpu[i].timer_fd);
		close(d->xen.vcpu[i].periodic_fd);
	}
	gnttab_destroy(d);
	balloon_destroy(d);
	free(d->xen.shinfo_private);
	free(d->ram);
	free(d);
}

/* A domain in use: shared_info placed, channels of every kind. */
struct domain *vmm_fake_busy_domain(void)
{
	struct domain *d = vmm_fake_domain(7, 2);
	struct xen_state *x = &d->xen;

	vmm_fake_check(xen_map_shared_info(d, VMM_FAKE_SHINFO_GFN) == 0);
	x->callback_vector = 0xf3;
	x->hvm_params[HVM_PARAM_CALLBACK_IRQ] =
	    (uint64_t)HVM_PARAM_CALLBACK_TYPE_VECTOR << 56 | 0xf3;
	x->hvm_params[HVM_PARAM_STORE_PFN] = 0x33;
	/* 1-2: a loopback pair; 3: VIRQ_TIMER on vCPU 1; 4: IPI; 5 unbound */
	x->evtchn[1] = (struct evtchn){.state = EVTCHN_INTERDOMAIN,
				       .remote_domid = 7, .remote_port = 2};
	x->evtchn[2] = (struct evtchn){.state = EVTCHN_INTERDOMAIN,
				       .remote_domid = 7, .remote_port = 1,
				       .notify_vcpu = 1};
	x->evtchn[3] = (struct evtchn){.state = EVTCHN_VIRQ,
				       .virq = VIRQ_TIMER, .notify_vcpu = 1};
	x->vcpu[1].virq_port[VIRQ_TIMER] = 3;
	x->evtchn[4] = (struct evtchn){.state = EVTCHN_IPI};
	x->evtchn[5] = (struct evtchn){.state = EVTCHN_UNBOUND,
				       .remote_domid = 7};
	x->vcpu[1].vcpu_info_gpa = VMM_FAKE_VCPU_INFO_GPA;
	/* Far in the future: the restored timers must not fire here. */
	x->vcpu[1].timer_deadline = UINT64_MAX / 4;
	x->vcpu[0].periodic_period = 10000000;
	x->vcpu[0].periodic_next = UINT64_MAX / 4;
	return d;
}


int vmm_fake_guest_init(struct vmm_fake_guest *g, uint16_t domid,
			uint64_t table_gfn)
{
	g->d = vmm_fake_domain(domid, 1);
	g->table_gfn = table_gfn;
	g->grantee = (struct gnttab_grantee){g->d, 0};
	return gnttab_add_to_physmap(g->d, 0, table_gfn);
}

uint8_t *vmm_fake_page(const struct vmm_fake_guest *g, uint64_t gfn)
{
	return g->d->ram + gfn * 4096;
}

grant_entry_v1_t *vmm_fake_entry(const struct vmm_fake_guest *g,
				 grant_ref_t ref)
{
	return (grant_entry_v1_t *)vmm_fake_page(g, g->table_gfn) + ref;
}

void vmm_fake_grant(const struct vmm_fake_guest *g, grant_ref_t ref,
		    uint64_t gfn, uint16_t flags)
{
	grant_entry_v1_t *e = vmm_fake_entry(g, ref);

	e->domid = 0;
	e->frame = (uint32_t)gfn;
	/* Flags last, as a guest does: the entry is whole when they show. */
	__atomic_store_n(&e->flags, GTF_permit_access | flags,
			 __ATOMIC_SEQ_CST);
}

const char *vmm_fake_leftover(const struct vmm_fake_guest *g,
			      grant_ref_t nr_refs)
{
	grant_ref_t ref;

	if (g->d->gnttab.maptrack_used)
		return "mappings left after disconnect";
	for (ref = 0; ref < nr_refs; ref++)
		if (vmm_fake_entry(g, ref)->flags & (GTF_reading | GTF_writing))
			return "grant left in use after disconnect";
	return NULL;
}
