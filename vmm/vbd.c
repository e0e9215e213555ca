/* SPDX-License-Identifier: MIT */
/*
 * Virtual block devices: the xenbus glue between a disk spec
 * (`--disk file:/img,xvda,w`), the xenbus state machine (xenbus_back.c)
 * and the block engine (blkback.c).
 *
 * connect() reads what the frontend wrote (ring-ref or ring-page-order
 * with ring-ref0..N-1, event-channel, protocol), binds dom0's end of its
 * event channel (a kick eventfd on our loop) and hands the ring to
 * blkback.  The frontend's values are hostile: every one is parsed with
 * bounds, and a bad one fails this device alone.
 */
#include "vbd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "blkback.h"
#include "diskspec.h"
#include "domain.h"
#include "log.h"
#include "xenbus_back.h"

#include <xen/io/protocols.h>

struct vbd {
	struct domain *d;
	struct xenbus_dev *dev;
	struct diskspec spec;
	struct blkback *bb;
	struct gnttab_grantee grantee;
	struct xenbus_kick kick;
	struct xenbus_port port;
	char *spec_text; /* as given: what a save records */
	/* What the frontend named at connect, for a save. */
	grant_ref_t refs[BLKBACK_MAX_RING_PAGES];
	unsigned int nr_refs;
	uint32_t fe_port;
	char protocol[32];
};

static void vbd_notify(void *ctx)
{
	struct vbd *v = ctx;

	xenbus_port_notify(&v->port);
}

static void vbd_event(void *ctx, enum blkback_event ev)
{
	struct vbd *v = ctx;

	if (!v->dev)
		return;
	if (ev == BLKBACK_EV_BROKEN)
		xenbus_dev_fail(v->dev, -EPROTO, "the frontend broke its ring");
	else
		xenbus_dev_disconnected(v->dev);
}

static void vbd_kicked(void *arg)
{
	struct vbd *v = arg;

	blkback_kick(v->bb);
}

static int vbd_features(struct xenbus_dev *dev)
{
	struct vbd *v = dev->priv;

	v->dev = dev;
	blkback_features(v->bb, xenbus_dev_put, dev);
	return 0;
}

static int vbd_connect(struct xenbus_dev *dev)
{
	struct vbd *v = dev->priv;
	grant_ref_t refs[BLKBACK_MAX_RING_PAGES];
	char protocol[32], key[20];
	uint64_t order = 0, ref;
	uint32_t port;
	unsigned int i, n;
	int rc;

	/* ring-page-order absent: one page named by ring-ref. */
	rc = xenbus_dev_read_uint(dev, "ring-page-order",
				  BLKBACK_MAX_RING_ORDER, &order);
	if (rc == -ENOENT)
		order = 0;
	else if (rc < 0)
		return rc;
	n = 1u << order;
	for (i = 0; i < n; i++) {
		if (rc == -ENOENT)
			snprintf(key, sizeof(key), "ring-ref");
		else
			snprintf(key, sizeof(key), "ring-ref%u", i);
		if (xenbus_dev_read_uint(dev, key, UINT32_MAX, &ref) < 0)
			return -EINVAL;
		refs[i] = (grant_ref_t)ref;
	}
	if (xenbus_dev_read_port(dev, "event-channel", &port) < 0)
		return -EINVAL;
	if (xenbus_dev_read(dev, "protocol", protocol, sizeof(protocol)) < 0)
		snprintf(protocol, sizeof(protocol), "%s",
			 XEN_IO_PROTO_ABI_NATIVE);
	rc = xenbus_port_bind(&v->port, &v->kick, port);
	if (rc < 0)
		return rc;
	rc = blkback_connect(v->bb, refs, n, protocol);
	if (rc < 0) {
		xenbus_port_unbind(&v->port);
		return rc;
	}
	memcpy(v->refs, refs, n * sizeof(refs[0]));
	v->nr_refs = n;
	v->fe_port = port;
	snprintf(v->protocol, sizeof(v->protocol), "%s", protocol);
	return 0;
}

static int vbd_disconnect(struct xenbus_dev *dev)
{
	struct vbd *v = dev->priv;
	int rc = blkback_disconnect(v->bb);

	/* Draining requests may still notify; the port goes after. */
	if (rc != -EINPROGRESS)
		xenbus_port_unbind(&v->port);
	return rc;
}

static void vbd_destroy(struct xenbus_dev *dev)
{
	struct vbd *v = dev->priv;
	struct blkback_stats st;

	/* The figures bench/blk reads; useful to an administrator too. */
	blkback_get_stats(v->bb, &st);
	log_info("vbd %u: %llu requests (%llu errors), %llu notifications, "
		 "%llu bytes read, %llu written",
		 v->spec.devid, (unsigned long long)st.requests,
		 (unsigned long long)st.errors,
		 (unsigned long long)st.notifications,
		 (unsigned long long)st.bytes_read,
		 (unsigned long long)st.bytes_written);
	blkback_close(v->bb);
	xenbus_port_unbind(&v->port);
	xenbus_kick_close(&v->kick);
	free(v->spec_text);
	free(v);
}

/* --- save and restore (docs/migration-stream.md, DEVICE) ---------------- */

static int vbd_quiesce(struct xenbus_dev *dev)
{
	struct vbd *v = dev->priv;

	return blkback_quiesce(v->bb);
}

static void vbd_unquiesce(struct xenbus_dev *dev)
{
	struct vbd *v = dev->priv;

	blkback_unquiesce(v->bb);
}

static int vbd_save(struct xenbus_dev *dev, json_object *rec)
{
	struct vbd *v = dev->priv;
	json_object *ring, *refs;
	uint32_t req_cons, rsp_prod_pvt;
	unsigned int i;

	json_object_object_add(rec, "spec",
			       json_object_new_string(v->spec_text));
	if (!dev->connected ||
	    blkback_ring_get(v->bb, &req_cons, &rsp_prod_pvt) < 0)
		return 0;
	ring = json_object_new_object();
	refs = json_object_new_array();
	for (i = 0; i < v->nr_refs; i++)
		json_object_array_add(refs, json_object_new_int64(v->refs[i]));
	json_object_object_add(ring, "ring-ref", refs);
	json_object_object_add(ring, "event-channel",
			       json_object_new_int64(v->fe_port));
	json_object_object_add(ring, "protocol",
			       json_object_new_string(v->protocol));
	json_object_object_add(ring, "req_cons",
			       json_object_new_int64(req_cons));
	json_object_object_add(ring, "rsp_prod_pvt",
			       json_object_new_int64(rsp_prod_pvt));
	json_object_object_add(rec, "ring", ring);
	return 0;
}

/* An integer member of o in [0, max]; -EINVAL otherwise. */
static int vbd_json_uint(json_object *o, const char *key, uint64_t max,
			 uint64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return -EINVAL;
	*out = (uint64_t)n;
	return 0;
}

/* Back on the saved ring: same grants, same port, same indexes. */
static int vbd_restore_ring(struct xenbus_dev *dev, json_object *rec)
{
	struct vbd *v = dev->priv;
	grant_ref_t refs[BLKBACK_MAX_RING_PAGES];
	json_object *ring, *arr, *proto;
	uint64_t n, ref, port, req_cons, rsp_prod_pvt;
	const char *protocol = "";
	unsigned int i;
	int rc;

	if (!json_object_object_get_ex(rec, "ring", &ring) ||
	    !json_object_is_type(ring, json_type_object) ||
	    !json_object_object_get_ex(ring, "ring-ref", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return -EINVAL;
	n = json_object_array_length(arr);
	if (n < 1 || n > BLKBACK_MAX_RING_PAGES)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(arr, i);

		if (!json_object_is_type(e, json_type_int) ||
		    json_object_get_int64(e) < 0 ||
		    json_object_get_int64(e) > UINT32_MAX)
			return -EINVAL;
		ref = (uint64_t)json_object_get_int64(e);
		refs[i] = (grant_ref_t)ref;
	}
	if (vbd_json_uint(ring, "event-channel", EVTCHN_MAX - 1, &port) < 0 ||
	    vbd_json_uint(ring, "req_cons", UINT32_MAX, &req_cons) < 0 ||
	    vbd_json_uint(ring, "rsp_prod_pvt", UINT32_MAX, &rsp_prod_pvt) < 0)
		return -EINVAL;
	if (json_object_object_get_ex(ring, "protocol", &proto)) {
		if (!json_object_is_type(proto, json_type_string) ||
		    json_object_get_string_len(proto) >=
			    (int)sizeof(v->protocol))
			return -EINVAL;
		protocol = json_object_get_string(proto);
	}
	rc = xenbus_port_bind(&v->port, &v->kick, (uint32_t)port);
	if (rc < 0)
		return rc;
	rc = blkback_connect(v->bb, refs, (unsigned int)n, protocol);
	if (rc == 0)
		rc = blkback_ring_set(v->bb, (uint32_t)req_cons,
				      (uint32_t)rsp_prod_pvt);
	if (rc < 0) {
		(void)blkback_disconnect(v->bb);
		xenbus_port_unbind(&v->port);
		return rc;
	}
	memcpy(v->refs, refs, n * sizeof(refs[0]));
	v->nr_refs = (unsigned int)n;
	v->fe_port = (uint32_t)port;
	snprintf(v->protocol, sizeof(v->protocol), "%s", protocol);
	/*
	 * What the frontend queued while the domain was away: now, or
	 * once an incoming domain is ours (the source may yet run it).
	 */
	if (!v->d->xenbus.incoming)
		blkback_kick(v->bb);
	else if (blkback_quiesce(v->bb) < 0)
		return -EIO; /* nothing is in flight on a restored ring */
	return 0;
}

static const struct xenbus_dev_ops vbd_ops = {
	.type = "vbd",
	.features = vbd_features,
	.connect = vbd_connect,
	.disconnect = vbd_disconnect,
	.destroy = vbd_destroy,
	.quiesce = vbd_quiesce,
	.unquiesce = vbd_unquiesce,
	.save = vbd_save,
	.restore = vbd_restore_ring,
};

/* rec NULL: a new disk; else a saved one's DEVICE record. */
static int vbd_create(struct domain *d, const char *spec, json_object *rec)
{
	struct blkback_env env = {0};
	char err[256], name[48];
	struct vbd *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->d = d;
	xenbus_kick_clear(&v->kick);
	v->spec_text = strdup(spec);
	if (!v->spec_text) {
		rc = -ENOMEM;
		goto fail;
	}
	if (diskspec_parse(spec, &v->spec, err, sizeof(err)) < 0) {
		log_errx("--disk %s", err);
		rc = -EINVAL;
		goto fail;
	}
	v->grantee = (struct gnttab_grantee){.d = d, .domid = 0};
	snprintf(name, sizeof(name), "dom %u vbd %u", d->xen.domid,
		 v->spec.devid);
	env.gnttab = &gnttab_domain_ops;
	env.gnttab_ctx = &v->grantee;
	env.notify = vbd_notify;
	env.event = vbd_event;
	env.ctx = v;
	env.loop = &d->loop;
	env.name = name;
	env.unlocked = d->xenbus.incoming;
	rc = blkback_open(&v->bb, v->spec.path, v->spec.readonly, &env);
	if (rc < 0) {
		log_errx("--disk %s: %s: %s", spec, v->spec.path,
			 strerror(-rc));
		goto fail;
	}
	rc = xenbus_kick_open(&v->kick, d, vbd_kicked, v);
	if (rc < 0)
		goto fail;
	{
		const struct xenbus_kv fe[] = {
			{"device-type", "disk"},
			{NULL, NULL},
		};
		const struct xenbus_kv be[] = {
			{"params", v->spec.path},
			{"type", v->spec.is_phy ? "phy" : "file"},
			{"mode", v->spec.readonly ? "r" : "w"},
			{"dev", v->spec.vdev},
			{"device-type", "disk"},
			{"removable", "0"},
			{"bootable", "1"},
			{NULL, NULL},
		};

		rc = rec ? xenbus_dev_restore(d, &vbd_ops, v->spec.devid, v, be,
					      rec)
			 : xenbus_dev_add(d, &vbd_ops, v->spec.devid, v, fe, be);
	}
	if (rc < 0)
		goto fail;
	return 0;
fail:
	if (v->bb)
		blkback_close(v->bb);
	xenbus_port_unbind(&v->port);
	xenbus_kick_close(&v->kick);
	free(v->spec_text);
	free(v);
	return rc;
}

int vbd_add(struct domain *d, const char *spec)
{
	return vbd_create(d, spec, NULL);
}

int vbd_restore(struct domain *d, const char *spec, json_object *rec)
{
	return vbd_create(d, spec, rec);
}

int vbd_remove(struct domain *d, const char *vdev, unsigned int timeout_ms,
	       xenbus_removed_fn *done, void *arg)
{
	unsigned int devid;

	if (diskspec_vdev_devid(vdev, &devid) < 0)
		return -EINVAL;
	return xenbus_dev_remove(d, vbd_ops.type, devid, timeout_ms, done,
				 arg);
}

/* Device i of the domain if it is a vbd, else NULL.  Under xb->lock. */
static struct vbd *vbd_nth(struct xenbus_back *xb, unsigned int i)
{
	return xb->devs[i]->ops == &vbd_ops ? xb->devs[i]->priv : NULL;
}

int vbd_locks(struct domain *d, bool lock)
{
	struct xenbus_back *xb = &d->xenbus;
	struct vbd *v;
	unsigned int i, j;
	int rc = 0;

	pthread_mutex_lock(&xb->lock);
	for (i = 0; rc == 0 && i < xb->nr_devs; i++) {
		if (!(v = vbd_nth(xb, i)))
			continue;
		if (!lock) {
			blkback_unlock(v->bb);
			continue;
		}
		rc = blkback_lock(v->bb);
		/* What this host cached of the image may be stale now. */
		if (rc == 0) {
			blkback_drop_cache(v->bb);
			continue;
		}
		log_errx("vbd %u: %s is in use", v->spec.devid, v->spec.path);
		/* All or none. */
		for (j = 0; j < i; j++)
			if ((v = vbd_nth(xb, j)))
				blkback_unlock(v->bb);
	}
	pthread_mutex_unlock(&xb->lock);
	return rc;
}

int vbd_sync(struct domain *d)
{
	struct xenbus_back *xb = &d->xenbus;
	struct vbd *v;
	unsigned int i;
	int rc = 0;

	pthread_mutex_lock(&xb->lock);
	for (i = 0; rc == 0 && i < xb->nr_devs; i++) {
		if (!(v = vbd_nth(xb, i)))
			continue;
		rc = blkback_sync(v->bb);
		if (rc < 0)
			log_errx("vbd %u: %s: fdatasync: %s", v->spec.devid,
				 v->spec.path, strerror(-rc));
	}
	pthread_mutex_unlock(&xb->lock);
	return rc;
}
