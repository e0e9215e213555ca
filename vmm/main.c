/* SPDX-License-Identifier: MIT */
/*
 * xenia-vmm: runs one domain on /dev/kvm behind Xen's guest ABI.
 *
 *   xenia-vmm --kernel K --memory MiB --vcpus N --cmdline S [--initrd F]
 *             [--domid ID]
 *
 * Exit status: 0 poweroff, 1 VMM error (bad kernel, KVM failure), 2 usage,
 * 64 + the Xen SHUTDOWN_* reason otherwise (65 reboot, 66 suspend,
 * 67 crash, including a triple fault, 68 watchdog).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "log.h"
#include "mem.h"
#include "vbd.h"
#include "vif.h"
#include "xen.h"

#define VMM_MAX_DISKS 8
#define VMM_MAX_VIFS 8

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
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xenia-vmm --kernel FILE --memory MiB [--vcpus N]\n"
		"                 [--cmdline STRING] [--initrd FILE]\n"
		"                 [--domid ID] [--xenstore [--name NAME]\n"
		"                 [--uuid UUID]] [--console stdio|pty|none]\n"
		"                 [--console-log FILE] [--disk SPEC]...\n"
		"                 [--vif VIFSPEC]... [-v]\n"
		"SPEC: [phy:|file:]PATH,VDEV[,r|w], as xm configs write it\n"
		"VIFSPEC: [mac=00:16:3e:xx:xx:xx][,bridge=BRIDGE][,mtu=N]:\n"
		"a tap vif<domid>.<n> on BRIDGE, or user-mode networking\n"
		"Runs one PVH domain on /dev/kvm behind the Xen ABI.\n"
		"Exit status: 0 poweroff, 1 error, 2 usage, 64+reason for\n"
		"other shutdowns (65 reboot, 66 suspend, 67 crash).\n");
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
	if (!a->cfg.kernel || !a->cfg.memory_mib) {
		log_errx("--kernel and --memory are required");
		usage(stderr);
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
		rc = vif_add(d, a->vifs[i]);
	return rc;
}

int main(int argc, char **argv)
{
	static struct domain dom;
	struct vmm_args args = {0};
	int status;

	log_init("xenia-vmm", LOG_LVL_INFO);
	if (parse_args(argc, argv, &args) < 0)
		return VMM_EXIT_USAGE;
	if (args.verbose)
		log_set_level(LOG_LVL_DEBUG);
	domain_init(&dom, args.cfg.domid);
	status = VMM_EXIT_ERROR;
	if (domain_build(&dom, &args.cfg) == 0 &&
	    (!args.xenstore || vmm_xenstore(&dom, &args) == 0) &&
	    domain_start(&dom) == 0)
		status = domain_wait(&dom);
	domain_destroy(&dom);
	return status;
}
