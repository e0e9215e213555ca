/* SPDX-License-Identifier: MIT */
/*
 * Event channels, 2-level ABI, and the scheduler ops that wait for them
 * (SCHEDOP_block, SCHEDOP_poll).
 *
 * Delivery of a port follows Xen: set its bit in shared_info's
 * evtchn_pending; if it was clear and the port is not masked, set the
 * port's word in the target vCPU's evtchn_pending_sel, and if that vCPU's
 * evtchn_upcall_pending goes from 0 to 1, inject the HVM callback vector
 * into its LAPIC.  The guest clears upcall_pending before it scans, so an
 * event that lands during the scan raises a fresh upcall.
 *
 * Interdomain channels go to this domain itself (loopback) or to domain
 * 0, whose ends are the backends in this process (XenStore, console,
 * block, net): a guest port bound to one is INTERDOMAIN with remote
 * domain 0 and remote port = its backend slot + 1.  A guest send writes
 * the backend's eventfd; a backend's notify sets the port pending.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "hypercall.h"
#include "log.h"
#include "mem.h"
#include "vcpu.h"
#include "xen.h"

#define BITS_PER_XEN_ULONG (sizeof(xen_ulong_t) * 8)
/* Xen's bound on SCHEDOP_poll's port list. */
#define POLL_PORTS_MAX 128

static struct log_ratelimit evtchn_rl = LOG_RATELIMIT_INIT;

static bool evtchn_test_and_set(xen_ulong_t *words, uint32_t bit)
{
	xen_ulong_t m = (xen_ulong_t)1 << (bit % BITS_PER_XEN_ULONG);

	return __atomic_fetch_or(&words[bit / BITS_PER_XEN_ULONG], m,
				 __ATOMIC_SEQ_CST) &
	       m;
}

static bool evtchn_test_and_clear(xen_ulong_t *words, uint32_t bit)
{
	xen_ulong_t m = (xen_ulong_t)1 << (bit % BITS_PER_XEN_ULONG);

	return __atomic_fetch_and(&words[bit / BITS_PER_XEN_ULONG], ~m,
				  __ATOMIC_SEQ_CST) &
	       m;
}

static bool evtchn_test(xen_ulong_t *words, uint32_t bit)
{
	xen_ulong_t m = (xen_ulong_t)1 << (bit % BITS_PER_XEN_ULONG);

	return __atomic_load_n(&words[bit / BITS_PER_XEN_ULONG],
			       __ATOMIC_SEQ_CST) &
	       m;
}

/* The callback vector into vCPU id's LAPIC, and a kick if it is busy. */
static void evtchn_inject(struct domain *d, unsigned int id)
{
	uint8_t vector = d->xen.callback_vector;
	struct kvm_msi msi = {
	    .address_lo = 0xfee00000u | (id << 12),
	    .data = vector,
	};
	struct vcpu *v = &d->vcpus[id];

	if (!vector)
		return;
	if (ioctl(d->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 &&
	    log_ratelimit_ok(&evtchn_rl))
		log_warn("evtchn: KVM_SIGNAL_MSI to vCPU %u", id);
	/*
	 * An emulated CPL0 guest in KVM_RUN notices the interrupt only after
	 * its current batch; the signal makes it notice now.  A vCPU outside
	 * KVM_RUN (blocked in a hypercall, or handling an exit) takes it on
	 * entry: the MSI is in its LAPIC already, and a kick would only cost
	 * it a spurious exit.
	 */
	if (v->run && __atomic_load_n(&v->in_run, __ATOMIC_SEQ_CST))
		vcpu_kick(v);
}

static void evtchn_raise(struct domain *d, unsigned int id, uint32_t port)
{
	struct vcpu_info *vi = xen_vcpu_info(d, id);

	if (evtchn_test_and_set(&vi->evtchn_pending_sel,
				port / BITS_PER_XEN_ULONG) &&
	    __atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST))
		return;
	if (__atomic_exchange_n(&vi->evtchn_upcall_pending, 1,
				__ATOMIC_SEQ_CST))
		return;
	/* A vCPU in SCHEDOP_block waits for exactly this (an unmask too). */
	pthread_cond_broadcast(&d->xen.wake);
	evtchn_inject(d, id);
}

void evtchn_upcall_resend(struct domain *d, unsigned int id)
{
	struct vcpu_info *vi = xen_vcpu_info(d, id);

	if (__atomic_load_n(&vi->evtchn_upcall_pending, __ATOMIC_SEQ_CST))
		evtchn_inject(d, id);
}

void evtchn_set_pending(struct domain *d, uint32_t port)
{
	struct shared_info *s = d->xen.shinfo;

	if (evtchn_test_and_set(s->evtchn_pending, port))
		return;
	/* Pollers watch masked ports too. */
	pthread_cond_broadcast(&d->xen.wake);
	if (evtchn_test(s->evtchn_mask, port))
		return;
	evtchn_raise(d, d->xen.evtchn[port].notify_vcpu, port);
}

bool evtchn_port_pending(struct domain *d, uint32_t port)
{
	return evtchn_test(d->xen.shinfo->evtchn_pending, port);
}

bool evtchn_virq_is_global(uint32_t virq)
{
	switch (virq) {
	case VIRQ_TIMER:
	case VIRQ_DEBUG:
	case VIRQ_XENOPROF:
	case VIRQ_XENPMU:
		return false;
	default:
		return true;
	}
}

unsigned int evtchn_virq_vcpu(const struct evtchn *ch)
{
	return evtchn_virq_is_global(ch->virq) ? 0 : ch->notify_vcpu;
}

static bool evtchn_domid_is_self(struct domain *d, domid_t dom)
{
	return dom == DOMID_SELF || dom == d->xen.domid;
}

/* The lowest free port, or -ENOSPC.  Under the lock. */
static int evtchn_alloc(struct domain *d)
{
	uint32_t port;

	for (port = 1; port < EVTCHN_MAX; port++) {
		struct evtchn *ch = &d->xen.evtchn[port];

		if (ch->state != EVTCHN_FREE)
			continue;
		memset(ch, 0, sizeof(*ch));
		/* A stale pending bit from an earlier user would fire now. */
		evtchn_test_and_clear(d->xen.shinfo->evtchn_pending, port);
		return (int)port;
	}
	return -ENOSPC;
}

/* The channel of a guest-named port, or NULL (-EINVAL to the guest). */
static struct evtchn *evtchn_lookup(struct domain *d, uint32_t port)
{
	if (port >= EVTCHN_MAX)
		return NULL;
	return &d->xen.evtchn[port];
}

static long evtchn_alloc_unbound(struct domain *d,
				 struct evtchn_alloc_unbound *a)
{
	int port;

	if (!evtchn_domid_is_self(d, a->dom))
		return -XEN_EPERM;
	/* Loopback, or a backend of domain 0 in this process. */
	if (!evtchn_domid_is_self(d, a->remote_dom) && a->remote_dom != 0)
		return -XEN_ESRCH;
	port = evtchn_alloc(d);
	if (port < 0)
		return -XEN_ENOSPC;
	d->xen.evtchn[port].state = EVTCHN_UNBOUND;
	d->xen.evtchn[port].remote_domid =
	    a->remote_dom == 0 ? 0 : d->xen.domid;
	a->port = (evtchn_port_t)port;
	return 0;
}

static long evtchn_bind_interdomain(struct domain *d,
				    struct evtchn_bind_interdomain *b)
{
	struct evtchn *lch, *rch;
	int port;

	if (!evtchn_domid_is_self(d, b->remote_dom))
		return -XEN_ESRCH;
	rch = evtchn_lookup(d, b->remote_port);
	if (!rch)
		return -XEN_EINVAL;
	if (rch->state != EVTCHN_UNBOUND || rch->remote_domid != d->xen.domid)
		return -XEN_EINVAL;
	port = evtchn_alloc(d);
	if (port < 0)
		return -XEN_ENOSPC;
	lch = &d->xen.evtchn[port];
	lch->state = EVTCHN_INTERDOMAIN;
	lch->remote_domid = d->xen.domid;
	lch->remote_port = b->remote_port;
	rch->state = EVTCHN_INTERDOMAIN;
	rch->remote_port = (uint32_t)port;
	b->local_port = (evtchn_port_t)port;
	/* As Xen: a send to the unbound end may have been lost. */
	evtchn_set_pending(d, (uint32_t)port);
	return 0;
}

static long evtchn_bind_virq(struct domain *d, struct evtchn_bind_virq *b)
{
	int port;

	if (b->virq >= NR_VIRQS)
		return -XEN_EINVAL;
	/* As Xen: a global VIRQ binds on vCPU 0 (bind_vcpu moves it). */
	if (evtchn_virq_is_global(b->virq) && b->vcpu != 0)
		return -XEN_EINVAL;
	if (b->vcpu >= d->nr_vcpus)
		return -XEN_ENOENT;
	if (d->xen.vcpu[b->vcpu].virq_port[b->virq])
		return -XEN_EEXIST;
	port = evtchn_alloc(d);
	if (port < 0)
		return -XEN_ENOSPC;
	d->xen.evtchn[port].state = EVTCHN_VIRQ;
	d->xen.evtchn[port].virq = b->virq;
	d->xen.evtchn[port].notify_vcpu = (uint16_t)b->vcpu;
	d->xen.vcpu[b->vcpu].virq_port[b->virq] = (uint32_t)port;
	b->port = (evtchn_port_t)port;
	return 0;
}

static long evtchn_bind_ipi(struct domain *d, struct evtchn_bind_ipi *b)
{
	int port;

	if (b->vcpu >= d->nr_vcpus)
		return -XEN_ENOENT;
	port = evtchn_alloc(d);
	if (port < 0)
		return -XEN_ENOSPC;
	d->xen.evtchn[port].state = EVTCHN_IPI;
	d->xen.evtchn[port].notify_vcpu = (uint16_t)b->vcpu;
	b->port = (evtchn_port_t)port;
	return 0;
}

/* Backend slot of dom0 port `dport` (slot + 1), or NULL. */
static struct evtchn_backend *evtchn_backend_slot(struct domain *d,
						  uint32_t dport)
{
	if (dport == 0 || dport > EVTCHN_BACKENDS)
		return NULL;
	return &d->xen.backend[dport - 1];
}

/* The guest sent on a port bound to a backend: wake the backend. */
static void evtchn_backend_kick(struct domain *d, uint32_t dport)
{
	struct evtchn_backend *b = evtchn_backend_slot(d, dport);
	uint64_t one = 1;

	if (b && b->guest_port && b->kick_fd >= 0 &&
	    write(b->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN &&
	    log_ratelimit_ok(&evtchn_rl))
		log_warn("evtchn: kicking backend port %u", dport);
}

/*
 * The guest closed its end of a backend's channel: the backend hears of
 * it (a kick) and keeps its slot until it unbinds.  Under the lock.
 */
static void evtchn_backend_drop(struct domain *d, uint32_t dport)
{
	struct evtchn_backend *b = evtchn_backend_slot(d, dport);

	if (!b)
		return;
	evtchn_backend_kick(d, dport);
	b->guest_port = 0;
}

int evtchn_alloc_for_backend(struct domain *d)
{
	int port;

	pthread_mutex_lock(&d->xen.lock);
	port = evtchn_alloc(d);
	if (port > 0) {
		d->xen.evtchn[port].state = EVTCHN_UNBOUND;
		d->xen.evtchn[port].remote_domid = 0;
	}
	pthread_mutex_unlock(&d->xen.lock);
	return port;
}

int evtchn_backend_bind(struct domain *d, uint32_t guest_port, int kick_fd)
{
	struct evtchn *ch;
	uint32_t i;
	int rc = -EBUSY;

	pthread_mutex_lock(&d->xen.lock);
	ch = evtchn_lookup(d, guest_port);
	if (!ch || ch->state != EVTCHN_UNBOUND || ch->remote_domid != 0) {
		rc = -EINVAL;
		goto out;
	}
	for (i = 0; i < EVTCHN_BACKENDS; i++) {
		struct evtchn_backend *b = &d->xen.backend[i];

		if (b->in_use)
			continue;
		b->in_use = true;
		b->guest_port = guest_port;
		b->kick_fd = kick_fd;
		ch->state = EVTCHN_INTERDOMAIN;
		ch->remote_port = i + 1;
		/* As Xen: a send to the unbound end may have been lost. */
		evtchn_set_pending(d, guest_port);
		rc = (int)(i + 1);
		break;
	}
out:
	pthread_mutex_unlock(&d->xen.lock);
	return rc;
}

void evtchn_backend_notify(struct domain *d, uint32_t dport)
{
	struct evtchn_backend *b;

	pthread_mutex_lock(&d->xen.lock);
	b = evtchn_backend_slot(d, dport);
	if (b && b->guest_port)
		evtchn_set_pending(d, b->guest_port);
	pthread_mutex_unlock(&d->xen.lock);
}

void evtchn_backend_unbind(struct domain *d, uint32_t dport)
{
	struct evtchn_backend *b;
	struct evtchn *ch;

	pthread_mutex_lock(&d->xen.lock);
	b = evtchn_backend_slot(d, dport);
	if (b && b->in_use) {
		/* The guest's end, if still ours, waits for a new backend. */
		ch = evtchn_lookup(d, b->guest_port);
		if (b->guest_port && ch->state == EVTCHN_INTERDOMAIN &&
		    ch->remote_domid == 0 && ch->remote_port == dport) {
			ch->state = EVTCHN_UNBOUND;
			ch->remote_port = 0;
		}
		memset(b, 0, sizeof(*b));
		b->kick_fd = -1;
	}
	pthread_mutex_unlock(&d->xen.lock);
}

static long evtchn_close_port(struct domain *d, uint32_t port)
{
	struct evtchn *ch = evtchn_lookup(d, port);
	struct evtchn *rch;

	if (!ch)
		return -XEN_EINVAL;
	switch (ch->state) {
	case EVTCHN_FREE:
	case EVTCHN_RESERVED:
		return -XEN_EINVAL;
	case EVTCHN_VIRQ:
		d->xen.vcpu[evtchn_virq_vcpu(ch)].virq_port[ch->virq] = 0;
		break;
	case EVTCHN_INTERDOMAIN:
		if (ch->remote_domid == 0) {
			evtchn_backend_drop(d, ch->remote_port);
			break;
		}
		/* The other end waits for a new partner (it is ours). */
		rch = &d->xen.evtchn[ch->remote_port];
		if (ch->remote_port != port) {
			rch->state = EVTCHN_UNBOUND;
			rch->remote_domid = d->xen.domid;
			rch->remote_port = 0;
		}
		break;
	default:
		break;
	}
	ch->state = EVTCHN_FREE;
	return 0;
}

static long evtchn_send(struct domain *d, uint32_t port)
{
	struct evtchn *ch = evtchn_lookup(d, port);

	if (!ch)
		return -XEN_EINVAL;
	switch (ch->state) {
	case EVTCHN_INTERDOMAIN:
		if (ch->remote_domid == 0)
			evtchn_backend_kick(d, ch->remote_port);
		else
			evtchn_set_pending(d, ch->remote_port);
		return 0;
	case EVTCHN_IPI:
		evtchn_set_pending(d, port);
		return 0;
	case EVTCHN_UNBOUND:
		/* Nobody listens yet: dropped, as on Xen. */
		return 0;
	default:
		return -XEN_EINVAL;
	}
}

static long evtchn_status(struct domain *d, struct evtchn_status *st)
{
	struct evtchn *ch;

	if (!evtchn_domid_is_self(d, st->dom))
		return -XEN_ESRCH;
	ch = evtchn_lookup(d, st->port);
	if (!ch)
		return -XEN_EINVAL;
	memset(&st->u, 0, sizeof(st->u));
	st->vcpu = ch->notify_vcpu;
	switch (ch->state) {
	case EVTCHN_UNBOUND:
		st->status = EVTCHNSTAT_unbound;
		st->u.unbound.dom = ch->remote_domid;
		break;
	case EVTCHN_INTERDOMAIN:
		st->status = EVTCHNSTAT_interdomain;
		st->u.interdomain.dom = ch->remote_domid;
		st->u.interdomain.port = ch->remote_port;
		break;
	case EVTCHN_VIRQ:
		st->status = EVTCHNSTAT_virq;
		st->u.virq = ch->virq;
		break;
	case EVTCHN_IPI:
		st->status = EVTCHNSTAT_ipi;
		break;
	default:
		st->status = EVTCHNSTAT_closed;
		st->vcpu = 0;
		break;
	}
	return 0;
}

static long evtchn_bind_vcpu(struct domain *d, struct evtchn_bind_vcpu *b)
{
	struct evtchn *ch = evtchn_lookup(d, b->port);

	if (!ch)
		return -XEN_EINVAL;
	if (b->vcpu >= d->nr_vcpus)
		return -XEN_ENOENT;
	switch (ch->state) {
	case EVTCHN_VIRQ:
		/*
		 * Per-vCPU VIRQs (the timer among them) stay put; a global
		 * one stays recorded on vCPU 0 and only its delivery moves.
		 */
		if (!evtchn_virq_is_global(ch->virq))
			return -XEN_EINVAL;
		ch->notify_vcpu = (uint16_t)b->vcpu;
		return 0;
	case EVTCHN_UNBOUND:
	case EVTCHN_INTERDOMAIN:
		ch->notify_vcpu = (uint16_t)b->vcpu;
		return 0;
	default:
		return -XEN_EINVAL;
	}
}

static long evtchn_unmask(struct domain *d, uint32_t port)
{
	struct shared_info *s = d->xen.shinfo;

	if (!evtchn_lookup(d, port))
		return -XEN_EINVAL;
	if (evtchn_test_and_clear(s->evtchn_mask, port) &&
	    evtchn_test(s->evtchn_pending, port))
		evtchn_raise(d, d->xen.evtchn[port].notify_vcpu, port);
	return 0;
}

/* Argument sizes of the ops we implement, for one copy in and out. */
static size_t evtchn_arg_size(uint64_t cmd)
{
	switch (cmd) {
	case EVTCHNOP_alloc_unbound:
		return sizeof(struct evtchn_alloc_unbound);
	case EVTCHNOP_bind_interdomain:
		return sizeof(struct evtchn_bind_interdomain);
	case EVTCHNOP_bind_virq:
		return sizeof(struct evtchn_bind_virq);
	case EVTCHNOP_bind_ipi:
		return sizeof(struct evtchn_bind_ipi);
	case EVTCHNOP_close:
		return sizeof(struct evtchn_close);
	case EVTCHNOP_send:
		return sizeof(struct evtchn_send);
	case EVTCHNOP_status:
		return sizeof(struct evtchn_status);
	case EVTCHNOP_bind_vcpu:
		return sizeof(struct evtchn_bind_vcpu);
	case EVTCHNOP_unmask:
		return sizeof(struct evtchn_unmask);
	default:
		return 0;
	}
}

long hcall_event_channel_op(struct vcpu *v, const struct hypercall_args *args)
{
	union {
		struct evtchn_alloc_unbound alloc_unbound;
		struct evtchn_bind_interdomain bind_interdomain;
		struct evtchn_bind_virq bind_virq;
		struct evtchn_bind_ipi bind_ipi;
		struct evtchn_close close;
		struct evtchn_send send;
		struct evtchn_status status;
		struct evtchn_bind_vcpu bind_vcpu;
		struct evtchn_unmask unmask;
	} u;
	struct domain *d = v->dom;
	uint64_t cmd = args->a[0];
	size_t size = evtchn_arg_size(cmd);
	bool copy_out = false;
	long rc;

	if (!size) {
		hypercall_log_unknown_op("event_channel_op", cmd);
		return -XEN_ENOSYS;
	}
	if (mem_copy_from_guest(v, &u, args->a[1], size) < 0)
		return -XEN_EFAULT;
	pthread_mutex_lock(&d->xen.lock);
	switch (cmd) {
	case EVTCHNOP_alloc_unbound:
		rc = evtchn_alloc_unbound(d, &u.alloc_unbound);
		copy_out = true;
		break;
	case EVTCHNOP_bind_interdomain:
		rc = evtchn_bind_interdomain(d, &u.bind_interdomain);
		copy_out = true;
		break;
	case EVTCHNOP_bind_virq:
		rc = evtchn_bind_virq(d, &u.bind_virq);
		copy_out = true;
		break;
	case EVTCHNOP_bind_ipi:
		rc = evtchn_bind_ipi(d, &u.bind_ipi);
		copy_out = true;
		break;
	case EVTCHNOP_close:
		rc = evtchn_close_port(d, u.close.port);
		break;
	case EVTCHNOP_send:
		rc = evtchn_send(d, u.send.port);
		break;
	case EVTCHNOP_status:
		rc = evtchn_status(d, &u.status);
		copy_out = true;
		break;
	case EVTCHNOP_bind_vcpu:
		rc = evtchn_bind_vcpu(d, &u.bind_vcpu);
		break;
	default: /* EVTCHNOP_unmask */
		rc = evtchn_unmask(d, u.unmask.port);
		break;
	}
	pthread_mutex_unlock(&d->xen.lock);
	if (rc == 0 && copy_out &&
	    mem_copy_to_guest(v, args->a[1], &u, size) < 0)
		return -XEN_EFAULT;
	return rc;
}

/*
 * A wait ends early for a pause (the hypercall restarts afterwards, on
 * this host or after a restore: the guest sees no early return) or for
 * shutdown (0; the vCPU runs no more anyway).
 */
static long sched_wait_interrupted(struct domain *d)
{
	return domain_is_shutting_down(d) ? 0 : -HYPERCALL_ERESTART;
}

long sched_block(struct vcpu *v)
{
	struct domain *d = v->dom;
	struct vcpu_info *vi;

	long rc = 0;

	/*
	 * Returns once an upcall is pending.  The guest may call us with
	 * interrupts off (no lost-wakeup window) and take the upcall after.
	 */
	pthread_mutex_lock(&d->xen.lock);
	for (;;) {
		vi = xen_vcpu_info(d, v->id);
		if (__atomic_load_n(&vi->evtchn_upcall_pending,
				    __ATOMIC_SEQ_CST))
			break;
		if (domain_is_interrupted(d)) {
			rc = sched_wait_interrupted(d);
			break;
		}
		pthread_cond_wait(&d->xen.wake, &d->xen.lock);
	}
	pthread_mutex_unlock(&d->xen.lock);
	return rc;
}

long sched_poll(struct vcpu *v, uint64_t arg)
{
	evtchn_port_t ports[POLL_PORTS_MAX];
	struct domain *d = v->dom;
	struct sched_poll p;
	struct timespec ts;
	unsigned int i;
	long rc = 0;

	if (mem_copy_from_guest(v, &p, arg, sizeof(p)) < 0)
		return -XEN_EFAULT;
	if (p.nr_ports > POLL_PORTS_MAX)
		return -XEN_EINVAL;
	if (mem_copy_from_guest(v, ports, (uint64_t)(uintptr_t)p.ports.p,
				p.nr_ports * sizeof(ports[0])) < 0)
		return -XEN_EFAULT;
	for (i = 0; i < p.nr_ports; i++)
		if (ports[i] >= EVTCHN_MAX)
			return -XEN_EINVAL;
	ts = time_mono_at(d, p.timeout);
	pthread_mutex_lock(&d->xen.lock);
	for (;;) {
		for (i = 0; i < p.nr_ports; i++)
			if (evtchn_port_pending(d, ports[i]))
				goto out;
		if (domain_is_interrupted(d)) {
			rc = sched_wait_interrupted(d);
			goto out;
		}
		if (!p.timeout) {
			pthread_cond_wait(&d->xen.wake, &d->xen.lock);
		} else if (pthread_cond_timedwait(&d->xen.wake, &d->xen.lock,
						  &ts) == ETIMEDOUT) {
			break;
		}
	}
out:
	pthread_mutex_unlock(&d->xen.lock);
	return rc;
}

/*
 * EVT1: u32 count, then `count` entries for ports 0..count-1 (ports past
 * the last used one are free and left out).
 */
struct evtchn_image {
	uint8_t state;
	uint8_t pad;
	uint16_t notify_vcpu;
	uint16_t remote_domid;
	uint16_t pad2;
	uint32_t remote_port;
	uint32_t virq;
};

int evtchn_save(struct domain *d, struct buf *out)
{
	struct evtchn_image *img;
	uint32_t count = 1, port;
	int rc;

	for (port = 1; port < EVTCHN_MAX; port++)
		if (d->xen.evtchn[port].state != EVTCHN_FREE)
			count = port + 1;
	img = calloc(1, sizeof(uint32_t) + count * sizeof(*img));
	if (!img)
		return -ENOMEM;
	memcpy(img, &count, sizeof(count));
	for (port = 0; port < count; port++) {
		const struct evtchn *ch = &d->xen.evtchn[port];
		struct evtchn_image e = {
			.state = ch->state,
			.notify_vcpu = ch->notify_vcpu,
			.remote_domid = ch->remote_domid,
			.remote_port = ch->remote_port,
			.virq = ch->virq,
		};

		memcpy((uint8_t *)img + sizeof(count) + port * sizeof(e), &e,
		       sizeof(e));
	}
	rc = state_put_section(out, STATE_TAG_EVT, 1, img,
			       sizeof(count) + count * sizeof(*img));
	free(img);
	return rc;
}

int evtchn_stage_table(struct domain *d, struct evtchn *table,
		       uint32_t version, struct state_reader *payload)
{
	struct evtchn_image e;
	uint32_t count, port;

	if (version != 1 || state_read(payload, &count, sizeof(count)) < 0 ||
	    count < 1 || count > EVTCHN_MAX ||
	    payload->len - payload->off != count * sizeof(e)) {
		log_errx("evtchn: EVT1 section: bad version or size");
		return -EINVAL;
	}
	memset(table, 0, EVTCHN_MAX * sizeof(*table));
	for (port = 0; port < count; port++) {
		if (state_read(payload, &e, sizeof(e)) < 0)
			return -EINVAL;
		if (e.state > EVTCHN_IPI ||
		    (port == 0) != (e.state == EVTCHN_RESERVED) ||
		    e.notify_vcpu >= d->nr_vcpus ||
		    (e.state == EVTCHN_VIRQ && e.virq >= NR_VIRQS) ||
		    (e.state == EVTCHN_INTERDOMAIN &&
		     (e.remote_port == 0 || e.remote_port >= count))) {
			log_errx("evtchn: EVT1: port %u: bad entry", port);
			return -EINVAL;
		}
		table[port].state = e.state;
		table[port].notify_vcpu = e.notify_vcpu;
		table[port].remote_domid = e.remote_domid;
		table[port].remote_port = e.remote_port;
		table[port].virq = e.virq;
	}
	table[0].state = EVTCHN_RESERVED;
	return 0;
}

int evtchn_check_table(const struct evtchn *table, uint16_t saved_domid)
{
	uint32_t port;

	/*
	 * Loopback channels have both ends in the image; the other peer is
	 * domain 0 (a backend, which binds again after a restore).
	 */
	for (port = 1; port < EVTCHN_MAX; port++) {
		const struct evtchn *ch = &table[port];

		if ((ch->state == EVTCHN_UNBOUND ||
		     ch->state == EVTCHN_INTERDOMAIN) &&
		    ch->remote_domid != saved_domid && ch->remote_domid != 0) {
			log_errx("evtchn: port %u: channel to domain %u, "
				 "which is not this one",
				 port, ch->remote_domid);
			return -EINVAL;
		}
		if (ch->state == EVTCHN_INTERDOMAIN && ch->remote_domid != 0 &&
		    (table[ch->remote_port].state != EVTCHN_INTERDOMAIN ||
		     table[ch->remote_port].remote_port != port)) {
			log_errx("evtchn: port %u: its peer %u does not point "
				 "back",
				 port, ch->remote_port);
			return -EINVAL;
		}
	}
	return 0;
}

void evtchn_apply_table(struct domain *d, const struct evtchn *table,
			uint16_t saved_domid)
{
	uint32_t port;

	memcpy(d->xen.evtchn, table, sizeof(d->xen.evtchn));
	/* The backends' bindings were to the old table: they bind again. */
	memset(d->xen.backend, 0, sizeof(d->xen.backend));
	for (port = 1; port < EVTCHN_MAX; port++) {
		struct evtchn *ch = &d->xen.evtchn[port];

		/* Backends are host state: theirs wait to be bound again. */
		if (ch->state == EVTCHN_INTERDOMAIN && ch->remote_domid == 0) {
			ch->state = EVTCHN_UNBOUND;
			ch->remote_port = 0;
		}
		if ((ch->state == EVTCHN_UNBOUND ||
		     ch->state == EVTCHN_INTERDOMAIN) &&
		    ch->remote_domid == saved_domid)
			ch->remote_domid = d->xen.domid;
	}
}
