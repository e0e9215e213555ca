/* SPDX-License-Identifier: MIT */
/*
 * Supervision: the main thread's loop.  Each running domain's vmm is a
 * pidfd in the loop; when one ends, the reason comes from its status file
 * (docs/vmm-control.md), or is "crash" when it left none (kill -9, a VMM
 * bug), and the domain's on_poweroff / on_reboot / on_crash action runs:
 *
 *   destroy          forget it (a managed domain goes back to inactive)
 *   restart          start it again from its config, with a new id
 *   preserve         keep it listed, shut down or crashed, until destroyed
 *   rename-restart   keep the old one as NAME-ID, start a new one
 *
 * A domain that keeps ending within RESTART_QUICK seconds of its start is
 * restarted at most RESTART_MAX times in a row, as Xen refuses a domain
 * "rebooting too fast"; then it is preserved as crashed.
 *
 * A once-a-second tick enforces shutdown timeouts and escalates a destroy
 * the vmm ignores (SIGTERM, then SIGKILL after DESTROY_GRACE seconds).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "uuid.h"
#include "xend.h"

#define RESTART_QUICK 10.0
#define RESTART_MAX 5
#define DESTROY_GRACE 5.0

pthread_cond_t xend_changed = PTHREAD_COND_INITIALIZER;
uint64_t xdom_pid_start(pid_t pid);

int supervise_watch(struct xdom *d)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = d->pidfd};

	if (epoll_ctl(xend.epoll_fd, EPOLL_CTL_ADD, d->pidfd, &ev) < 0) {
		log_err("supervise: watching domain %d", d->domid);
		return -errno;
	}
	return 0;
}

void supervise_unwatch(struct xdom *d)
{
	if (d->pidfd < 0)
		return;
	(void)epoll_ctl(xend.epoll_fd, EPOLL_CTL_DEL, d->pidfd, NULL);
	close(d->pidfd);
	d->pidfd = -1;
}

static void supervise_forget(struct xdom *d)
{
	d->domid = -1;
	d->pid = -1;
	if (d->managed) {
		d->state = XD_INACTIVE;
		record_remove(d);
		return;
	}
	record_remove(d);
	list_del(&d->link);
	xend.nr_domains--;
	xdom_free(d);
}

/* The status file a vmm writes as it ends, or NULL. */
static char *supervise_status(int domid)
{
	char path[256], buf[32];
	ssize_t n;
	int fd;

	if (xend_path(path, sizeof(path), "xend/vmm/%d.status", domid) < 0)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return strdup(buf);
}

/* A domain ending again within RESTART_QUICK of its start, too often. */
static bool supervise_too_fast(struct xdom *d)
{
	if (xend_mono() - d->start_mono >= RESTART_QUICK) {
		d->restarts = 0;
		return false;
	}
	if (++d->restarts <= RESTART_MAX)
		return false;
	log_errx("supervise: domain '%s' restarted %d times within %.0f s "
		 "each; not restarting, preserved as crashed",
		 d->name, RESTART_MAX, RESTART_QUICK);
	d->state = XD_CRASHED;
	(void)record_write(d);
	return true;
}

static void supervise_restart(struct xdom *d)
{
	char err[512] = "no domain id";
	int id;

	id = xdom_alloc_domid();
	d->domid = id;
	d->state = XD_STARTING;
	if (id < 0 || xdom_start(d, false, NULL, err, sizeof(err)) < 0) {
		/* Kept, as crashed, for the administrator to look at. */
		log_errx("supervise: restarting '%s': %s", d->name, err);
		d->state = XD_CRASHED;
		(void)record_write(d);
		return;
	}
	if (supervise_watch(d) < 0 || record_write(d) < 0) {
		log_errx("supervise: restarted '%s' but cannot watch or "
			 "record it: ended", d->name);
		xdom_kill_sync(d);
		d->state = XD_CRASHED;
		(void)record_write(d);
		return;
	}
	log_info("supervise: '%s' restarted as domain %d", d->name, d->domid);
}

/* rename-restart: the old one stays, preserved, as NAME-ID (unique). */
static void supervise_keep_old(struct xdom *d, bool crashed)
{
	struct xdom *old;
	char err[256];
	unsigned int n;

	if (xend.nr_domains >= XEND_MAX_DOMAINS) {
		log_warnx("supervise: not keeping the old '%s': xend holds "
			  "%d domains", d->name, XEND_MAX_DOMAINS);
		return;
	}
	old = xdom_new();
	if (!old || xdom_set_config(old, d->config, d->config_path, d->cwd,
				    err, sizeof(err), NULL) < 0 ||
	    uuid_random(old->uuid) < 0) {
		xdom_free(old);
		return;
	}
	snprintf(old->name, sizeof(old->name), "%.40s-%d", d->name, d->domid);
	for (n = 2; xdom_by_name(old->name) && n < 1000; n++)
		snprintf(old->name, sizeof(old->name), "%.40s-%d-%u", d->name,
			 d->domid, n);
	old->domid = d->domid;
	old->start_time = d->start_time;
	old->state = crashed ? XD_CRASHED : XD_SHUTDOWN;
	list_add_tail(&old->link, &xend.domains);
	xend.nr_domains++;
	(void)record_write(old);
}

/*
 * d's vmm has ended for `reason`; under the lock.  Runs its action.
 */
void supervise_exit(struct xdom *d, const char *reason)
{
	enum domcfg_action act;
	bool crashed = false;

	supervise_unwatch(d);
	xdom_cleanup(d);
	d->pid = -1;
	d->child = false;
	d->shutdown_deadline = 0;
	log_info("supervise: domain %d '%s' ended: %s", d->domid, d->name,
		 reason);
	/* Destroyed, or saved to a file (xm save): no action either way. */
	if (d->state == XD_DYING || !strcmp(reason, "destroy") ||
	    !strcmp(reason, "saved")) {
		supervise_forget(d);
		goto out;
	}
	if (!strcmp(reason, "poweroff") || !strcmp(reason, "suspend")) {
		act = d->cfg->on_poweroff;
	} else if (!strcmp(reason, "reboot")) {
		act = d->cfg->on_reboot;
	} else {
		act = d->cfg->on_crash;
		crashed = true;
	}
	switch (act) {
	case DOMCFG_DESTROY:
	case DOMCFG_COREDUMP_DESTROY:
		supervise_forget(d);
		break;
	case DOMCFG_PRESERVE:
		d->state = crashed ? XD_CRASHED : XD_SHUTDOWN;
		(void)record_write(d);
		break;
	case DOMCFG_RENAME_RESTART:
	case DOMCFG_RESTART:
	case DOMCFG_COREDUMP_RESTART:
	case DOMCFG_SOFT_RESET:
		/* Throttled first: a throttled domain is kept itself, so the
		 * old copy would be a second entry with the same id. */
		if (supervise_too_fast(d))
			break;
		if (act == DOMCFG_RENAME_RESTART)
			supervise_keep_old(d, crashed);
		supervise_restart(d);
		break;
	}
out:
	pthread_cond_broadcast(&xend_changed);
}

/*
 * Destroy: a preserved domain goes at once; a running one is asked to end
 * (SIGTERM) and its exit, seen by the loop, finishes the job.  Under the
 * lock; d may be freed when this returns 0 for a preserved domain.
 */
int xdom_destroy_begin(struct xdom *d)
{
	if (d->state == XD_STARTING)
		return -EBUSY;
	if (d->pidfd < 0) {
		xdom_cleanup(d);
		supervise_forget(d);
		pthread_cond_broadcast(&xend_changed);
		return 0;
	}
	if (d->state != XD_DYING) {
		d->state = XD_DYING;
		d->dying_since = xend_mono();
		(void)record_write(d);
	}
	return xdom_signal(d, SIGTERM);
}

/* A pidfd is readable: is its process really gone (fds get reused)? */
static void supervise_pidfd(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	siginfo_t info;
	struct xdom *d;
	char *reason;

	pthread_mutex_lock(&xend.lock);
	d = xdom_by_pidfd(fd);
	if (!d) {
		/* No domain owns it (any more): never report it again. */
		(void)epoll_ctl(xend.epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		goto out;
	}
	if (poll(&p, 1, 0) != 1)
		goto out;
	if (d->child) {
		memset(&info, 0, sizeof(info));
		(void)waitid(P_PIDFD, (id_t)fd, &info, WEXITED | WNOHANG);
	}
	reason = supervise_status(d->domid);
	supervise_exit(d, reason ? reason : "crash");
	free(reason);
out:
	pthread_mutex_unlock(&xend.lock);
}

static void supervise_tick(void)
{
	struct xdom *d, *next;
	double now = xend_mono();

	pthread_mutex_lock(&xend.lock);
	if (store_check() > 0)
		record_resync();
	for (d = list_entry(xend.domains.next, struct xdom, link);
	     &d->link != &xend.domains; d = next) {
		next = list_entry(d->link.next, struct xdom, link);
		if (d->shutdown_deadline && now >= d->shutdown_deadline &&
		    (d->state == XD_RUNNING || d->state == XD_PAUSED)) {
			log_info("supervise: domain %d '%s' did not shut down "
				 "in time: destroying it",
				 d->domid, d->name);
			d->shutdown_deadline = 0;
			(void)xdom_destroy_begin(d);
		} else if (d->state == XD_DYING && d->pidfd >= 0 &&
			   now - d->dying_since >= DESTROY_GRACE) {
			log_warnx("supervise: domain %d ignored SIGTERM: "
				  "killing it",
				  d->domid);
			(void)xdom_signal(d, SIGKILL);
		}
	}
	pthread_mutex_unlock(&xend.lock);
}

/*
 * After a restart of xend: each recorded domain's vmm is either still
 * there (same pid, same start time), or it ended while nobody watched.
 */
void supervise_adopt_all(void)
{
	struct xdom *d, *next;
	char *reason;
	bool alive;

	pthread_mutex_lock(&xend.lock);
	if (store_check() > 0)
		record_resync();
	for (d = list_entry(xend.domains.next, struct xdom, link);
	     &d->link != &xend.domains; d = next) {
		next = list_entry(d->link.next, struct xdom, link);
		if (d->state == XD_INACTIVE || d->state == XD_SHUTDOWN ||
		    d->state == XD_CRASHED)
			continue;
		/* The pidfd first: then the pid cannot be reused under us
		 * between the check and the watch. */
		d->pidfd = d->pid > 0 ? pidfd_open(d->pid, 0) : -1;
		alive = d->pidfd >= 0 && d->pid_start &&
			xdom_pid_start(d->pid) == d->pid_start;
		if (alive && supervise_watch(d) == 0) {
			d->child = false;
			log_info("supervise: adopted domain %d '%s' (pid %d)",
				 d->domid, d->name, d->pid);
			if (d->state == XD_STARTING || d->state == XD_DYING) {
				/* Half created or half destroyed: finish. */
				d->state = XD_DYING;
				d->dying_since = xend_mono();
				(void)xdom_signal(d, SIGTERM);
			}
			continue;
		}
		if (d->pidfd >= 0)
			close(d->pidfd);
		d->pidfd = -1;
		if (d->state == XD_STARTING)
			d->state = XD_DYING;
		reason = supervise_status(d->domid);
		log_info("supervise: domain %d '%s' ended while xend was away",
			 d->domid, d->name);
		supervise_exit(d, reason ? reason : "crash");
		free(reason);
	}
	pthread_mutex_unlock(&xend.lock);
}

int supervise_run(void)
{
	struct epoll_event evs[32];
	struct itimerspec its = {{1, 0}, {1, 0}};
	struct signalfd_siginfo si;
	sigset_t set;
	int sfd, tfd, n, i;
	uint64_t ticks;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) {
		log_err("supervise: signalfd/timerfd");
		return -errno;
	}
	evs[0] = (struct epoll_event){.events = EPOLLIN, .data.fd = sfd};
	evs[1] = (struct epoll_event){.events = EPOLLIN, .data.fd = tfd};
	if (epoll_ctl(xend.epoll_fd, EPOLL_CTL_ADD, sfd, &evs[0]) < 0 ||
	    epoll_ctl(xend.epoll_fd, EPOLL_CTL_ADD, tfd, &evs[1]) < 0)
		return -errno;
	for (;;) {
		n = epoll_wait(xend.epoll_fd, evs, 32, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		for (i = 0; i < n; i++) {
			if (evs[i].data.fd == sfd) {
				if (read(sfd, &si, sizeof(si)) > 0 &&
				    si.ssi_signo != SIGHUP) {
					log_info("xend: signal %u: stopping; "
						 "domains keep running",
						 si.ssi_signo);
					return 0;
				}
			} else if (evs[i].data.fd == tfd) {
				if (read(tfd, &ticks, sizeof(ticks)) > 0)
					supervise_tick();
			} else {
				supervise_pidfd(evs[i].data.fd);
			}
		}
	}
}
