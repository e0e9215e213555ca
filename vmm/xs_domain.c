/* SPDX-License-Identifier: MIT */
/*
 * The domain in XenStore.  Order matters (docs/xenstore.md):
 *
 *   1. register on hv.sock (memfd + kick/notify eventfds): xenstored now
 *      knows the domain exists, so perms naming it are meaningful;
 *   2. the store port: a guest port unbound to dom0, bound at once to our
 *      end, whose sends write the kick eventfd;
 *   3. the ring page (zeroed) and HVM_PARAM_STORE_PFN/STORE_EVTCHN;
 *   4. the home directory and /vm/<uuid>, in one transaction;
 *   5. XS_INTRODUCE: xenstored serves the ring and fires @introduceDomain.
 *
 * A restored domain (xs_domain_restore) has its ring and port already:
 * step 2 binds our end to the saved port, step 3 is left out (the ring's
 * contents and the params came with the save), step 4 writes the saved
 * home and /vm/<uuid> under the new id (xs_save.c), and after step 5 the
 * guest's watches are set again.
 *
 * If xenstored restarts, our hv.sock connection ends: we register again
 * (every 200 ms until it answers) and xenstored, which kept the domain in
 * its journal, serves the ring again.  On the way out the home directory
 * and /vm/<uuid> are removed and closing hv.sock tells xenstored the
 * domain is gone (@releaseDomain).
 */
#include "xs_domain.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenstore.h>

#include "domain.h"
#include "log.h"
#include "mem.h"
#include "uuid.h"
#include "xen.h"

#define HV_MAGIC 0x31564858u /* "XHV1" */
#define HV_OP_REGISTER 1u
#define XS_RETRY_NS 200000000L
#define XS_TXN_TRIES 10

struct hv_request {
	uint32_t magic;
	uint32_t op;
	uint32_t domid;
	uint32_t reserved;
};

struct hv_reply {
	uint32_t magic;
	int32_t status;
};

void xs_domain_clear(struct xs_domain *x)
{
	memset(x, 0, sizeof(*x));
	x->hv_fd = -1;
	x->kick_fd = -1;
	x->notify_fd = -1;
	x->retry_fd = -1;
}

static const char *xs_rundir(void)
{
	const char *r = getenv("XENIA_RUNDIR");

	return r && *r ? r : "/run/xenia";
}

/* One REGISTER on a fresh hv.sock connection: the fd, or -errno. */
static int xs_hv_register(struct domain *d, struct xs_domain *x)
{
	struct hv_request req = {
		.magic = HV_MAGIC,
		.op = HV_OP_REGISTER,
		.domid = d->xen.domid,
	};
	int fds[3] = {d->mem_fd, x->kick_fd, x->notify_fd};
	char cbuf[CMSG_SPACE(sizeof(fds))];
	struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
	struct msghdr msg = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = cbuf,
		.msg_controllen = sizeof(cbuf),
	};
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct cmsghdr *c;
	struct hv_reply rep;
	int fd, rc;
	ssize_t n;

	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memcpy(sa.sun_path, x->hv_path, sizeof(x->hv_path));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		goto fail;
	}
	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(c), fds, sizeof(fds));
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) != (ssize_t)sizeof(req)) {
		rc = -errno;
		goto fail;
	}
	n = recv(fd, &rep, sizeof(rep), 0);
	if (n != (ssize_t)sizeof(rep) || rep.magic != HV_MAGIC) {
		rc = -EPROTO;
		goto fail;
	}
	if (rep.status < 0) {
		rc = rep.status;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return rc;
}

/* xenstored raised the store port. */
static void xs_notified(struct domain *d, struct loop_source *s)
{
	struct xs_domain *x = s->arg;
	uint64_t v;

	if (read(x->notify_fd, &v, sizeof(v)) == sizeof(v))
		evtchn_backend_notify(d, x->store_dport);
}

static void xs_retry_arm(struct xs_domain *x)
{
	struct itimerspec its = {
		.it_value = {.tv_nsec = XS_RETRY_NS},
		.it_interval = {.tv_nsec = XS_RETRY_NS},
	};

	if (timerfd_settime(x->retry_fd, 0, &its, NULL) < 0)
		log_warn("xenstore: arming the retry timer");
}

/* Our hv.sock connection ended: xenstored went away.  Retry later. */
static void xs_hv_hangup(struct domain *d, struct loop_source *s)
{
	struct xs_domain *x = s->arg;
	char c;

	/* Nothing is ever sent to us after the reply; EOF is the event. */
	if (recv(x->hv_fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN)
		return;
	log_warnx("xenstore: xenstored closed our registration; registering "
		  "again when it is back");
	loop_del(&d->loop, &x->hv_src);
	close(x->hv_fd);
	x->hv_fd = -1;
	xs_retry_arm(x);
}

static void xs_retry(struct domain *d, struct loop_source *s)
{
	struct xs_domain *x = s->arg;
	struct itimerspec off = {{0, 0}, {0, 0}};
	uint64_t ticks;
	int fd;

	if (read(x->retry_fd, &ticks, sizeof(ticks)) < 0)
		return;
	fd = xs_hv_register(d, x);
	if (fd < 0)
		return; /* not back yet */
	(void)timerfd_settime(x->retry_fd, 0, &off, NULL);
	x->hv_fd = fd;
	x->hv_src.fd = fd;
	if (loop_add(&d->loop, &x->hv_src) < 0)
		log_warnx("xenstore: cannot watch the registration");
	log_info("xenstore: registered again with xenstored");
}

/* One node with its value and perms (owner first), in transaction t. */
static bool xs_node(struct xs_handle *h, xs_transaction_t t,
		    const char *path, const char *value, unsigned int owner,
		    unsigned int reader)
{
	struct xs_permissions p[2] = {
		{.id = owner, .perms = XS_PERM_NONE},
		{.id = reader, .perms = XS_PERM_READ},
	};

	return xs_write(h, t, path, value, (unsigned int)strlen(value)) &&
	       xs_set_permissions(h, t, path, p, reader == owner ? 1 : 2);
}

/*
 * The home directory as Xen's toolstack lays it out: dom0 owns it, the
 * domain reads it, and owns what it writes (data, control/shutdown...).
 */
static bool xs_write_layout(struct domain *d, struct xs_domain *x,
			    xs_transaction_t t)
{
	unsigned int id = d->xen.domid;
	struct xs_handle *h = x->xsh;
	char path[128], val[64];
	unsigned int i;
	bool ok = true;

#define NODE(sub, value, owner)                                               \
	(snprintf(path, sizeof(path), "%s%s", x->home, sub),                  \
	 ok = ok && xs_node(h, t, path, value, owner, id))

	NODE("", "", 0);
	snprintf(val, sizeof(val), "%u", id);
	NODE("/domid", val, 0);
	NODE("/name", x->name, 0);
	NODE("/vm", x->vm_path, 0);
	NODE("/data", "", id);
	NODE("/device", "", 0);
	NODE("/control", "", 0);
	NODE("/control/shutdown", "", id);
	/* The guest clears a key it takes, as Linux does. */
	NODE("/control/sysrq", "", id);
	NODE("/control/platform-feature-multiprocessor-suspend", "1", 0);
	snprintf(val, sizeof(val), "%" PRIu64, d->ram_size >> 10);
	NODE("/memory", "", 0);
	NODE("/memory/static-max", val, 0);
	NODE("/memory/target", val, 0);
	NODE("/cpu", "", 0);
	/* vcpu-set writes these; the guest watches them (online|offline). */
	for (i = 0; i < d->nr_vcpus; i++) {
		snprintf(val, sizeof(val), "/cpu/%u/availability", i);
		NODE(val, "online", 0);
	}
	NODE("/store", "", 0);
	snprintf(val, sizeof(val), "%u", x->store_port);
	NODE("/store/port", val, 0);
	snprintf(val, sizeof(val), "%" PRIu64,
		 mem_special_gfn(d, MEM_SPECIAL_STORE));
	NODE("/store/ring-ref", val, 0);
	/* The PV console, as xenconsoled finds it. */
	NODE("/console", "", 0);
	snprintf(val, sizeof(val), "%u", d->cons.port);
	NODE("/console/port", val, 0);
	snprintf(val, sizeof(val), "%" PRIu64,
		 mem_special_gfn(d, MEM_SPECIAL_CONSOLE));
	NODE("/console/ring-ref", val, 0);
	NODE("/console/type", "xenconsoled", 0);
	snprintf(val, sizeof(val), "%u", CONSBACK_RATE);
	NODE("/console/limit", val, 0);
	if (d->cons.tty[0])
		NODE("/console/tty", d->cons.tty, 0);
#undef NODE
	/* /vm/<uuid>: dom0's, readable by the domain. */
	ok = ok && xs_node(h, t, x->vm_path, "", 0, id);
	snprintf(path, sizeof(path), "%s/name", x->vm_path);
	ok = ok && xs_node(h, t, path, x->name, 0, id);
	snprintf(path, sizeof(path), "%s/uuid", x->vm_path);
	ok = ok && xs_node(h, t, path, x->uuid, 0, id);
	return ok;
}

/*
 * What a restored home must say about this instance whatever was saved:
 * its id, name and uuid, where its rings and ports are, its console's
 * pty.  Written after the saved nodes, in the same transaction.
 */
static bool xs_write_identity(struct domain *d, struct xs_domain *x,
			      xs_transaction_t t)
{
	unsigned int id = d->xen.domid;
	struct xs_handle *h = x->xsh;
	char path[128], val[64];
	bool ok = true;

#define NODE(sub, value)                                                      \
	(snprintf(path, sizeof(path), "%s%s", x->home, sub),                  \
	 ok = ok && xs_node(h, t, path, value, 0, id))

	NODE("", "");
	snprintf(val, sizeof(val), "%u", id);
	NODE("/domid", val);
	NODE("/name", x->name);
	NODE("/vm", x->vm_path);
	snprintf(val, sizeof(val), "%u", x->store_port);
	NODE("/store/port", val);
	snprintf(val, sizeof(val), "%" PRIu64,
		 mem_special_gfn(d, MEM_SPECIAL_STORE));
	NODE("/store/ring-ref", val);
	/* The console's backend binds the loaded port after this. */
	pthread_mutex_lock(&d->xen.lock);
	snprintf(val, sizeof(val), "%" PRIu64,
		 d->xen.hvm_params[HVM_PARAM_CONSOLE_EVTCHN]);
	pthread_mutex_unlock(&d->xen.lock);
	NODE("/console/port", val);
	snprintf(val, sizeof(val), "%" PRIu64,
		 mem_special_gfn(d, MEM_SPECIAL_CONSOLE));
	NODE("/console/ring-ref", val);
	if (d->cons.tty[0])
		NODE("/console/tty", d->cons.tty);
#undef NODE
	snprintf(path, sizeof(path), "%s/console/tty", x->home);
	if (ok && !d->cons.tty[0])
		(void)xs_rm(h, t, path); /* the old pty is not ours */
	ok = ok && xs_node(h, t, x->vm_path, "", 0, id);
	snprintf(path, sizeof(path), "%s/name", x->vm_path);
	ok = ok && xs_node(h, t, path, x->name, 0, id);
	snprintf(path, sizeof(path), "%s/uuid", x->vm_path);
	ok = ok && xs_node(h, t, path, x->uuid, 0, id);
	return ok;
}

/*
 * The home in one transaction, retried while it conflicts: the libxl
 * layout of a new domain, or (saved) a restored one's nodes with those
 * that say who it is now.
 */
static int xs_write_home(struct domain *d, struct xs_domain *x,
			 const struct xs_saved *saved)
{
	xs_transaction_t t;
	int tries;
	bool ok;

	for (tries = 0; tries < XS_TXN_TRIES; tries++) {
		t = xs_transaction_start(x->xsh);
		if (t == XBT_NULL)
			break;
		ok = saved ? xs_saved_write(d, t, saved) &&
				 xs_write_identity(d, x, t)
			   : xs_write_layout(d, x, t);
		if (!ok) {
			(void)xs_transaction_end(x->xsh, t, true);
			break;
		}
		if (xs_transaction_end(x->xsh, t, false))
			return 0;
		if (errno != EAGAIN)
			break;
	}
	log_err("xenstore: writing %s", x->home);
	return -EIO;
}

/* The store port: a guest port unbound to dom0 and our end bound to it. */
static int xs_store_port(struct domain *d, struct xs_domain *x)
{
	int port, dport;

	port = evtchn_alloc_for_backend(d);
	if (port < 0)
		return port;
	dport = evtchn_backend_bind(d, (uint32_t)port, x->kick_fd);
	if (dport < 0)
		return dport;
	x->store_port = (uint32_t)port;
	x->store_dport = (uint32_t)dport;
	return 0;
}

static int xs_domain_open_fds(struct domain *d, struct xs_domain *x)
{
	x->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	x->retry_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC |
							  TFD_NONBLOCK);
	if (x->kick_fd < 0 || x->notify_fd < 0 || x->retry_fd < 0) {
		log_err("xenstore: eventfd/timerfd");
		return -errno;
	}
	x->notify_src = (struct loop_source){x->notify_fd, xs_notified, x};
	x->retry_src = (struct loop_source){x->retry_fd, xs_retry, x};
	x->hv_src = (struct loop_source){-1, xs_hv_hangup, x};
	if (loop_add(&d->loop, &x->notify_src) < 0 ||
	    loop_add(&d->loop, &x->retry_src) < 0)
		return -EIO;
	return 0;
}

/* Step 1 of a setup and of a restore: names, paths, registration. */
static int xs_domain_begin(struct domain *d, const char *name,
			   const char *uuid)
{
	struct xs_domain *x = &d->xs;
	int rc;

	x->enabled = true;
	snprintf(x->name, sizeof(x->name), "%s", name);
	if (uuid && !uuid_valid(uuid)) {
		log_errx("xenstore: '%s' is not a UUID", uuid);
		return -EINVAL;
	}
	if (uuid)
		snprintf(x->uuid, sizeof(x->uuid), "%s", uuid);
	else if ((rc = uuid_random(x->uuid)) < 0)
		return rc;
	snprintf(x->home, sizeof(x->home), "/local/domain/%u", d->xen.domid);
	snprintf(x->vm_path, sizeof(x->vm_path), "/vm/%s", x->uuid);
	if ((size_t)snprintf(x->hv_path, sizeof(x->hv_path),
			     "%s/xenstored/hv.sock",
			     xs_rundir()) >= sizeof(x->hv_path)) {
		log_errx("xenstore: XENIA_RUNDIR is too long for a socket path");
		return -ENAMETOOLONG;
	}
	rc = xs_domain_open_fds(d, x);
	if (rc < 0)
		return rc;
	x->hv_fd = xs_hv_register(d, x);
	if (x->hv_fd < 0) {
		rc = x->hv_fd;
		x->hv_fd = -1;
		log_errx("xenstore: registering domain %u on %s: %s",
			 d->xen.domid, x->hv_path,
			 rc == -EEXIST ? "that domain id is in use"
				       : strerror(-rc));
		return rc;
	}
	x->hv_src.fd = x->hv_fd;
	if (loop_add(&d->loop, &x->hv_src) < 0)
		return -EIO;
	return 0;
}

/* libxenstore finds the socket in XENSTORED_PATH. */
static int xs_domain_connect(struct xs_domain *x)
{
	char sock[256];

	snprintf(sock, sizeof(sock), "%s/xenstored/socket", xs_rundir());
	if (setenv("XENSTORED_PATH", sock, 1) < 0)
		return -errno;
	x->xsh = xs_open(0);
	if (!x->xsh) {
		log_err("xenstore: connecting to %s", sock);
		return -EIO;
	}
	return 0;
}

int xs_domain_setup(struct domain *d, const char *name, const char *uuid)
{
	struct xs_domain *x = &d->xs;
	int rc;

	rc = xs_domain_begin(d, name, uuid);
	if (rc < 0)
		return rc;
	rc = xs_store_port(d, x);
	if (rc < 0) {
		log_errx("xenstore: no event channel for the ring");
		return rc;
	}
	memset(d->ram + mem_special_gfn(d, MEM_SPECIAL_STORE) * VMM_PAGE_SIZE,
	       0, VMM_PAGE_SIZE);
	pthread_mutex_lock(&d->xen.lock);
	d->xen.hvm_params[HVM_PARAM_STORE_PFN] =
	    mem_special_gfn(d, MEM_SPECIAL_STORE);
	d->xen.hvm_params[HVM_PARAM_STORE_EVTCHN] = x->store_port;
	pthread_mutex_unlock(&d->xen.lock);

	rc = xs_domain_connect(x);
	if (rc < 0)
		return rc;
	rc = xs_write_home(d, x, NULL);
	if (rc < 0)
		return rc;
	if (!xs_introduce_domain(x->xsh, d->xen.domid,
				 mem_special_gfn(d, MEM_SPECIAL_STORE),
				 x->store_port)) {
		log_err("xenstore: XS_INTRODUCE of domain %u", d->xen.domid);
		return -EIO;
	}
	log_info("xenstore: domain %u '%s' at %s, ring gfn 0x%" PRIx64
		 ", port %u",
		 d->xen.domid, x->name, x->home,
		 mem_special_gfn(d, MEM_SPECIAL_STORE), x->store_port);
	return 0;
}


int xs_domain_restore(struct domain *d, const char *name, const char *uuid,
		      const struct xs_saved *saved)
{
	struct xs_domain *x = &d->xs;
	uint64_t gfn, port;
	int rc, dport;

	pthread_mutex_lock(&d->xen.lock);
	gfn = d->xen.hvm_params[HVM_PARAM_STORE_PFN];
	port = d->xen.hvm_params[HVM_PARAM_STORE_EVTCHN];
	pthread_mutex_unlock(&d->xen.lock);
	/* The guest keeps its ring where it was: it must be our page. */
	if (gfn != mem_special_gfn(d, MEM_SPECIAL_STORE) || !port ||
	    port >= EVTCHN_MAX) {
		log_errx("xenstore: the saved domain's XenStore ring (gfn "
			 "0x%" PRIx64 ", port %" PRIu64 ") is not where this "
			 "VMM keeps it: was it saved without --xenstore?",
			 gfn, port);
		return -EINVAL;
	}
	rc = xs_domain_begin(d, name, uuid);
	if (rc < 0)
		return rc;
	dport = evtchn_backend_bind(d, (uint32_t)port, x->kick_fd);
	if (dport < 0) {
		log_errx("xenstore: the saved XenStore port %" PRIu64 " is not "
			 "one unbound to domain 0",
			 port);
		return dport;
	}
	x->store_port = (uint32_t)port;
	x->store_dport = (uint32_t)dport;
	rc = xs_domain_connect(x);
	if (rc == 0)
		rc = xs_write_home(d, x, saved);
	if (rc < 0)
		return rc;
	if (!xs_introduce_domain(x->xsh, d->xen.domid, gfn, x->store_port)) {
		log_err("xenstore: XS_INTRODUCE of domain %u", d->xen.domid);
		return -EIO;
	}
	rc = xs_saved_watches_restore(d, saved);
	if (rc < 0)
		return rc;
	log_info("xenstore: domain %u '%s' restored at %s (saved as domain "
		 "%u), ring gfn 0x%" PRIx64 ", port %u",
		 d->xen.domid, x->name, x->home, saved->domid, gfn,
		 x->store_port);
	return 0;
}

void xs_domain_destroy(struct domain *d)
{
	struct xs_domain *x = &d->xs;

	if (x->xsh) {
		/* Best effort: xenstored may be gone already. */
		if (x->home[0])
			(void)xs_rm(x->xsh, XBT_NULL, x->home);
		if (x->vm_path[0])
			(void)xs_rm(x->xsh, XBT_NULL, x->vm_path);
		xs_close(x->xsh);
		x->xsh = NULL;
	}
	if (x->hv_fd >= 0)
		close(x->hv_fd);
	if (x->kick_fd >= 0)
		close(x->kick_fd);
	if (x->notify_fd >= 0)
		close(x->notify_fd);
	if (x->retry_fd >= 0)
		close(x->retry_fd);
	xs_domain_clear(x);
}
