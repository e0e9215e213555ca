/*
 * Block frontend (blkfront.h).
 *
 * The xenbus side (discovery, states, the event channel, the
 * Closing/Closed handshake) is xbdev.c's.  With the backend in InitWait
 * we grant the ring pages, allocate the event channel and publish
 * ring-ref (or ring-page-order and ring-ref0..N-1), event-channel and
 * protocol with state Initialised in one transaction; the backend maps
 * the ring, binds its end and says Connected; we read the disk's size
 * and features from its directory and say Connected.  Only once the
 * backend says Closed after a disconnect are the grants ended and the
 * port closed.
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
 * on our port (xbdev_poll()).
 */
#include "blkfront.h"
#include "console.h"
#include "events.h"
#include "gnttab.h"
#include "xbdev.h"
#include "xenbus.h"

#include <xen/io/protocols.h>

#define PAGE 4096ul
#define SECTORS_PER_PAGE (PAGE / BLKFRONT_SECTOR)
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

static uint8_t ring_pages[BLKFRONT_MAX_DEVS][BLKFRONT_MAX_RING_PAGES][PAGE]
    __attribute__((aligned(4096)));
static struct blkif_request_segment
    ind_pages[BLKFRONT_MAX_DEVS][BLKFRONT_MAX_INFLIGHT][SEGS_PER_PAGE]
    __attribute__((aligned(4096)));
static struct blkfront_shadow shadows[BLKFRONT_MAX_DEVS][BLKFRONT_MAX_INFLIGHT];

static char vbd_list[1024];
static char value[128];

/* --- XenStore and discovery ------------------------------------------- */

static struct xbdev *vbd_entry(unsigned int i)
{
	return &devs[i].xb;
}

static struct xbdev_table vbds = {
    .driver = "blkfront",
    .type = "vbd",
    .list = vbd_list,
    .list_size = sizeof(vbd_list),
    .max = BLKFRONT_MAX_DEVS,
    .entry = vbd_entry,
};

int blkfront_backend_read(struct blkfront *d, const char *key, char *buf,
			  size_t size)
{
	return xbdev_be_read(&d->xb, key, buf, size);
}

int blkfront_backend_state(struct blkfront *d)
{
	return xbdev_backend_state(&d->xb);
}

int blkfront_wait_backend(struct blkfront *d, unsigned int mask,
			  uint64_t timeout_ns)
{
	return xbdev_wait_backend(&d->xb, mask, timeout_ns);
}

int blkfront_set_state(struct blkfront *d, enum xenbus_state s)
{
	return xbdev_set_state(&d->xb, s);
}

int blkfront_probe(void)
{
	return xbdev_probe(&vbds);
}

struct blkfront *blkfront_get(unsigned int devid)
{
	struct xbdev *x = xbdev_find(&vbds, devid);

	return x ? &devs[x->slot] : NULL;
}

struct blkfront *blkfront_dev(unsigned int i)
{
	return i < vbds.nr ? &devs[i] : NULL;
}

/* --- the ring --------------------------------------------------------- */

static struct blkfront_shadow *shadow_of(struct blkfront *d, unsigned int i)
{
	return &shadows[d->xb.slot][i];
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
	long ref = gnttab_grant_access(d->xb.backend_id, addr / PAGE, readonly);

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
		(void)ev_send(d->xb.port);
}

static int responses_ready(void *arg)
{
	struct blkfront *d = arg;

	return __atomic_load_n(&d->sring->rsp_prod, __ATOMIC_ACQUIRE) !=
	       d->ring.rsp_cons;
}

/* Sleeps until the backend has answered something: 0 or -XEN_ETIMEDOUT. */
static int wait_responses(struct blkfront *d)
{
	uint64_t end = events_time_ns() + BLKFRONT_TIMEOUT_NS;

	return xbdev_poll(&d->xb, responses_ready, d, end) ? 0 : -XEN_ETIMEDOUT;
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
		       d->xb.devid, rp,
		       d->ring.req_prod_pvt - d->ring.rsp_cons);
		d->xb.broken = 1;
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
		       d->xb.devid, (unsigned long)r->id);
		d->xb.broken = 1;
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
		printf("blkfront: %u: no answer from the backend\n",
		       d->xb.devid);
		d->xb.broken = 1;
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
	return d->xb.broken ? -XEN_EIO : 0;
}

static int status_errno(int16_t st)
{
	if (st == BLKIF_RSP_OKAY)
		return 0;
	return st == BLKIF_RSP_EOPNOTSUPP ? -XEN_EOPNOTSUPP : -XEN_EIO;
}

static int io_ready(struct blkfront *d)
{
	if (!d->xb.connected)
		return -XEN_ENOTCONN;
	if (d->xb.broken)
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
		segs = ind_pages[d->xb.slot][si];
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
		w.indirect.handle = (blkif_vdev_t)d->xb.devid;
		w.indirect.indirect_grefs[0] = (grant_ref_t)ref;
	} else {
		w.rw.operation = write ? BLKIF_OP_WRITE : BLKIF_OP_READ;
		w.rw.nr_segments = (uint8_t)n;
		w.rw.handle = (blkif_vdev_t)d->xb.devid;
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
	w.rw.handle = (blkif_vdev_t)d->xb.devid;
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
	w.discard.handle = (blkif_vdev_t)d->xb.devid;
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

	if (!d->xb.have_ring)
		return -XEN_ENOTCONN;
	if (d->xb.broken)
		return -XEN_EIO;
	if (blkfront_inflight(d) || RING_FULL(&d->ring))
		return -XEN_EBUSY;
	ring_put(d, req);
	ring_push(d);
	rc = wait_responses(d);
	if (rc) {
		d->xb.broken = 1;
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
	xbdev_port_close(&d->xb);
	d->sring = NULL;
	d->xb.have_ring = 0;
}

/* Fresh ring pages granted to the backend and a port for it. */
static int ring_setup(struct blkfront *d, unsigned int order)
{
	unsigned int i, n = 1u << order;
	long ref;
	int rc;

	d->ring_order = order;
	d->sring = (struct blkif_sring *)ring_pages[d->xb.slot][0];
	memset(d->sring, 0, n * PAGE);
	SHARED_RING_INIT(d->sring);
	FRONT_RING_INIT(&d->ring, d->sring, n * PAGE);
	d->xb.have_ring = 1;
	for (i = 0; i < n; i++) {
		ref = gnttab_grant_access(
		    d->xb.backend_id, gnttab_gfn(ring_pages[d->xb.slot][i]), 0);
		if (ref < 0) {
			ring_release(d);
			return -XEN_ENOSPC;
		}
		d->ring_refs[i] = (grant_ref_t)ref;
		d->nr_ring_pages = i + 1;
	}
	rc = xbdev_port_alloc(&d->xb);
	if (rc)
		ring_release(d);
	return rc;
}

/* ring-ref(s), event-channel, protocol and Initialised, all at once. */
static int publish(struct blkfront *d)
{
	struct xbdev *x = &d->xb;
	char key[16];
	xenbus_tx_t t;
	unsigned int i, tries;
	int rc;

	for (tries = 0; tries < TX_TRIES; tries++) {
		rc = xenbus_transaction_start(&t);
		if (rc)
			return rc;
		/* What an earlier connection wrote must not linger. */
		(void)xenbus_rm(t, xbdev_fe_key(x, "ring-ref"));
		(void)xenbus_rm(t, xbdev_fe_key(x, "ring-page-order"));
		for (i = 0; i < BLKFRONT_MAX_RING_PAGES; i++) {
			snprintf(key, sizeof(key), "ring-ref%u", i);
			(void)xenbus_rm(t, xbdev_fe_key(x, key));
		}
		if (d->nr_ring_pages == 1) {
			rc = xbdev_fe_put(x, t, "ring-ref",
					  d->bad_ring_ref ? d->bad_ring_ref
							  : d->ring_refs[0]);
		} else {
			rc = xbdev_fe_put(x, t, "ring-page-order",
					  d->ring_order);
			for (i = 0; rc == 0 && i < d->nr_ring_pages; i++) {
				snprintf(key, sizeof(key), "ring-ref%u", i);
				rc = xbdev_fe_put(x, t, key,
						  i == 0 && d->bad_ring_ref
						      ? d->bad_ring_ref
						      : d->ring_refs[i]);
			}
		}
		if (rc == 0)
			rc = xbdev_fe_put(x, t, "event-channel",
					  d->bad_port ? d->bad_port : x->port);
		if (rc == 0)
			rc = xenbus_write(t, xbdev_fe_key(x, "protocol"),
					  XEN_IO_PROTO_ABI_X86_64);
		if (rc == 0)
			rc =
			    xbdev_fe_put(x, t, "state", XenbusStateInitialised);
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
	struct xbdev *x = &d->xb;

	d->sectors = xbdev_be_u64(x, "sectors", 0);
	d->sector_size = (unsigned int)xbdev_be_u64(x, "sector-size", 512);
	d->info = (unsigned int)xbdev_be_u64(x, "info", 0);
	d->readonly = (d->info & VDISK_READONLY) != 0;
	if (blkfront_backend_read(d, "mode", value, sizeof(value)) >= 0 &&
	    !strcmp(value, "r"))
		d->readonly = 1;
	d->feature_flush = xbdev_be_u64(x, "feature-flush-cache", 0) != 0;
	d->feature_barrier = xbdev_be_u64(x, "feature-barrier", 0) != 0;
	d->feature_discard = xbdev_be_u64(x, "feature-discard", 0) != 0;
	d->discard_granularity = xbdev_be_u64(x, "discard-granularity", 512);
	d->max_indirect_segs =
	    xbdev_be_u64(x, "feature-max-indirect-segments", 0);
}

int blkfront_connect(struct blkfront *d, unsigned int ring_order)
{
	unsigned int order;
	int rc;

	if (d->xb.connected)
		return 0;
	if (d->xb.have_ring)
		return -XEN_EBUSY; /* disconnect first */
	rc = xbdev_await_initwait(&d->xb, BLKFRONT_TIMEOUT_NS);
	if (rc)
		return rc;

	d->max_ring_order = xbdev_be_u64(&d->xb, "max-ring-page-order", 0);
	order = ring_order;
	if (order > d->max_ring_order)
		order = (unsigned int)d->max_ring_order;
	if (order > BLKFRONT_MAX_RING_ORDER)
		order = BLKFRONT_MAX_RING_ORDER;
	d->xb.broken = 0;
	rc = ring_setup(d, order);
	if (rc)
		return rc;
	rc = publish(d);
	if (rc)
		return rc;
	rc = xbdev_await_connected(&d->xb, BLKFRONT_TIMEOUT_NS);
	if (rc)
		return rc;
	read_disk(d);
	rc = blkfront_set_state(d, XenbusStateConnected);
	if (rc)
		return rc;
	d->xb.connected = 1;
	return 0;
}

int blkfront_disconnect(struct blkfront *d)
{
	int rc = xbdev_close(&d->xb, BLKFRONT_TIMEOUT_NS);

	if (rc)
		return rc;
	/* The backend has let go of every page: ours again. */
	if (d->xb.have_ring)
		ring_release(d);
	d->xb.broken = 0;
	return 0;
}
