/*
 * test=balloon: XENMEM_decrease_reservation and XENMEM_populate_physmap
 * against a hostile guest, which this is.  Refused as on Xen: an order
 * above 0, populate-on-demand, another domain, a bad pointer (-errno for
 * the request); frames outside RAM, the special pages, the page holding
 * shared_info, a page given back twice, a page populated twice (the
 * count of extents done stops there).  A page given back is gone: a
 * hypercall argument in it faults and shared_info cannot move onto it;
 * one taken back reads zeros.  The extent list is read one frame at a
 * time (a fault ends the count there) and from start_extent on (Xen's
 * continuation).  Last, the balloon driver gives back 4 MiB in batches
 * and takes them back, and the hypervisor's count follows.
 *
 * Frames used: a few dozen at the bottom of the balloon's range (the
 * driver works from the top).
 */
#include "balloon.h"
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

#define BAD_PTR ((void *)0x00007fff00000000ul)
#define PATTERN 0xfeedfacecafef00dull
/* Xen's continuation: the extent to start from, in cmd's upper bits. */
#define START_EXTENT(i) ((unsigned int)(i) << 6)

static xen_pfn_t bl_list[8];

static long bl_op(unsigned int cmd, xen_pfn_t *list, unsigned long n,
		  unsigned int order, domid_t dom)
{
	struct xen_memory_reservation r = {
		.nr_extents = n,
		.extent_order = order,
		.domid = dom,
	};

	set_xen_guest_handle(r.extent_start, list);
	return hyp_memory_op(cmd, &r);
}

/* Gives back or takes back the listed frames: how many were done. */
static long bl_give(unsigned long n)
{
	return bl_op(XENMEM_decrease_reservation, bl_list, n, 0, DOMID_SELF);
}

static long bl_take(unsigned long n)
{
	return bl_op(XENMEM_populate_physmap, bl_list, n, 0, DOMID_SELF);
}

static volatile uint64_t *bl_word(uint64_t gfn)
{
	return (volatile uint64_t *)(uintptr_t)(gfn << 12);
}

/* The request as a whole refused, whatever its frames. */
static void bl_requests(uint64_t g)
{
	struct xen_memory_reservation pod = {
		.nr_extents = 1,
		.mem_flags = XENMEMF_populate_on_demand,
		.domid = DOMID_SELF,
	};
	long r1, r2, r3;

	bl_list[0] = g;
	r1 = bl_op(XENMEM_decrease_reservation, bl_list, 1, 1, DOMID_SELF);
	r2 = bl_op(XENMEM_populate_physmap, bl_list, 1, 9, DOMID_SELF);
	check(r1 == -XEN_EINVAL && r2 == -XEN_EINVAL,
	      "balloon: order 1 and 9 extents rc=%ld,%ld (-EINVAL)", r1, r2);
	set_xen_guest_handle(pod.extent_start, bl_list);
	r1 = hyp_memory_op(XENMEM_populate_physmap, &pod);
	check(r1 == -XEN_EINVAL, "balloon: populate-on-demand rc=%ld (-EINVAL)",
	      r1);
	r1 = bl_op(XENMEM_decrease_reservation, bl_list, 1, 0, 0);
	r2 = bl_op(XENMEM_populate_physmap, bl_list, 1, 0, 0x7fef);
	check(r1 == -XEN_ESRCH && r2 == -XEN_ESRCH,
	      "balloon: another domain's memory rc=%ld,%ld (-ESRCH)", r1, r2);
	r1 = hyp_memory_op(XENMEM_decrease_reservation, BAD_PTR);
	check(r1 == -XEN_EFAULT, "balloon: reservation at a bad pointer "
	      "rc=%ld (-EFAULT)", r1);
	r1 = bl_op(XENMEM_decrease_reservation, BAD_PTR, 4, 0, DOMID_SELF);
	r2 = bl_give(0);
	r3 = bl_op(XENMEM_decrease_reservation | START_EXTENT(5), bl_list, 2, 0,
		   DOMID_SELF);
	check(r1 == 0 && r2 == 0 && r3 == 5,
	      "balloon: a list at a bad pointer did %ld, none %ld, "
	      "start_extent 5 of 2 %ld", r1, r2, r3);
}

/* Frames the hypervisor keeps: nothing done. */
static void bl_refused_frames(void)
{
	uint64_t special = balloon.top_gfn;
	uint64_t shinfo_gfn = (uintptr_t)shinfo >> 12;
	long r1, r2, r3, r4;

	bl_list[0] = 0x7fffffffful;
	r1 = bl_give(1);
	bl_list[0] = ~0ull;
	r2 = bl_give(1);
	check(r1 == 0 && r2 == 0,
	      "balloon: frames beyond RAM: %ld,%ld done", r1, r2);
	bl_list[0] = special;
	r1 = bl_give(1);
	bl_list[0] = special + 1;
	r2 = bl_give(1);
	bl_list[0] = shinfo_gfn;
	r3 = bl_give(1);
	bl_list[0] = special;
	r4 = bl_take(1);
	check(r1 == 0 && r2 == 0 && r3 == 0 && r4 == 0,
	      "balloon: XenStore and console rings, shared_info (gfn 0x%lx): "
	      "%ld,%ld,%ld given back, ring %ld populated", shinfo_gfn, r1, r2,
	      r3, r4);
}

static void bl_give_and_take(uint64_t g, long total)
{
	struct xen_add_to_physmap xatp = {
		.domid = DOMID_SELF,
		.space = XENMAPSPACE_shared_info,
		.gpfn = g,
	};
	long r1, r2, r3, cur;

	*bl_word(g) = PATTERN;
	bl_list[0] = g;
	bl_list[1] = g + 1;
	bl_list[2] = ~0ull;
	r1 = bl_give(3);
	cur = balloon_reservation();
	check(r1 == 2 && cur == total - 2,
	      "balloon: gfns 0x%lx-0x%lx and a bad one: %ld given back, "
	      "reservation %ld of %ld", g, g + 1, r1, cur, total);

	bl_list[0] = g + 2;
	bl_list[1] = g;
	r1 = bl_give(2);
	check(r1 == 1, "balloon: given back twice: %ld of 2 done", r1);

	r1 = hyp_console_io(CONSOLEIO_write, 8, (void *)(uintptr_t)(g << 12));
	r2 = hyp_memory_op(XENMEM_add_to_physmap, &xatp);
	check(r1 == -XEN_EFAULT && r2 == -XEN_EINVAL,
	      "balloon: a page given back: console_io from it rc=%ld "
	      "(-EFAULT), shared_info onto it rc=%ld (-EINVAL)", r1, r2);

	bl_list[0] = g;
	bl_list[1] = g + 1;
	bl_list[2] = g + 2;
	bl_list[3] = g + 1;
	r1 = bl_take(4);
	bl_list[0] = g + 3;
	r2 = bl_take(1);
	cur = balloon_reservation();
	check(r1 == 3 && r2 == 0 && cur == total,
	      "balloon: taken back %ld of 4 (one twice), a page never given "
	      "back %ld; reservation %ld", r1, r2, cur);
	r3 = hyp_console_io(CONSOLEIO_write, 0, (void *)(uintptr_t)(g << 12));
	check(*bl_word(g) == 0 && r3 == 0,
	      "balloon: the page taken back reads 0x%lx (zeroed), usable "
	      "again rc=%ld", *bl_word(g), r3);
}

/* The list is read frame by frame: one in a page given back faults. */
static void bl_list_faults(uint64_t g)
{
	xen_pfn_t *list = (xen_pfn_t *)(uintptr_t)((g << 12) + 4096 - 16);
	long r1, r2, r3, cur0 = balloon_reservation(), cur;

	bl_list[0] = g + 1;
	r1 = bl_give(1);
	list[0] = g + 4;
	list[1] = g + 5;
	/* list[2] would be in g + 1, which is gone. */
	r2 = bl_op(XENMEM_decrease_reservation, list, 3, 0, DOMID_SELF);
	cur = balloon_reservation();
	check(r1 == 1 && r2 == 2 && cur == cur0 - 3,
	      "balloon: a list running into a page given back: %ld of 3 "
	      "done, reservation %ld", r2, cur);

	/* start_extent 1 (a continuation): only the second frame. */
	bl_list[0] = g + 6;
	bl_list[1] = g + 7;
	r1 = bl_op(XENMEM_decrease_reservation | START_EXTENT(1), bl_list, 2, 0,
		   DOMID_SELF);
	r2 = bl_take(1);	/* g + 6: never given back */
	bl_list[0] = g + 7;
	r3 = bl_take(1);
	check(r1 == 2 && r2 == 0 && r3 == 1,
	      "balloon: from start_extent 1: %ld done; the first frame "
	      "was left (%ld), the second was not (%ld)", r1, r2, r3);

	bl_list[0] = g + 1;
	bl_list[1] = g + 4;
	bl_list[2] = g + 5;
	r1 = bl_take(3);
	check(r1 == 3 && balloon_reservation() == cur0,
	      "balloon: all taken back (%ld)", r1);
}

/* The driver, in batches: 4 MiB out and back. */
static void bl_driver(long total)
{
	uint64_t kib = (uint64_t)total * 4;
	long cur1, cur2;
	int rc1, rc2;

	rc1 = balloon_set_target(kib - 4096);
	cur1 = balloon_reservation();
	rc2 = balloon_set_target(kib);
	cur2 = balloon_reservation();
	check(rc1 == 0 && cur1 == total - 1024 && rc2 == 0 && cur2 == total,
	      "balloon: 4 MiB given back in batches rc=%d (reservation %ld), "
	      "taken back rc=%d (%ld)", rc1, cur1, rc2, cur2);
}

void scenario_balloon(void)
{
	domid_t self = DOMID_SELF;
	long total, max;
	uint64_t g;
	int rc;

	rc = events_init();
	if (!check(rc == 0, "balloon: shared_info placed rc=%d", rc))
		return;
	rc = balloon_init();
	total = balloon_reservation();
	max = hyp_memory_op(XENMEM_maximum_reservation, &self);
	if (!check(rc == 0 && total > 0 && max == total &&
		   balloon.top_gfn - balloon.low_gfn >= 2048,
		   "balloon: %ld pages, maximum %ld; we may give back "
		   "0x%lx-0x%lx rc=%d", total, max, balloon.low_gfn,
		   balloon.top_gfn, rc))
		return;
	g = balloon.low_gfn;
	bl_requests(g);
	bl_refused_frames();
	bl_give_and_take(g, total);
	bl_list_faults(g + 16);
	bl_driver(total);
}
