/*
 * test=version: xen_version answers and agrees with CPUID.
 */
#include "console.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

static int printable(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i]; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return 0;
	return i < n;
}

void scenario_version(void)
{
	struct xen_feature_info fi = { .submap_idx = 0 };
	xen_extraversion_t extra;
	long ver, rc;

	ver = hyp_xen_version(XENVER_version, NULL);
	check(ver > 0 && (ver >> 16) >= 3,
	      "version: XENVER_version = %ld.%ld", ver >> 16, ver & 0xffff);
	check(ver == (long)xen_cpuid_version,
	      "version: matches CPUID leaf 0x%x (0x%x)", xen_cpuid_base + 1,
	      xen_cpuid_version);

	memset(extra, 0xff, sizeof(extra));
	rc = hyp_xen_version(XENVER_extraversion, extra);
	if (check(rc == 0, "version: XENVER_extraversion rc=%ld", rc))
		check(printable(extra, sizeof(extra)),
		      "version: extraversion is a printable string \"%s\"",
		      printable(extra, sizeof(extra)) ? extra : "?");

	fi.submap = 0xdeadbeef;
	rc = hyp_xen_version(XENVER_get_features, &fi);
	check(rc == 0 && fi.submap != 0xdeadbeef,
	      "version: XENVER_get_features rc=%ld submap[0]=0x%x", rc,
	      fi.submap);
}
