/* SPDX-License-Identifier: MIT */
/*
 * Saving a domain's split-driver devices (docs/migration-stream.md,
 * DEVICE): with the domain paused, every device finishes the I/O in
 * flight and takes no more (quiesce), then says what a restore needs to
 * carry on where it stopped: the xenbus state here, its spec and ring in
 * the type's save().  The restore side is xenbus_dev_restore(), beside
 * xenbus_dev_add() in xenbus_back.c.  Loop thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "domain.h"
#include "log.h"
#include "xenbus_back.h"

int xenbus_back_quiesce(struct domain *d, char *err, size_t errlen)
{
	struct xenbus_back *xb = &d->xenbus;
	unsigned int i;
	int rc = 0;

	for (i = 0; rc == 0 && i < xb->nr_devs; i++) {
		struct xenbus_dev *dev = xb->devs[i];

		if (dev->removing) {
			snprintf(err, errlen, "%s %u is being detached",
				 dev->ops->type, dev->devid);
			rc = -EBUSY;
		} else if (!dev->ops->save) {
			snprintf(err, errlen,
				 "saving a domain with %s devices is not "
				 "supported",
				 dev->ops->type);
			rc = -EOPNOTSUPP;
		} else if (dev->ops->quiesce) {
			rc = dev->ops->quiesce(dev);
			if (rc < 0)
				snprintf(err, errlen,
					 "%s %u: its I/O in flight did not "
					 "finish: %s",
					 dev->ops->type, dev->devid,
					 strerror(-rc));
		}
	}
	return rc;
}

void xenbus_back_unquiesce(struct domain *d)
{
	struct xenbus_back *xb = &d->xenbus;
	unsigned int i;

	for (i = 0; i < xb->nr_devs; i++)
		if (xb->devs[i]->ops->unquiesce)
			xb->devs[i]->ops->unquiesce(xb->devs[i]);
}

int xenbus_back_save(struct domain *d, json_object *out)
{
	struct xenbus_back *xb = &d->xenbus;
	json_object *rec;
	unsigned int i;
	int rc = 0;

	for (i = 0; rc == 0 && i < xb->nr_devs; i++) {
		struct xenbus_dev *dev = xb->devs[i];

		rec = json_object_new_object();
		if (!rec)
			return -ENOMEM;
		json_object_object_add(rec, "type",
				       json_object_new_string(dev->ops->type));
		json_object_object_add(rec, "devid",
				       json_object_new_int64(dev->devid));
		json_object_object_add(rec, "state",
				       json_object_new_int64(dev->be_state));
		rc = dev->ops->save ? dev->ops->save(dev, rec) : -EOPNOTSUPP;
		json_object_array_add(out, rec);
	}
	return rc;
}
