/*
 * PV console frontend.  We produce into `out` and consume from `in`; the
 * backend's indexes are read once per pass and never trusted to be
 * within a ring of ours.  Waits sleep in SCHEDOP_poll on the console
 * port, which the backend raises when it has drained output or added
 * input, so no event is lost between the check and the sleep.
 */
#include "events.h"
#include "hypercall.h"
#include "lib.h"
#include "pvcons.h"

#define MS 1000000ull

/*
 * Copies n bytes into ring `ring` (size a power of two) from index idx,
 * in at most two rep-movs runs: guest kernel code is emulated here, and
 * one string instruction costs far less than a loop per byte.
 */
static void pvcons_copy_in(char *ring, unsigned int size,
			   XENCONS_RING_IDX idx, const char *src,
			   unsigned long n)
{
	unsigned int off = idx & (size - 1);
	unsigned long first = n < size - off ? n : size - off;

	memcpy(ring + off, src, first);
	memcpy(ring, src + first, n - first);
}

static void pvcons_copy_out(char *dst, const char *ring, unsigned int size,
			    XENCONS_RING_IDX idx, unsigned long n)
{
	unsigned int off = idx & (size - 1);
	unsigned long first = n < size - off ? n : size - off;

	memcpy(dst, ring + off, first);
	memcpy(dst + first, ring, n - first);
}

struct xencons_interface *pvcons_ring;
uint32_t pvcons_port;

static long hvm_param(uint32_t index, uint64_t *value)
{
	struct xen_hvm_param p = { .domid = DOMID_SELF, .index = index };
	long rc = hyp_hvm_op(HVMOP_get_param, &p);

	*value = p.value;
	return rc;
}

int pvcons_init(void)
{
	uint64_t pfn = 0, port = 0;

	if (pvcons_ring)
		return 0;
	if (hvm_param(HVM_PARAM_CONSOLE_PFN, &pfn) || !pfn ||
	    hvm_param(HVM_PARAM_CONSOLE_EVTCHN, &port) || !port)
		return -XEN_ENOENT;
	pvcons_port = (uint32_t)port;
	/* Identity-mapped: the frame's address is its physical one. */
	pvcons_ring = (struct xencons_interface *)(uintptr_t)(pfn << 12);
	return 0;
}

/* Sleeps on our port for at most ms, or until it is raised. */
static void pvcons_wait(unsigned int ms)
{
	evtchn_port_t p = pvcons_port;
	struct sched_poll poll = {
		.nr_ports = 1,
		.timeout = events_time_ns() + ms * MS,
	};

	set_xen_guest_handle(poll.ports, &p);
	(void)hyp_sched_op(SCHEDOP_poll, &poll);
	__atomic_fetch_and(&shinfo->evtchn_pending[p / 64],
			   ~(1ul << (p % 64)), __ATOMIC_SEQ_CST);
}

unsigned long pvcons_write(const char *buf, unsigned long len)
{
	struct xencons_interface *r = pvcons_ring;
	unsigned long done = 0, n;
	unsigned int idle = 0;
	XENCONS_RING_IDX cons, prod;

	while (done < len && idle < 5000) {
		cons = __atomic_load_n(&r->out_cons, __ATOMIC_ACQUIRE);
		prod = r->out_prod;
		if (prod - cons >= sizeof(r->out)) {
			(void)ev_send(pvcons_port);
			pvcons_wait(1);
			idle++;
			continue;
		}
		idle = 0;
		n = sizeof(r->out) - (prod - cons);
		if (n > len - done)
			n = len - done;
		pvcons_copy_in(r->out, sizeof(r->out), prod, buf + done, n);
		done += n;
		__atomic_store_n(&r->out_prod, prod + (XENCONS_RING_IDX)n,
				 __ATOMIC_RELEASE);
		(void)ev_send(pvcons_port);
	}
	return done;
}

int pvcons_flush(void)
{
	struct xencons_interface *r = pvcons_ring;
	unsigned int tries;

	for (tries = 0; tries < 2000; tries++) {
		if (__atomic_load_n(&r->out_cons, __ATOMIC_ACQUIRE) ==
		    r->out_prod)
			return 1;
		pvcons_wait(2);
	}
	return 0;
}

unsigned long pvcons_read(char *buf, unsigned long len,
			  unsigned int timeout_ms)
{
	struct xencons_interface *r = pvcons_ring;
	XENCONS_RING_IDX cons, prod;
	unsigned long n = 0, got;
	unsigned int waited;

	for (waited = 0; waited <= timeout_ms; waited += 10) {
		prod = __atomic_load_n(&r->in_prod, __ATOMIC_ACQUIRE);
		cons = r->in_cons;
		if (prod - cons > sizeof(r->in))
			return 0; /* a backend gone mad: read nothing */
		got = prod - cons < len - n ? prod - cons : len - n;
		pvcons_copy_out(buf + n, r->in, sizeof(r->in), cons, got);
		n += got;
		__atomic_store_n(&r->in_cons, cons + (XENCONS_RING_IDX)got,
				 __ATOMIC_RELEASE);
		if (n) {
			(void)ev_send(pvcons_port);
			return n;
		}
		pvcons_wait(10);
	}
	return 0;
}
