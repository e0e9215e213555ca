/* SPDX-License-Identifier: MIT */
/*
 * Event channels on a KVM-less domain, through the hypercall handler as
 * the guest calls it: dom0's ends in this process (a backend's kick
 * eventfd, its notifications, a guest closing its end while the backend
 * still holds its slot), loopback pairs, and Xen's rules for global
 * VIRQs, whose bindings must survive a save and load.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain.h"
#include "hypercall.h"
#include "log.h"
#include "vmm_fake.h"
#include "xenstate.h"

#define ARG_GPA 0x30000u

/* EVTCHNOP cmd with its argument at ARG_GPA (paging off: GVA == GPA). */
static long evtchn_op(struct domain *d, uint64_t cmd, void *arg, size_t len)
{
	struct kvm_run *run = calloc(1, sizeof(*run));
	struct vcpu v = {.dom = d, .run = run};
	struct hypercall_args a = {{cmd, ARG_GPA, 0, 0, 0, 0}};
	long rc;

	assert_non_null(run);
	memcpy(d->ram + ARG_GPA, arg, len);
	rc = hcall_event_channel_op(&v, &a);
	memcpy(arg, d->ram + ARG_GPA, len);
	free(run);
	return rc;
}

static bool pending(struct domain *d, uint32_t port)
{
	return evtchn_port_pending(d, port);
}

static void clear_pending(struct domain *d, uint32_t port)
{
	d->xen.shinfo->evtchn_pending[port / 64] &= ~(1ull << (port % 64));
}

static bool kicked(int fd)
{
	uint64_t v;

	return read(fd, &v, sizeof(v)) == sizeof(v);
}

static void test_backend_channel(void **state)
{
	struct domain *d = vmm_fake_domain(3, 1);
	int kick = eventfd(0, EFD_NONBLOCK), port, port2;
	struct evtchn_send send;
	struct evtchn_close cl;
	struct evtchn_status st = {.dom = DOMID_SELF};
	int dport, dport2;

	(void)state;
	assert_true(kick >= 0);
	/* What the toolstack does for a ring: a port unbound to dom0. */
	port = evtchn_alloc_for_backend(d);
	assert_true(port > 0);
	st.port = (evtchn_port_t)port;
	assert_int_equal(evtchn_op(d, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	assert_int_equal(st.u.unbound.dom, 0);

	dport = evtchn_backend_bind(d, (uint32_t)port, kick);
	assert_true(dport > 0);
	/* As Xen: binding raises the port (a send may have been lost). */
	assert_true(pending(d, (uint32_t)port));
	clear_pending(d, (uint32_t)port);
	assert_int_equal(evtchn_op(d, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_interdomain);
	assert_int_equal(st.u.interdomain.dom, 0);
	assert_int_equal(st.u.interdomain.port, dport);

	/* Guest -> backend: the eventfd; backend -> guest: the port. */
	send.port = (evtchn_port_t)port;
	assert_int_equal(evtchn_op(d, EVTCHNOP_send, &send, sizeof(send)), 0);
	assert_true(kicked(kick));
	evtchn_backend_notify(d, (uint32_t)dport);
	assert_true(pending(d, (uint32_t)port));
	clear_pending(d, (uint32_t)port);
	/* A port that is bound cannot be bound twice. */
	assert_int_equal(evtchn_backend_bind(d, (uint32_t)port, kick), -EINVAL);

	/* The guest closes its end: the backend hears of it... */
	cl.port = (evtchn_port_t)port;
	assert_int_equal(evtchn_op(d, EVTCHNOP_close, &cl, sizeof(cl)), 0);
	assert_true(kicked(kick));
	/* ...and keeps its slot: a new binding gets another dom0 port, and
	 * the old one reaches nothing. */
	port2 = evtchn_alloc_for_backend(d);
	assert_true(port2 > 0);
	dport2 = evtchn_backend_bind(d, (uint32_t)port2, kick);
	assert_true(dport2 > 0 && dport2 != dport);
	clear_pending(d, (uint32_t)port2);
	evtchn_backend_notify(d, (uint32_t)dport);
	assert_false(pending(d, (uint32_t)port2));
	assert_false(kicked(kick));
	/* Unbinding leaves the guest's port waiting for a new backend. */
	evtchn_backend_unbind(d, (uint32_t)dport);
	evtchn_backend_unbind(d, (uint32_t)dport2);
	st.port = (evtchn_port_t)port2;
	assert_int_equal(evtchn_op(d, EVTCHNOP_status, &st, sizeof(st)), 0);
	assert_int_equal(st.status, EVTCHNSTAT_unbound);
	assert_int_equal(st.u.unbound.dom, 0);
	/* Stale dom0 ports are ignored. */
	evtchn_backend_notify(d, (uint32_t)dport2);
	evtchn_backend_notify(d, 0);
	evtchn_backend_notify(d, 9999);
	assert_false(pending(d, (uint32_t)port2));
	close(kick);
	vmm_fake_free(d);
}

static void test_loopback_and_global_virqs(void **state)
{
	struct domain *d = vmm_fake_domain(3, 2), *e = vmm_fake_domain(5, 2);
	struct evtchn_alloc_unbound au = {.dom = DOMID_SELF,
					  .remote_dom = DOMID_SELF};
	struct evtchn_bind_interdomain bi = {.remote_dom = DOMID_SELF};
	struct evtchn_bind_virq bv = {.virq = VIRQ_CONSOLE, .vcpu = 1};
	struct evtchn_bind_vcpu bvc;
	struct evtchn_send send;
	struct buf img = {0};
	struct state_reader r;

	(void)state;
	assert_int_equal(evtchn_op(d, EVTCHNOP_alloc_unbound, &au,
				   sizeof(au)), 0);
	bi.remote_port = au.port;
	assert_int_equal(evtchn_op(d, EVTCHNOP_bind_interdomain, &bi,
				   sizeof(bi)), 0);
	clear_pending(d, bi.local_port);
	send.port = au.port;
	assert_int_equal(evtchn_op(d, EVTCHNOP_send, &send, sizeof(send)), 0);
	assert_true(pending(d, bi.local_port));

	/* Xen: a global VIRQ binds on vCPU 0 only. */
	assert_int_equal(evtchn_op(d, EVTCHNOP_bind_virq, &bv, sizeof(bv)),
			 -XEN_EINVAL);
	bv.vcpu = 0;
	assert_int_equal(evtchn_op(d, EVTCHNOP_bind_virq, &bv, sizeof(bv)), 0);
	/* bind_vcpu moves its delivery, not its binding... */
	bvc.port = bv.port;
	bvc.vcpu = 1;
	assert_int_equal(evtchn_op(d, EVTCHNOP_bind_vcpu, &bvc, sizeof(bvc)),
			 0);
	assert_int_equal(d->xen.evtchn[bv.port].notify_vcpu, 1);
	assert_int_equal(d->xen.vcpu[0].virq_port[VIRQ_CONSOLE], bv.port);
	assert_int_equal(d->xen.vcpu[1].virq_port[VIRQ_CONSOLE], 0);
	/* ...so it is still bound once, and the image loads elsewhere. */
	assert_int_equal(evtchn_op(d, EVTCHNOP_bind_virq, &bv, sizeof(bv)),
			 -XEN_EEXIST);
	assert_int_equal(xen_state_save(d, &img), 0);
	r = (struct state_reader){.p = img.data, .len = img.len};
	assert_int_equal(xen_state_load(e, r), 0);
	assert_int_equal(e->xen.evtchn[bv.port].notify_vcpu, 1);
	assert_int_equal(e->xen.vcpu[0].virq_port[VIRQ_CONSOLE], bv.port);
	/* The loopback pair now names the new domain. */
	assert_int_equal(e->xen.evtchn[bi.local_port].remote_domid, 5);
	buf_free(&img);
	vmm_fake_free(d);
	vmm_fake_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_channel),
		cmocka_unit_test(test_loopback_and_global_virqs),
	};

	log_init("test_evtchn", LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
