/* SPDX-License-Identifier: MIT */
/*
 * A domain's config as xm/xl config files state it (the meaning layer on
 * xlcfg.h): name, uuid, type (pvh), kernel, ramdisk, cmdline (or root and
 * extra), memory, maxmem, vcpus, disk and vif lists, on_poweroff,
 * on_reboot, on_crash.  Errors read "FILE:LINE: what is wrong"; a key we
 * do not know is a warning, as xl does, and changes nothing.
 */
#ifndef XENIA_DOMCFG_H
#define XENIA_DOMCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diskspec.h"

#define DOMCFG_MAX_DISKS 8
#define DOMCFG_MAX_VIFS 8
#define DOMCFG_NAME_MAX 64
#define DOMCFG_PATH_MAX 4096
#define DOMCFG_CMDLINE_MAX 4096
#define DOMCFG_VIF_MAX 256
#define DOMCFG_MAX_VCPUS 64
#define DOMCFG_MAX_MEMORY_MIB 3584

enum domcfg_action {
	DOMCFG_DESTROY,
	DOMCFG_RESTART,
	DOMCFG_PRESERVE,
	DOMCFG_RENAME_RESTART,
	DOMCFG_COREDUMP_DESTROY,
	DOMCFG_COREDUMP_RESTART,
	DOMCFG_SOFT_RESET,
};

struct domcfg {
	char name[DOMCFG_NAME_MAX];
	char uuid[37]; /* "" when the file has none */
	char kernel[DOMCFG_PATH_MAX];
	char ramdisk[DOMCFG_PATH_MAX]; /* "" when none */
	char cmdline[DOMCFG_CMDLINE_MAX];
	uint64_t memory_mib;
	uint64_t maxmem_mib;
	unsigned int vcpus;
	struct diskspec disks[DOMCFG_MAX_DISKS];
	unsigned int nr_disks;
	char vifs[DOMCFG_MAX_VIFS][DOMCFG_VIF_MAX]; /* as written */
	unsigned int nr_vifs;
	enum domcfg_action on_poweroff, on_reboot, on_crash;
};

/* Called with "FILE:LINE: unknown key 'k' ignored" and the like. */
typedef void domcfg_warn_fn(void *ctx, const char *msg);

/*
 * Parses and checks a config file's text; file names it in messages.
 * 0, -ENOMEM, or -EINVAL with "FILE:LINE: what" in err.
 */
int domcfg_parse(const char *text, size_t len, const char *file,
		 struct domcfg *out, char *err, size_t errlen,
		 domcfg_warn_fn *warn, void *ctx)
	__attribute__((warn_unused_result));

const char *domcfg_action_name(enum domcfg_action a);

#endif
