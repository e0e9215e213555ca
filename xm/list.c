/* SPDX-License-Identifier: MIT */
#include "list.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "jval.h"

/* One line, formatted, without the blanks Xen's padding leaves at its end. */
static void list_line(FILE *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void list_line(FILE *out, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	n = strlen(line);
	while (n && line[n - 1] == ' ')
		line[--n] = '\0';
	fprintf(out, "%s\n", line);
}

/* A domain's id as Xen's xm shows it: empty when it is not running. */
static void list_domid(char *buf, size_t len, json_object *dom)
{
	if (jval_null(dom, "domid"))
		buf[0] = '\0';
	else
		snprintf(buf, len, "%lld",
			 (long long)jval_int(dom, "domid", -1));
}

/* Online vCPUs while it runs, the configured number otherwise (as xm). */
static long long list_vcpus(json_object *dom)
{
	long long vcpus = jval_int(dom, "vcpus", 0);

	if (jval_null(dom, "domid"))
		return vcpus;
	return jval_int(dom, "online_vcpus", vcpus);
}

void list_print_brief(FILE *out, json_object *domains)
{
	size_t i, n = domains ? json_object_array_length(domains) : 0;
	char id[24];

	list_line(out, "%-40s %5s %5s %5s %10s %9s", "Name", "ID", "Mem",
		  "VCPUs", "State", "Time(s)");
	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(domains, i);

		list_domid(id, sizeof(id), d);
		list_line(out, "%-40s %5s %5lld %5lld %10s %8.1f",
			  jval_str(d, "name", "??"), id,
			  (long long)(jval_int(d, "memory_kib", 0) / 1024),
			  list_vcpus(d), jval_str(d, "state", ""),
			  jval_num(d, "cpu_time", 0.0));
	}
}

/*
 * S-expressions as xm list -l printed them: scalars on one line, objects
 * opened on their own line with their members indented by four, an array
 * of objects as one child per element under the array's name.
 */
static bool list_sxp_bare(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_-./:,+@%", *s))
			return false;
	return true;
}

static void list_sxp_atom(FILE *out, json_object *v)
{
	const char *s;

	switch (json_object_get_type(v)) {
	case json_type_boolean:
		fputs(json_object_get_boolean(v) ? "1" : "0", out);
		return;
	case json_type_string:
		s = json_object_get_string(v);
		if (list_sxp_bare(s)) {
			fputs(s, out);
			return;
		}
		fputc('\'', out);
		for (; *s; s++) {
			if (*s == '\'' || *s == '\\')
				fprintf(out, "\\%c", *s);
			else if (*s == '\n')
				fputs("\\n", out);
			else
				fputc(*s, out);
		}
		fputc('\'', out);
		return;
	case json_type_double:
		/* Enough digits for any time or size, not binary's noise. */
		fprintf(out, "%.15g", json_object_get_double(v));
		return;
	default:
		fputs(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN),
		      out);
	}
}

static void list_sxp_node(FILE *out, int depth, const char *name,
			  json_object *v)
{
	size_t i, n;

	if (!v || json_object_is_type(v, json_type_null))
		return;
	if (json_object_is_type(v, json_type_object)) {
		fprintf(out, "%*s(%s\n", depth * 4, "", name);
		json_object_object_foreach(v, key, child)
		{
			/* The config's text is what `xm list --json` is for. */
			if (depth == 0 && !strcmp(key, "config"))
				continue;
			list_sxp_node(out, depth + 1, key, child);
		}
		fprintf(out, "%*s)\n", depth * 4, "");
		return;
	}
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		if (n && json_object_is_type(json_object_array_get_idx(v, 0),
					     json_type_object)) {
			for (i = 0; i < n; i++)
				list_sxp_node(out, depth, name,
					      json_object_array_get_idx(v, i));
			return;
		}
		fprintf(out, "%*s(%s", depth * 4, "", name);
		for (i = 0; i < n; i++) {
			fputc(' ', out);
			list_sxp_atom(out, json_object_array_get_idx(v, i));
		}
		fputs(")\n", out);
		return;
	}
	fprintf(out, "%*s(%s ", depth * 4, "", name);
	list_sxp_atom(out, v);
	fputs(")\n", out);
}

void list_print_sxp(FILE *out, const char *name, json_object *obj)
{
	list_sxp_node(out, 0, name, obj);
}

void list_format_uptime(char *buf, size_t len, double seconds,
			bool with_seconds)
{
	/* Rounded half up, as Xen's round() of a positive number. */
	long long up = seconds > 0 ? (long long)(seconds + 0.5) : 0;
	long long days = up / 86400, hours = up % 86400 / 3600;
	long long minutes = up % 3600 / 60, secs = up % 60;
	size_t o = 0;

	buf[0] = '\0';
	if (days > 0)
		o = (size_t)snprintf(buf, len, "%lld day%s, ", days,
				     days > 1 ? "s" : "");
	if (o < len)
		o += (size_t)snprintf(buf + o, len - o, "%2lld:%02lld", hours,
				      minutes);
	if (with_seconds && o < len)
		snprintf(buf + o, len - o, ":%02lld", secs);
}

static double list_uptime_of(json_object *d, double now, double host_uptime)
{
	double start;

	if (jval_null(d, "domid"))
		return 0;
	/* Domain-0 is the host: its uptime is the host's, as in Xen's xm. */
	if (jval_int(d, "domid", -1) == 0)
		return host_uptime;
	start = jval_num(d, "start_time", 0);
	return jval_num(d, "uptime", start > 0 ? now - start : 0);
}

void list_print_uptime(FILE *out, json_object *domains, bool short_mode,
		       double now, double host_uptime)
{
	size_t i, n = domains ? json_object_array_length(domains) : 0;
	char id[24], up[64], clock[16];
	time_t t = (time_t)now;
	struct tm tm;

	if (!short_mode)
		list_line(out, "%-33s %4s %s", "Name", "ID", "Uptime");
	localtime_r(&t, &tm);
	strftime(clock, sizeof(clock), " %H:%M:%S", &tm);
	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(domains, i);
		const char *name = jval_str(d, "name", "??");

		list_domid(id, sizeof(id), d);
		list_format_uptime(up, sizeof(up),
				   list_uptime_of(d, now, host_uptime),
				   !short_mode);
		if (short_mode)
			list_line(out, "%s up %s, %s (%s)", clock, up, name,
				  id);
		else
			list_line(out, "%-32s %5s %s", name, id, up);
	}
}

void list_print_vcpu_header(FILE *out)
{
	list_line(out, "%-32s %5s %5s %5s %5s %9s %s", "Name", "ID", "VCPU",
		  "CPU", "State", "Time(s)", "CPU Affinity");
}

/*
 * Xen's vCPU states: r(unning) or -, b(locked) or -, then - ; an offline
 * vCPU has no CPU and reads "--p".  Xenia does not pin vCPUs, so every one
 * may use any CPU.
 */
void list_print_vcpus(FILE *out, json_object *dom, json_object *vcpus)
{
	size_t i, n = vcpus ? json_object_array_length(vcpus) : 0;
	char id[24], cpu[24], st[4];

	list_domid(id, sizeof(id), dom);
	for (i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(vcpus, i);
		const char *state = jval_str(v, "state", "");
		long long c = jval_int(v, "cpu", -1);

		if (!jval_bool(v, "online", true) ||
		    !strcmp(state, "offline")) {
			snprintf(cpu, sizeof(cpu), "-");
			snprintf(st, sizeof(st), "--p");
		} else if (c < 0) {
			cpu[0] = st[0] = '\0';
		} else {
			snprintf(cpu, sizeof(cpu), "%lld", c);
			snprintf(st, sizeof(st), "%c%c-",
				 !strcmp(state, "running") ? 'r' : '-',
				 !strcmp(state, "blocked") ? 'b' : '-');
		}
		list_line(out, "%-32s %5s %5lld %5s %5s  %8.1f %s",
			  jval_str(dom, "name", "??"), id,
			  (long long)jval_int(v, "id", (int64_t)i), cpu, st,
			  jval_num(v, "cpu_time", 0.0), "any cpu");
	}
}

/* A device field as text: "-" when xend has no value for it yet. */
static void list_field(char *buf, size_t len, json_object *o,
		       const char *key)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, key, &v) || !v ||
	    json_object_is_type(v, json_type_null))
		snprintf(buf, len, "-");
	else if (json_object_is_type(v, json_type_string))
		snprintf(buf, len, "%s", json_object_get_string(v));
	else
		snprintf(buf, len, "%s",
			 json_object_to_json_string_ext(
				 v, JSON_C_TO_STRING_PLAIN));
}

/*
 * "backend" is the backend's XenStore path or its domain id; either way
 * the columns want both.
 */
static void list_backend(json_object *dev, const char *kind, int domid,
			 long long devid, long long *be, char *path,
			 size_t len)
{
	const char *s = jval_str(dev, "backend", NULL);

	*be = 0;
	if (s && s[0] == '/') {
		if (sscanf(s, "/local/domain/%lld/", be) != 1)
			*be = 0;
		snprintf(path, len, "%s", s);
		return;
	}
	*be = jval_int(dev, "backend", 0);
	snprintf(path, len, "/local/domain/%lld/backend/%s/%d/%lld", *be, kind,
		 domid, devid);
}

void list_print_vbds(FILE *out, json_object *devices, int domid)
{
	size_t i, n = devices ? json_object_array_length(devices) : 0;
	char state[16], evtch[16], ring[16], path[256];
	long long be, devid;

	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(devices, i);

		if (i == 0)
			list_line(out, "Vdev  BE handle state evt-ch "
				       "ring-ref BE-path");
		devid = jval_int(d, "devid", 0);
		list_backend(d, "vbd", domid, devid, &be, path, sizeof(path));
		list_field(state, sizeof(state), d, "state");
		list_field(evtch, sizeof(evtch), d, "event_channel");
		list_field(ring, sizeof(ring), d, "ring_ref");
		list_line(out,
			  "%-5lld  %-3lld  %-3lld   %-3s    %-3s    %-5s %s",
			  devid, be, devid, state, evtch, ring, path);
	}
}

void list_print_vifs(FILE *out, json_object *devices, int domid)
{
	size_t i, n = devices ? json_object_array_length(devices) : 0;
	char state[16], evtch[16], tx[16], rx[16], path[256];
	long long be, devid;

	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(devices, i);

		if (i == 0)
			list_line(out, "Idx BE     MAC Addr.     handle state "
				       "evt-ch tx-/rx-ring-ref BE-path");
		devid = jval_int(d, "devid", 0);
		list_backend(d, "vif", domid, devid, &be, path, sizeof(path));
		list_field(state, sizeof(state), d, "state");
		list_field(evtch, sizeof(evtch), d, "event_channel");
		list_field(tx, sizeof(tx), d, "tx_ring_ref");
		list_field(rx, sizeof(rx), d, "rx_ring_ref");
		list_line(out,
			  "%-3lld %-3lld%-17s    %-3lld   %-3s    %-3s   "
			  "%-5s/%-5s   %s",
			  devid, be, jval_str(d, "mac", "-"), devid, state,
			  evtch, tx, rx, path);
	}
}

void list_top_state(char out[7], const char *xm_state)
{
	/* xentop's order, and where each flag sits in xm's "rbpscd". */
	static const char letters[] = "dsbcpr";
	static const int xm_pos[] = {5, 3, 1, 4, 2, 0};
	size_t len = xm_state ? strlen(xm_state) : 0;
	int i;

	for (i = 0; i < 6; i++) {
		size_t p = (size_t)xm_pos[i];

		out[i] = p < len && xm_state[p] != '-' ? letters[i] : '-';
	}
	out[6] = '\0';
}

void list_print_top_header(FILE *out)
{
	list_line(out, "%10s %6s %10s %6s %10s %6s %10s %9s %5s %4s %4s",
		  "NAME", "STATE", "CPU(sec)", "CPU(%)", "MEM(k)", "MEM(%)",
		  "MAXMEM(k)", "MAXMEM(%)", "VCPUS", "NETS", "VBDS");
}

static json_object *list_find_domid(json_object *domains, long long domid)
{
	size_t i, n = domains ? json_object_array_length(domains) : 0;

	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(domains, i);

		if (!jval_null(d, "domid") && jval_int(d, "domid", -1) == domid)
			return d;
	}
	return NULL;
}

static double list_cpu_pct(json_object *d, json_object *prev,
			   double interval)
{
	json_object *p;
	double delta;

	p = list_find_domid(prev, jval_int(d, "domid", -1));
	if (!p || interval <= 0 ||
	    jval_num(p, "start_time", 0) != jval_num(d, "start_time", 0))
		return 0.0;
	delta = jval_num(d, "cpu_time", 0) - jval_num(p, "cpu_time", 0);
	return delta > 0 ? delta / interval * 100.0 : 0.0;
}

void list_print_top(FILE *out, json_object *domains, json_object *prev,
		    double interval, unsigned long long total_kib)
{
	size_t i, n = domains ? json_object_array_length(domains) : 0;
	char state[7], maxmem[24], maxpct[24];

	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(domains, i);
		double mem = (double)jval_int(d, "memory_kib", 0);
		double max = (double)jval_int(d, "maxmem_kib", -1);

		if (jval_null(d, "domid"))
			continue;
		list_top_state(state, jval_str(d, "state", ""));
		if (max < 0) {
			snprintf(maxmem, sizeof(maxmem), "no limit");
			snprintf(maxpct, sizeof(maxpct), "n/a");
		} else {
			snprintf(maxmem, sizeof(maxmem), "%.0f", max);
			snprintf(maxpct, sizeof(maxpct), "%.1f",
				 total_kib ? max / (double)total_kib * 100
					   : 0.0);
		}
		list_line(out,
			  "%10.10s %6s %10llu %6.1f %10llu %6.1f %10s %9s "
			  "%5lld %4lld %4lld",
			  jval_str(d, "name", "??"), state,
			  (unsigned long long)jval_num(d, "cpu_time", 0),
			  list_cpu_pct(d, prev, interval),
			  (unsigned long long)mem,
			  total_kib ? mem / (double)total_kib * 100 : 0.0,
			  maxmem, maxpct, list_vcpus(d),
			  (long long)jval_int(d, "nr_vifs", 0),
			  (long long)jval_int(d, "nr_vbds", 0));
	}
}

void list_print_top_summary(FILE *out, json_object *info,
			    json_object *domains, double now)
{
	unsigned int run = 0, block = 0, pause = 0, crash = 0, dying = 0;
	unsigned int shut = 0, total = 0;
	size_t i, n = domains ? json_object_array_length(domains) : 0;
	unsigned long long mem_k, free_k;
	time_t t = (time_t)now;
	char clock[16];
	struct tm tm;

	for (i = 0; i < n; i++) {
		json_object *d = json_object_array_get_idx(domains, i);
		const char *s = jval_str(d, "state", "------");

		if (jval_null(d, "domid"))
			continue;
		total++;
		if (strlen(s) < 6)
			continue;
		if (s[0] != '-')
			run++;
		else if (s[1] != '-')
			block++;
		else if (s[2] != '-')
			pause++;
		else if (s[3] != '-')
			shut++;
		else if (s[4] != '-')
			crash++;
		else if (s[5] != '-')
			dying++;
	}
	localtime_r(&t, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	mem_k = (unsigned long long)jval_int(info, "total_memory", 0) * 1024;
	free_k = (unsigned long long)jval_int(info, "free_memory", 0) * 1024;
	list_line(out, "xm top - %s   Xen %lld.%lld%s", clock,
		  (long long)jval_int(info, "xen_major", 0),
		  (long long)jval_int(info, "xen_minor", 0),
		  jval_str(info, "xen_extra", ""));
	list_line(out,
		  "%u domains: %u running, %u blocked, %u paused, "
		  "%u crashed, %u dying, %u shutdown",
		  total, run, block, pause, crash, dying, shut);
	list_line(out,
		  "Mem: %lluk total, %lluk used, %lluk free    "
		  "CPUs: %lld @ %lldMHz",
		  mem_k, mem_k > free_k ? mem_k - free_k : 0, free_k,
		  (long long)jval_int(info, "nr_cpus", 0),
		  (long long)jval_int(info, "cpu_mhz", 0));
}
