/* SPDX-License-Identifier: MIT */
/*
 * Ballooning (balloon.h): the bitmap of released gfns, giving pages back
 * to the host and taking them back, and the BAL1 state section.
 *
 * Releasing a page punches a hole in the guest's memfd: the host frees
 * it, KVM drops its mappings of it through the MMU notifier, and the
 * next touch, by anybody, finds a new zeroed page.  The same punch makes
 * a page the guest takes back read as zeros, whatever happened to the
 * hole meanwhile.
 */
#include "balloon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"

static struct log_ratelimit balloon_rl = LOG_RATELIMIT_INIT;

uint64_t balloon_nr_gfns(const struct domain *d)
{
	return mem_ram_end(d) / VMM_PAGE_SIZE;
}

static uint64_t balloon_words(const struct domain *d)
{
	return (balloon_nr_gfns(d) + 63) / 64;
}

bool balloon_gfn_released(const struct domain *d, uint64_t gfn)
{
	const uint64_t *map =
	    __atomic_load_n(&d->balloon_released, __ATOMIC_ACQUIRE);

	if (!map || gfn >= balloon_nr_gfns(d))
		return false;
	return __atomic_load_n(&map[gfn / 64], __ATOMIC_ACQUIRE) &
	       (1ULL << (gfn % 64));
}

/* The bitmap, made on first use.  Under both locks; NULL: no memory. */
static uint64_t *balloon_map(struct domain *d)
{
	uint64_t *map = d->balloon_released;

	if (map)
		return map;
	map = calloc(balloon_words(d) ? balloon_words(d) : 1, sizeof(*map));
	if (!map) {
		log_warnx_rl(&balloon_rl, "balloon: out of memory");
		return NULL;
	}
	__atomic_store_n(&d->balloon_released, map, __ATOMIC_RELEASE);
	return map;
}

static void balloon_set(uint64_t *map, uint64_t gfn, bool released)
{
	uint64_t bit = 1ULL << (gfn % 64);

	if (released)
		__atomic_fetch_or(&map[gfn / 64], bit, __ATOMIC_RELEASE);
	else
		__atomic_fetch_and(&map[gfn / 64], ~bit, __ATOMIC_RELEASE);
}

/*
 * Frees [gfn, gfn + count) in the host and leaves it reading as zeros.
 * A domain without a memfd (a unit test's) or a failed punch gets the
 * zeros by hand.
 */
static void balloon_punch(struct domain *d, uint64_t gfn, uint64_t count)
{
	off_t off = (off_t)(gfn * VMM_PAGE_SIZE);
	off_t len = (off_t)(count * VMM_PAGE_SIZE);

	if (!count)
		return;
	if (d->mem_fd >= 0 &&
	    fallocate(d->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, len) == 0)
		return;
	if (d->mem_fd >= 0)
		log_warn("balloon: punching gfns 0x%llx+%llu",
			 (unsigned long long)gfn, (unsigned long long)count);
	memset(d->ram + off, 0, (size_t)len);
}

/*
 * Consecutive gfns, listed upward or downward (as a balloon driver gives
 * pages back from the top), are punched with one call.
 */
struct balloon_run {
	uint64_t gfn, count;
};

static void balloon_run_add(struct domain *d, struct balloon_run *r,
			    uint64_t gfn)
{
	if (r->count && gfn == r->gfn + r->count) {
		r->count++;
		return;
	}
	if (r->count && gfn + 1 == r->gfn) {
		r->gfn = gfn;
		r->count++;
		return;
	}
	balloon_punch(d, r->gfn, r->count);
	r->gfn = gfn;
	r->count = 1;
}

/*
 * Why the hypervisor needs gfn in RAM, or NULL.  Under both locks: the
 * placements checked here change under one of them.
 */
static const char *balloon_gfn_in_use(struct domain *d, uint64_t gfn)
{
	const struct gnttab *gt = &d->gnttab;
	unsigned int i;

	if (d->xen.shared_info_gfn == gfn)
		return "shared_info";
	for (i = 0; gt->initialised && i < gt->nr_frames; i++)
		if (gt->frame_gfn[i] == gfn)
			return "a grant-table frame";
	for (i = 0; i < d->nr_vcpus; i++) {
		uint64_t gpa = d->xen.vcpu[i].vcpu_info_gpa;

		if (gpa != VCPU_INFO_NONE && gpa / VMM_PAGE_SIZE == gfn)
			return "a vcpu_info";
	}
	return NULL;
}

static void balloon_lock(struct domain *d)
{
	pthread_mutex_lock(&d->gnttab.lock);
	pthread_mutex_lock(&d->xen.lock);
}

static void balloon_unlock(struct domain *d)
{
	pthread_mutex_unlock(&d->xen.lock);
	pthread_mutex_unlock(&d->gnttab.lock);
}

static void balloon_refuse(const char *op, uint64_t gfn, const char *why)
{
	log_warnx_rl(&balloon_rl, "balloon: %s of gfn 0x%llx refused: %s", op,
		     (unsigned long long)gfn, why);
}

unsigned int balloon_decrease(struct domain *d, const uint64_t *gfns,
			      unsigned int n)
{
	struct balloon_run run = {0, 0};
	const char *why = NULL;
	uint64_t *map;
	unsigned int i;

	balloon_lock(d);
	map = balloon_map(d);
	for (i = 0; map && i < n; i++) {
		uint64_t gfn = gfns[i];

		if (gfn >= balloon_nr_gfns(d))
			why = "not RAM the guest may give back";
		else if (balloon_gfn_released(d, gfn))
			why = "given back already";
		else
			why = balloon_gfn_in_use(d, gfn);
		if (why) {
			balloon_refuse("decrease_reservation", gfn, why);
			break;
		}
		balloon_set(map, gfn, true);
		mem_mark_dirty(d, gfn);
		d->cur_pages--;
		balloon_run_add(d, &run, gfn);
	}
	balloon_punch(d, run.gfn, run.count);
	balloon_unlock(d);
	return map ? i : 0;
}

unsigned int balloon_populate(struct domain *d, const uint64_t *gfns,
			      unsigned int n)
{
	struct balloon_run run = {0, 0};
	const char *why = NULL;
	uint64_t *map;
	unsigned int i;

	balloon_lock(d);
	map = d->balloon_released;
	for (i = 0; i < n; i++) {
		uint64_t gfn = gfns[i];

		if (gfn >= balloon_nr_gfns(d))
			why = "not RAM the guest may give back";
		else if (!balloon_gfn_released(d, gfn))
			why = "populated already";
		else if (d->cur_pages >= d->max_pages)
			why = "the domain is at its maximum reservation";
		if (why) {
			balloon_refuse("populate_physmap", gfn, why);
			break;
		}
		balloon_set(map, gfn, false);
		mem_mark_dirty(d, gfn);
		d->cur_pages++;
		balloon_run_add(d, &run, gfn);
	}
	balloon_punch(d, run.gfn, run.count);
	balloon_unlock(d);
	return i;
}

void balloon_destroy(struct domain *d)
{
	free(d->balloon_released);
	d->balloon_released = NULL;
}

/*
 * BAL1 (docs/vmm-state.md): u64 max_pages, u64 nr_ranges, then each
 * released range as { u64 gfn; u64 count; }, ascending, neither
 * overlapping nor touching.
 */
struct balloon_image {
	uint64_t max_pages;
	uint64_t nr_ranges;
};

struct balloon_range {
	uint64_t gfn;
	uint64_t count;
};

/* The released ranges of map (NULL: none), appended to out. */
static int balloon_ranges(const struct domain *d, const uint64_t *map,
			  struct buf *out, uint64_t *nr)
{
	uint64_t gfn = 0, end = balloon_nr_gfns(d);
	struct balloon_range r;
	int rc;

	*nr = 0;
	while (map && gfn < end) {
		if (!map[gfn / 64]) {
			gfn = (gfn / 64 + 1) * 64;
			continue;
		}
		if (!(map[gfn / 64] & (1ULL << (gfn % 64)))) {
			gfn++;
			continue;
		}
		r.gfn = gfn;
		while (gfn < end && (map[gfn / 64] & (1ULL << (gfn % 64))))
			gfn++;
		r.count = gfn - r.gfn;
		rc = buf_append(out, &r, sizeof(r));
		if (rc < 0)
			return rc;
		(*nr)++;
	}
	return 0;
}

int balloon_save(struct domain *d, struct buf *out)
{
	struct balloon_image h = {0, 0};
	struct buf payload = {0};
	int rc;

	rc = buf_append(&payload, &h, sizeof(h));
	if (rc < 0)
		goto out;
	pthread_mutex_lock(&d->xen.lock);
	h.max_pages = d->max_pages;
	rc = balloon_ranges(d, d->balloon_released, &payload, &h.nr_ranges);
	pthread_mutex_unlock(&d->xen.lock);
	if (rc < 0)
		goto out;
	memcpy(payload.data, &h, sizeof(h));
	rc =
	    state_put_section(out, STATE_TAG_BAL, 1, payload.data, payload.len);
out:
	buf_free(&payload);
	return rc;
}

/* Parses a BAL1 payload into a fresh bitmap; *released: its page count. */
static int balloon_stage(struct domain *d, uint32_t version,
			 struct state_reader *r, struct balloon_image *h,
			 uint64_t *map, uint64_t *released)
{
	uint64_t i, prev_end = 0, ram_pages = d->ram_size / VMM_PAGE_SIZE;
	struct balloon_range range;

	*released = 0;
	if (version != 1 || state_read(r, h, sizeof(*h)) < 0 ||
	    h->nr_ranges > (r->len - r->off) / sizeof(range) ||
	    r->len - r->off != h->nr_ranges * sizeof(range)) {
		log_errx("balloon: BAL1 section: bad version or size");
		return -EINVAL;
	}
	for (i = 0; i < h->nr_ranges; i++) {
		/* Cannot fail: the size was checked. */
		if (state_read(r, &range, sizeof(range)) < 0)
			return -EINVAL;
		if (!range.count || range.gfn >= balloon_nr_gfns(d) ||
		    range.count > balloon_nr_gfns(d) - range.gfn ||
		    (i && range.gfn <= prev_end)) {
			log_errx("balloon: BAL1: range %llu (gfn 0x%llx, %llu "
				 "pages) outside RAM, empty or out of order",
				 (unsigned long long)i,
				 (unsigned long long)range.gfn,
				 (unsigned long long)range.count);
			return -EINVAL;
		}
		prev_end = range.gfn + range.count;
		*released += range.count;
		for (; range.gfn < prev_end; range.gfn++)
			map[range.gfn / 64] |= 1ULL << (range.gfn % 64);
	}
	if (h->max_pages > ram_pages || h->max_pages < ram_pages - *released) {
		log_errx("balloon: BAL1: maximum of %llu pages outside %llu.."
			 "%llu",
			 (unsigned long long)h->max_pages,
			 (unsigned long long)(ram_pages - *released),
			 (unsigned long long)ram_pages);
		return -EINVAL;
	}
	return 0;
}

/* A page the loaded Xen state uses must not be released.  Under locks. */
static int balloon_check_in_use(struct domain *d, const uint64_t *map)
{
	uint64_t gfn;
	const char *why;

	for (gfn = 0; gfn < balloon_nr_gfns(d); gfn++) {
		if (!(map[gfn / 64] & (1ULL << (gfn % 64))))
			continue;
		why = balloon_gfn_in_use(d, gfn);
		if (why) {
			log_errx("balloon: BAL1: gfn 0x%llx is released but "
				 "holds %s",
				 (unsigned long long)gfn, why);
			return -EINVAL;
		}
	}
	return 0;
}

int balloon_load(struct domain *d, struct state_reader image)
{
	struct state_reader r, found = {NULL, 0, 0};
	struct balloon_run run = {0, 0};
	struct state_section_hdr hdr;
	uint64_t *map = NULL, *cur, released = 0, gfn, i;
	struct balloon_image h;
	uint32_t version = 0;
	unsigned int seen = 0;
	int rc, more;

	while ((more = state_next_section(&image, &hdr, &r)) > 0) {
		if (hdr.tag != STATE_TAG_BAL)
			continue;
		found = r;
		version = hdr.version;
		seen++;
	}
	if (more < 0 || seen != 1) {
		log_errx("balloon: the image lacks or repeats a BAL1 section, "
			 "or a section runs past its end");
		return -EINVAL;
	}
	map = calloc(balloon_words(d) ? balloon_words(d) : 1, sizeof(*map));
	if (!map)
		return -ENOMEM;
	rc = balloon_stage(d, version, &found, &h, map, &released);
	if (rc < 0)
		goto out;
	balloon_lock(d);
	rc = balloon_check_in_use(d, map);
	cur = rc == 0 ? balloon_map(d) : NULL;
	if (rc == 0 && !cur)
		rc = -ENOMEM;
	if (rc == 0) {
		/* The bitmap stays where lock-free readers found it. */
		for (i = 0; i < balloon_words(d); i++)
			__atomic_store_n(&cur[i], map[i], __ATOMIC_RELEASE);
		d->max_pages = h.max_pages;
		d->cur_pages = d->ram_size / VMM_PAGE_SIZE - released;
		/* RAM came with zeros there: give them back to the host. */
		for (gfn = 0; gfn < balloon_nr_gfns(d); gfn++)
			if (map[gfn / 64] & (1ULL << (gfn % 64)))
				balloon_run_add(d, &run, gfn);
		balloon_punch(d, run.gfn, run.count);
	}
	balloon_unlock(d);
out:
	free(map);
	return rc;
}
