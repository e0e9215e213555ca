/* SPDX-License-Identifier: MIT */
/*
 * Restoring a domain from a migration stream (migrate.h,
 * docs/migration-stream.md).
 *
 * The stream is hostile until its END record's checksum says otherwise,
 * so the restore goes in two halves.  The first only reads: the header
 * and CONFIG say what domain to build (RAM size, vCPUs, its disks, which
 * are checked before a single page is read); the domain is built with no
 * kernel and nobody knows of it; PAGES go straight into its RAM (a
 * stream can be bigger than memory, so pages are not buffered), and
 * VMM_STATE, DEVICE and XENSTORE are kept, each checked as it arrives;
 * then END.  Any refusal so far leaves nothing behind but a domain that
 * never ran, which main destroys.  The second half makes it real, in an
 * order where every step can still fail cleanly: the hypervisor state is
 * loaded (it checks itself), the DEVICE records are matched with the
 * disks and vifs, then main registers the domain in XenStore, re-creates
 * the backends on their saved rings and starts the vCPUs.
 *
 * Pages: a page of zeros is written only if an earlier record put data
 * there (the RAM of a new domain is a fresh memfd, all holes, and stays
 * so: a zero page is punched out again rather than written).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "diskspec.h"
#include "domain.h"
#include "domain_state.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "uuid.h"
#include "vif.h"
#include "xen.h"

#define RESTORE_JSON_DEPTH 8

static int restore_fail(struct restore *rs, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int restore_fail(struct restore *rs, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rs->err, sizeof(rs->err), fmt, ap);
	va_end(ap);
	return rc;
}

/* Passes the reader's message on. */
static int restore_stream_fail(struct restore *rs, int rc)
{
	return restore_fail(rs, rc, "%s", rs->rd.err);
}

static json_object *restore_parse_json(const struct buf *b, bool utf8)
{
	struct json_tokener *tok = json_tokener_new_ex(RESTORE_JSON_DEPTH);
	json_object *o;

	if (!tok)
		return NULL;
	json_tokener_set_flags(
	    tok, JSON_TOKENER_STRICT | (utf8 ? JSON_TOKENER_VALIDATE_UTF8 : 0));
	o = json_tokener_parse_ex(tok, (const char *)b->data, (int)b->len);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != b->len ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* An integer member in [min, max], or -EINVAL. */
static int restore_json_uint(json_object *o, const char *key, uint64_t min,
			     uint64_t max, uint64_t *out)
{
	json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return -EINVAL;
	*out = (uint64_t)n;
	return 0;
}

/* An optional string member: NULL when absent, -EINVAL if not a string. */
static int restore_json_str(json_object *o, const char *key, size_t max,
			    const char **out)
{
	json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_string) ||
	    (size_t)json_object_get_string_len(v) > max ||
	    strlen(json_object_get_string(v)) !=
		(size_t)json_object_get_string_len(v))
		return -EINVAL;
	*out = json_object_get_string(v);
	return 0;
}

/* "disks" or "vifs": an array of at most max spec strings. */
static int restore_specs(struct restore *rs, const char *key, const char **out,
			 unsigned int max, unsigned int *nr)
{
	static struct diskspec ds;
	struct vif_spec vs;
	char err[200];
	json_object *arr, *e;
	size_t i, n;

	*nr = 0;
	if (!json_object_object_get_ex(rs->config, key, &arr))
		return 0;
	if (!json_object_is_type(arr, json_type_array) ||
	    (n = json_object_array_length(arr)) > max)
		return restore_fail(rs, -EINVAL,
				    "CONFIG: \"%s\" is not a list of at "
				    "most %u specs",
				    key, max);
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(arr, i);
		if (!json_object_is_type(e, json_type_string) ||
		    json_object_get_string_len(e) > DISKSPEC_PATH_MAX ||
		    strlen(json_object_get_string(e)) !=
			(size_t)json_object_get_string_len(e))
			return restore_fail(rs, -EINVAL,
					    "CONFIG: \"%s\" item %zu is not "
					    "a spec",
					    key, i);
		out[i] = json_object_get_string(e);
		if (!strcmp(key, "disks")
			? diskspec_parse(out[i], &ds, err, sizeof(err)) < 0
			: vif_parse_spec(out[i], &vs, err, sizeof(err)) < 0)
			return restore_fail(rs, -EINVAL, "CONFIG: %s: %s", key,
					    err);
	}
	*nr = (unsigned int)n;
	return 0;
}

/* CONFIG: what domain this is; every member the restore uses checked. */
static int restore_config(struct restore *rs)
{
	uint64_t kib, vcpus, domid;
	int rc;

	rs->config = restore_parse_json(&rs->payload, true);
	if (!rs->config)
		return restore_fail(rs, -EINVAL, "CONFIG: not one JSON object");
	if (restore_json_uint(rs->config, "memory_kib", 1, UINT64_MAX >> 10,
			      &kib) < 0 ||
	    kib << 10 != rs->rd.ram_size)
		return restore_fail(rs, -EINVAL,
				    "CONFIG: memory_kib does not match the "
				    "header's RAM size (%" PRIu64 " bytes)",
				    rs->rd.ram_size);
	if (rs->rd.ram_size % (1u << 20) ||
	    rs->rd.ram_size >> 20 < VMM_RAM_MIN_MIB ||
	    rs->rd.ram_size >> 20 > VMM_RAM_MAX_MIB)
		return restore_fail(rs, -EINVAL,
				    "the stream's domain has %" PRIu64 " KiB "
				    "of RAM; this VMM runs whole MiB from %d "
				    "to %d",
				    kib, VMM_RAM_MIN_MIB, VMM_RAM_MAX_MIB);
	if (restore_json_uint(rs->config, "vcpus", 1, VMM_MAX_VCPUS, &vcpus) <
	    0)
		return restore_fail(rs, -EINVAL, "CONFIG: vcpus is not 1 to %d",
				    VMM_MAX_VCPUS);
	if (restore_json_uint(rs->config, "domid", 1, DOMID_FIRST_RESERVED - 1,
			      &domid) < 0)
		return restore_fail(rs, -EINVAL, "CONFIG: no source domid");
	if (restore_json_str(rs->config, "name", 63, &rs->name) < 0 ||
	    (rs->name && (!*rs->name || strchr(rs->name, '/'))))
		return restore_fail(rs, -EINVAL, "CONFIG: a bad name");
	if (restore_json_str(rs->config, "uuid", 36, &rs->uuid) < 0 ||
	    (rs->uuid && !uuid_valid(rs->uuid)))
		return restore_fail(rs, -EINVAL, "CONFIG: a bad uuid");
	rs->ram_size = rs->rd.ram_size;
	rs->vcpus = (unsigned int)vcpus;
	rs->src_domid = (unsigned int)domid;
	rc = restore_specs(rs, "disks", rs->disks, RESTORE_MAX_DISKS,
			   &rs->nr_disks);
	if (rc == 0)
		rc = restore_specs(rs, "vifs", rs->vifs, RESTORE_MAX_VIFS,
				   &rs->nr_vifs);
	return rc;
}

static int restore_begin(struct restore *rs)
{
	uint32_t type;
	int rc;

	rc = stream_read_header(&rs->rd);
	if (rc == 0)
		rc = stream_read_record(&rs->rd, &type, &rs->payload);
	if (rc < 0)
		return restore_stream_fail(rs, rc);
	return restore_config(rs);
}

static void restore_init(struct restore *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->fd = -1;
}

int restore_open(struct restore *rs, const char *path)
{
	int rc;

	restore_init(rs);
	rs->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (rs->fd < 0)
		return restore_fail(rs, -errno, "%s: %s", path,
				    strerror(errno));
	rc = stream_reader_init_fd(&rs->rd, rs->fd);
	if (rc < 0)
		return restore_fail(rs, rc, "out of memory");
	return restore_begin(rs);
}

int restore_open_fd(struct restore *rs, int fd)
{
	int rc;

	restore_init(rs);
	rc = stream_reader_init_fd(&rs->rd, fd);
	if (rc < 0)
		return restore_fail(rs, rc, "out of memory");
	return restore_begin(rs);
}

int restore_open_mem(struct restore *rs, const void *p, size_t len)
{
	restore_init(rs);
	stream_reader_init_mem(&rs->rd, p, len);
	return restore_begin(rs);
}

int restore_check_disks(struct restore *rs)
{
	static struct diskspec ds;
	char err[200];
	unsigned int i;

	for (i = 0; i < rs->nr_disks; i++) {
		if (diskspec_parse(rs->disks[i], &ds, err, sizeof(err)) < 0)
			return restore_fail(rs, -EINVAL, "disk %s", err);
		if (access(ds.path, ds.readonly ? R_OK : R_OK | W_OK) < 0)
			return restore_fail(rs, -errno, "disk %s: %s: %s",
					    ds.vdev, ds.path, strerror(errno));
	}
	return 0;
}

/* --- the rest of the stream --------------------------------------------- */

/* A page of zeros where data was: the hole again, or zeros. */
static void restore_zero(struct domain *d, uint64_t pfn)
{
	if (d->mem_fd < 0 ||
	    fallocate(d->mem_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(pfn * VMM_PAGE_SIZE), VMM_PAGE_SIZE) < 0)
		memset(d->ram + pfn * VMM_PAGE_SIZE, 0, VMM_PAGE_SIZE);
}

static int restore_pages(struct restore *rs, struct domain *d)
{
	struct stream_pages *pg = &rs->pages;
	char err[200];
	uint64_t pfn, bit;
	uint32_t i, k = 0;
	int rc;

	rc = stream_pages_parse(rs->payload.data, rs->payload.len, rs->nr_pages,
				pg, &rs->scratch, err, sizeof(err));
	if (rc < 0)
		return restore_fail(rs, rc, "stream: record %u: %s",
				    rs->rd.nr_records, err);
	for (i = 0; i < pg->count; i++) {
		pfn = pg->pfns[i] & ~STREAM_PFN_ZERO;
		bit = 1ull << (pfn % 64);
		if (!(pg->pfns[i] & STREAM_PFN_ZERO))
			memcpy(d->ram + pfn * VMM_PAGE_SIZE,
			       pg->data + (size_t)k++ * VMM_PAGE_SIZE,
			       VMM_PAGE_SIZE);
		else if (rs->seen[pfn / 64] & bit)
			restore_zero(d, pfn);
		rs->seen[pfn / 64] |= bit;
	}
	return 0;
}

/* A DEVICE record: an object with a known type and a devid. */
static int restore_device_rec(struct restore *rs)
{
	json_object *rec, *type;
	uint64_t devid;
	const char *t;

	rec = restore_parse_json(&rs->payload, true);
	if (!rec)
		return restore_fail(rs, -EINVAL,
				    "stream: record %u: DEVICE is not one "
				    "JSON object",
				    rs->rd.nr_records);
	rs->devices[rs->nr_devices++] = rec;
	if (!json_object_object_get_ex(rec, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    restore_json_uint(rec, "devid", 0, UINT32_MAX, &devid) < 0)
		return restore_fail(rs, -EINVAL,
				    "stream: record %u: DEVICE without a "
				    "type and devid",
				    rs->rd.nr_records);
	t = json_object_get_string(type);
	if (strcmp(t, "console") && strcmp(t, "vbd") && strcmp(t, "vif"))
		return restore_fail(rs, -EINVAL,
				    "stream: record %u: DEVICE of unknown "
				    "type '%.16s'",
				    rs->rd.nr_records, t);
	return 0;
}

int restore_read(struct restore *rs, struct domain *d)
{
	char err[200];
	uint32_t type = 0;
	int rc = 0;

	if (d->ram_size != rs->ram_size || d->nr_vcpus != rs->vcpus)
		return restore_fail(rs, -EINVAL,
				    "the stream's domain has %" PRIu64 " MiB "
				    "and %u vCPUs, this one %" PRIu64 " MiB "
				    "and %u",
				    rs->ram_size >> 20, rs->vcpus,
				    d->ram_size >> 20, d->nr_vcpus);
	rs->nr_pages = d->ram_size / VMM_PAGE_SIZE;
	rs->seen = calloc((rs->nr_pages + 63) / 64, sizeof(uint64_t));
	if (!rs->seen)
		return restore_fail(rs, -ENOMEM, "out of memory");
	while (rc == 0 && type != STREAM_END) {
		rc = stream_read_record(&rs->rd, &type, &rs->payload);
		if (rc < 0)
			return restore_stream_fail(rs, rc);
		switch (type) {
		case STREAM_PAGES:
			rc = restore_pages(rs, d);
			break;
		case STREAM_VMM_STATE:
			rs->vmm_state.len = 0;
			if (buf_append(&rs->vmm_state, rs->payload.data,
				       rs->payload.len))
				rc = restore_fail(rs, -ENOMEM, "out of memory");
			break;
		case STREAM_DEVICE:
			rc = restore_device_rec(rs);
			break;
		case STREAM_XENSTORE:
			rs->have_xs = true;
			rc = xs_saved_parse(rs->payload.data, rs->payload.len,
					    &rs->xs, err, sizeof(err));
			if (rc < 0)
				rc = restore_fail(rs, rc, "stream: %s", err);
			break;
		default:
			break; /* PAUSED, END */
		}
	}
	return rc;
}

/* --- making it real ----------------------------------------------------- */

unsigned int restore_device_id(json_object *rec)
{
	json_object *v;

	json_object_object_get_ex(rec, "devid", &v);
	return (unsigned int)json_object_get_int64(v);
}

static bool restore_device_is(json_object *rec, const char *type)
{
	json_object *v;

	return json_object_object_get_ex(rec, "type", &v) &&
	       !strcmp(json_object_get_string(v), type);
}

json_object *restore_device(const struct restore *rs, const char *type,
			    unsigned int n)
{
	unsigned int i;

	for (i = 0; i < rs->nr_devices; i++)
		if (restore_device_is(rs->devices[i], type) && n-- == 0)
			return rs->devices[i];
	return NULL;
}

json_object *restore_device_find(const struct restore *rs, const char *type,
				 unsigned int devid)
{
	unsigned int i;

	for (i = 0; i < rs->nr_devices; i++)
		if (restore_device_is(rs->devices[i], type) &&
		    restore_device_id(rs->devices[i]) == devid)
			return rs->devices[i];
	return NULL;
}

/* Each disk has its vbd record and each vbd record its disk; vifs too. */
static int restore_match_devices(struct restore *rs)
{
	static struct diskspec ds;
	char err[200];
	unsigned int i, nr_vbd = 0, nr_vif = 0;

	for (i = 0; i < rs->nr_devices; i++) {
		nr_vbd += restore_device_is(rs->devices[i], "vbd");
		nr_vif += restore_device_is(rs->devices[i], "vif");
	}
	for (i = 0; i < rs->nr_disks; i++) {
		if (diskspec_parse(rs->disks[i], &ds, err, sizeof(err)) < 0 ||
		    !restore_device_find(rs, "vbd", ds.devid)) {
			log_errx("restore: disk %s is not one of the saved "
				 "domain's",
				 rs->disks[i]);
			return -EINVAL;
		}
	}
	if (nr_vbd != rs->nr_disks) {
		log_errx("restore: the saved domain has %u disks, %u are "
			 "given",
			 nr_vbd, rs->nr_disks);
		return -EINVAL;
	}
	if (nr_vif != rs->nr_vifs) {
		log_errx("restore: the saved domain has %u vifs, %u are given",
			 nr_vif, rs->nr_vifs);
		return -EINVAL;
	}
	return 0;
}

int restore_load(struct restore *rs, struct domain *d)
{
	json_object *cons;
	int rc;

	rc = domain_state_load(d, rs->vmm_state.data, rs->vmm_state.len);
	if (rc < 0)
		return rc; /* logged */
	rc = restore_match_devices(rs);
	if (rc < 0)
		return rc;
	cons = restore_device(rs, "console", 0);
	if (cons && d->cons.kick.fd >= 0)
		rc = consback_restore(d, cons);
	return rc;
}

void restore_free(struct restore *rs)
{
	unsigned int i;

	stream_reader_free(&rs->rd);
	if (rs->fd >= 0)
		close(rs->fd);
	json_object_put(rs->config);
	for (i = 0; i < rs->nr_devices; i++)
		json_object_put(rs->devices[i]);
	xs_saved_free(&rs->xs);
	buf_free(&rs->vmm_state);
	buf_free(&rs->payload);
	buf_free(&rs->scratch);
	free(rs->seen);
	restore_init(rs);
}
