/* SPDX-License-Identifier: MIT */
/*
 * xenia-vmm: runs one domain on /dev/kvm behind Xen's guest ABI.
 *
 *   xenia-vmm --kernel K --memory MiB --vcpus N --cmdline S [--initrd F]
 *             [--domid ID]
 *   xenia-vmm --restore FILE [--domid ID] ...   (a saved domain)
 *
 * Exit status: 0 poweroff, 1 VMM error (bad kernel, KVM failure, a
 * refused save file), 2 usage, 3 destroyed (SIGTERM/SIGINT), 4 saved (a
 * `save` request wrote the domain to a file), 64 + the Xen SHUTDOWN_*
 * reason otherwise
 * (65 reboot, 66 suspend, 67 crash, including a triple fault, 68
 * watchdog).  For xend (docs/vmm-control.md): --control, --ready-fd,
 * --status-file, --maxmem, --paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "ctl.h"
#include "diskspec.h"
#include "domain.h"
#include "domain_state.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "vbd.h"
#include "vif.h"
#include "xen.h"

#define VMM_MAX_DISKS 8
#define VMM_MAX_VIFS 8
/* --incoming: READY to GO, the source deciding (migrate.h). */
#define VMM_HANDOVER_MS 30000
#define VMM_DISK_LOCK_TRIES 200
#define VMM_INCOMING_SILENCE_S 30
#define VMM_DISK_LOCK_US 10000

struct vmm_args {
	struct domain_config cfg;
	const char *disks[VMM_MAX_DISKS];
	unsigned int nr_disks;
	const char *vifs[VMM_MAX_VIFS];
	unsigned int nr_vifs;
	bool xenstore;
	const char *name;
	const char *uuid;
	bool verbose;
	const char *control;	 /* --control: the socket's path */
	int ready_fd;		 /* --ready-fd, -1 when none or closed */
	const char *status_file; /* --status-file */
	uint64_t maxmem_mib;	 /* --maxmem; 0: --memory */
	bool paused;		 /* --paused */
	const char *restore;	 /* --restore: the save file */
	int incoming_fd;	 /* --incoming: a migration's connection */
	uint64_t go_us;		 /* when the source said GO */
	bool vcpus_given;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xenia-vmm --kernel FILE --memory MiB [--vcpus N]\n"
		"                 [--cmdline STRING] [--initrd FILE]\n"
		"                 [--domid ID] [--xenstore [--name NAME]\n"
		"                 [--uuid UUID]] [--console stdio|pty|none]\n"
		"                 [--console-log FILE] [--disk SPEC]...\n"
		"                 [--vif VIFSPEC]... [--maxmem MiB]\n"
		"                 [--control PATH] [--ready-fd N]\n"
		"                 [--status-file PATH] [--paused] [-v]\n"
		"   or: xenia-vmm --restore FILE [--memory MiB] [--vcpus N]\n"
		"                 [the options above but --kernel, --initrd\n"
		"                 and --maxmem]\n"
		"   or: xenia-vmm --incoming FD [the same options]\n"
		"SPEC: [phy:|file:]PATH,VDEV[,r|w], as xm configs write it\n"
		"VIFSPEC: [mac=00:16:3e:xx:xx:xx][,bridge=BRIDGE][,mtu=N]:\n"
		"a tap vif<domid>.<n> on BRIDGE, or user-mode networking\n"
		"--control: a Unix socket for xend's requests (JSON lines);\n"
		"--ready-fd: 'ready' written there once the guest runs;\n"
		"--status-file: why the VMM ended (poweroff, reboot, suspend,\n"
		"crash, watchdog, destroy, error); --paused: vCPU 0 waits\n"
		"for an unpause request.  --maxmem: the balloon's ceiling,\n"
		"no more than --memory.\n"
		"--restore: the domain a save request wrote to FILE, with\n"
		"the other options as at create but no --kernel; --memory\n"
		"and --vcpus, if given, must be the saved domain's; --disk\n"
		"and --vif, if given, replace the saved specs (same\n"
		"devices); the domain's XenStore nodes come back under\n"
		"--domid.\n"
		"--incoming: the same from a migration's connection, open\n"
		"as descriptor FD; the domain runs once the source hands it\n"
		"over (docs/migration-stream.md).\n"
		"Runs one PVH domain on /dev/kvm behind the Xen ABI.\n"
		"Exit status: 0 poweroff, 1 error, 2 usage, 3 destroyed\n"
		"(SIGTERM or SIGINT), 4 saved to a file (status 'saved'),\n"
		"64+reason for other shutdowns\n"
		"(65 reboot, 66 suspend, 67 crash, 68 watchdog).\n");
}

static int parse_uint(const char *s, uint64_t min, uint64_t max,
		      uint64_t *out)
{
	char *end;
	uint64_t v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/*
 * A source that goes silent fails the read (the stream reader takes
 * EAGAIN as an error) instead of holding the domain half-built forever.
 */
static void vmm_incoming_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = VMM_INCOMING_SILENCE_S};

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

static int parse_args(int argc, char **argv, struct vmm_args *a)
{
	static const struct option opts[] = {
		{"kernel", required_argument, NULL, 'k'},
		{"memory", required_argument, NULL, 'm'},
		{"vcpus", required_argument, NULL, 'c'},
		{"cmdline", required_argument, NULL, 'a'},
		{"initrd", required_argument, NULL, 'i'},
		{"domid", required_argument, NULL, 'd'},
		{"xenstore", no_argument, NULL, 'x'},
		{"name", required_argument, NULL, 'n'},
		{"uuid", required_argument, NULL, 'u'},
		{"console", required_argument, NULL, 'C'},
		{"console-log", required_argument, NULL, 'L'},
		{"disk", required_argument, NULL, 'D'},
		{"vif", required_argument, NULL, 'N'},
		{"control", required_argument, NULL, 'S'},
		{"ready-fd", required_argument, NULL, 'R'},
		{"status-file", required_argument, NULL, 'F'},
		{"maxmem", required_argument, NULL, 'M'},
		{"paused", no_argument, NULL, 'P'},
		{"restore", required_argument, NULL, 'r'},
		{"incoming", required_argument, NULL, 'I'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	uint64_t n;
	int c;

	a->cfg.cmdline = "";
	a->cfg.vcpus = 1;
	a->cfg.domid = VMM_DEFAULT_DOMID;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			a->cfg.kernel = optarg;
			break;
		case 'm':
			if (parse_uint(optarg, VMM_RAM_MIN_MIB, VMM_RAM_MAX_MIB,
				       &a->cfg.memory_mib) < 0) {
				log_errx("--memory: a size in MiB from %d to "
					 "%d, not '%s'",
					 VMM_RAM_MIN_MIB, VMM_RAM_MAX_MIB,
					 optarg);
				return -EINVAL;
			}
			break;
		case 'c':
			if (parse_uint(optarg, 1, VMM_MAX_VCPUS, &n) < 0) {
				log_errx("--vcpus: from 1 to %d, not '%s'",
					 VMM_MAX_VCPUS, optarg);
				return -EINVAL;
			}
			a->cfg.vcpus = (unsigned int)n;
			a->vcpus_given = true;
			break;
		case 'a':
			a->cfg.cmdline = optarg;
			break;
		case 'i':
			a->cfg.initrd = optarg;
			break;
		case 'd':
			/* Domain 0 is the host; DOMID_FIRST_RESERVED and up
			 * are Xen's special ids (DOMID_SELF, ...). */
			if (parse_uint(optarg, 1, DOMID_FIRST_RESERVED - 1,
				       &n) < 0) {
				log_errx("--domid: from 1 to %d, not '%s'",
					 DOMID_FIRST_RESERVED - 1, optarg);
				return -EINVAL;
			}
			a->cfg.domid = (uint16_t)n;
			break;
		case 'x':
			a->xenstore = true;
			break;
		case 'n':
			if (!*optarg || strlen(optarg) > 63 ||
			    strchr(optarg, '/')) {
				log_errx("--name: 1 to 63 characters, no '/'");
				return -EINVAL;
			}
			a->name = optarg;
			break;
		case 'u':
			a->uuid = optarg;
			break;
		case 'C':
			if (consback_parse_mode(optarg, &a->cfg.console) < 0) {
				log_errx("--console: stdio, pty or none, not "
					 "'%s'",
					 optarg);
				return -EINVAL;
			}
			break;
		case 'L':
			a->cfg.console_log = optarg;
			break;
		case 'D':
			if (a->nr_disks == VMM_MAX_DISKS) {
				log_errx("--disk: at most %d disks",
					 VMM_MAX_DISKS);
				return -EINVAL;
			}
			a->disks[a->nr_disks++] = optarg;
			break;
		case 'N':
			if (a->nr_vifs == VMM_MAX_VIFS) {
				log_errx("--vif: at most %d interfaces",
					 VMM_MAX_VIFS);
				return -EINVAL;
			}
			a->vifs[a->nr_vifs++] = optarg;
			break;
		case 'S':
			a->control = optarg;
			break;
		case 'R':
			/* 0-2 are stdio; the pipe's end must be open. */
			if (parse_uint(optarg, 3, INT_MAX, &n) < 0 ||
			    fcntl((int)n, F_SETFD, FD_CLOEXEC) < 0) {
				log_errx("--ready-fd: an open descriptor from "
					 "3 up, not '%s'",
					 optarg);
				return -EINVAL;
			}
			a->ready_fd = (int)n;
			break;
		case 'F':
			if (!*optarg) {
				log_errx("--status-file: a path");
				return -EINVAL;
			}
			a->status_file = optarg;
			break;
		case 'M':
			if (parse_uint(optarg, VMM_RAM_MIN_MIB, VMM_RAM_MAX_MIB,
				       &a->maxmem_mib) < 0) {
				log_errx("--maxmem: a size in MiB from %d to "
					 "%d, not '%s'",
					 VMM_RAM_MIN_MIB, VMM_RAM_MAX_MIB,
					 optarg);
				return -EINVAL;
			}
			break;
		case 'P':
			a->paused = true;
			break;
		case 'r':
			a->restore = optarg;
			break;
		case 'I':
			if (parse_uint(optarg, 3, INT_MAX, &n) < 0 ||
			    fcntl((int)n, F_SETFD, FD_CLOEXEC) < 0) {
				log_errx("--incoming: '%s' is not an open "
					 "descriptor",
					 optarg);
				return -EINVAL;
			}
			a->incoming_fd = (int)n;
			a->restore = "the incoming migration";
			vmm_incoming_timeouts(a->incoming_fd);
			break;
		case 'v':
			a->verbose = true;
			break;
		case 'h':
			usage(stdout);
			exit(VMM_EXIT_OK);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_errx("unexpected argument '%s'", argv[optind]);
		return -EINVAL;
	}
	if (a->nr_disks && !a->xenstore) {
		log_errx("--disk needs --xenstore: devices meet their "
			 "frontends through XenStore");
		return -EINVAL;
	}
	if (a->nr_vifs && !a->xenstore) {
		log_errx("--vif needs --xenstore: devices meet their "
			 "frontends through XenStore");
		return -EINVAL;
	}
	if (a->restore && (a->cfg.kernel || a->cfg.initrd || a->maxmem_mib)) {
		log_errx("--restore takes no --kernel, --initrd or --maxmem: "
			 "the saved domain has them");
		return -EINVAL;
	}
	if (!a->restore && (!a->cfg.kernel || !a->cfg.memory_mib)) {
		log_errx("--kernel and --memory are required");
		usage(stderr);
		return -EINVAL;
	}
	if (a->paused && !a->control) {
		log_errx("--paused needs --control: nothing else can unpause "
			 "the domain");
		return -EINVAL;
	}
	if (a->restore)
		return 0; /* the stream says the rest */
	if (!a->maxmem_mib)
		a->maxmem_mib = a->cfg.memory_mib;
	/* RAM is mapped once, --memory sized: nothing to balloon up into. */
	if (a->maxmem_mib < a->cfg.memory_mib) {
		log_errx("--maxmem %" PRIu64 " is below --memory %" PRIu64,
			 a->maxmem_mib, a->cfg.memory_mib);
		return -EINVAL;
	}
	if (a->maxmem_mib > a->cfg.memory_mib) {
		log_errx("--maxmem %" PRIu64 " is above --memory %" PRIu64
			 ": ballooning up past --memory is not supported",
			 a->maxmem_mib, a->cfg.memory_mib);
		return -EINVAL;
	}
	return 0;
}

/* --xenstore: the domain's home in xenstored, named --name; devices. */
static int vmm_xenstore(struct domain *d, const struct vmm_args *a)
{
	char name[64];
	unsigned int i;
	int rc;

	if (a->name)
		snprintf(name, sizeof(name), "%s", a->name);
	else
		snprintf(name, sizeof(name), "xenia-%u", d->xen.domid);
	rc = xs_domain_setup(d, name, a->uuid);
	for (i = 0; rc == 0 && i < a->nr_disks; i++)
		rc = vbd_add(d, a->disks[i]);
	for (i = 0; rc == 0 && i < a->nr_vifs; i++)
		rc = vif_add(d, a->vifs[i], NULL);
	return rc;
}

/*
 * --restore --xenstore: the domain's home back under the new id, then
 * its devices on their saved rings (restore.c checked that the disks and
 * vifs given are the saved domain's).
 */
static int vmm_xenstore_restore(struct domain *d, const struct vmm_args *a,
				struct restore *rs)
{
	static struct diskspec ds;
	char name[64], err[200];
	unsigned int i;
	int rc;

	if (a->name)
		snprintf(name, sizeof(name), "%s", a->name);
	else if (rs->name)
		snprintf(name, sizeof(name), "%s", rs->name);
	else
		snprintf(name, sizeof(name), "xenia-%u", d->xen.domid);
	rc = xs_domain_restore(d, name, a->uuid ? a->uuid : rs->uuid,
			       &rs->xs);
	for (i = 0; rc == 0 && i < rs->nr_disks; i++) {
		rc = diskspec_parse(rs->disks[i], &ds, err, sizeof(err));
		if (rc == 0)
			rc = vbd_restore(d, rs->disks[i],
					 restore_device_find(rs, "vbd",
							     ds.devid));
	}
	for (i = 0; rc == 0 && i < rs->nr_vifs; i++)
		rc = vif_restore(d, rs->vifs[i], restore_device(rs, "vif", i));
	return rc;
}

/* SIGTERM, SIGINT: the toolstack destroys the domain, cleanly. */
static void vmm_signalled(struct domain *d, struct loop_source *s)
{
	struct signalfd_siginfo si;

	if (read(s->fd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	log_info("vmm: %s: destroying the domain",
		 strsignal((int)si.ssi_signo));
	domain_shutdown(d, VMM_EXIT_DESTROYED);
}

/*
 * Blocked in every thread from the start (threads inherit the mask), the
 * signals reach the loop through a signalfd, never a vCPU thread.
 */
static int vmm_signals_block(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	return -pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int vmm_signals_open(struct domain *d, const sigset_t *set,
			    struct loop_source *src)
{
	int fd = signalfd(-1, set, SFD_NONBLOCK | SFD_CLOEXEC);

	if (fd < 0) {
		log_err("vmm: signalfd");
		return -errno;
	}
	*src = (struct loop_source){fd, vmm_signalled, NULL};
	if (loop_add(&d->loop, src) < 0) {
		close(fd);
		src->fd = -1;
		return -EIO;
	}
	return 0;
}

/* --ready-fd: "ready" once the guest runs; closed unwritten on failure. */
static void vmm_ready(struct vmm_args *a, bool ready)
{
	if (a->ready_fd < 0)
		return;
	if (ready && write(a->ready_fd, "ready\n", 6) != 6)
		log_warn("vmm: writing to --ready-fd");
	close(a->ready_fd);
	a->ready_fd = -1;
}

/* The status file's word for an exit status (docs/vmm-control.md). */
static const char *vmm_status_word(int status)
{
	switch (status) {
	case VMM_EXIT_OK:
		return "poweroff";
	case VMM_EXIT_DESTROYED:
		return "destroy";
	case VMM_EXIT_SAVED:
		return "saved";
	case VMM_EXIT_SHUTDOWN_BASE + SHUTDOWN_reboot:
		return "reboot";
	case VMM_EXIT_SHUTDOWN_BASE + SHUTDOWN_suspend:
		return "suspend";
	case VMM_EXIT_SHUTDOWN_BASE + SHUTDOWN_crash:
		return "crash";
	case VMM_EXIT_SHUTDOWN_BASE + SHUTDOWN_watchdog:
		return "watchdog";
	case VMM_EXIT_SHUTDOWN_BASE + SHUTDOWN_soft_reset:
		return "soft_reset";
	default:
		return "error";
	}
}

/* --status-file: written whole, PATH.tmp then renamed, just before exit. */
static void vmm_write_status(const char *path, int status)
{
	char tmp[PATH_MAX], line[16];
	int fd = -1, len;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >=
	    sizeof(tmp)) {
		log_errx("--status-file %s: path too long", path);
		return;
	}
	len = snprintf(line, sizeof(line), "%s\n", vmm_status_word(status));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)len) != len || fsync(fd) < 0) {
		log_err("--status-file: writing %s", tmp);
		goto out;
	}
	if (rename(tmp, path) < 0)
		log_err("--status-file: renaming %s", tmp);
out:
	if (fd >= 0)
		close(fd);
}

/*
 * Everything between a built domain and a running one (rs: restored,
 * its state loaded already).
 */
static int vmm_setup(struct domain *d, const struct vmm_args *a,
		     struct restore *rs, const sigset_t *sigs,
		     struct loop_source *sig_src)
{
	int rc = 0;

	/* A restored balloon has its ceiling (BAL1). */
	if (!rs)
		rc = memory_set_max_pages(d, a->maxmem_mib << 8);
	if (rc < 0)
		return rc;
	rc = vmm_signals_open(d, sigs, sig_src);
	if (rc == 0 && a->xenstore)
		rc = rs ? vmm_xenstore_restore(d, a, rs) : vmm_xenstore(d, a);
	if (rc == 0 && a->control)
		rc = ctl_open(d, a->control);
	/* No vCPU thread yet: this only sets the flag. */
	if (rc == 0 && a->paused)
		domain_pause(d);
	return rc;
}

/*
 * --restore: header and CONFIG say what to build; the rest of the file
 * is read into it and checked to its END before anything is loaded or
 * registered (restore.c).  One message for a refusal.
 */
static int vmm_restore_read(struct domain *d, struct vmm_args *a,
			    struct restore *rs)
{
	unsigned int i;
	int rc;

	rc = a->incoming_fd >= 0 ? restore_open_fd(rs, a->incoming_fd)
				 : restore_open(rs, a->restore);
	if (rc < 0)
		goto fail;
	if (a->cfg.memory_mib && a->cfg.memory_mib != rs->ram_size >> 20) {
		log_errx("--restore %s: the saved domain has %" PRIu64 " MiB, "
			 "not --memory %" PRIu64,
			 a->restore, rs->ram_size >> 20, a->cfg.memory_mib);
		return -EINVAL;
	}
	if (a->vcpus_given && a->cfg.vcpus != rs->vcpus) {
		log_errx("--restore %s: the saved domain has %u vCPUs, not "
			 "--vcpus %u",
			 a->restore, rs->vcpus, a->cfg.vcpus);
		return -EINVAL;
	}
	a->cfg.memory_mib = rs->ram_size >> 20;
	a->cfg.vcpus = rs->vcpus;
	a->maxmem_mib = a->cfg.memory_mib;
	/* Devices given here stand for the saved ones (paths may differ). */
	if (a->nr_disks) {
		for (i = 0; i < a->nr_disks; i++)
			rs->disks[i] = a->disks[i];
		rs->nr_disks = a->nr_disks;
	}
	if (a->nr_vifs) {
		for (i = 0; i < a->nr_vifs; i++)
			rs->vifs[i] = a->vifs[i];
		rs->nr_vifs = a->nr_vifs;
	}
	if ((rs->nr_disks || rs->nr_vifs) && !a->xenstore) {
		log_errx("--restore %s: the saved domain has devices: "
			 "--xenstore is needed",
			 a->restore);
		return -EINVAL;
	}
	rc = restore_check_disks(rs);
	if (rc < 0)
		goto fail;
	if (!a->xenstore)
		log_warnx("--restore %s: without --xenstore the domain has no "
			  "XenStore, whatever it had when saved",
			  a->restore);
	rc = domain_build(d, &a->cfg);
	if (rc < 0)
		return rc; /* logged */
	/* The source waits for this before it stops the domain. */
	if (a->incoming_fd >= 0 &&
	    handover_write_line(a->incoming_fd, "%s", MIGRATE_BUILT) < 0) {
		log_errx("%s: the source is gone", a->restore);
		return -ECONNRESET;
	}
	rc = restore_read(rs, d);
	if (rc < 0)
		goto fail;
	return restore_load(rs, d); /* logged */
fail:
	log_errx("--restore %s: %s", a->restore, rs->err);
	return rc;
}

/*
 * --incoming: everything is loaded and registered; the source says
 * whether the domain is ours now (migrate.h).  0 when it is.
 */
static uint64_t vmm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000;
}

static int vmm_take_over(struct domain *d, struct vmm_args *a,
			 struct restore *rs)
{
	char line[MIGRATE_LINE_MAX];
	unsigned int tries = 0;
	int rc;

	if (a->incoming_fd < 0)
		return 0;
	/* The source lets its disks' locks go after END: a moment's grace. */
	while ((rc = vbd_locks(d, true)) == -EBUSY &&
	       tries++ < VMM_DISK_LOCK_TRIES)
		usleep(VMM_DISK_LOCK_US);
	if (rc < 0) {
		snprintf(rs->err, sizeof(rs->err), "a disk image is in use on "
			 "the destination");
		return rc;
	}
	rc = handover_write_line(a->incoming_fd, "%s", MIGRATE_READY);
	if (rc == 0)
		rc = handover_read_line(a->incoming_fd, line, sizeof(line),
					VMM_HANDOVER_MS);
	if (rc == 0 && strcmp(line, MIGRATE_GO))
		rc = -EPROTO;
	if (rc < 0) {
		log_errx("%s: the source did not hand the domain over (%s)",
			 a->restore,
			 rc == -EPROTO ? "an unexpected answer" : strerror(-rc));
		return rc;
	}
	a->go_us = vmm_now_us();
	/* Ours now: the rings the guest left are served from here. */
	d->xenbus.incoming = false;
	xenbus_back_unquiesce(d);
	return 0;
}

/* --incoming, after the domain runs or failed to: the source hears. */
static void vmm_incoming_end(struct vmm_args *a, bool running,
			     const struct restore *rs)
{
	if (a->incoming_fd < 0)
		return;
	if (running) {
		if (handover_write_line(a->incoming_fd, "%s %" PRIu64,
					MIGRATE_RUNNING,
					vmm_now_us() - a->go_us) < 0)
			log_warnx("%s: the source is gone", a->restore);
	} else {
		handover_refuse(a->incoming_fd,
				rs->err[0] ? rs->err
					   : "the destination could not set "
					     "the domain up (see its vmm log)");
	}
	close(a->incoming_fd);
	a->incoming_fd = -1;
}

int main(int argc, char **argv)
{
	static struct domain dom;
	static struct restore rs = {.fd = -1};
	struct vmm_args args = {.ready_fd = -1, .incoming_fd = -1};
	struct loop_source sig_src = {.fd = -1};
	sigset_t sigs;
	int status;

	log_init("xenia-vmm", LOG_LVL_INFO);
	if (vmm_signals_block(&sigs) < 0)
		return VMM_EXIT_ERROR;
	if (parse_args(argc, argv, &args) < 0) {
		if (args.status_file)
			vmm_write_status(args.status_file, VMM_EXIT_ERROR);
		return VMM_EXIT_USAGE;
	}
	if (args.verbose)
		log_set_level(LOG_LVL_DEBUG);
	domain_init(&dom, args.cfg.domid);
	status = VMM_EXIT_ERROR;
	/* Until the source hands them over, its disks are its own. */
	dom.xenbus.incoming = args.incoming_fd >= 0;
	if (args.restore) {
		if (vmm_restore_read(&dom, &args, &rs) == 0 &&
		    vmm_setup(&dom, &args, &rs, &sigs, &sig_src) == 0 &&
		    vmm_take_over(&dom, &args, &rs) == 0 &&
		    domain_state_resume(&dom) == 0) {
			log_info("vmm: domain %u restored from %s",
				 dom.xen.domid, args.restore);
			vmm_incoming_end(&args, true, &rs);
			restore_free(&rs);
			vmm_ready(&args, true);
			status = domain_wait(&dom);
		} else {
			vmm_incoming_end(&args, false, &rs);
		}
	} else if (domain_build(&dom, &args.cfg) == 0 &&
		   vmm_setup(&dom, &args, NULL, &sigs, &sig_src) == 0 &&
		   domain_start(&dom) == 0) {
		vmm_ready(&args, true);
		status = domain_wait(&dom);
	}
	restore_free(&rs);
	vmm_ready(&args, false);
	/* The control socket, the devices, the nodes: all gone after this. */
	domain_destroy(&dom);
	if (sig_src.fd >= 0)
		close(sig_src.fd);
	if (args.status_file)
		vmm_write_status(args.status_file, status);
	return status;
}
