/* SPDX-License-Identifier: MIT */
/*
 * The host, as xm info, xm list's Domain-0 row, xm log and xm dmesg show
 * it: uname, CPUs, memory from /proc, and the ends of the logs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "log.h"
#include "xend.h"

#define HOST_TAIL_MAX 1000
#define HOST_TAIL_BYTES (256 * 1024)

static unsigned long long host_meminfo_kib(const char *key)
{
	unsigned long long v = 0;
	size_t klen = strlen(key);
	char line[256];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtoull(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static double host_cpu_mhz(void)
{
	char line[256];
	double mhz = 0;
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "cpu MHz", 7)) {
			char *p = strchr(line, ':');

			if (p)
				mhz = strtod(p + 1, NULL);
			break;
		}
	fclose(f);
	return mhz;
}

/* Seconds of CPU the host has spent outside idle (Domain-0's Time). */
static double host_cpu_time(void)
{
	unsigned long long u = 0, n = 0, s = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (!f)
		return 0;
	if (fscanf(f, "cpu %llu %llu %llu", &u, &n, &s) != 3)
		u = n = s = 0;
	fclose(f);
	return (double)(u + n + s) / (double)sysconf(_SC_CLK_TCK);
}

static double host_uptime(void)
{
	double up = 0;
	FILE *f = fopen("/proc/uptime", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%lf", &up) != 1)
		up = 0;
	fclose(f);
	return up;
}

json_object *host_dom0_json(void)
{
	json_object *o = json_object_new_object();
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	json_object_object_add(o, "name", json_object_new_string("Domain-0"));
	json_object_object_add(o, "domid", json_object_new_int(0));
	json_object_object_add(o, "uuid", json_object_new_string(
					     "00000000-0000-0000-0000-"
					     "000000000000"));
	json_object_object_add(o, "state", json_object_new_string("r-----"));
	json_object_object_add(o, "memory_kib", json_object_new_int64(
						   (int64_t)host_meminfo_kib(
						       "MemTotal")));
	json_object_object_add(o, "maxmem_kib", json_object_new_int64(
						   (int64_t)host_meminfo_kib(
						       "MemTotal")));
	json_object_object_add(o, "vcpus", json_object_new_int((int)ncpu));
	json_object_object_add(o, "online_vcpus",
			       json_object_new_int((int)ncpu));
	json_object_object_add(o, "cpu_time",
			       json_object_new_double(host_cpu_time()));
	json_object_object_add(o, "start_time", json_object_new_double(
						   xend_now() - host_uptime()));
	json_object_object_add(o, "uptime",
			       json_object_new_double(host_uptime()));
	json_object_object_add(o, "managed", json_object_new_boolean(0));
	return o;
}

json_object *host_info_json(void)
{
	json_object *o = json_object_new_object();
	struct utsname u;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (uname(&u) < 0)
		memset(&u, 0, sizeof(u));
	json_object_object_add(o, "host", json_object_new_string(u.nodename));
	json_object_object_add(o, "release", json_object_new_string(u.release));
	json_object_object_add(o, "version", json_object_new_string(u.version));
	json_object_object_add(o, "machine", json_object_new_string(u.machine));
	json_object_object_add(o, "nr_cpus", json_object_new_int((int)ncpu));
	json_object_object_add(o, "nr_nodes", json_object_new_int(1));
	json_object_object_add(o, "cores_per_socket",
			       json_object_new_int((int)ncpu));
	json_object_object_add(o, "threads_per_core", json_object_new_int(1));
	json_object_object_add(o, "cpu_mhz",
			       json_object_new_int((int)host_cpu_mhz()));
	json_object_object_add(o, "total_memory", json_object_new_int64(
						     (int64_t)host_meminfo_kib(
							 "MemTotal") >> 10));
	json_object_object_add(o, "free_memory", json_object_new_int64(
						    (int64_t)host_meminfo_kib(
							"MemAvailable") >> 10));
	/* The Xen ABI we speak to guests: Xen 4.17's public headers. */
	json_object_object_add(o, "xen_major", json_object_new_int(4));
	json_object_object_add(o, "xen_minor", json_object_new_int(17));
	json_object_object_add(o, "xen_extra",
			       json_object_new_string("-xenia"));
	json_object_object_add(o, "xen_caps",
			       json_object_new_string("hvm-3.0-x86_64"));
	json_object_object_add(o, "xen_scheduler",
			       json_object_new_string("linux"));
	json_object_object_add(o, "xend_version",
			       json_object_new_string(XEND_VERSION));
	json_object_object_add(o, "nr_domains",
			       json_object_new_int((int)xend.nr_domains));
	return o;
}

/* The last `lines` lines of a file, into arr, each with a prefix. */
static void host_tail_file(const char *path, const char *prefix, int lines,
			   json_object *arr)
{
	char *buf, *p, *start, *end;
	long size, from;
	size_t n;
	int count = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	buf = malloc(HOST_TAIL_BYTES + 1);
	if (!buf || fseek(f, 0, SEEK_END) < 0) {
		free(buf);
		fclose(f);
		return;
	}
	size = ftell(f);
	from = size > HOST_TAIL_BYTES ? size - HOST_TAIL_BYTES : 0;
	(void)fseek(f, from, SEEK_SET);
	n = fread(buf, 1, HOST_TAIL_BYTES, f);
	fclose(f);
	buf[n] = '\0';
	/* Walk back `lines` newlines from the end. */
	end = buf + n;
	if (end > buf && end[-1] == '\n')
		end--;
	for (p = end; p > buf; p--)
		if (p[-1] == '\n' && ++count == lines)
			break;
	start = p;
	while (start < end) {
		char line[1024];
		char *nl = memchr(start, '\n', (size_t)(end - start));
		size_t len = nl ? (size_t)(nl - start) : (size_t)(end - start);

		snprintf(line, sizeof(line), "%s%.*s", prefix, (int)len, start);
		json_object_array_add(arr, json_object_new_string(line));
		start += len + 1;
	}
	free(buf);
}

json_object *host_tail_json(const char *which, int lines)
{
	json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();
	char path[256], prefix[32];
	struct xdom *d;

	if (lines <= 0 || lines > HOST_TAIL_MAX)
		lines = 100;
	if (!strcmp(which, "log")) {
		if (xend_path(path, sizeof(path), "log/xend.log") == 0)
			host_tail_file(path, "", lines, arr);
	} else {
		list_for_each_entry(d, &xend.domains, link) {
			if (d->domid < 0)
				continue;
			snprintf(prefix, sizeof(prefix), "(d%d) ", d->domid);
			if (xend_path(path, sizeof(path), "log/vmm-%d.log",
				      d->domid) == 0)
				host_tail_file(path, prefix, lines, arr);
		}
	}
	json_object_object_add(o, "lines", arr);
	return o;
}
