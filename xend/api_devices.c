/* SPDX-License-Identifier: MIT */
/*
 * Device endpoints: block-list/attach/detach and network-list/attach/
 * detach.  Lists read XenStore, as Xen's xm does (the backend's and the
 * frontend's directories); attach and detach ask the domain's vmm, which
 * owns the backends (docs/vmm-control.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "diskspec.h"
#include "log.h"

static void dev_add_str(json_object *o, const char *key, char *value)
{
	json_object_object_add(o, key, value ? json_object_new_string(value)
					     : NULL);
	free(value);
}

static void dev_add_num(json_object *o, const char *key, char *value)
{
	char *end;
	long v;

	if (value && *value) {
		v = strtol(value, &end, 10);
		json_object_object_add(o, key, *end ? json_object_new_string(
							  value)
						    : json_object_new_int64(v));
	} else {
		json_object_object_add(o, key, NULL);
	}
	free(value);
}

static json_object *dev_list_json(struct xdom *d, const char *type)
{
	json_object *arr = json_object_new_array(), *o;
	char **ids, be[128];
	unsigned int i, n;
	const char *id;

	ids = store_dir(&n, "/local/domain/0/backend/%s/%d", type, d->domid);
	for (i = 0; ids && i < n; i++) {
		id = ids[i];
		snprintf(be, sizeof(be), "/local/domain/0/backend/%s/%d/%s",
			 type, d->domid, id);
		o = json_object_new_object();
		json_object_object_add(o, "devid",
				       json_object_new_int(atoi(id)));
		json_object_object_add(o, "backend",
				       json_object_new_string(be));
		dev_add_num(o, "state", store_read("%s/state", be));
		if (!strcmp(type, "vbd")) {
			dev_add_str(o, "vdev", store_read("%s/dev", be));
			dev_add_str(o, "params", store_read("%s/params", be));
			dev_add_str(o, "mode", store_read("%s/mode", be));
			dev_add_num(o, "ring_ref",
				    store_read("/local/domain/%d/device/vbd/%s/"
					       "ring-ref",
					       d->domid, id));
		} else {
			dev_add_str(o, "mac", store_read("%s/mac", be));
			dev_add_str(o, "bridge", store_read("%s/bridge", be));
			dev_add_num(o, "tx_ring_ref",
				    store_read("/local/domain/%d/device/vif/%s/"
					       "tx-ring-ref",
					       d->domid, id));
			dev_add_num(o, "rx_ring_ref",
				    store_read("/local/domain/%d/device/vif/%s/"
					       "rx-ring-ref",
					       d->domid, id));
		}
		dev_add_num(o, "event_channel",
			    store_read("/local/domain/%d/device/%s/%s/"
				       "event-channel",
				       d->domid, type, id));
		json_object_array_add(arr, o);
	}
	free(ids);
	return arr;
}

static void dev_list(struct xdom *d, const char *type, struct api_reply *r)
{
	r->body = json_object_new_object();
	json_object_object_add(r->body, "devices", dev_list_json(d, type));
}

json_object *api_devices_json(struct xdom *d)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "vbd", dev_list_json(d, "vbd"));
	json_object_object_add(o, "vif", dev_list_json(d, "vif"));
	return o;
}

void act_block_list(struct xdom *d, json_object *body, struct api_reply *r)
{
	dev_list(d, "vbd", r);
}

void act_network_list(struct xdom *d, json_object *body, struct api_reply *r)
{
	dev_list(d, "vif", r);
}

/* Relays the vmm's reply fields (devid) to the client. */
static void dev_reply(json_object *rep, struct api_reply *r)
{
	json_object *v;

	r->body = json_object_new_object();
	if (json_object_object_get_ex(rep, "devid", &v))
		json_object_object_add(r->body, "devid", json_object_get(v));
	json_object_put(rep);
}

void act_block_attach(struct xdom *d, json_object *body, struct api_reply *r)
{
	const char *spec = api_str(body, "spec", true, r);
	struct diskspec *ds;
	json_object *req, *rep;
	char err[256];

	if (!spec)
		return;
	ds = calloc(1, sizeof(*ds));
	if (!ds) {
		api_error(r, 500, "internal", "out of memory");
		return;
	}
	if (diskspec_parse(spec, ds, err, sizeof(err)) < 0) {
		api_error(r, 400, "bad-request", "disk '%s': %s", spec, err);
		goto out;
	}
	if (ds->path[0] != '/') {
		api_error(r, 400, "bad-request", "disk '%s': the path must be "
			  "absolute", spec);
		goto out;
	}
	if (access(ds->path, ds->readonly ? R_OK : R_OK | W_OK) < 0) {
		api_error(r, 400, "bad-request", "disk %s: %s", ds->path,
			  strerror(errno));
		goto out;
	}
	if (store_exists("/local/domain/0/backend/vbd/%d/%u", d->domid,
			 ds->devid)) {
		api_error(r, 409, "exists", "domain '%s' already has %s",
			  d->name, ds->vdev);
		goto out;
	}
	req = api_cmd("disk-attach");
	json_object_object_add(req, "spec", json_object_new_string(spec));
	rep = api_ctl(d, "block-attach", req, r);
	if (rep) {
		dev_reply(rep, r);
		log_info("api: domain %d: attached %s", d->domid, spec);
	}
out:
	free(ds);
}

void act_block_detach(struct xdom *d, json_object *body, struct api_reply *r)
{
	const char *vdev = api_str(body, "vdev", true, r);
	json_object *req, *rep;
	int domid = d->domid;
	unsigned int devid;

	if (!vdev)
		return;
	/* A number is accepted too, as Xen's xm takes either. */
	if (diskspec_vdev_devid(vdev, &devid) < 0 &&
	    strspn(vdev, "0123456789") != strlen(vdev)) {
		api_error(r, 400, "bad-request", "'%s' is not a virtual "
			  "device", vdev);
		return;
	}
	req = api_cmd("disk-detach");
	json_object_object_add(req, "vdev", json_object_new_string(vdev));
	rep = api_ctl_wait(d, "block-detach", req, CTL_DETACH_TIMEOUT_MS, r);
	if (rep) {
		dev_reply(rep, r);
		log_info("api: domain %d: detached %s", domid, vdev);
	}
}

void act_network_attach(struct xdom *d, json_object *body,
			struct api_reply *r)
{
	const char *spec = api_str(body, "spec", false, r);
	json_object *req, *rep;

	if (r->status != 200)
		return;
	req = api_cmd("vif-attach");
	json_object_object_add(req, "spec",
			       json_object_new_string(spec ? spec : ""));
	rep = api_ctl(d, "network-attach", req, r);
	if (rep) {
		dev_reply(rep, r);
		log_info("api: domain %d: attached vif '%s'", d->domid,
			 spec ? spec : "");
	}
}

void act_network_detach(struct xdom *d, json_object *body,
			struct api_reply *r)
{
	json_object *req, *rep;
	int domid = d->domid;
	double devid;

	if (!api_num(body, "devid", true, 0, 65535, &devid, r))
		return;
	req = api_cmd("vif-detach");
	json_object_object_add(req, "devid", json_object_new_int((int)devid));
	rep = api_ctl_wait(d, "network-detach", req, CTL_DETACH_TIMEOUT_MS,
			   r);
	if (rep) {
		dev_reply(rep, r);
		log_info("api: domain %d: detached vif %d", domid,
			 (int)devid);
	}
}
