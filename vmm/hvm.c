/* SPDX-License-Identifier: MIT */
/*
 * hvm_op (HVM params, the callback vector), memory_op (placing shared_info
 * and grant frames, the memory map, ballooning and reservation queries) and
 * vcpu_op (vcpu_info placement, timers, runstate).
 */
#include <errno.h>
#include <string.h>

#include "balloon.h"
#include "hypercall.h"
#include "log.h"
#include "mem.h"
#include "vcpu.h"
#include "xen.h"

/*
 * Params a guest may set, as on Xen; the rest (the ring frames among
 * them) are the toolstack's: -EPERM.
 */
static bool hvm_param_guest_writable(uint32_t index)
{
	switch (index) {
	case HVM_PARAM_CALLBACK_IRQ:
	case HVM_PARAM_STORE_EVTCHN:
	case HVM_PARAM_CONSOLE_EVTCHN:
		return true;
	default:
		return false;
	}
}

static long hvm_set_param(struct domain *d, const struct xen_hvm_param *p)
{
	uint64_t type = p->value >> 56;

	if (!hvm_param_guest_writable(p->index))
		return -XEN_EPERM;
	if (p->index == HVM_PARAM_CALLBACK_IRQ) {
		/* Only the vector type injects; 0 turns upcalls off. */
		if (p->value && type != HVM_PARAM_CALLBACK_TYPE_VECTOR)
			return -XEN_EINVAL;
		if (p->value && (p->value & 0xff) < 0x10)
			return -XEN_EINVAL;
		d->xen.callback_vector = (uint8_t)(p->value & 0xff);
	}
	d->xen.hvm_params[p->index] = p->value;
	/*
	 * Xen delivers a pending upcall whenever the vCPU runs; we inject on
	 * the 0 -> 1 edge.  An upcall that became pending before there was a
	 * vector (a backend bound its port at start-up) is injected now.
	 */
	if (p->index == HVM_PARAM_CALLBACK_IRQ) {
		unsigned int i;

		for (i = 0; i < d->nr_vcpus; i++)
			evtchn_upcall_resend(d, i);
	}
	return 0;
}

long hcall_hvm_op(struct vcpu *v, const struct hypercall_args *args)
{
	struct domain *d = v->dom;
	struct xen_hvm_param p;
	long rc;

	switch (args->a[0]) {
	case HVMOP_set_param:
	case HVMOP_get_param:
		break;
	default:
		hypercall_log_unknown_op("hvm_op", args->a[0]);
		return -XEN_ENOSYS;
	}
	if (mem_copy_from_guest(v, &p, args->a[1], sizeof(p)) < 0)
		return -XEN_EFAULT;
	if (p.domid != DOMID_SELF && p.domid != d->xen.domid)
		return -XEN_ESRCH;
	if (p.index >= HVM_NR_PARAMS)
		return -XEN_EINVAL;
	pthread_mutex_lock(&d->xen.lock);
	if (args->a[0] == HVMOP_set_param) {
		rc = hvm_set_param(d, &p);
	} else {
		p.value = d->xen.hvm_params[p.index];
		rc = 0;
	}
	pthread_mutex_unlock(&d->xen.lock);
	if (rc == 0 && args->a[0] == HVMOP_get_param &&
	    mem_copy_to_guest(v, args->a[1], &p, sizeof(p)) < 0)
		return -XEN_EFAULT;
	return rc;
}

static long memory_add_to_physmap(struct vcpu *v, uint64_t arg)
{
	struct domain *d = v->dom;
	struct xen_add_to_physmap a;
	long rc;

	if (mem_copy_from_guest(v, &a, arg, sizeof(a)) < 0)
		return -XEN_EFAULT;
	if (a.domid != DOMID_SELF && a.domid != d->xen.domid)
		return -XEN_ESRCH;
	switch (a.space) {
	case XENMAPSPACE_shared_info:
		if (a.idx != 0)
			return -XEN_EINVAL;
		/* Not over a page given back: balloon.h's lock rule. */
		pthread_mutex_lock(&d->xen.lock);
		rc = balloon_gfn_released(d, a.gpfn) ||
			     xen_map_shared_info(d, a.gpfn) < 0
			 ? -XEN_EINVAL
			 : 0;
		pthread_mutex_unlock(&d->xen.lock);
		return rc;
	case XENMAPSPACE_grant_table:
		/* idx: the frame; | XENMAPIDX_grant_table_status is v2's. */
		rc = gnttab_add_to_physmap(d, a.idx, a.gpfn);
		if (rc == -ENOMEM)
			return -XEN_ENOMEM;
		return rc < 0 ? -XEN_EINVAL : 0;
	default:
		hypercall_log_unknown_op("memory_op add_to_physmap space",
					 a.space);
		return -XEN_ENOSYS;
	}
}

/* The guest's e820: the map of hvm_start_info (mem_memmap). */
static long memory_memory_map(struct vcpu *v, uint64_t arg)
{
	struct hvm_memmap_table_entry map[VMM_MEMMAP_ENTRIES];
	struct e820entry {
		uint64_t addr;
		uint64_t size;
		uint32_t type;
	} __attribute__((packed)) e[VMM_MEMMAP_ENTRIES];
	struct xen_memory_map m;
	unsigned int i;

	if (mem_copy_from_guest(v, &m, arg, sizeof(m)) < 0)
		return -XEN_EFAULT;
	if (m.nr_entries < VMM_MEMMAP_ENTRIES)
		return -XEN_EINVAL;
	mem_memmap(v->dom, map);
	for (i = 0; i < VMM_MEMMAP_ENTRIES; i++) {
		e[i].addr = map[i].addr;
		e[i].size = map[i].size;
		e[i].type = map[i].type;
	}
	if (mem_copy_to_guest(v, (uint64_t)(uintptr_t)m.buffer.p, e,
			      sizeof(e)) < 0)
		return -XEN_EFAULT;
	m.nr_entries = VMM_MEMMAP_ENTRIES;
	if (mem_copy_to_guest(v, arg, &m, sizeof(m)) < 0)
		return -XEN_EFAULT;
	return 0;
}

/*
 * XENMEM_current/maximum_reservation and maximum_gpfn: pages of our own
 * domain (the balloon's count and ceiling; the last frame of RAM).  Other
 * domains are not ours to see.
 */
static long memory_own_pages(struct vcpu *v, uint64_t arg, unsigned int op)
{
	struct domain *d = v->dom;
	uint64_t pages;
	domid_t dom;

	if (mem_copy_from_guest(v, &dom, arg, sizeof(dom)) < 0)
		return -XEN_EFAULT;
	if (dom != DOMID_SELF && dom != d->xen.domid)
		return -XEN_ESRCH;
	if (op == XENMEM_maximum_gpfn)
		return (long)(d->ram_size / VMM_PAGE_SIZE - 1);
	pthread_mutex_lock(&d->xen.lock);
	pages = op == XENMEM_current_reservation ? d->cur_pages : d->max_pages;
	pthread_mutex_unlock(&d->xen.lock);
	return (long)pages;
}

/* Extents read from the guest and handed to the balloon at a time. */
#define MEMORY_BATCH 256u

/*
 * XENMEM_decrease_reservation and XENMEM_populate_physmap, 4 KiB extents
 * only.  Xen's answers: the number of extents done (counting from
 * start_extent, the continuation Xen encodes in cmd), which is short of
 * nr_extents when an extent is refused or cannot be read; an error only
 * for the request as a whole.  We never preempt: the work is bounded by
 * RAM, since every extent done changes one page's state.
 */
static long memory_reservation(struct vcpu *v, unsigned int op,
			       uint64_t start, uint64_t arg)
{
	struct xen_memory_reservation r;
	struct domain *d = v->dom;
	uint64_t gfns[MEMORY_BATCH], base, done = start;
	unsigned int n, got;
	bool fault = false;

	if (mem_copy_from_guest(v, &r, arg, sizeof(r)) < 0)
		return -XEN_EFAULT;
	if (r.domid != DOMID_SELF && r.domid != d->xen.domid)
		return -XEN_ESRCH;
	/* Xen does up to order 9 (superpages); a balloon driver uses 0. */
	if (r.extent_order != 0 ||
	    (r.mem_flags & XENMEMF_populate_on_demand))
		return -XEN_EINVAL;
	if (r.nr_extents > (UINT32_MAX >> MEMOP_EXTENT_SHIFT) ||
	    start >= r.nr_extents)
		return (long)start;
	base = (uint64_t)(uintptr_t)r.extent_start.p;
	while (done < r.nr_extents && !fault) {
		for (n = 0; n < MEMORY_BATCH && done + n < r.nr_extents; n++) {
			if (mem_copy_from_guest(v, &gfns[n],
						base + (done + n) * 8, 8) < 0) {
				fault = true;
				break;
			}
		}
		if (op == XENMEM_decrease_reservation)
			got = balloon_decrease(d, gfns, n);
		else
			got = balloon_populate(d, gfns, n);
		done += got;
		if (got < n)
			break;
	}
	return (long)done;
}

long hcall_memory_op(struct vcpu *v, const struct hypercall_args *args)
{
	unsigned int op = (unsigned int)(args->a[0] & MEMOP_CMD_MASK);
	uint64_t start = args->a[0] >> MEMOP_EXTENT_SHIFT;

	switch (op) {
	case XENMEM_decrease_reservation:
	case XENMEM_populate_physmap:
		return memory_reservation(v, op, start, args->a[1]);
	case XENMEM_current_reservation:
	case XENMEM_maximum_reservation:
	case XENMEM_maximum_gpfn:
		return memory_own_pages(v, args->a[1], op);
	case XENMEM_maximum_ram_page:
		return (long)(v->dom->ram_size / VMM_PAGE_SIZE - 1);
	case XENMEM_add_to_physmap:
		return memory_add_to_physmap(v, args->a[1]);
	case XENMEM_memory_map:
		return memory_memory_map(v, args->a[1]);
	default:
		hypercall_log_unknown_op("memory_op", args->a[0]);
		return -XEN_ENOSYS;
	}
}

static long vcpu_register_vcpu_info(struct vcpu *v, unsigned int id,
				    uint64_t arg)
{
	struct vcpu_register_vcpu_info r;
	struct domain *d = v->dom;
	struct vcpu_info *old, *new;
	uint64_t gpa;

	if (mem_copy_from_guest(v, &r, arg, sizeof(r)) < 0)
		return -XEN_EFAULT;
	/* Xen: a vCPU's own, or one that is down (not being written). */
	if (id != v->id && vcpu_is_up(&d->vcpus[id]))
		return -XEN_EINVAL;
	/*
	 * We update its words atomically: a misaligned vcpu_info would make
	 * those split locks (slow, or SIGBUS with split-lock detection).
	 */
	if (r.offset > VMM_PAGE_SIZE - sizeof(struct vcpu_info) ||
	    r.offset % VCPU_INFO_ALIGN || r.mfn > UINT64_MAX / VMM_PAGE_SIZE)
		return -XEN_EINVAL;
	gpa = r.mfn * VMM_PAGE_SIZE + r.offset;
	new = mem_gpa_ptr(d, gpa, sizeof(*new));
	if (!new)
		return -XEN_EINVAL;
	pthread_mutex_lock(&d->xen.lock);
	/* Xen allows this once per vCPU; never on a page given back. */
	if (d->xen.vcpu[id].vcpu_info_gpa != VCPU_INFO_NONE ||
	    balloon_gfn_released(d, r.mfn)) {
		pthread_mutex_unlock(&d->xen.lock);
		return -XEN_EINVAL;
	}
	old = xen_vcpu_info(d, id);
	memmove(new, old, sizeof(*new));
	d->xen.vcpu[id].vcpu_info_gpa = gpa;
	time_update_vcpu(d, id);
	evtchn_upcall_resend(d, id);
	pthread_mutex_unlock(&d->xen.lock);
	return 0;
}

static long vcpu_runstate(struct vcpu *v, unsigned int id, uint64_t arg)
{
	struct vcpu_runstate_info r;
	uint64_t now = time_now_ns(v->dom);

	memset(&r, 0, sizeof(r));
	/* No accounting yet: all the time counts as the present state. */
	r.state = vcpu_is_up(&v->dom->vcpus[id]) ? RUNSTATE_running
						   : RUNSTATE_offline;
	r.state_entry_time = now;
	r.time[r.state] = now;
	if (mem_copy_to_guest(v, arg, &r, sizeof(r)) < 0)
		return -XEN_EFAULT;
	return 0;
}

/* Xen refuses periods under 1 ms; any vCPU of the domain may be set. */
static long vcpu_set_periodic(struct vcpu *v, unsigned int id, uint64_t arg)
{
	struct vcpu_set_periodic_timer p;

	if (mem_copy_from_guest(v, &p, arg, sizeof(p)) < 0)
		return -XEN_EFAULT;
	if (p.period_ns < VCPU_PERIOD_MIN_NS || p.period_ns > VCPU_PERIOD_MAX_NS)
		return -XEN_EINVAL;
	return time_set_periodic(v->dom, id, p.period_ns) < 0 ? -XEN_EINVAL
							       : 0;
}

long hcall_vcpu_op(struct vcpu *v, const struct hypercall_args *args)
{
	struct vcpu_set_singleshot_timer t;
	struct domain *d = v->dom;
	uint64_t id = args->a[1];

	if (id >= d->nr_vcpus)
		return -XEN_ENOENT;
	switch (args->a[0]) {
	case VCPUOP_initialise:
		return vcpuop_initialise(v, (unsigned int)id, args->a[2]);
	case VCPUOP_up:
		return vcpuop_up(v, (unsigned int)id);
	case VCPUOP_down:
		return vcpuop_down(v, (unsigned int)id);
	case VCPUOP_is_up:
		return vcpuop_is_up(v, (unsigned int)id);
	case VCPUOP_register_vcpu_info:
		return vcpu_register_vcpu_info(v, (unsigned int)id, args->a[2]);
	case VCPUOP_get_runstate_info:
		return vcpu_runstate(v, (unsigned int)id, args->a[2]);
	case VCPUOP_set_singleshot_timer:
		/* Xen: a vCPU sets only its own timer. */
		if (id != v->id)
			return -XEN_EINVAL;
		if (mem_copy_from_guest(v, &t, args->a[2], sizeof(t)) < 0)
			return -XEN_EFAULT;
		if ((t.flags & VCPU_SSHOTTMR_future) &&
		    t.timeout_abs_ns < time_now_ns(d))
			return -XEN_ETIME;
		return time_set_timer(d, v->id,
				      t.timeout_abs_ns ? t.timeout_abs_ns : 1) <
			       0
			   ? -XEN_EINVAL
			   : 0;
	case VCPUOP_stop_singleshot_timer:
		if (id != v->id)
			return -XEN_EINVAL;
		return time_set_timer(d, v->id, 0) < 0 ? -XEN_EINVAL : 0;
	case VCPUOP_set_periodic_timer:
		return vcpu_set_periodic(v, (unsigned int)id, args->a[2]);
	case VCPUOP_stop_periodic_timer:
		return time_set_periodic(d, (unsigned int)id, 0) < 0
			   ? -XEN_EINVAL
			   : 0;
	default:
		hypercall_log_unknown_op("vcpu_op", args->a[0]);
		return -XEN_ENOSYS;
	}
}

/*
 * Xen's rule: a "negative" deadline or one 2^50 ns (13 days) ahead fires
 * in 100 ms (a guest's wrapped jiffies); one in the past fires now.
 */
#define SET_TIMER_FAR (1ull << 50)
#define SET_TIMER_FALLBACK_NS 100000000ull

long hcall_set_timer_op(struct vcpu *v, const struct hypercall_args *args)
{
	uint64_t deadline = args->a[0], now = time_now_ns(v->dom);

	if (deadline && ((int64_t)deadline < 0 ||
			 (deadline > now && deadline - now >= SET_TIMER_FAR)))
		deadline = now + SET_TIMER_FALLBACK_NS;
	return time_set_timer(v->dom, v->id, deadline) < 0 ? -XEN_EINVAL : 0;
}
