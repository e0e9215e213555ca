/* SPDX-License-Identifier: MIT */
/*
 * Virtual network interfaces of a domain (vif.c): `--vif SPEC`, SPEC as
 * xm/xl configs write a vif: `mac=00:16:3e:01:02:03,bridge=xenbr0,mtu=1500`,
 * every key optional.  With bridge= the host side is a tap vif<domid>.<n>
 * on that bridge; without, libslirp user-mode networking.  A missing MAC
 * is random under Xen's prefix 00:16:3e.  Devices are numbered 0, 1, 2...
 * in the order they are added.
 */
#ifndef XENIA_VMM_VIF_H
#define XENIA_VMM_VIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenbus_back.h"

struct domain;
struct json_object;

struct vif_spec {
	uint8_t mac[6];
	bool has_mac;
	char bridge[16]; /* "" for user-mode networking */
	unsigned int mtu;
};

/*
 * Parses SPEC (mtu defaults to 1500; a MAC is not invented here).  0, or
 * -EINVAL with a message in err.  xl keys that do not apply (script,
 * type, model, vifname, ip, rate, backend) are accepted and ignored.
 */
int vif_parse_spec(const char *spec, struct vif_spec *out, char *err,
		   size_t errlen) __attribute__((warn_unused_result));

/*
 * Creates the host side and adds the device (frontend and backend
 * directories, backend in InitWait), numbered one past the highest vif
 * the domain has, as libxl numbers them; its number in *devid (may be
 * NULL).  Needs --xenstore.  0 or -errno, with a message.
 */
int vif_add(struct domain *d, const char *spec, unsigned int *devid)
    __attribute__((warn_unused_result));

/*
 * A vif of a restored domain: as vif_add(), numbered as its DEVICE
 * record rec says, with the record's MAC when the spec names none, in
 * the saved state (xenbus_dev_restore()).  0 or -errno, with a message.
 */
int vif_restore(struct domain *d, const char *spec, struct json_object *rec)
    __attribute__((warn_unused_result));

/*
 * Detaches vif devid as vbd_remove() does a disk; its tap or slirp
 * instance goes with it.  0, -ENOENT for no such vif, -EBUSY while it is
 * being removed.
 */
int vif_remove(struct domain *d, unsigned int devid, unsigned int timeout_ms,
	       xenbus_removed_fn *done, void *arg)
    __attribute__((warn_unused_result));

#endif
