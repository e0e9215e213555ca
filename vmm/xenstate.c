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
#include "state.h"

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
	x->shared_info_gfn = SHARED_INFO_NONE;
	for (i = 0; i < XEN_STATE_MAX_VCPUS; i++) {
		x->vcpu[i].vcpu_info_gpa = VCPU_INFO_NONE;
		x->vcpu[i].timer_fd = -1;
		x->vcpu[i].periodic_fd = -1;
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
	rc = gnttab_init(d);
	if (rc < 0)
		return rc;
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
	gnttab_destroy(d);
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
	return &x->scratch_vcpu_info;
}

int xen_map_shared_info(struct domain *d, uint64_t gfn)
{
	struct xen_state *x = &d->xen;
	struct shared_info *page;
	unsigned int i;

	page = mem_gfn_ptr(d, gfn);
	if (!page)
		return -EINVAL;
	if (page != x->shinfo)
		memmove(page, x->shinfo, VMM_PAGE_SIZE);
	x->shinfo = page;
	x->shared_info_gfn = gfn;
	/* Pending upcalls moved with the page: deliver them. */
	for (i = 0; i < d->nr_vcpus; i++) {
		time_update_vcpu(d, i);
		evtchn_upcall_resend(d, i);
	}
	log_debug("xenstate: shared_info at gfn 0x%llx",
		  (unsigned long long)gfn);
	return 0;
}

/*
 * Serialisation: three sections (docs/vmm-state.md).
 *
 *   XEN1  domain-wide: domid, callback vector, shared_info frame, the
 *         guest's system time at the save, HVM params, and the private
 *         shared_info page when the guest has not placed it
 *   EVT1  the event-channel table (evtchn.c)
 *   XVC1  per vCPU: vcpu_info placement, VIRQ bindings, timers
 *
 * shared_info and vcpu_info in guest RAM travel with RAM.  Loading
 * stages all three, checks each and then their agreement (a VIRQ port
 * is a VIRQ channel of that vCPU, a loopback channel's peer points back),
 * and only then replaces the domain's state.
 */
struct xen_state_image {
	uint16_t domid;
	uint8_t callback_vector;
	uint8_t has_private_shinfo;
	uint32_t nr_params;
	uint64_t shared_info_gfn;
	uint64_t system_time_ns;
	uint64_t hvm_params[HVM_NR_PARAMS];
	/* then the private shared_info page if has_private_shinfo */
};

struct xen_vcpu_image {
	uint64_t vcpu_info_gpa;
	uint64_t timer_deadline;
	uint64_t periodic_period;
	uint64_t periodic_next;
	uint32_t virq_port[NR_VIRQS];
};

int xen_state_save(struct domain *d, struct buf *out)
{
	struct xen_state *x = &d->xen;
	struct xen_vcpu_image *vcpus = NULL;
	struct xen_state_image h;
	struct buf evt = {0};
	uint8_t *page = NULL;
	unsigned int i;
	int rc;

	memset(&h, 0, sizeof(h));
	vcpus = calloc(d->nr_vcpus, sizeof(*vcpus));
	page = malloc(sizeof(h) + VMM_PAGE_SIZE);
	if (!vcpus || !page) {
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&x->lock);
	h.domid = x->domid;
	h.callback_vector = x->callback_vector;
	h.has_private_shinfo = x->shared_info_gfn == SHARED_INFO_NONE;
	h.nr_params = HVM_NR_PARAMS;
	h.shared_info_gfn = x->shared_info_gfn;
	h.system_time_ns = time_now_ns(d);
	memcpy(h.hvm_params, x->hvm_params, sizeof(h.hvm_params));
	memcpy(page, &h, sizeof(h));
	if (h.has_private_shinfo)
		memcpy(page + sizeof(h), x->shinfo_private, VMM_PAGE_SIZE);
	for (i = 0; i < d->nr_vcpus; i++) {
		const struct xen_vcpu_state *vs = &x->vcpu[i];

		vcpus[i].vcpu_info_gpa = vs->vcpu_info_gpa;
		vcpus[i].timer_deadline = vs->timer_deadline;
		vcpus[i].periodic_period = vs->periodic_period;
		vcpus[i].periodic_next = vs->periodic_next;
		memcpy(vcpus[i].virq_port, vs->virq_port,
		       sizeof(vcpus[i].virq_port));
	}
	rc = evtchn_save(d, &evt);
	pthread_mutex_unlock(&x->lock);
	if (rc < 0)
		goto out;
	rc = state_put_section(out, STATE_TAG_XEN, 1, page,
			       sizeof(h) +
				   (h.has_private_shinfo ? VMM_PAGE_SIZE : 0));
	if (rc == 0)
		rc = buf_append(out, evt.data, evt.len);
	if (rc == 0)
		rc = state_put_section(out, STATE_TAG_XVC, 1, vcpus,
				       d->nr_vcpus * sizeof(*vcpus));
out:
	buf_free(&evt);
	free(vcpus);
	free(page);
	return rc;
}

/* What xen_state_load stages before it touches the domain. */
struct xen_state_staged {
	bool have_xen, have_evt, have_xvc;
	struct xen_state_image h;
	uint8_t private_shinfo[VMM_PAGE_SIZE];
	struct evtchn evtchn[EVTCHN_MAX];
	struct xen_vcpu_image vcpu[XEN_STATE_MAX_VCPUS];
};


static int xen_state_stage_xen(struct domain *d, struct xen_state_staged *st,
			       uint32_t version, struct state_reader *r)
{
	struct xen_state_image *h = &st->h;
	uint64_t cb;

	if (version != 1 || state_read(r, h, sizeof(*h)) < 0 ||
	    h->nr_params != HVM_NR_PARAMS || h->has_private_shinfo > 1 ||
	    (h->has_private_shinfo &&
	     state_read(r, st->private_shinfo, VMM_PAGE_SIZE) < 0) ||
	    r->off != r->len) {
		log_errx("xenstate: XEN1 section: bad version or size");
		return -EINVAL;
	}
	if (h->has_private_shinfo != (h->shared_info_gfn == SHARED_INFO_NONE) ||
	    (!h->has_private_shinfo &&
	     !mem_gfn_ptr(d, h->shared_info_gfn))) {
		log_errx("xenstate: XEN1: shared_info frame outside RAM");
		return -EINVAL;
	}
	cb = h->hvm_params[HVM_PARAM_CALLBACK_IRQ];
	if ((h->callback_vector && h->callback_vector < 0x10) ||
	    (cb && (cb >> 56 != HVM_PARAM_CALLBACK_TYPE_VECTOR ||
		    (cb & 0xff) != h->callback_vector)) ||
	    (!cb && h->callback_vector)) {
		log_errx("xenstate: XEN1: bad callback vector");
		return -EINVAL;
	}
	if (h->domid >= DOMID_FIRST_RESERVED) {
		log_errx("xenstate: XEN1: bad domid %u", h->domid);
		return -EINVAL;
	}
	st->have_xen = true;
	return 0;
}

static int xen_state_stage_xvc(struct domain *d, struct xen_state_staged *st,
			       uint32_t version, struct state_reader *r)
{
	unsigned int i, q;

	if (version != 1 || r->len != d->nr_vcpus * sizeof(st->vcpu[0]) ||
	    state_read(r, st->vcpu, r->len) < 0) {
		log_errx("xenstate: XVC1 section: bad version, or not %u "
			 "vCPUs",
			 d->nr_vcpus);
		return -EINVAL;
	}
	for (i = 0; i < d->nr_vcpus; i++) {
		const struct xen_vcpu_image *vi = &st->vcpu[i];
		uint64_t gpa = vi->vcpu_info_gpa;

		if (gpa != VCPU_INFO_NONE &&
		    (!mem_gpa_ptr(d, gpa, sizeof(struct vcpu_info)) ||
		     gpa % VCPU_INFO_ALIGN ||
		     (gpa & ~VMM_PAGE_MASK) >
			 VMM_PAGE_SIZE - sizeof(struct vcpu_info))) {
			log_errx("xenstate: XVC1: vCPU %u: vcpu_info outside "
				 "RAM",
				 i);
			return -EINVAL;
		}
		/* A period as VCPUOP_set_periodic_timer takes, or off. */
		if ((vi->periodic_period == 0) != (vi->periodic_next == 0) ||
		    (vi->periodic_period &&
		     (vi->periodic_period < VCPU_PERIOD_MIN_NS ||
		      vi->periodic_period > VCPU_PERIOD_MAX_NS))) {
			log_errx("xenstate: XVC1: vCPU %u: bad periodic timer",
				 i);
			return -EINVAL;
		}
		for (q = 0; q < NR_VIRQS; q++) {
			if (vi->virq_port[q] >= EVTCHN_MAX) {
				log_errx("xenstate: XVC1: vCPU %u: VIRQ %u on "
					 "port %u",
					 i, q, vi->virq_port[q]);
				return -EINVAL;
			}
		}
	}
	st->have_xvc = true;
	return 0;
}

/* The staged sections agree with each other and with this domain. */
static int xen_state_stage_check(struct domain *d,
				 struct xen_state_staged *st)
{
	unsigned int i, q;
	uint32_t port;

	if (!st->have_xen || !st->have_evt || !st->have_xvc) {
		log_errx("xenstate: the image lacks a XEN1, EVT1 or XVC1 "
			 "section");
		return -EINVAL;
	}
	if (evtchn_check_table(st->evtchn, st->h.domid) < 0)
		return -EINVAL;
	for (i = 0; i < d->nr_vcpus; i++) {
		for (q = 0; q < NR_VIRQS; q++) {
			port = st->vcpu[i].virq_port[q];
			if (port && (st->evtchn[port].state != EVTCHN_VIRQ ||
				     st->evtchn[port].virq != q ||
				     evtchn_virq_vcpu(&st->evtchn[port]) !=
					 i)) {
				log_errx("xenstate: vCPU %u: VIRQ %u names "
					 "port %u, which is not bound to it",
					 i, q, port);
				return -EINVAL;
			}
		}
	}
	for (port = 1; port < EVTCHN_MAX; port++) {
		const struct evtchn *ch = &st->evtchn[port];

		if (ch->state == EVTCHN_VIRQ &&
		    st->vcpu[evtchn_virq_vcpu(ch)].virq_port[ch->virq] !=
			port) {
			log_errx("xenstate: port %u: VIRQ %u not recorded on "
				 "vCPU %u",
				 port, ch->virq, evtchn_virq_vcpu(ch));
			return -EINVAL;
		}
	}
	return 0;
}

/* Replaces the domain's Xen state with the checked, staged one. */
static void xen_state_apply(struct domain *d, struct xen_state_staged *st)
{
	struct xen_state *x = &d->xen;
	unsigned int i;

	pthread_mutex_lock(&x->lock);
	x->callback_vector = st->h.callback_vector;
	memcpy(x->hvm_params, st->h.hvm_params, sizeof(x->hvm_params));
	if (st->h.has_private_shinfo) {
		memcpy(x->shinfo_private, st->private_shinfo, VMM_PAGE_SIZE);
		x->shinfo = x->shinfo_private;
		x->shared_info_gfn = SHARED_INFO_NONE;
	} else {
		/* The page's contents came with RAM. */
		x->shared_info_gfn = st->h.shared_info_gfn;
		x->shinfo = mem_gfn_ptr(d, x->shared_info_gfn);
	}
	evtchn_apply_table(d, st->evtchn, st->h.domid);
	for (i = 0; i < d->nr_vcpus; i++) {
		struct xen_vcpu_state *vs = &x->vcpu[i];

		vs->vcpu_info_gpa = st->vcpu[i].vcpu_info_gpa;
		vs->timer_deadline = st->vcpu[i].timer_deadline;
		vs->periodic_period = st->vcpu[i].periodic_period;
		vs->periodic_next = st->vcpu[i].periodic_next;
		memcpy(vs->virq_port, st->vcpu[i].virq_port,
		       sizeof(vs->virq_port));
	}
	pthread_mutex_unlock(&x->lock);
	/* Continue the guest's clock and re-arm its timers here. */
	time_restore(d, st->h.system_time_ns);
}

int xen_state_load(struct domain *d, struct state_reader image)
{
	struct xen_state_staged *st;
	struct state_section_hdr hdr;
	struct state_reader r;
	int rc, more;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	while ((more = state_next_section(&image, &hdr, &r)) > 0) {
		rc = 0;
		if ((hdr.tag == STATE_TAG_XEN && st->have_xen) ||
		    (hdr.tag == STATE_TAG_EVT && st->have_evt) ||
		    (hdr.tag == STATE_TAG_XVC && st->have_xvc)) {
			log_errx("xenstate: section %.4s appears twice",
				 (const char *)&hdr.tag);
			rc = -EINVAL;
		} else if (hdr.tag == STATE_TAG_XEN) {
			rc = xen_state_stage_xen(d, st, hdr.version, &r);
		} else if (hdr.tag == STATE_TAG_EVT) {
			rc = evtchn_stage_table(d, st->evtchn, hdr.version,
						&r);
			st->have_evt = rc == 0;
		} else if (hdr.tag == STATE_TAG_XVC) {
			rc = xen_state_stage_xvc(d, st, hdr.version, &r);
		}
		if (rc < 0)
			goto out;
	}
	if (more < 0) {
		log_errx("xenstate: a section runs past the end of the image");
		rc = -EINVAL;
		goto out;
	}
	rc = xen_state_stage_check(d, st);
	if (rc == 0)
		xen_state_apply(d, st);
out:
	free(st);
	return rc;
}
