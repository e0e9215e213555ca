/* SPDX-License-Identifier: MIT */
/*
 * domcfg_parse() (and under it xlcfg_parse()) over arbitrary bytes: a
 * config file comes from an administrator, or from whoever wrote the file
 * xm was pointed at.  A refusal must carry a FILE:LINE message; an
 * accepted config must hold what the checks promise.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domcfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_warn(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domcfg d;
	char err[512];
	int rc;

	err[0] = '\0';
	rc = domcfg_parse((const char *)data, size, "f.cfg", &d, err,
			  sizeof(err), fuzz_warn, NULL);
	if (rc == -EINVAL && strncmp(err, "f.cfg:", 6))
		abort(); /* refused without saying where */
	if (rc == 0 && (!d.name[0] || !d.kernel[0] || d.vcpus < 1 ||
			d.vcpus > DOMCFG_MAX_VCPUS || d.memory_mib < 1 ||
			d.maxmem_mib < d.memory_mib ||
			d.nr_disks > DOMCFG_MAX_DISKS))
		abort();
	return 0;
}
