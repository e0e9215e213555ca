/*
 * test=grant: grant table v1.  Versions, query_size, setup_table, placing
 * the frames, then GNTTABOP_copy between frames and pages granted to our
 * own domain id (there is no other domain to grant to), with per-element
 * statuses, read-only grants, and hostile arguments: bad references,
 * ungranted entries, copies past the page end, bad domains, frames outside
 * RAM, huge counts and bad pointers.  The expected codes are Xen's.
 */
#include "console.h"
#include "gnttab.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

/* Not mapped by our page tables (above 4 GiB) and far above any RAM. */
#define BAD_PTR		((void *)0x00007fff00000000ul)
/* A frame far above guest RAM (1 TiB); also fits grant_entry_v1.frame. */
#define BAD_GFN		0x10000000ul
#define NOT_A_DOMAIN	7

static uint8_t pg_src[4096] __attribute__((aligned(4096)));
static uint8_t pg_a[4096] __attribute__((aligned(4096)));
static uint8_t pg_b[4096] __attribute__((aligned(4096)));
static uint8_t pg_t[4096] __attribute__((aligned(4096)));

static long copy_ops(struct gnttab_copy *ops, unsigned int n)
{
	return hyp_grant_table_op(GNTTABOP_copy, ops, n);
}

/* One element; its status, or the hypercall's error if that failed. */
static long copy1(struct gnttab_copy *op)
{
	long rc;

	op->status = 0x5555;
	rc = copy_ops(op, 1);
	return rc ? rc : op->status;
}

static struct gnttab_copy gref_to_gmfn(grant_ref_t ref, domid_t dom,
				       uint16_t soff, const void *dst,
				       uint16_t doff, uint16_t len)
{
	struct gnttab_copy op;

	memset(&op, 0, sizeof(op));
	op.source.u.ref = ref;
	op.source.domid = dom;
	op.source.offset = soff;
	op.dest.u.gmfn = gnttab_gfn(dst);
	op.dest.domid = DOMID_SELF;
	op.dest.offset = doff;
	op.len = len;
	op.flags = GNTCOPY_source_gref;
	return op;
}

static struct gnttab_copy gmfn_to_gref(const void *src, uint16_t soff,
				       grant_ref_t ref, domid_t dom,
				       uint16_t doff, uint16_t len)
{
	struct gnttab_copy op;

	memset(&op, 0, sizeof(op));
	op.source.u.gmfn = gnttab_gfn(src);
	op.source.domid = DOMID_SELF;
	op.source.offset = soff;
	op.dest.u.ref = ref;
	op.dest.domid = dom;
	op.dest.offset = doff;
	op.len = len;
	op.flags = GNTCOPY_dest_gref;
	return op;
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

static uint16_t flags_of(grant_ref_t ref)
{
	return __atomic_load_n(&gnttab_entry(ref)->flags, __ATOMIC_ACQUIRE);
}

static long query(struct gnttab_query_size *qs, domid_t dom)
{
	memset(qs, 0, sizeof(*qs));
	qs->dom = dom;
	qs->status = 0x5555;
	return hyp_grant_table_op(GNTTABOP_query_size, qs, 1);
}

static long setup(struct gnttab_setup_table *st, domid_t dom, uint32_t nr,
		  xen_pfn_t *list)
{
	memset(st, 0, sizeof(*st));
	st->dom = dom;
	st->nr_frames = nr;
	st->status = 0x5555;
	set_xen_guest_handle(st->frame_list, list);
	return hyp_grant_table_op(GNTTABOP_setup_table, st, 1);
}

static void grant_versions(void)
{
	struct gnttab_set_version sv = { .version = 1 };
	struct gnttab_get_version gv = { .dom = DOMID_SELF };
	long rc;

	rc = hyp_grant_table_op(GNTTABOP_set_version, &sv, 1);
	check(rc == 0 && sv.version == 1, "grant: set_version(1) rc=%ld "
	      "version=%u", rc, sv.version);
	sv.version = 2;
	rc = hyp_grant_table_op(GNTTABOP_set_version, &sv, 1);
	check(rc == -XEN_ENOSYS && sv.version == 1,
	      "grant: set_version(2) refused, still v1 rc=%ld version=%u", rc,
	      sv.version);
	sv.version = 3;
	rc = hyp_grant_table_op(GNTTABOP_set_version, &sv, 1);
	check(rc == -XEN_EINVAL, "grant: set_version(3) rc=%ld", rc);
	rc = hyp_grant_table_op(GNTTABOP_get_version, &gv, 1);
	check(rc == 0 && gv.version == 1, "grant: get_version rc=%ld "
	      "version=%u", rc, gv.version);
	gv.dom = NOT_A_DOMAIN;
	rc = hyp_grant_table_op(GNTTABOP_get_version, &gv, 1);
	check(rc == -XEN_ESRCH, "grant: get_version of domain %d rc=%ld",
	      NOT_A_DOMAIN, rc);
}

static void grant_sizes(void)
{
	struct gnttab_query_size qs;
	struct gnttab_setup_table st;
	xen_pfn_t list[4] = { 0, 0, 0, 0 };
	long rc;

	rc = query(&qs, DOMID_SELF);
	check(rc == 0 && qs.status == GNTST_okay && qs.nr_frames == 1 &&
	      qs.max_nr_frames == 64,
	      "grant: query_size rc=%ld status=%d frames=%u max=%u", rc,
	      qs.status, qs.nr_frames, qs.max_nr_frames);
	rc = query(&qs, NOT_A_DOMAIN);
	check(rc == 0 && qs.status == GNTST_bad_domain,
	      "grant: query_size of domain %d status=%d", NOT_A_DOMAIN,
	      qs.status);
	rc = hyp_grant_table_op(GNTTABOP_query_size, &qs, 2);
	check(rc == -XEN_EINVAL, "grant: query_size count 2 rc=%ld", rc);
	rc = hyp_grant_table_op(GNTTABOP_query_size, BAD_PTR, 1);
	check(rc == -XEN_EFAULT, "grant: query_size bad pointer rc=%ld", rc);

	/* Nothing placed yet: an HVM guest is told ~0 for each frame. */
	rc = setup(&st, DOMID_SELF, 2, list);
	check(rc == 0 && st.status == GNTST_okay && list[0] == ~0ul &&
	      list[1] == ~0ul && list[2] == 0,
	      "grant: setup_table grows to 2 frames rc=%ld status=%d "
	      "list=%lx,%lx", rc, st.status, list[0], list[1]);
	rc = query(&qs, DOMID_SELF);
	check(rc == 0 && qs.nr_frames == 2, "grant: query_size after "
	      "setup_table frames=%u", qs.nr_frames);
	rc = setup(&st, DOMID_SELF, 65, list);
	check(rc == 0 && st.status == GNTST_general_error,
	      "grant: setup_table 65 frames status=%d", st.status);
	rc = setup(&st, DOMID_SELF, 1, BAD_PTR);
	check(rc == 0 && st.status == GNTST_bad_virt_addr,
	      "grant: setup_table to a bad frame list status=%d", st.status);
	rc = setup(&st, NOT_A_DOMAIN, 1, list);
	check(rc == 0 && st.status == GNTST_bad_domain,
	      "grant: setup_table of domain %d status=%d", NOT_A_DOMAIN,
	      st.status);
	rc = hyp_grant_table_op(GNTTABOP_setup_table, &st, 2);
	check(rc == -XEN_EINVAL, "grant: setup_table count 2 rc=%ld", rc);
	rc = hyp_grant_table_op(GNTTABOP_setup_table, BAD_PTR, 1);
	check(rc == -XEN_EFAULT, "grant: setup_table bad pointer rc=%ld", rc);
}

static int grant_placement(void)
{
	struct gnttab_query_size qs;
	struct gnttab_setup_table st;
	xen_pfn_t list[3];
	unsigned int i;
	int ok = 1;
	long rc;

	/* Frame 2 is past the table: placing it grows the table, as Xen. */
	rc = gnttab_init(3);
	if (!check(rc == 0, "grant: add_to_physmap of frames 0-2 rc=%ld", rc))
		return 0;
	rc = query(&qs, DOMID_SELF);
	check(rc == 0 && qs.nr_frames == 3, "grant: table grew to 3 frames "
	      "(%u)", qs.nr_frames);
	rc = setup(&st, DOMID_SELF, 3, list);
	for (i = 0; i < 3; i++)
		ok &= list[i] == gnttab_gfn(gnttab_area[i]);
	check(rc == 0 && st.status == GNTST_okay && ok,
	      "grant: setup_table reports the placed gfns %lx,%lx,%lx",
	      list[0], list[1], list[2]);

	rc = gnttab_place(0, BAD_GFN);
	check(rc == -XEN_EINVAL, "grant: add_to_physmap to gfn 0x%lx outside "
	      "RAM rc=%ld", BAD_GFN, rc);
	rc = gnttab_place(64, gnttab_gfn(gnttab_area[3]));
	check(rc == -XEN_EINVAL, "grant: add_to_physmap of frame 64 rc=%ld",
	      rc);
	rc = gnttab_place(XENMAPIDX_grant_table_status,
			  gnttab_gfn(gnttab_area[3]));
	check(rc == -XEN_EINVAL, "grant: add_to_physmap of a v2 status frame "
	      "rc=%ld", rc);
	rc = query(&qs, DOMID_SELF);
	check(rc == 0 && qs.nr_frames == 3, "grant: refused placements left "
	      "3 frames (%u)", qs.nr_frames);
	return 1;
}

static void fill(uint8_t *p, uint8_t seed)
{
	unsigned int i;

	for (i = 0; i < 4096; i++)
		p[i] = (uint8_t)(i * 7 + seed);
}

static void grant_copies(domid_t self)
{
	grant_ref_t end = gnttab_nr_frames * GNTTAB_PER_FRAME;
	struct gnttab_copy ops[3], op;
	long ra, rb, rc, st;

	fill(pg_src, 3);
	ra = gnttab_grant_access(self, gnttab_gfn(pg_a), 0);
	rb = gnttab_grant_access(self, gnttab_gfn(pg_b), 1);
	if (!check(ra >= GNTTAB_NR_RESERVED_ENTRIES && rb > ra,
		   "grant: granted two pages to domain %u: refs %ld, %ld",
		   self, ra, rb))
		return;

	op = gmfn_to_gref(pg_src, 0, ra, DOMID_SELF, 0, 4096);
	st = copy1(&op);
	check(st == GNTST_okay && !memcmp(pg_a, pg_src, 4096) &&
	      flags_of(ra) == GTF_permit_access,
	      "grant: copy a page from a gmfn into gref %ld status=%ld "
	      "flags=%x", ra, st, flags_of(ra));

	/* By our numeric domid this time. */
	op = gref_to_gmfn(ra, self, 100, pg_t, 50, 200);
	st = copy1(&op);
	check(st == GNTST_okay && !memcmp(pg_t + 50, pg_src + 100, 200) &&
	      all_bytes(pg_t, 50, 0) && all_bytes(pg_t + 250, 4096 - 250, 0),
	      "grant: copy 200 bytes back out of gref %ld status=%ld", ra, st);

	/* A batch: each element has its own status. */
	ops[0] = gmfn_to_gref(pg_src, 0, ra, DOMID_SELF, 0, 16);
	ops[1] = gmfn_to_gref(pg_src, 0, end, DOMID_SELF, 0, 16);
	ops[2] = gref_to_gmfn(ra, DOMID_SELF, 0, pg_t, 0, 16);
	ops[0].status = ops[1].status = ops[2].status = 0x5555;
	rc = copy_ops(ops, 3);
	check(rc == 0 && ops[0].status == GNTST_okay &&
	      ops[1].status == GNTST_bad_gntref &&
	      ops[2].status == GNTST_okay && !memcmp(pg_t, pg_src, 16),
	      "grant: batch of 3, statuses %d %d %d rc=%ld", ops[0].status,
	      ops[1].status, ops[2].status, rc);

	op = gmfn_to_gref(pg_src, 0, rb, DOMID_SELF, 0, 64);
	st = copy1(&op);
	check(st == GNTST_general_error && all_bytes(pg_b, 4096, 0) &&
	      flags_of(rb) == (GTF_permit_access | GTF_readonly),
	      "grant: copy into read-only gref %ld refused status=%ld "
	      "flags=%x", rb, st, flags_of(rb));
	op = gref_to_gmfn(rb, DOMID_SELF, 0, pg_t, 0, 64);
	st = copy1(&op);
	check(st == GNTST_okay && all_bytes(pg_t, 64, 0),
	      "grant: copy out of read-only gref %ld status=%ld", rb, st);

	/* Hostile references. */
	op = gref_to_gmfn(end, DOMID_SELF, 0, pg_t, 0, 8);
	st = copy1(&op);
	check(st == GNTST_bad_gntref, "grant: gref %u past the table "
	      "status=%ld", end, st);
	op = gref_to_gmfn(0xffffffffu, DOMID_SELF, 0, pg_t, 0, 8);
	st = copy1(&op);
	check(st == GNTST_bad_gntref, "grant: gref 0xffffffff status=%ld",
	      st);
	op = gref_to_gmfn(end - 1, DOMID_SELF, 0, pg_t, 0, 8);
	st = copy1(&op);
	check(st == GNTST_general_error, "grant: ungranted gref %u "
	      "status=%ld", end - 1, st);
	rc = gnttab_grant_access((domid_t)(self + 1), gnttab_gfn(pg_b), 0);
	op = gref_to_gmfn((grant_ref_t)rc, DOMID_SELF, 0, pg_t, 0, 8);
	st = copy1(&op);
	check(rc > 0 && st == GNTST_general_error,
	      "grant: gref %ld granted to domain %u, not us status=%ld", rc,
	      self + 1, st);
	rc = gnttab_grant_access(self, BAD_GFN, 0);
	op = gmfn_to_gref(pg_src, 0, (grant_ref_t)rc, DOMID_SELF, 0, 8);
	st = copy1(&op);
	check(rc > 0 && st == GNTST_bad_page &&
	      flags_of((grant_ref_t)rc) == GTF_permit_access,
	      "grant: gref %ld of a frame outside RAM status=%ld flags=%x",
	      rc, st, rc > 0 ? flags_of((grant_ref_t)rc) : 0);

	/* Offsets and lengths. */
	op = gmfn_to_gref(pg_src, 0, ra, DOMID_SELF, 4000, 200);
	st = copy1(&op);
	check(st == GNTST_bad_copy_arg && flags_of(ra) == GTF_permit_access,
	      "grant: copy past the end of the dest page status=%ld", st);
	op = gref_to_gmfn(ra, DOMID_SELF, 4095, pg_t, 0, 2);
	st = copy1(&op);
	check(st == GNTST_bad_copy_arg,
	      "grant: copy past the end of the source page status=%ld", st);
	op = gref_to_gmfn(end + 5, NOT_A_DOMAIN, 60000, BAD_PTR, 60000, 0);
	st = copy1(&op);
	check(st == GNTST_okay, "grant: zero-length copy is a no-op, as on "
	      "Xen status=%ld", st);

	/* Domains and frames. */
	op = gref_to_gmfn(ra, NOT_A_DOMAIN, 0, pg_t, 0, 8);
	st = copy1(&op);
	check(st == GNTST_bad_domain, "grant: gref of domain %d status=%ld",
	      NOT_A_DOMAIN, st);
	op = gmfn_to_gref(pg_src, 0, ra, DOMID_SELF, 0, 8);
	op.source.domid = self;
	st = copy1(&op);
	check(st == GNTST_permission_denied, "grant: gmfn named by domid %u "
	      "instead of DOMID_SELF status=%ld", self, st);
	op = gmfn_to_gref(pg_src, 0, ra, DOMID_SELF, 0, 8);
	op.source.u.gmfn = BAD_GFN;
	st = copy1(&op);
	check(st == GNTST_bad_page, "grant: gmfn 0x%lx outside RAM "
	      "status=%ld", BAD_GFN, st);

	/* Counts and pointers. */
	rc = copy_ops(ops, 0);
	check(rc == 0, "grant: copy of 0 elements rc=%ld", rc);
	rc = copy_ops(ops, 0x80000000u);
	check(rc == -XEN_EINVAL, "grant: copy count 0x80000000 rc=%ld", rc);
	rc = copy_ops(ops, 1000000);
	check(rc == -XEN_EINVAL || rc == -XEN_EFAULT,
	      "grant: copy count 1000000 rc=%ld", rc);
	rc = copy_ops(BAD_PTR, 1);
	check(rc == -XEN_EFAULT, "grant: copy from a bad pointer rc=%ld", rc);
	rc = hyp_grant_table_op(0x7fff, &op, 1);
	check(rc == -XEN_ENOSYS, "grant: unknown op rc=%ld", rc);

	check(gnttab_end_access((grant_ref_t)ra) == 0 &&
	      flags_of((grant_ref_t)ra) == 0,
	      "grant: end_access of gref %ld", ra);
	op = gmfn_to_gref(pg_src, 0, ra, DOMID_SELF, 0, 8);
	st = copy1(&op);
	check(st == GNTST_general_error, "grant: copy into revoked gref %ld "
	      "status=%ld", ra, st);
}

void scenario_grant(void)
{
	int domid;

	grant_versions();
	grant_sizes();
	if (!grant_placement())
		return;
	domid = xen_domid();
	if (!check(domid > 0 && domid < (int)DOMID_FIRST_RESERVED,
		   "grant: our domid from CPUID is %d", domid))
		return;
	grant_copies((domid_t)domid);
}
