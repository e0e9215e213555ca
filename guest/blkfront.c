/*
 * Block frontend (blkfront.h).
 *
 * Connecting follows xen/io/xenbus.h as Linux's and Mini-OS's frontends
 * do: with the backend in InitWait we grant the ring pages, allocate an
 * unbound event channel for the backend's domain and publish ring-ref
 * (or ring-page-order and ring-ref0..N-1), event-channel and protocol
 * with state Initialised in one transaction; the backend maps the ring,
 * binds its end and says Connected; we read the disk's size and features
 * from its directory and say Connected.  Disconnecting is Closing, then
 * Closed once the backend is Closing; only when the backend says Closed
 * does it hold none of our pages, so only then are the grants ended and
 * the port closed.  A watch on the backend's state is the wake-up for
 * every wait; the state is read again after each event, so an event lost
 * to the other device's wait costs nothing.
 *
 * I/O is synchronous but not one request at a time: a call splits its
 * buffer into requests (11 segments, or BLKFRONT_IND_SEGS through an
 * indirect page), keeps up to BLKFRONT_MAX_INFLIGHT of them on the ring,
 * and takes responses as they come.  Each request has a shadow entry
 * that remembers its grants; its id names the entry plus a generation,
 * so a response with an id we did not hand out is counted and dropped.
 * A data page is granted for the request only: read-only for a WRITE
 * (the backend reads it), writable for a READ.
 *
 * The backend's response index is read once per pass and must not claim
 * more responses than requests outstanding.  Waits sleep in SCHEDOP_poll
 * on our port with interrupts off around the check, as xenbus.c does.
 */
#include "blkfront.h"
#include "console.h"
#include "events.h"
#include "gnttab.h"
#include "hypercall.h"
#include "xenbus.h"

#include <xen/io/protocols.h>

#define PAGE 4096ul
#define SECTORS_PER_PAGE (PAGE / BLKFRONT_SECTOR)
#define NAP_NS 10000000ull
#define SEGS_PER_PAGE (PAGE / sizeof(struct blkif_request_segment))
#define TX_TRIES 5
#define ID_SLOT_MASK 0xffu

_Static_assert(BLKFRONT_MAX_INFLIGHT <= ID_SLOT_MASK + 1, "shadow ids");
_Static_assert(BLKFRONT_IND_SEGS <= SEGS_PER_PAGE, "one indirect page");

/* One request on the ring: its id (0 when free) and its grants. */
struct blkfront_shadow {
	uint64_t id;
	unsigned int nr_grants;
	grant_ref_t grants[BLKFRONT_IND_SEGS + 1];
};

union blkfront_wire {
	struct blkif_request rw;
	struct blkif_request_discard discard;
	struct blkif_request_indirect indirect;
};

static struct blkfront devs[BLKFRONT_MAX_DEVS];
static unsigned int nr_devs;
static int probed;

static uint8_t ring_pages[BLKFRONT_MAX_DEVS][BLKFRONT_MAX_RING_PAGES][PAGE]
    __attribute__((aligned(4096)));
static struct blkif_request_segment
    ind_pages[BLKFRONT_MAX_DEVS][BLKFRONT_MAX_INFLIGHT][SEGS_PER_PAGE]
    __attribute__((aligned(4096)));
static struct blkfront_shadow shadows[BLKFRONT_MAX_DEVS][BLKFRONT_MAX_INFLIGHT];

static char key_path[160];
static char value[128];

/* --- XenStore --------------------------------------------------------- */

static const char *fe_key(struct blkfront *d, const char *key)
{
	snprintf(key_path, sizeof(key_path), "%s/%s", d->fe_path, key);
	return key_path;
}

static const char *be_key(struct blkfront *d, const char *key)
{
	snprintf(key_path, sizeof(key_path), "%s/%s", d->be_path, key);
	return key_path;
}

static int fe_put(struct blkfront *d, xenbus_tx_t t, const char *key,
		  unsigned long v)
{
	snprintf(value, sizeof(value), "%lu", v);
	return xenbus_write(t, fe_key(d, key), value);
}

/* A decimal that fills s, 64 bits at most: 0 or -XEN_EINVAL. */
static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -XEN_EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' ||
		    v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -XEN_EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

int blkfront_backend_read(struct blkfront *d, const char *key, char *buf,
			  size_t size)
{
	return xenbus_read(XENBUS_TX_NONE, be_key(d, key), buf, size);
}

/* A number from the backend's directory, dflt when it is absent or bad. */
static uint64_t be_u64(struct blkfront *d, const char *key, uint64_t dflt)
{
	uint64_t v;

	if (blkfront_backend_read(d, key, value, sizeof(value)) < 0 ||
	    parse_u64(value, &v))
		return dflt;
	return v;
}

int blkfront_backend_state(struct blkfront *d)
{
	uint64_t v;
	int rc = blkfront_backend_read(d, "state", value, sizeof(value));

	/* A backend directory that went away is Unknown. */
	if (rc == -XEN_ENOENT)
		return XenbusStateUnknown;
	if (rc < 0)
		return rc;
	if (parse_u64(value, &v) || v > XenbusStateReconfigured)
		return -XEN_EINVAL;
	return (int)v;
}

int blkfront_wait_backend(struct blkfront *d, unsigned int mask,
			  uint64_t timeout_ns)
{
	uint64_t now = events_time_ns(), end = now + timeout_ns;
	char path[128], token[32];
	int st, rc;

	for (;;) {
		st = blkfront_backend_state(d);
		if (st >= 0 && (mask & (1u << st)))
			return st;
		if (st < 0 && st != -XEN_EINVAL)
			return st;
		now = events_time_ns();
		if (now >= end)
			return -XEN_ETIMEDOUT;
		rc = xenbus_wait_event(path, sizeof(path), token, sizeof(token),
				       end - now);
		if (rc == -XEN_EIO)
			return rc;
	}
}

int blkfront_set_state(struct blkfront *d, enum xenbus_state s)
{
	return fe_put(d, XENBUS_TX_NONE, "state", (unsigned long)s);
}

/* --- discovery -------------------------------------------------------- */

static int blkfront_add(const char *name)
{
	struct blkfront *d = &devs[nr_devs];
	uint64_t devid, backend_id;
	int rc;

	if (parse_u64(name, &devid) || devid > 0xffffffffu)
		return -XEN_EINVAL;
	memset(d, 0, sizeof(*d));
	d->devid = (unsigned int)devid;
	d->slot = nr_devs;
	snprintf(d->fe_path, sizeof(d->fe_path), "device/vbd/%u", d->devid);
	rc = xenbus_read(XENBUS_TX_NONE, fe_key(d, "backend"), d->be_path,
			 sizeof(d->be_path));
	if (rc < 0)
		return rc;
	if (d->be_path[0] != '/' || (size_t)rc != strlen(d->be_path))
		return -XEN_EINVAL;
	rc = xenbus_read(XENBUS_TX_NONE, fe_key(d, "backend-id"), value,
			 sizeof(value));
	if (rc < 0 || parse_u64(value, &backend_id) ||
	    backend_id >= DOMID_FIRST_RESERVED)
		backend_id = 0;
	d->backend_id = (domid_t)backend_id;
	snprintf(d->token, sizeof(d->token), "blkfront-%u", d->devid);
	rc = xenbus_watch(be_key(d, "state"), d->token);
	if (rc < 0)
		return rc;
	nr_devs++;
	return 0;
}

int blkfront_probe(void)
{
	static char list[1024];
	const char *name;
	int n, i;
	long rc;

	if (probed)
		return (int)nr_devs;
	if (gnttab_nr_frames < GNTTAB_AREA_FRAMES) {
		rc = gnttab_init(GNTTAB_AREA_FRAMES);
		if (rc)
			return (int)rc;
	}
	n = xenbus_directory(XENBUS_TX_NONE, "device/vbd", list, sizeof(list));
	if (n == -XEN_ENOENT)
		n = 0;
	if (n < 0)
		return n;
	for (i = 0, name = list; i < n && nr_devs < BLKFRONT_MAX_DEVS;
	     i++, name += strlen(name) + 1) {
		rc = blkfront_add(name);
		if (rc)
			printf("blkfront: device/vbd/%s skipped (%ld)\n", name,
			       rc);
	}
	probed = 1;
	return (int)nr_devs;
}

struct blkfront *blkfront_get(unsigned int devid)
{
	unsigned int i;

	for (i = 0; i < nr_devs; i++)
		if (devs[i].devid == devid)
			return &devs[i];
	return NULL;
}

struct blkfront *blkfront_dev(unsigned int i)
{
	return i < nr_devs ? &devs[i] : NULL;
}

/* --- the ring --------------------------------------------------------- */

static struct blkfront_shadow *shadow_of(struct blkfront *d, unsigned int i)
{
	return &shadows[d->slot][i];
}

static unsigned int blkfront_inflight(struct blkfront *d)
{
	unsigned int i, n = 0;

	for (i = 0; i < BLKFRONT_MAX_INFLIGHT; i++)
		n += shadow_of(d, i)->id != 0;
	return n;
}

/* Ends the grants of a request the backend has answered. */
static void shadow_release(struct blkfront *d, struct blkfront_shadow *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_grants; i++)
		if (gnttab_end_access(s->grants[i]))
			d->grants_stuck++;
	s->nr_grants = 0;
	s->id = 0;
}

/* A free shadow entry with a fresh id, or -1. */
static int shadow_get(struct blkfront *d)
{
	struct blkfront_shadow *s;
	unsigned int i;

	for (i = 0; i < BLKFRONT_MAX_INFLIGHT; i++) {
		s = shadow_of(d, i);
		if (s->id)
			continue;
		if (++d->next_gen == 0)
			d->next_gen = 1;
		s->id = (uint64_t)d->next_gen << 8 | i;
		s->nr_grants = 0;
		return (int)i;
	}
	return -1;
}

static long grant_to_backend(struct blkfront *d, struct blkfront_shadow *s,
			     uintptr_t addr, int readonly)
{
	long ref = gnttab_grant_access(d->backend_id, addr / PAGE, readonly);

	if (ref < 0)
		return -XEN_ENOSPC;
	s->grants[s->nr_grants++] = (grant_ref_t)ref;
	return ref;
}

/* Copies a request into the next slot. */
static void ring_put(struct blkfront *d, const void *req)
{
	memcpy(RING_GET_REQUEST(&d->ring, d->ring.req_prod_pvt), req,
	       sizeof(struct blkif_request));
	d->ring.req_prod_pvt++;
	d->requests++;
}

static void ring_push(struct blkfront *d)
{
	int notify;

	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&d->ring, notify);
	if (notify)
		(void)ev_send(d->port);
}

static int responses_ready(struct blkfront *d)
{
	return __atomic_load_n(&d->sring->rsp_prod, __ATOMIC_ACQUIRE) !=
	       d->ring.rsp_cons;
}

/* Sleeps until the backend has answered something: 0 or -XEN_ETIMEDOUT. */
static int wait_responses(struct blkfront *d)
{
	uint64_t now = events_time_ns(), end = now + BLKFRONT_TIMEOUT_NS;
	evtchn_port_t p = d->port;
	struct sched_poll poll;
	int ready;

	for (;;) {
		irq_disable();
		ready = responses_ready(d);
		now = events_time_ns();
		if (ready || now >= end)
			break;
		set_xen_guest_handle(poll.ports, &p);
		poll.nr_ports = 1;
		poll.timeout = end - now > NAP_NS ? now + NAP_NS : end;
		(void)hyp_sched_op(SCHEDOP_poll, &poll);
		irq_enable();
		events_settle();
	}
	irq_enable();
	events_settle();
	return ready ? 0 : -XEN_ETIMEDOUT;
}

/*
 * The backend's response index, if it is one it can have meant: no more
 * responses than requests outstanding.  Else the device is broken.
 */
static int rsp_prod_checked(struct blkfront *d, RING_IDX *prod)
{
	RING_IDX rp = __atomic_load_n(&d->sring->rsp_prod, __ATOMIC_ACQUIRE);

	if (rp - d->ring.rsp_cons > d->ring.req_prod_pvt - d->ring.rsp_cons) {
		printf("blkfront: %u: response index %u, %u outstanding: "
		       "the backend is broken\n",
		       d->devid, rp, d->ring.req_prod_pvt - d->ring.rsp_cons);
		d->broken = 1;
		return -XEN_EIO;
	}
	*prod = rp;
	return 0;
}

static void take_response(struct blkfront *d, const struct blkif_response *r)
{
	unsigned int i = (unsigned int)(r->id & ID_SLOT_MASK);
	struct blkfront_shadow *s;

	d->responses++;
	if (i >= BLKFRONT_MAX_INFLIGHT || !r->id ||
	    shadow_of(d, i)->id != r->id) {
		printf("blkfront: %u: response with unknown id 0x%lx\n",
		       d->devid, (unsigned long)r->id);
		d->broken = 1;
		return;
	}
	s = shadow_of(d, i);
	if (r->status != BLKIF_RSP_OKAY && d->last_status == BLKIF_RSP_OKAY)
		d->last_status = r->status;
	shadow_release(d, s);
}

/* Waits for responses and takes every one there is: 0 or -errno. */
static int reap(struct blkfront *d)
{
	struct blkif_response r;
	RING_IDX rp;
	int more, rc;

	rc = wait_responses(d);
	if (rc) {
		printf("blkfront: %u: no answer from the backend\n", d->devid);
		d->broken = 1;
		return rc;
	}
	do {
		rc = rsp_prod_checked(d, &rp);
		if (rc)
			return rc;
		while (d->ring.rsp_cons != rp) {
			/* One copy: the backend may rewrite the slot. */
			memcpy(&r,
			       RING_GET_RESPONSE(&d->ring, d->ring.rsp_cons),
			       sizeof(r));
			d->ring.rsp_cons++;
			take_response(d, &r);
		}
		RING_FINAL_CHECK_FOR_RESPONSES(&d->ring, more);
	} while (more);
	return d->broken ? -XEN_EIO : 0;
}

static int status_errno(int16_t st)
{
	if (st == BLKIF_RSP_OKAY)
		return 0;
	return st == BLKIF_RSP_EOPNOTSUPP ? -XEN_EOPNOTSUPP : -XEN_EIO;
}

static int io_ready(struct blkfront *d)
{
	if (!d->connected)
		return -XEN_ENOTCONN;
	if (d->broken)
		return -XEN_EIO;
	d->last_status = BLKIF_RSP_OKAY;
	return 0;
}

/* Pushes what is queued and waits for every answer. */
static int drain(struct blkfront *d)
{
	int rc = 0;

	ring_push(d);
	while (rc == 0 && blkfront_inflight(d))
		rc = reap(d);
	return rc ? rc : status_errno(d->last_status);
}

/* --- I/O -------------------------------------------------------------- */

/*
 * Queues one READ or WRITE for the first sectors of [addr, addr + left
 * sectors) in shadow si: the number of sectors it covers, or -errno.
 */
static long queue_rw(struct blkfront *d, unsigned int si, int write,
		     uint64_t sector, uintptr_t addr, unsigned long left)
{
	struct blkfront_shadow *s = shadow_of(d, si);
	int indirect = d->use_indirect && d->max_indirect_segs;
	unsigned int max_segs = BLKIF_MAX_SEGMENTS_PER_REQUEST, n;
	struct blkif_request_segment *segs;
	union blkfront_wire w;
	unsigned long done = 0, first, cnt;
	long ref;

	memset(&w, 0, sizeof(w));
	if (indirect) {
		max_segs = d->max_indirect_segs < BLKFRONT_IND_SEGS
			       ? (unsigned int)d->max_indirect_segs
			       : BLKFRONT_IND_SEGS;
		segs = ind_pages[d->slot][si];
	} else {
		segs = w.rw.seg;
	}
	for (n = 0; n < max_segs && left; n++) {
		first = (addr % PAGE) / BLKFRONT_SECTOR;
		cnt = SECTORS_PER_PAGE - first;
		if (cnt > left)
			cnt = left;
		ref = grant_to_backend(d, s, addr, write);
		if (ref < 0)
			goto fail;
		segs[n].gref = (grant_ref_t)ref;
		segs[n].first_sect = (uint8_t)first;
		segs[n].last_sect = (uint8_t)(first + cnt - 1);
		addr += cnt * BLKFRONT_SECTOR;
		left -= cnt;
		done += cnt;
	}
	if (indirect) {
		ref = grant_to_backend(d, s, (uintptr_t)segs, 1);
		if (ref < 0)
			goto fail;
		w.indirect.operation = BLKIF_OP_INDIRECT;
		w.indirect.indirect_op = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
		w.indirect.nr_segments = (uint16_t)n;
		w.indirect.id = s->id;
		w.indirect.sector_number = sector;
		w.indirect.handle = (blkif_vdev_t)d->devid;
		w.indirect.indirect_grefs[0] = (grant_ref_t)ref;
	} else {
		w.rw.operation = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
		w.rw.nr_segments = (uint8_t)n;
		w.rw.handle = (blkif_vdev_t)d->devid;
		w.rw.id = s->id;
		w.rw.sector_number = sector;
	}
	ring_put(d, &w);
	return (long)done;
fail:
	/* Nothing was published: the grants can go at once. */
	shadow_release(d, s);
	return -XEN_ENOSPC;
}

static int blkfront_rw(struct blkfront *d, int write, uint64_t sector,
		       uintptr_t addr, unsigned long nsect)
{
	long n;
	int si, rc, r;

	rc = io_ready(d);
	if (rc)
		return rc;
	if (addr % BLKFRONT_SECTOR)
		return -XEN_EINVAL;
	while (nsect || blkfront_inflight(d)) {
		/* Queue what fits; after a failure only drain. */
		while (nsect && !rc && d->last_status == BLKIF_RSP_OKAY &&
		       !RING_FULL(&d->ring) && (si = shadow_get(d)) >= 0) {
			n = queue_rw(d, (unsigned int)si, write, sector, addr,
				     nsect);
			if (n < 0) {
				rc = (int)n;
				break;
			}
			sector += (uint64_t)n;
			addr += (uintptr_t)n * BLKFRONT_SECTOR;
			nsect -= (unsigned long)n;
		}
		if (rc || d->last_status != BLKIF_RSP_OKAY)
			nsect = 0;
		ring_push(d);
		if (blkfront_inflight(d)) {
			r = reap(d);
			if (r) {
				rc = rc ? rc : r;
				break; /* broken: the rest stays granted */
			}
		}
	}
	return rc ? rc : status_errno(d->last_status);
}

int blkfront_read(struct blkfront *d, uint64_t sector, void *buf,
		  unsigned long nsect)
{
	return blkfront_rw(d, 0, sector, (uintptr_t)buf, nsect);
}

int blkfront_write(struct blkfront *d, uint64_t sector, const void *buf,
		   unsigned long nsect)
{
	return blkfront_rw(d, 1, sector, (uintptr_t)buf, nsect);
}

int blkfront_flush(struct blkfront *d)
{
	union blkfront_wire w;
	int rc = io_ready(d), si;

	if (rc)
		return rc;
	if (!d->feature_flush && !d->feature_barrier)
		return -XEN_EOPNOTSUPP;
	si = shadow_get(d);
	if (si < 0)
		return -XEN_EBUSY;
	memset(&w, 0, sizeof(w));
	w.rw.operation = d->feature_flush ? BLKIF_OP_FLUSH_DISKCACHE
					  : BLKIF_OP_WRITE_BARRIER;
	w.rw.handle = (blkif_vdev_t)d->devid;
	w.rw.id = shadow_of(d, (unsigned int)si)->id;
	ring_put(d, &w);
	return drain(d);
}

int blkfront_discard(struct blkfront *d, uint64_t sector, uint64_t nsect)
{
	union blkfront_wire w;
	int rc = io_ready(d), si;

	if (rc)
		return rc;
	if (!d->feature_discard)
		return -XEN_EOPNOTSUPP;
	si = shadow_get(d);
	if (si < 0)
		return -XEN_EBUSY;
	memset(&w, 0, sizeof(w));
	w.discard.operation = BLKIF_OP_DISCARD;
	w.discard.handle = (blkif_vdev_t)d->devid;
	w.discard.id = shadow_of(d, (unsigned int)si)->id;
	w.discard.sector_number = sector;
	w.discard.nr_sectors = nsect;
	ring_put(d, &w);
	return drain(d);
}

int blkfront_submit_raw(struct blkfront *d, const struct blkif_request *req,
			struct blkif_response *rsp)
{
	RING_IDX rp;
	int more, rc;

	if (!d->have_ring)
		return -XEN_ENOTCONN;
	if (d->broken)
		return -XEN_EIO;
	if (blkfront_inflight(d) || RING_FULL(&d->ring))
		return -XEN_EBUSY;
	ring_put(d, req);
	ring_push(d);
	rc = wait_responses(d);
	if (rc) {
		d->broken = 1;
		return rc;
	}
	rc = rsp_prod_checked(d, &rp);
	if (rc)
		return rc;
	memcpy(rsp, RING_GET_RESPONSE(&d->ring, d->ring.rsp_cons),
	       sizeof(*rsp));
	d->ring.rsp_cons++;
	d->responses++;
	RING_FINAL_CHECK_FOR_RESPONSES(&d->ring, more);
	(void)more; /* cannot be: one request, one response */
	return 0;
}

/* --- connect and disconnect ------------------------------------------- */

/* Ends the ring's grants and closes the port; the backend has let go. */
static void ring_release(struct blkfront *d)
{
	unsigned int i;

	for (i = 0; i < BLKFRONT_MAX_INFLIGHT; i++)
		if (shadow_of(d, i)->id)
			shadow_release(d, shadow_of(d, i));
	for (i = 0; i < d->nr_ring_pages; i++)
		if (gnttab_end_access(d->ring_refs[i]))
			d->grants_stuck++;
	d->nr_ring_pages = 0;
	if (d->port)
		(void)ev_close(d->port);
	d->port = 0;
	d->sring = NULL;
	d->have_ring = 0;
}

/* Fresh ring pages granted to the backend and a port for it. */
static int ring_setup(struct blkfront *d, unsigned int order)
{
	struct evtchn_alloc_unbound a = {
	    .dom = DOMID_SELF,
	    .remote_dom = d->backend_id,
	};
	struct evtchn_unmask u;
	unsigned int i, n = 1u << order;
	long ref, rc;

	d->ring_order = order;
	d->sring = (struct blkif_sring *)ring_pages[d->slot][0];
	memset(d->sring, 0, n * PAGE);
	SHARED_RING_INIT(d->sring);
	FRONT_RING_INIT(&d->ring, d->sring, n * PAGE);
	d->have_ring = 1;
	for (i = 0; i < n; i++) {
		ref = gnttab_grant_access(
		    d->backend_id, gnttab_gfn(ring_pages[d->slot][i]), 0);
		if (ref < 0) {
			ring_release(d);
			return -XEN_ENOSPC;
		}
		d->ring_refs[i] = (grant_ref_t)ref;
		d->nr_ring_pages = i + 1;
	}
	rc = hyp_event_channel_op(EVTCHNOP_alloc_unbound, &a);
	if (rc) {
		ring_release(d);
		return (int)rc;
	}
	d->port = a.port;
	u.port = d->port;
	rc = hyp_event_channel_op(EVTCHNOP_unmask, &u);
	if (rc) {
		ring_release(d);
		return (int)rc;
	}
	return 0;
}

/* ring-ref(s), event-channel, protocol and Initialised, all at once. */
static int publish(struct blkfront *d)
{
	char key[16];
	xenbus_tx_t t;
	unsigned int i, tries;
	int rc;

	for (tries = 0; tries < TX_TRIES; tries++) {
		rc = xenbus_transaction_start(&t);
		if (rc)
			return rc;
		/* What an earlier connection wrote must not linger. */
		(void)xenbus_rm(t, fe_key(d, "ring-ref"));
		(void)xenbus_rm(t, fe_key(d, "ring-page-order"));
		for (i = 0; i < BLKFRONT_MAX_RING_PAGES; i++) {
			snprintf(key, sizeof(key), "ring-ref%u", i);
			(void)xenbus_rm(t, fe_key(d, key));
		}
		if (d->nr_ring_pages == 1) {
			rc = fe_put(d, t, "ring-ref",
				    d->bad_ring_ref ? d->bad_ring_ref
						    : d->ring_refs[0]);
		} else {
			rc = fe_put(d, t, "ring-page-order", d->ring_order);
			for (i = 0; rc == 0 && i < d->nr_ring_pages; i++) {
				snprintf(key, sizeof(key), "ring-ref%u", i);
				rc = fe_put(d, t, key,
					    i == 0 && d->bad_ring_ref
						? d->bad_ring_ref
						: d->ring_refs[i]);
			}
		}
		if (rc == 0)
			rc = fe_put(d, t, "event-channel",
				    d->bad_port ? d->bad_port : d->port);
		if (rc == 0)
			rc = xenbus_write(t, fe_key(d, "protocol"),
					  XEN_IO_PROTO_ABI_X86_64);
		if (rc == 0)
			rc = fe_put(d, t, "state", XenbusStateInitialised);
		if (rc) {
			(void)xenbus_transaction_end(t, 0);
			return rc;
		}
		rc = xenbus_transaction_end(t, 1);
		if (rc != -XEN_EAGAIN)
			return rc;
	}
	return -XEN_EAGAIN;
}

/* The disk as the backend describes it. */
static void read_disk(struct blkfront *d)
{
	d->sectors = be_u64(d, "sectors", 0);
	d->sector_size = (unsigned int)be_u64(d, "sector-size", 512);
	d->info = (unsigned int)be_u64(d, "info", 0);
	d->readonly = (d->info & VDISK_READONLY) != 0;
	if (blkfront_backend_read(d, "mode", value, sizeof(value)) >= 0 &&
	    !strcmp(value, "r"))
		d->readonly = 1;
	d->feature_flush = be_u64(d, "feature-flush-cache", 0) != 0;
	d->feature_barrier = be_u64(d, "feature-barrier", 0) != 0;
	d->feature_discard = be_u64(d, "feature-discard", 0) != 0;
	d->discard_granularity = be_u64(d, "discard-granularity", 512);
	d->max_indirect_segs = be_u64(d, "feature-max-indirect-segments", 0);
}

int blkfront_connect(struct blkfront *d, unsigned int ring_order)
{
	unsigned int order;
	int st, rc;

	if (d->connected)
		return 0;
	if (d->have_ring)
		return -XEN_EBUSY; /* disconnect first */
	st = blkfront_backend_state(d);
	if (st == XenbusStateClosed) {
		/* After a disconnect: start again. */
		rc = blkfront_set_state(d, XenbusStateInitialising);
		if (rc)
			return rc;
	}
	st = blkfront_wait_backend(
	    d, 1u << XenbusStateInitWait | 1u << XenbusStateClosing,
	    BLKFRONT_TIMEOUT_NS);
	if (st < 0)
		return st;
	if (st != XenbusStateInitWait)
		return -XEN_EIO;

	d->max_ring_order = be_u64(d, "max-ring-page-order", 0);
	order = ring_order;
	if (order > d->max_ring_order)
		order = (unsigned int)d->max_ring_order;
	if (order > BLKFRONT_MAX_RING_ORDER)
		order = BLKFRONT_MAX_RING_ORDER;
	d->broken = 0;
	rc = ring_setup(d, order);
	if (rc)
		return rc;
	rc = publish(d);
	if (rc)
		return rc;
	st = blkfront_wait_backend(d,
				   1u << XenbusStateConnected |
				       1u << XenbusStateClosing |
				       1u << XenbusStateClosed,
				   BLKFRONT_TIMEOUT_NS);
	if (st < 0)
		return st;
	if (st != XenbusStateConnected)
		return -XEN_EIO;
	read_disk(d);
	rc = blkfront_set_state(d, XenbusStateConnected);
	if (rc)
		return rc;
	d->connected = 1;
	return 0;
}

int blkfront_disconnect(struct blkfront *d)
{
	int st, rc;

	d->connected = 0;
	rc = blkfront_set_state(d, XenbusStateClosing);
	if (rc)
		return rc;
	st = blkfront_wait_backend(d,
				   1u << XenbusStateUnknown |
				       1u << XenbusStateClosing |
				       1u << XenbusStateClosed,
				   BLKFRONT_TIMEOUT_NS);
	if (st < 0)
		return st;
	rc = blkfront_set_state(d, XenbusStateClosed);
	if (rc)
		return rc;
	st = blkfront_wait_backend(
	    d, 1u << XenbusStateUnknown | 1u << XenbusStateClosed,
	    BLKFRONT_TIMEOUT_NS);
	if (st < 0)
		return st;
	/* The backend has let go of every page: ours again. */
	if (d->have_ring)
		ring_release(d);
	d->broken = 0;
	return 0;
}
