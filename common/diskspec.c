/* SPDX-License-Identifier: MIT */
#include "diskspec.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* "a".."z", "aa".."zz"...: the disk index of a letter suffix, or -1. */
static int diskspec_letters(const char *s, const char **end)
{
	int idx = 0, n = 0;

	*end = s;
	while (*s >= 'a' && *s <= 'z') {
		if (++n > 3)
			return -1;
		idx = idx * 26 + (*s - 'a' + 1);
		s++;
	}
	*end = s;
	return n ? idx - 1 : -1;
}

/* An optional partition number 1..15 (xvd allows more above 16 disks). */
static int diskspec_partition(const char *s, unsigned int max)
{
	unsigned int p = 0;

	if (!*s)
		return 0;
	if (*s == '0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		p = p * 10 + (unsigned int)(*s - '0');
		if (p > max)
			return -1;
	}
	return (int)p;
}

int diskspec_vdev_devid(const char *vdev, unsigned int *devid)
{
	const char *end = NULL;
	int disk, part;

	if (!strncmp(vdev, "xvd", 3)) {
		disk = diskspec_letters(vdev + 3, &end);
		if (disk < 0)
			return -EINVAL;
		if (disk < 16) {
			part = diskspec_partition(end, 15);
			if (part < 0)
				return -EINVAL;
			*devid = 202u << 8 | (unsigned int)disk << 4 |
				 (unsigned int)part;
			return 0;
		}
		part = diskspec_partition(end, 255);
		if (part < 0 || disk > (1 << 20) - 1)
			return -EINVAL;
		*devid = 1u << 28 | (unsigned int)disk << 8 | (unsigned int)part;
		return 0;
	}
	if (!strncmp(vdev, "hd", 2) || !strncmp(vdev, "sd", 2)) {
		static const unsigned int hd_major[] = {3, 22, 33, 34};

		disk = diskspec_letters(vdev + 2, &end);
		part = diskspec_partition(end, 15);
		if (disk < 0 || part < 0)
			return -EINVAL;
		if (vdev[0] == 'h') {
			if (disk > 7)
				return -EINVAL;
			*devid = hd_major[disk / 2] << 8 |
				 (unsigned int)(disk % 2) << 6 |
				 (unsigned int)part;
		} else {
			if (disk > 15)
				return -EINVAL;
			*devid = 8u << 8 | (unsigned int)disk << 4 |
				 (unsigned int)part;
		}
		return 0;
	}
	return -EINVAL;
}

int diskspec_parse(const char *spec, struct diskspec *out, char *err,
		   size_t errlen)
{
	static const char *const prefixes[] = {"phy:", "file:", "tap:aio:",
					       "aio:", "raw:"};
	const char *target = spec, *c1, *c2, *access;
	size_t i, len;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		len = strlen(prefixes[i]);
		if (!strncmp(spec, prefixes[i], len)) {
			target = spec + len;
			out->is_phy = i == 0;
			break;
		}
	}
	c1 = strchr(target, ',');
	if (!c1) {
		snprintf(err, errlen, "'%s': expected TARGET,VDEV[,ACCESS]",
			 spec);
		return -EINVAL;
	}
	len = (size_t)(c1 - target);
	if (!len || len >= sizeof(out->path)) {
		snprintf(err, errlen, "'%s': the target path is %s", spec,
			 len ? "too long" : "empty");
		return -EINVAL;
	}
	memcpy(out->path, target, len);
	c2 = strchr(c1 + 1, ',');
	len = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	if (!len || len >= sizeof(out->vdev)) {
		snprintf(err, errlen, "'%s': no virtual device name", spec);
		return -EINVAL;
	}
	memcpy(out->vdev, c1 + 1, len);
	if (diskspec_vdev_devid(out->vdev, &out->devid) < 0) {
		snprintf(err, errlen,
			 "'%s': '%s' is not a virtual device (xvda, hdb, sdc1...)",
			 spec, out->vdev);
		return -EINVAL;
	}
	access = c2 ? c2 + 1 : "w";
	if (!strcmp(access, "r") || !strcmp(access, "ro")) {
		out->readonly = true;
	} else if (strcmp(access, "w") && strcmp(access, "rw")) {
		snprintf(err, errlen, "'%s': access '%s' is not r, ro, w or rw",
			 spec, access);
		return -EINVAL;
	}
	return 0;
}
