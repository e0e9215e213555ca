/* SPDX-License-Identifier: MIT */
/*
 * Starting a domain: a xenia-vmm per domain, in its own session (it must
 * outlive a xend restart), its output in log/vmm-<domid>.log, its control
 * socket and status file under xend/vmm/ (docs/vmm-control.md).  xend
 * waits on the vmm's ready pipe: "ready" means the domain is built,
 * registered in XenStore and running; EOF means it failed, and the
 * reason is the end of its log.
 *
 * Ending one: SIGTERM (the vmm tears its devices down and writes
 * "destroy" in its status file), SIGKILL if it does not go.  Whatever the
 * way out, xdom_cleanup() then removes what a dead vmm may leave behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "xend.h"

#define SPAWN_READY_MS 30000
/* An incoming migration is up when its source hands it over. */
#define SPAWN_INCOMING_READY_MS (3600 * 1000)
/* The vmm's descriptors: 3 says ready, 4 is a migration's connection. */
#define SPAWN_INCOMING_FD "4"
#define SPAWN_MAX_ARGS (32 + 2 * (DOMCFG_MAX_DISKS + DOMCFG_MAX_VIFS))

struct spawn_args {
	char *argv[SPAWN_MAX_ARGS];
	unsigned int argc;
	char num[8][32];
	char disks[DOMCFG_MAX_DISKS][DOMCFG_PATH_MAX + 32];
	char ctl[256], status[256], conslog[256], log[256];
};

static void spawn_arg(struct spawn_args *a, const char *s)
{
	if (a->argc < SPAWN_MAX_ARGS - 1)
		a->argv[a->argc++] = (char *)s;
	a->argv[a->argc] = NULL;
}

static int spawn_build_argv(struct xdom *d, bool paused, const char *restore,
			    struct spawn_args *a)
{
	const struct domcfg *c = d->cfg;
	unsigned int i;

	if (xend_path(a->ctl, sizeof(a->ctl), "xend/vmm/%d.sock", d->domid) <
		    0 ||
	    strlen(a->ctl) >= 108 ||
	    xend_path(a->status, sizeof(a->status), "xend/vmm/%d.status",
		      d->domid) < 0 ||
	    xend_path(a->conslog, sizeof(a->conslog), "log/console-%d.log",
		      d->domid) < 0 ||
	    xend_path(a->log, sizeof(a->log), "log/vmm-%d.log", d->domid) < 0)
		return -ENAMETOOLONG;
	snprintf(a->num[0], sizeof(a->num[0]), "%llu",
		 (unsigned long long)c->memory_mib);
	snprintf(a->num[1], sizeof(a->num[1]), "%u", c->vcpus);
	snprintf(a->num[2], sizeof(a->num[2]), "%d", d->domid);

	spawn_arg(a, xend.vmm_path);
	if (d->incoming_fd >= 0) {
		spawn_arg(a, "--incoming");
		spawn_arg(a, SPAWN_INCOMING_FD);
	} else if (restore) {
		spawn_arg(a, "--restore");
		spawn_arg(a, restore);
	} else {
		spawn_arg(a, "--kernel");
		spawn_arg(a, c->kernel);
		spawn_arg(a, "--cmdline");
		spawn_arg(a, c->cmdline);
		if (c->ramdisk[0]) {
			spawn_arg(a, "--initrd");
			spawn_arg(a, c->ramdisk);
		}
	}
	spawn_arg(a, "--memory");
	spawn_arg(a, a->num[0]);
	spawn_arg(a, "--vcpus");
	spawn_arg(a, a->num[1]);
	spawn_arg(a, "--domid");
	spawn_arg(a, a->num[2]);
	spawn_arg(a, "--xenstore");
	spawn_arg(a, "--name");
	spawn_arg(a, d->name);
	spawn_arg(a, "--uuid");
	spawn_arg(a, d->uuid);
	/* A migration's devices are the stream's (hot-plugged ones too). */
	for (i = 0; d->incoming_fd < 0 && i < c->nr_disks; i++) {
		snprintf(a->disks[i], sizeof(a->disks[i]), "%s:%s,%s,%s",
			 c->disks[i].is_phy ? "phy" : "file", c->disks[i].path,
			 c->disks[i].vdev, c->disks[i].readonly ? "r" : "w");
		spawn_arg(a, "--disk");
		spawn_arg(a, a->disks[i]);
	}
	for (i = 0; d->incoming_fd < 0 && i < c->nr_vifs; i++) {
		spawn_arg(a, "--vif");
		spawn_arg(a, c->vifs[i]);
	}
	spawn_arg(a, "--console");
	spawn_arg(a, "pty");
	spawn_arg(a, "--console-log");
	spawn_arg(a, a->conslog);
	spawn_arg(a, "--control");
	spawn_arg(a, a->ctl);
	spawn_arg(a, "--status-file");
	spawn_arg(a, a->status);
	spawn_arg(a, "--ready-fd");
	spawn_arg(a, "3");
	if (paused)
		spawn_arg(a, "--paused");
	return 0;
}

/* The last lines of a vmm's log that say what went wrong. */
static void spawn_log_tail(const char *path, char *err, size_t errlen)
{
	char buf[4096], *line, *last = NULL, *first_error = NULL, *save;
	ssize_t n = -1;
	off_t size;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		size = lseek(fd, 0, SEEK_END);
		if (size > (off_t)sizeof(buf) - 1)
			(void)lseek(fd, size - (off_t)sizeof(buf) + 1, SEEK_SET);
		else
			(void)lseek(fd, 0, SEEK_SET);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0) {
		snprintf(err, errlen, "xenia-vmm failed; no log in %s", path);
		return;
	}
	buf[n] = '\0';
	/* The first error line is the cause; later ones are consequences.
	 * Without one, the last line says most. */
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, ": error: ") && !first_error)
			first_error = line;
		last = line;
	}
	if (first_error)
		last = first_error;
	snprintf(err, errlen, "xenia-vmm failed: %s (log: %s)",
		 last ? last : "see the log", path);
}

static uint64_t spawn_pid_start(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* After the command name's closing parenthesis: field 3 on. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		start = strtoull(p + 1, NULL, 10);
	return start;
}

uint64_t xdom_pid_start(pid_t pid);
uint64_t xdom_pid_start(pid_t pid)
{
	return spawn_pid_start(pid);
}

/* xend's blocked signals and ignored SIGPIPE are not the vmm's. */
void spawn_reset_signals(void)
{
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
}

static void spawn_child(struct spawn_args *a, int ready_fd, int log_fd,
			int incoming_fd)
{
	int nul = open("/dev/null", O_RDONLY);

	/* Out of the way of the dup2s below, whatever number it has. */
	if (incoming_fd >= 0)
		incoming_fd = fcntl(incoming_fd, F_DUPFD, 10);
	spawn_reset_signals();
	setsid();
	if (nul >= 0)
		dup2(nul, 0);
	dup2(log_fd, 1);
	dup2(log_fd, 2);
	dup2(ready_fd, 3);
	if (incoming_fd >= 0) {
		dup2(incoming_fd, 4);
		close_range(5, ~0U, 0);
	} else {
		close_range(4, ~0U, 0);
	}
	execv(a->argv[0], a->argv);
	dprintf(2, "xend: exec %s: %s\n", a->argv[0], strerror(errno));
	_exit(127);
}

/* Waits for "ready" without the lock; 0, or -errno with err filled. */
static int spawn_wait_ready(int fd, struct spawn_args *a, int timeout_ms,
			    char *err, size_t errlen)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[16];
	ssize_t n;
	int rc;

	do {
		rc = poll(&p, 1, timeout_ms);
	} while (rc < 0 && errno == EINTR);
	if (rc == 0) {
		snprintf(err, errlen, "xenia-vmm did not come up in %d s "
			 "(log: %s)", timeout_ms / 1000, a->log);
		return -ETIMEDOUT;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		if (!strncmp(buf, "ready", 5))
			return 0;
	}
	return -EIO;
}

/*
 * Starts d's vmm, booting its kernel or, with `restore`, loading the
 * domain saved in that file (docs/migration-stream.md).  Called with
 * xend.lock held and d in XD_STARTING with a domid; drops the lock while
 * the vmm comes up.
 */
int xdom_start(struct xdom *d, bool paused, const char *restore, char *err,
	       size_t errlen)
{
	struct spawn_args *a = calloc(1, sizeof(*a));
	int pipefd[2] = {-1, -1}, log_fd = -1, st, rc;
	pid_t pid = -1;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = spawn_build_argv(d, paused, restore, a);
	if (rc < 0) {
		snprintf(err, errlen, "XENIA_RUNDIR %s is too long for the "
			 "domain's socket paths", xend.rundir);
		goto out;
	}
	log_fd = open(a->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (log_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot set up %s: %s", a->log,
			 strerror(errno));
		goto out;
	}
	(void)unlink(a->status);
	pid = fork();
	if (pid < 0) {
		rc = -errno;
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		spawn_child(a, pipefd[1], log_fd, d->incoming_fd);
	close(pipefd[1]);
	pipefd[1] = -1;
	d->pid = pid;
	d->child = true;
	/*
	 * Recorded (as starting) before the lock goes: a xend killed while
	 * the vmm comes up finds it, and ends it, instead of losing it.
	 * The start time is the fork's, so it holds after the exec.
	 */
	d->pid_start = spawn_pid_start(pid);
	(void)record_write(d);

	pthread_mutex_unlock(&xend.lock);
	rc = spawn_wait_ready(pipefd[0], a,
			      d->incoming_fd >= 0 ? SPAWN_INCOMING_READY_MS
						  : SPAWN_READY_MS,
			      err, errlen);
	pthread_mutex_lock(&xend.lock);

	if (rc < 0) {
		/* Failed before it was up: nothing of it may stay. */
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (rc == -EIO)
			spawn_log_tail(a->log, err, errlen);
		d->pid = -1;
		d->child = false;
		xdom_cleanup(d);
		record_remove(d);
		goto out;
	}
	d->pidfd = pidfd_open(pid, 0);
	if (d->pidfd < 0) {
		rc = -errno;
		snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		d->pid = -1;
		d->child = false;
		xdom_cleanup(d);
		record_remove(d);
		goto out;
	}
	d->start_time = xend_now();
	d->start_mono = xend_mono();
	d->state = paused ? XD_PAUSED : XD_RUNNING;
	log_info("spawn: domain %d '%s' up, vmm pid %d", d->domid, d->name,
		 pid);
	rc = 0;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	if (log_fd >= 0)
		close(log_fd);
	free(a);
	return rc;
}

/*
 * Ends d's vmm now and waits for it: for a start that cannot be completed
 * (xend could not watch or record it).  Leaves d as if never started.
 */
void xdom_kill_sync(struct xdom *d)
{
	siginfo_t si;

	if (d->pidfd >= 0) {
		(void)pidfd_send_signal(d->pidfd, SIGKILL, NULL, 0);
		if (d->child)
			(void)waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED);
	} else if (d->pid > 0 && d->child) {
		kill(d->pid, SIGKILL);
		while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	supervise_unwatch(d);
	xdom_cleanup(d);
	record_remove(d);
	d->pid = -1;
	d->child = false;
	d->domid = -1;
}

int xdom_signal(struct xdom *d, int sig)
{
	if (d->pidfd >= 0)
		return pidfd_send_signal(d->pidfd, sig, NULL, 0) < 0 ? -errno
								    : 0;
	return -ESRCH;
}

/*
 * What a vmm leaves behind when it dies without tearing down (kill -9):
 * xenstored drops the domain's home itself; the rest is dom0's.
 */
void xdom_cleanup(struct xdom *d)
{
	char path[256];

	if (d->domid < 0)
		return;
	store_rm("/local/domain/%d", d->domid);
	store_rm("/local/domain/0/backend/vbd/%d", d->domid);
	store_rm("/local/domain/0/backend/vif/%d", d->domid);
	store_rm("/local/domain/0/backend/console/%d", d->domid);
	store_rm("/vm/%s", d->uuid);
	if (xend_path(path, sizeof(path), "xend/vmm/%d.sock", d->domid) == 0)
		(void)unlink(path);
	if (xend_path(path, sizeof(path), "xend/vmm/%d.status", d->domid) ==
	    0)
		(void)unlink(path);
}
