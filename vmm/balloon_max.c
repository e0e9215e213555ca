/* SPDX-License-Identifier: MIT */
/*
 * The balloon's ceiling (--maxmem, the control socket's maxmem): the most
 * pages the guest may hold.  RAM is mapped once, --memory sized, so the
 * ceiling lies between what the guest holds now and that.  The fields
 * and their locks are balloon.h's.
 */
#include <errno.h>

#include "domain.h"
#include "mem.h"

int memory_set_max_pages(struct domain *d, uint64_t pages)
{
	int rc = 0;

	/* balloon.h's order: the grant table's lock, then xen.lock. */
	pthread_mutex_lock(&d->gnttab.lock);
	pthread_mutex_lock(&d->xen.lock);
	if (pages < d->cur_pages)
		rc = -EINVAL;
	else if (pages > d->ram_size / VMM_PAGE_SIZE)
		rc = -E2BIG;
	else
		d->max_pages = pages;
	pthread_mutex_unlock(&d->xen.lock);
	pthread_mutex_unlock(&d->gnttab.lock);
	return rc;
}
