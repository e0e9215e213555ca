/* SPDX-License-Identifier: MIT */
/*
 * Virtual network interfaces: the xenbus glue between a vif spec
 * (`--vif mac=...,bridge=...,mtu=...`), the host side (nethost_tap.c or
 * nethost_slirp.c), the xenbus state machine (xenbus_back.c) and the
 * network engine (netback.c).
 *
 * The host side is created with the device, so that a missing bridge is
 * an error at start-up; it lives as long as the domain (Xen removes
 * vif<domid>.<n> on destroy, not when the frontend disconnects).
 * connect() reads what the frontend wrote (tx-ring-ref, rx-ring-ref,
 * event-channel or event-channel-tx/-rx, request-rx-copy, feature-sg,
 * feature-rx-notify, multi-queue-num-queues), binds dom0's end of the
 * event channel(s) to one kick eventfd on our loop and hands the rings to
 * netback.  Every frontend value is parsed with bounds; a bad one fails
 * this device alone.
 */
#include "vif.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <json-c/json.h>

#include "domain.h"
#include "log.h"
#include "netback.h"
#include "nethost.h"
#include "xenbus_back.h"

struct vif {
	struct domain *d;
	struct xenbus_dev *dev;
	unsigned int devid;
	struct vif_spec spec;
	struct nethost *host;
	struct netback *nb;
	struct gnttab_grantee grantee;
	struct xenbus_kick kick;
	/* Dom0's ends; rx bound only if the frontend split its channel. */
	struct xenbus_port port_tx, port_rx;
	/* What the frontend named at connect, for a save. */
	grant_ref_t tx_ref, rx_ref;
	uint32_t fe_port, fe_port_rx; /* fe_port_rx 0: one channel */
	struct netback_frontend fe;
};

/* --- the spec ------------------------------------------------------------- */

static int vif_parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	unsigned int i, hi, lo;

	if (len != 17)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		const char *p = s + 3 * i;

		if (i < 5 && p[2] != ':')
			return -EINVAL;
		if (sscanf(p, "%1x%1x", &hi, &lo) != 2 ||
		    !strchr("0123456789abcdefABCDEF", p[0]) ||
		    !strchr("0123456789abcdefABCDEF", p[1]))
			return -EINVAL;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int vif_parse_spec(const char *spec, struct vif_spec *out, char *err,
		   size_t errlen)
{
	static const char *const ignored[] = {
	    "script", "type", "model", "vifname", "ip", "rate", "backend",
	};
	const char *p = spec, *end, *eq;
	char *numend;
	unsigned long mtu;
	size_t klen, vlen, i;

	memset(out, 0, sizeof(*out));
	out->mtu = NETBACK_MTU_DEFAULT;
	while (*p) {
		end = strchr(p, ',');
		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		if (end == p) {
			p++;
			continue;
		}
		if (!eq) {
			snprintf(err, errlen, "'%.*s': not key=value",
				 (int)(end - p), p);
			return -EINVAL;
		}
		klen = (size_t)(eq - p);
		vlen = (size_t)(end - eq - 1);
		if (klen == 3 && !strncmp(p, "mac", 3)) {
			if (vif_parse_mac(eq + 1, vlen, out->mac) < 0 ||
			    (out->mac[0] & 1)) {
				snprintf(err, errlen,
					 "mac=%.*s: not a unicast MAC "
					 "(xx:xx:xx:xx:xx:xx)",
					 (int)vlen, eq + 1);
				return -EINVAL;
			}
			out->has_mac = true;
		} else if (klen == 6 && !strncmp(p, "bridge", 6)) {
			if (!vlen || vlen >= sizeof(out->bridge) ||
			    memchr(eq + 1, '/', vlen)) {
				snprintf(err, errlen,
					 "bridge=%.*s: an interface name "
					 "of 1 to %zu characters",
					 (int)vlen, eq + 1,
					 sizeof(out->bridge) - 1);
				return -EINVAL;
			}
			memcpy(out->bridge, eq + 1, vlen);
			out->bridge[vlen] = '\0';
		} else if (klen == 3 && !strncmp(p, "mtu", 3)) {
			errno = 0;
			mtu = strtoul(eq + 1, &numend, 10);
			if (errno || numend != end || eq[1] < '0' ||
			    eq[1] > '9' || mtu < 68 || mtu > NETBACK_MTU_MAX) {
				snprintf(err, errlen, "mtu=%.*s: from 68 to %u",
					 (int)vlen, eq + 1, NETBACK_MTU_MAX);
				return -EINVAL;
			}
			out->mtu = (unsigned int)mtu;
		} else {
			for (i = 0; i < sizeof(ignored) / sizeof(ignored[0]);
			     i++)
				if (strlen(ignored[i]) == klen &&
				    !strncmp(p, ignored[i], klen))
					break;
			if (i == sizeof(ignored) / sizeof(ignored[0])) {
				snprintf(err, errlen,
					 "'%.*s': unknown key (mac, bridge, "
					 "mtu)",
					 (int)klen, p);
				return -EINVAL;
			}
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

/* Xen's prefix (00:16:3e), then random, as libxl makes them. */
static int vif_random_mac(uint8_t mac[6])
{
	uint8_t r[3];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -errno;
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;
	mac[3] = r[0] & 0x7f;
	mac[4] = r[1];
	mac[5] = r[2];
	return 0;
}

/* --- the device ----------------------------------------------------------- */

static void vif_notify(void *ctx, bool tx, bool rx)
{
	struct vif *v = ctx;
	bool split = v->port_rx.dport != 0;

	/* One channel: raised once for both. */
	if (tx || (rx && !split))
		xenbus_port_notify(&v->port_tx);
	if (rx && split)
		xenbus_port_notify(&v->port_rx);
}

static void vif_event(void *ctx, enum netback_event ev)
{
	struct vif *v = ctx;

	if (v->dev && ev == NETBACK_EV_BROKEN)
		xenbus_dev_fail(v->dev, -EPROTO, "the frontend broke its ring");
}

static void vif_rekick(void *ctx)
{
	struct vif *v = ctx;
	uint64_t one = 1;

	if (write(v->kick.fd, &one, sizeof(one)) < 0)
		log_warn("vif: dom %u vif %u: kick", v->d->xen.domid, v->devid);
}

static void vif_kicked(void *arg)
{
	struct vif *v = arg;

	netback_kick(v->nb);
}

static void vif_host_rx(void *ctx, const void *frame, size_t len)
{
	struct vif *v = ctx;

	if (v->nb)
		netback_rx(v->nb, frame, len);
}

static int vif_features(struct xenbus_dev *dev)
{
	struct vif *v = dev->priv;

	v->dev = dev;
	netback_features(v->nb, xenbus_dev_put, dev);
	return 0;
}

static void vif_unbind(struct vif *v)
{
	xenbus_port_unbind(&v->port_rx);
	xenbus_port_unbind(&v->port_tx);
}

/* A 0/1 flag of the frontend's; absent is 0. */
static int vif_read_flag(struct xenbus_dev *dev, const char *key, bool *out)
{
	uint64_t v = 0;
	int rc = xenbus_dev_read_uint(dev, key, 1, &v);

	if (rc < 0 && rc != -ENOENT)
		return rc;
	*out = v == 1;
	return 0;
}

static int vif_connect(struct xenbus_dev *dev)
{
	struct vif *v = dev->priv;
	struct netback_frontend fe = {0};
	uint64_t tx_ref, rx_ref, queues;
	uint32_t port, port_rx;
	bool copy = false;
	int rc;

	rc = xenbus_dev_read_uint(dev, "multi-queue-num-queues", UINT32_MAX,
				  &queues);
	if (rc == 0 && queues != 1) {
		log_warnx("vif: %s: %llu queues asked for, 1 offered",
			  dev->fe_path, (unsigned long long)queues);
		return -EINVAL;
	}
	if (xenbus_dev_read_uint(dev, "tx-ring-ref", UINT32_MAX, &tx_ref) < 0 ||
	    xenbus_dev_read_uint(dev, "rx-ring-ref", UINT32_MAX, &rx_ref) < 0)
		return -EINVAL;
	rc = vif_read_flag(dev, "request-rx-copy", &copy);
	if (rc < 0)
		return rc;
	if (!copy) {
		log_warnx("vif: %s: the frontend wants page flipping; only "
			  "request-rx-copy is offered",
			  dev->fe_path);
		return -EOPNOTSUPP;
	}
	if (vif_read_flag(dev, "feature-sg", &fe.rx_sg) < 0 ||
	    vif_read_flag(dev, "feature-rx-notify", &fe.rx_notify) < 0)
		return -EINVAL;
	/* Both split ports are read before either is bound. */
	if (xenbus_dev_read_port(dev, "event-channel", &port) == 0) {
		rc = xenbus_port_bind(&v->port_tx, &v->kick, port);
	} else if (xenbus_dev_read_port(dev, "event-channel-tx", &port) == 0 &&
		   xenbus_dev_read_port(dev, "event-channel-rx", &port_rx) ==
		       0) {
		rc = xenbus_port_bind(&v->port_tx, &v->kick, port);
		if (rc == 0)
			rc = xenbus_port_bind(&v->port_rx, &v->kick, port_rx);
	} else {
		return -EINVAL;
	}
	if (rc == 0)
		rc = netback_connect(v->nb, (grant_ref_t)tx_ref,
				     (grant_ref_t)rx_ref, &fe);
	if (rc < 0) {
		vif_unbind(v);
		return rc;
	}
	v->tx_ref = (grant_ref_t)tx_ref;
	v->rx_ref = (grant_ref_t)rx_ref;
	v->fe_port = port;
	v->fe_port_rx = v->port_rx.dport ? port_rx : 0;
	v->fe = fe;
	/* Requests queued before we bound: take them now. */
	vif_rekick(v);
	return 0;
}

static int vif_disconnect(struct xenbus_dev *dev)
{
	struct vif *v = dev->priv;

	netback_disconnect(v->nb);
	vif_unbind(v);
	return 0;
}

static void vif_free(struct vif *v)
{
	netback_close(v->nb);
	vif_unbind(v);
	nethost_close(v->host);
	xenbus_kick_close(&v->kick);
	free(v);
}

static void vif_destroy(struct xenbus_dev *dev)
{
	struct vif *v = dev->priv;
	struct netback_stats st;

	/* The figures bench/net reads; useful to an administrator too. */
	netback_get_stats(v->nb, &st);
	log_info("vif %u: tx %llu packets (%llu malformed), rx %llu packets "
		 "(%llu dropped), %llu notifications, %llu kicks",
		 v->devid, (unsigned long long)st.tx_packets,
		 (unsigned long long)st.tx_malformed,
		 (unsigned long long)st.rx_packets,
		 (unsigned long long)st.rx_dropped,
		 (unsigned long long)st.notifications,
		 (unsigned long long)st.kicks);
	vif_free(v);
}

/* --- save and restore (docs/migration-stream.md, DEVICE) ---------------- */

static int vif_quiesce(struct xenbus_dev *dev)
{
	struct vif *v = dev->priv;

	netback_quiesce(v->nb);
	return 0;
}

static void vif_unquiesce(struct xenbus_dev *dev)
{
	struct vif *v = dev->priv;

	netback_unquiesce(v->nb);
}

static void vif_put_uint(json_object *o, const char *key, uint64_t n)
{
	json_object_object_add(o, key, json_object_new_int64((int64_t)n));
}

/* The spec the device runs with: its MAC included, if it was made up. */
static void vif_spec_text(const struct vif *v, char *out, size_t size)
{
	const uint8_t *m = v->spec.mac;
	int n;

	n = snprintf(out, size, "mac=%02x:%02x:%02x:%02x:%02x:%02x", m[0],
		     m[1], m[2], m[3], m[4], m[5]);
	if (v->spec.bridge[0] && n > 0 && (size_t)n < size)
		n += snprintf(out + n, size - (size_t)n, ",bridge=%s",
			      v->spec.bridge);
	if (n > 0 && (size_t)n < size)
		snprintf(out + n, size - (size_t)n, ",mtu=%u", v->spec.mtu);
}

static int vif_save(struct xenbus_dev *dev, json_object *rec)
{
	struct vif *v = dev->priv;
	struct netback_ring_state rs;
	json_object *ring;
	char spec[96];

	vif_spec_text(v, spec, sizeof(spec));
	json_object_object_add(rec, "spec", json_object_new_string(spec));
	if (!dev->connected || netback_ring_get(v->nb, &rs) < 0)
		return 0;
	ring = json_object_new_object();
	vif_put_uint(ring, "tx-ring-ref", v->tx_ref);
	vif_put_uint(ring, "rx-ring-ref", v->rx_ref);
	if (v->fe_port_rx) {
		vif_put_uint(ring, "event-channel-tx", v->fe_port);
		vif_put_uint(ring, "event-channel-rx", v->fe_port_rx);
	} else {
		vif_put_uint(ring, "event-channel", v->fe_port);
	}
	vif_put_uint(ring, "feature-sg", v->fe.rx_sg);
	vif_put_uint(ring, "feature-rx-notify", v->fe.rx_notify);
	vif_put_uint(ring, "tx_req_cons", rs.tx_req_cons);
	vif_put_uint(ring, "tx_rsp_prod_pvt", rs.tx_rsp_prod_pvt);
	vif_put_uint(ring, "rx_req_cons", rs.rx_req_cons);
	vif_put_uint(ring, "rx_rsp_prod_pvt", rs.rx_rsp_prod_pvt);
	vif_put_uint(ring, "tx_skip", rs.tx_skip);
	json_object_object_add(rec, "ring", ring);
	return 0;
}

/* An integer member of o in [0, max]; absent: -ENOENT. */
static int vif_json_uint(json_object *o, const char *key, uint64_t max,
			 uint64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v))
		return -ENOENT;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n > max)
		return -EINVAL;
	*out = (uint64_t)n;
	return 0;
}

static int vif_restore_ring(struct xenbus_dev *dev, json_object *rec)
{
	struct vif *v = dev->priv;
	struct netback_ring_state rs;
	uint64_t tx, rx, port, port_rx = 0, sg, notify, n[5];
	json_object *ring;
	int rc;

	if (!json_object_object_get_ex(rec, "ring", &ring) ||
	    !json_object_is_type(ring, json_type_object) ||
	    vif_json_uint(ring, "tx-ring-ref", UINT32_MAX, &tx) < 0 ||
	    vif_json_uint(ring, "rx-ring-ref", UINT32_MAX, &rx) < 0 ||
	    vif_json_uint(ring, "feature-sg", 1, &sg) < 0 ||
	    vif_json_uint(ring, "feature-rx-notify", 1, &notify) < 0 ||
	    vif_json_uint(ring, "tx_req_cons", UINT32_MAX, &n[0]) < 0 ||
	    vif_json_uint(ring, "tx_rsp_prod_pvt", UINT32_MAX, &n[1]) < 0 ||
	    vif_json_uint(ring, "rx_req_cons", UINT32_MAX, &n[2]) < 0 ||
	    vif_json_uint(ring, "rx_rsp_prod_pvt", UINT32_MAX, &n[3]) < 0 ||
	    vif_json_uint(ring, "tx_skip", 1, &n[4]) < 0)
		return -EINVAL;
	if (vif_json_uint(ring, "event-channel", EVTCHN_MAX - 1, &port) < 0 &&
	    (vif_json_uint(ring, "event-channel-tx", EVTCHN_MAX - 1, &port) <
		     0 ||
	     vif_json_uint(ring, "event-channel-rx", EVTCHN_MAX - 1,
			   &port_rx) < 0 ||
	     !port_rx))
		return -EINVAL;
	rs = (struct netback_ring_state){
		.tx_req_cons = (uint32_t)n[0],
		.tx_rsp_prod_pvt = (uint32_t)n[1],
		.rx_req_cons = (uint32_t)n[2],
		.rx_rsp_prod_pvt = (uint32_t)n[3],
		.tx_skip = n[4] != 0,
	};
	v->fe = (struct netback_frontend){.rx_sg = sg, .rx_notify = notify};
	rc = xenbus_port_bind(&v->port_tx, &v->kick, (uint32_t)port);
	if (rc == 0 && port_rx)
		rc = xenbus_port_bind(&v->port_rx, &v->kick,
				      (uint32_t)port_rx);
	if (rc == 0)
		rc = netback_connect(v->nb, (grant_ref_t)tx, (grant_ref_t)rx,
				     &v->fe);
	if (rc == 0) {
		rc = netback_ring_set(v->nb, &rs);
		if (rc < 0)
			netback_disconnect(v->nb);
	}
	if (rc < 0) {
		vif_unbind(v);
		return rc;
	}
	v->tx_ref = (grant_ref_t)tx;
	v->rx_ref = (grant_ref_t)rx;
	v->fe_port = (uint32_t)port;
	v->fe_port_rx = (uint32_t)port_rx;
	/* What the frontend queued while away: as vbd_restore_ring. */
	if (v->d->xenbus.incoming)
		netback_quiesce(v->nb);
	else
		vif_rekick(v);
	return 0;
}

static const struct xenbus_dev_ops vif_ops = {
    .type = "vif",
    .features = vif_features,
    .connect = vif_connect,
    .disconnect = vif_disconnect,
    .destroy = vif_destroy,
    .quiesce = vif_quiesce,
    .unquiesce = vif_unquiesce,
    .save = vif_save,
    .restore = vif_restore_ring,
};

/*
 * The next devid, as libxl picks it: one past the highest in use, so
 * vifs added at start-up are 0, 1, 2... in order.
 */
static unsigned int vif_next_devid(struct domain *d)
{
	unsigned int i, n = 0;

	pthread_mutex_lock(&d->xenbus.lock);
	for (i = 0; i < d->xenbus.nr_devs; i++)
		if (d->xenbus.devs[i]->ops == &vif_ops &&
		    d->xenbus.devs[i]->devid >= n)
			n = d->xenbus.devs[i]->devid + 1;
	pthread_mutex_unlock(&d->xenbus.lock);
	return n;
}

static int vif_open_host(struct vif *v)
{
	struct nethost_config c = {
	    .loop = &v->d->loop,
	    .domid = v->d->xen.domid,
	    .devid = v->devid,
	    .mtu = v->spec.mtu,
	    .bridge = v->spec.bridge,
	    .rx = vif_host_rx,
	    .rx_ctx = v,
	};

	if (v->spec.bridge[0])
		return nethost_tap_open(&v->host, &c);
	return nethost_slirp_open(&v->host, &c);
}

/*
 * rec NULL: a new vif, numbered by vif_next_devid(); else a saved one's
 * DEVICE record: its devid, and its MAC unless the spec names one.
 */
static int vif_create(struct domain *d, const char *spec, json_object *rec,
		      unsigned int *devid)
{
	struct netback_env env = {0};
	char err[160], name[48], mac[24], handle[12], mtu[12];
	struct vif_spec saved;
	json_object *o;
	uint64_t id;
	struct vif *v;
	int rc;

	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->d = d;
	xenbus_kick_clear(&v->kick);
	v->devid = vif_next_devid(d);
	if (vif_parse_spec(spec, &v->spec, err, sizeof(err)) < 0) {
		log_errx("--vif %s", err);
		rc = -EINVAL;
		goto fail;
	}
	if (rec) {
		if (vif_json_uint(rec, "devid", XENBUS_MAX_DEVS * 64, &id) < 0 ||
		    !json_object_object_get_ex(rec, "spec", &o) ||
		    !json_object_is_type(o, json_type_string) ||
		    vif_parse_spec(json_object_get_string(o), &saved, err,
				   sizeof(err)) < 0) {
			log_errx("vif: a saved vif without a devid or spec");
			rc = -EINVAL;
			goto fail;
		}
		v->devid = (unsigned int)id;
		if (!v->spec.has_mac && saved.has_mac) {
			memcpy(v->spec.mac, saved.mac, 6);
			v->spec.has_mac = true;
		}
	}
	if (!v->spec.has_mac) {
		rc = vif_random_mac(v->spec.mac);
		if (rc < 0) {
			log_errx("--vif: getrandom: %s", strerror(-rc));
			goto fail;
		}
	}
	rc = vif_open_host(v);
	if (rc < 0) {
		log_errx("--vif %s: %s", spec, strerror(-rc));
		goto fail;
	}
	v->grantee = (struct gnttab_grantee){.d = d, .domid = 0};
	snprintf(name, sizeof(name), "dom %u vif %u", d->xen.domid, v->devid);
	env.gnttab = &gnttab_domain_ops;
	env.gnttab_ctx = &v->grantee;
	env.notify = vif_notify;
	env.event = vif_event;
	env.rekick = vif_rekick;
	env.ctx = v;
	env.host = v->host;
	memcpy(env.mac, v->spec.mac, 6);
	env.mtu = v->spec.mtu;
	env.name = name;
	rc = netback_open(&v->nb, &env);
	if (rc < 0)
		goto fail;
	rc = xenbus_kick_open(&v->kick, d, vif_kicked, v);
	if (rc < 0)
		goto fail;
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x",
		 v->spec.mac[0], v->spec.mac[1], v->spec.mac[2], v->spec.mac[3],
		 v->spec.mac[4], v->spec.mac[5]);
	snprintf(handle, sizeof(handle), "%u", v->devid);
	snprintf(mtu, sizeof(mtu), "%u", v->spec.mtu);
	{
		const struct xenbus_kv fe[] = {
		    {"handle", handle},
		    {"mac", mac},
		    {NULL, NULL},
		};
		const struct xenbus_kv be_bridge[] = {
		    {"handle", handle},
		    {"type", "vif"},
		    {"script", "vif-bridge"},
		    {"bridge", v->spec.bridge},
		    {NULL, NULL},
		};
		const struct xenbus_kv be_user[] = {
		    {"handle", handle},
		    {"type", "vif"},
		    {NULL, NULL},
		};

		const struct xenbus_kv *be =
			v->spec.bridge[0] ? be_bridge : be_user;

		rc = rec ? xenbus_dev_restore(d, &vif_ops, v->devid, v, be, rec)
			 : xenbus_dev_add(d, &vif_ops, v->devid, v, fe, be);
	}
	if (rc < 0)
		goto fail;
	log_info("vif: dom %u vif %u: mac %s, mtu %s, %s%s", d->xen.domid,
		 v->devid, mac, mtu,
		 v->spec.bridge[0] ? "tap on bridge " : "user-mode networking",
		 v->spec.bridge);
	if (devid)
		*devid = v->devid;
	return 0;
fail:
	vif_free(v);
	return rc;
}

int vif_add(struct domain *d, const char *spec, unsigned int *devid)
{
	return vif_create(d, spec, NULL, devid);
}

int vif_restore(struct domain *d, const char *spec, json_object *rec)
{
	return vif_create(d, spec, rec, NULL);
}

int vif_remove(struct domain *d, unsigned int devid, unsigned int timeout_ms,
	       xenbus_removed_fn *done, void *arg)
{
	return xenbus_dev_remove(d, vif_ops.type, devid, timeout_ms, done,
				 arg);
}
