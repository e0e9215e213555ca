/* SPDX-License-Identifier: MIT */
/*
 * Durability: an atomic snapshot plus an append-only log.
 *
 * <dir>/tree.snap holds every node record, the domains and the store
 * generation, written to a temporary file, fsync'd and renamed into place.
 * <dir>/tree.log holds the records of every change since that snapshot;
 * its header carries the snapshot's sequence number, so a log left over
 * from before a snapshot is recognised and ignored.
 *
 * Each record is whole (a node's complete record, a deletion, a domain's
 * state) with a CRC-32, so replay is idempotent and stops cleanly at a torn
 * or zeroed tail.  Records of the changes made while handling a batch of
 * requests are gathered in memory and copied into the log before any reply
 * of that batch leaves the daemon (xs_store_commit, called by the flush
 * path).  The log is preallocated with fallocate() and mapped MAP_SHARED,
 * so the copy is a memcpy into the page cache: no system call per request,
 * and no SIGBUS for want of blocks.  The page cache survives the daemon
 * being killed (kill -9), so a client never hears of a change that a
 * restart could lose.  Surviving power loss as well needs --sync, which
 * adds an msync() to each commit: group commit, one flush per batch
 * rather than per request.
 *
 * When the log outgrows the snapshot, a new snapshot is written and the log
 * starts again (journal_maybe_compact).
 *
 * The watches of domains' rings are kept too (watch.c says why): one
 * record per added or removed watch, or for all of them dropped, and in a
 * snapshot the watches of each introduced domain after its domain record.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "../common/log.h"
#include "internal.h"
#include "journal.h"

#define J_MAGIC_SNAP 0x50414e53u /* "SNAP" */
#define J_MAGIC_LOG 0x474f4c58u	 /* "XLOG" */
#define J_VERSION 1u
#define J_LOG_MAX (1ull << 30)	   /* compact before the log gets here */
#define J_CHUNK (4u << 20)	   /* preallocation step */
#define J_HEADROOM (1u << 20)	   /* free space every change needs */
#define J_COMPACT_MIN (16u << 20)  /* log size worth compacting */

struct j_header {
	uint32_t magic;
	uint32_t version;
	uint64_t seq;
};

struct j_rec {
	uint32_t type;
	uint32_t len;
};

struct j_node {
	uint64_t gen;
	uint32_t pathlen, vlen, nperms, childlen;
};

struct j_domain {
	uint32_t domid;
	uint32_t introduced;
	uint64_t mfn;
	uint32_t port;
	uint32_t target;
	uint64_t born_gen;
};

struct j_watch {
	uint32_t domid;
	uint32_t op; /* enum journal_watch_op */
	uint32_t relative_off;
	uint32_t pathlen, tokenlen; /* the path and token follow, no NULs */
};

struct xs_journal {
	char *dir;
	int lock_fd;
	int log_fd;
	uint8_t *map;	    /* the log, J_LOG_MAX of address space */
	struct buf pending; /* records not yet written */
	size_t off;	    /* append offset */
	size_t alloc;	    /* bytes preallocated */
	uint64_t seq;
	size_t snap_bytes;
	bool sync;
	bool broken; /* an append failed: snapshot before anything else */
};

/* --- encoding ---------------------------------------------------------- */

struct iov {
	const void *p;
	size_t len;
};

static size_t rec_size(const struct iov *v, unsigned int n)
{
	size_t len = sizeof(struct j_rec) + sizeof(uint32_t);
	unsigned int i;

	for (i = 0; i < n; i++)
		len += v[i].len;
	return len;
}

/* Encode a record at dst (which has room); returns its size. */
static size_t rec_encode(uint8_t *dst, uint32_t type, const struct iov *v,
			 unsigned int n)
{
	struct j_rec h = {.type = type, .len = 0};
	size_t off = sizeof(h);
	uLong crc;
	uint32_t c32;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (v[i].len)
			memcpy(dst + off, v[i].p, v[i].len);
		off += v[i].len;
	}
	h.len = (uint32_t)(off - sizeof(h));
	memcpy(dst, &h, sizeof(h));
	crc = crc32(0L, dst, (uInt)off);
	c32 = (uint32_t)crc;
	memcpy(dst + off, &c32, sizeof(c32));
	return off + sizeof(c32);
}

static unsigned int node_iov(const struct xs_node *n, struct j_node *jn,
			     struct iov *v)
{
	jn->gen = n->gen;
	jn->pathlen = n->pathlen;
	jn->vlen = n->vlen;
	jn->nperms = n->nperms;
	jn->childlen = n->childlen;
	v[0] = (struct iov){jn, sizeof(*jn)};
	v[1] = (struct iov){n->path, n->pathlen};
	v[2] = (struct iov){n->value, n->vlen};
	v[3] = (struct iov){n->perms, n->nperms * sizeof(struct xs_perm)};
	v[4] = (struct iov){n->children, n->childlen};
	return 5;
}

static void domain_rec(const struct xs_domain *d, struct j_domain *jd)
{
	memset(jd, 0, sizeof(*jd));
	jd->domid = d->domid;
	jd->introduced = d->introduced;
	jd->mfn = d->mfn;
	jd->port = d->port;
	jd->target = d->target;
	jd->born_gen = d->born_gen;
}

static unsigned int watch_iov(uint32_t domid, uint32_t op,
			      const struct xs_watch *w, struct j_watch *jw,
			      struct iov *v)
{
	memset(jw, 0, sizeof(*jw));
	jw->domid = domid;
	jw->op = op;
	if (w) {
		jw->relative_off = w->relative_off;
		jw->pathlen = (uint32_t)strlen(w->path);
		jw->tokenlen = (uint32_t)strlen(w->token);
	}
	v[0] = (struct iov){jw, sizeof(*jw)};
	v[1] = (struct iov){w ? w->path : NULL, jw->pathlen};
	v[2] = (struct iov){w ? w->token : NULL, jw->tokenlen};
	return 3;
}

/* The watches of d's ring: its connection's, or those kept for it. */
static struct list_head *domain_watches(struct xs_domain *d)
{
	return d->conn ? &d->conn->watches : &d->watches;
}

/* --- decoding (replay) ------------------------------------------------- */

static int replay_node(struct xs_store *s, const uint8_t *p, uint32_t len)
{
	struct j_node jn;
	struct xs_node *n;
	const uint8_t *q = p + sizeof(jn);
	uint64_t need;
	uint32_t i;

	if (len < sizeof(jn))
		return -EINVAL;
	memcpy(&jn, p, sizeof(jn));
	need = sizeof(jn) + (uint64_t)jn.pathlen + jn.vlen +
	       (uint64_t)jn.nperms * sizeof(struct xs_perm) + jn.childlen;
	if (need != len || !jn.pathlen || !jn.nperms ||
	    jn.pathlen > XENSTORE_ABS_PATH_MAX + 64 ||
	    memchr(q, '\0', jn.pathlen))
		return -EINVAL;
	if (jn.childlen && q[jn.pathlen + jn.vlen +
			     jn.nperms * sizeof(struct xs_perm) +
			     jn.childlen - 1] != '\0')
		return -EINVAL;
	n = xs_node_new((const char *)q, jn.pathlen);
	if (!n)
		return -ENOMEM;
	q += jn.pathlen;
	n->gen = jn.gen;
	if (xs_node_set_value(n, q, jn.vlen) ||
	    xs_node_set_perms(n, (const struct xs_perm *)(q + jn.vlen),
			      jn.nperms)) {
		xs_node_free(n);
		return -ENOMEM;
	}
	q += jn.vlen + jn.nperms * sizeof(struct xs_perm);
	for (i = 0; i < jn.nperms; i++)
		if ((n->perms[i].access & ~(XS_PERM_BOTH | XS_PERM_IGNORE)) ||
		    n->perms[i].domid >= XS_DOMID_LIMIT) {
			xs_node_free(n);
			return -EINVAL;
		}
	if (jn.childlen) {
		n->children = malloc(jn.childlen);
		if (!n->children) {
			xs_node_free(n);
			return -ENOMEM;
		}
		memcpy(n->children, q, jn.childlen);
		n->childlen = jn.childlen;
	}
	tree_load_node(s, n);
	return 0;
}

static int replay_delete(struct xs_store *s, const uint8_t *p, uint32_t len)
{
	struct xs_node *old;

	if (!len || memchr(p, '\0', len))
		return -EINVAL;
	old = xs_table_remove(&s->nodes, (const char *)p, len);
	tree_owner_adjust(s, old, NULL);
	xs_node_free(old);
	return 0;
}

static int replay_domain(struct xs_store *s, const uint8_t *p, uint32_t len)
{
	struct j_domain jd;
	struct xs_domain *d;

	if (len != sizeof(jd))
		return -EINVAL;
	memcpy(&jd, p, sizeof(jd));
	if (jd.domid == 0 || jd.domid >= XS_DOMID_LIMIT)
		return -EINVAL;
	d = domain_get_or_create(s, jd.domid);
	if (!d)
		return -ENOMEM;
	d->introduced = jd.introduced != 0;
	if (!d->introduced)
		watch_kept_clear(d); /* the domain went, its ring with it */
	d->mfn = jd.mfn;
	d->port = jd.port;
	d->target = jd.target;
	d->born_gen = jd.born_gen;
	if (d->born_gen > s->gen)
		s->gen = d->born_gen;
	domain_maybe_free(s, d);
	return 0;
}

static int replay_watch(struct xs_store *s, const uint8_t *p, uint32_t len)
{
	char *path = NULL, *token = NULL;
	const char *q = (const char *)p + sizeof(struct j_watch);
	struct j_watch jw;
	struct xs_domain *d;
	int rc = 0;

	if (len < sizeof(jw))
		return -EINVAL;
	memcpy(&jw, p, sizeof(jw));
	if ((uint64_t)sizeof(jw) + jw.pathlen + jw.tokenlen != len ||
	    jw.domid == 0 || jw.domid >= XS_DOMID_LIMIT)
		return -EINVAL;
	if (jw.op == J_WATCH_CLEAR) {
		if (jw.pathlen || jw.tokenlen)
			return -EINVAL;
	} else if (jw.op != J_WATCH_ADD && jw.op != J_WATCH_REMOVE) {
		return -EINVAL;
	} else if (!jw.pathlen || jw.pathlen > XENSTORE_ABS_PATH_MAX + 64 ||
		   jw.relative_off >= jw.pathlen ||
		   jw.tokenlen > XENSTORE_PAYLOAD_MAX ||
		   memchr(q, '\0', jw.pathlen + jw.tokenlen)) {
		return -EINVAL;
	}
	d = domain_get(s, jw.domid);
	/* Changes made before the domain went: nothing to keep. */
	if (!d || !d->introduced)
		return 0;
	if (jw.op == J_WATCH_CLEAR) {
		watch_kept_clear(d);
		return 0;
	}
	path = strndup(q, jw.pathlen);
	token = strndup(q + jw.pathlen, jw.tokenlen);
	if (!path || !token)
		rc = -ENOMEM;
	else if (jw.op == J_WATCH_ADD)
		rc = watch_kept_add(d, path, token, jw.relative_off);
	else
		watch_kept_remove(d, path, token);
	free(path);
	free(token);
	return rc;
}

static int replay_gen(struct xs_store *s, const uint8_t *p, uint32_t len)
{
	uint64_t gen;

	if (len != sizeof(gen))
		return -EINVAL;
	memcpy(&gen, p, sizeof(gen));
	if (gen > s->gen)
		s->gen = gen;
	return 0;
}

/*
 * Check the records in buf[0..len): CRCs, bounds.  Returns the offset just
 * past the last record that closes a unit (END for a snapshot, COMMIT for a
 * batch in the log); 0 if none does.  A crash can cut the log anywhere, and
 * the records of a batch only make sense together (a parent listing a child
 * whose record was lost), so a batch counts only with its COMMIT.
 */
static size_t scan(const uint8_t *buf, size_t len, uint32_t closer)
{
	size_t off = 0, good = 0;

	while (len - off >= sizeof(struct j_rec) + sizeof(uint32_t)) {
		struct j_rec h;
		uint32_t crc;

		memcpy(&h, buf + off, sizeof(h));
		if (h.type == J_REC_NONE ||
		    h.len > len - off - sizeof(h) - sizeof(crc))
			break;
		memcpy(&crc, buf + off + sizeof(h) + h.len, sizeof(crc));
		if ((uint32_t)crc32(0L, buf + off, (uInt)(sizeof(h) + h.len)) !=
		    crc)
			break;
		off += sizeof(h) + h.len + sizeof(crc);
		if (h.type == closer) {
			good = off;
			if (closer == J_REC_END)
				break;
		}
	}
	return good;
}

/* Apply the (scanned) records in buf[0..len); *count from an END. */
static int replay(struct xs_store *s, const uint8_t *buf, size_t len,
		  uint64_t *count)
{
	size_t off = 0;
	int err = 0;

	while (!err && off < len) {
		struct j_rec h;
		const uint8_t *p;

		memcpy(&h, buf + off, sizeof(h));
		p = buf + off + sizeof(h);
		switch (h.type) {
		case J_REC_NODE:
			err = replay_node(s, p, h.len);
			break;
		case J_REC_DELETE:
			err = replay_delete(s, p, h.len);
			break;
		case J_REC_DOMAIN:
			err = replay_domain(s, p, h.len);
			break;
		case J_REC_GEN:
			err = replay_gen(s, p, h.len);
			break;
		case J_REC_WATCH:
			err = replay_watch(s, p, h.len);
			break;
		case J_REC_END:
			if (h.len != sizeof(*count))
				return -EINVAL;
			memcpy(count, p, sizeof(*count));
			break;
		case J_REC_COMMIT:
			break;
		default:
			err = -EINVAL;
		}
		off += sizeof(h) + h.len + sizeof(uint32_t);
	}
	return err;
}

/* --- files ------------------------------------------------------------- */

static char *j_path(const struct xs_journal *j, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", j->dir, name) < 0)
		return NULL;
	return p;
}

static int read_file(const char *path, uint8_t **data, size_t *len)
{
	struct stat st;
	uint8_t *p = NULL;
	size_t got = 0;
	int fd, rc = 0;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (fstat(fd, &st)) {
		rc = -errno;
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (!p) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, p + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n ? -errno : -EIO;
			goto out;
		}
		got += (size_t)n;
	}
	*data = p;
	*len = got;
	p = NULL;
out:
	free(p);
	close(fd);
	return rc;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct snap_ctx {
	struct buf b;
	int err;
};

static void snap_append(struct snap_ctx *sc, uint32_t type,
			const struct iov *v, unsigned int n)
{
	size_t size = rec_size(v, n);

	if (sc->err || (sc->err = buf_reserve(&sc->b, size)))
		return;
	sc->b.len += rec_encode(sc->b.data + sc->b.len, type, v, n);
}

static void snap_node(struct xs_node *n, void *arg)
{
	struct j_node jn;
	struct iov v[5];

	snap_append(arg, J_REC_NODE, v, node_iov(n, &jn, v));
}

/* Write snapshot `seq` of the whole store; 0 or -errno. */
static int snapshot_write(struct xs_store *s, struct xs_journal *j,
			  uint64_t seq, size_t *bytes)
{
	struct j_header hdr = {J_MAGIC_SNAP, J_VERSION, seq};
	struct snap_ctx sc = {{0}, 0};
	char *tmp = j_path(j, "tree.snap.tmp"), *final = j_path(j, "tree.snap");
	uint64_t count = s->nodes.count;
	struct iov v;
	unsigned int i;
	int fd = -1, rc;

	if (!tmp || !final) {
		rc = -ENOMEM;
		goto out;
	}
	if (buf_append(&sc.b, &hdr, sizeof(hdr))) {
		rc = -ENOMEM;
		goto out;
	}
	v = (struct iov){&s->gen, sizeof(s->gen)};
	snap_append(&sc, J_REC_GEN, &v, 1);
	xs_table_foreach(&s->nodes, snap_node, &sc);
	for (i = 1; i < XS_DOMID_LIMIT; i++) {
		struct xs_domain *d = s->domains[i];
		struct xs_watch *w;
		struct j_domain jd;
		struct j_watch jw;
		struct iov wv[3];

		if (!d || !d->introduced)
			continue;
		domain_rec(d, &jd);
		v = (struct iov){&jd, sizeof(jd)};
		snap_append(&sc, J_REC_DOMAIN, &v, 1);
		list_for_each_entry(w, domain_watches(d), conn_link)
			snap_append(&sc, J_REC_WATCH, wv,
				    watch_iov(i, J_WATCH_ADD, w, &jw, wv));
	}
	v = (struct iov){&count, sizeof(count)};
	snap_append(&sc, J_REC_END, &v, 1);
	rc = sc.err;
	if (rc)
		goto out;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, sc.b.data, sc.b.len);
	if (!rc && fsync(fd))
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	fd = -1;
	if (!rc && rename(tmp, final))
		rc = -errno;
	if (!rc)
		rc = fsync_dir(j->dir);
	if (!rc)
		*bytes = sc.b.len;
out:
	if (rc && tmp)
		unlink(tmp);
	buf_free(&sc.b);
	free(tmp);
	free(final);
	return rc;
}

/*
 * Take the first-write faults of a new stretch of the log now rather than
 * in the middle of a request: on ext4 each one starts a journal handle and
 * can wait for a commit, a millisecond or more.  Best effort (Linux 5.14+).
 */
static void log_prefault(struct xs_journal *j, size_t from, size_t to)
{
#ifdef MADV_POPULATE_WRITE
	if (j->map && to > from)
		(void)madvise(j->map + from, to - from, MADV_POPULATE_WRITE);
#else
	(void)j;
	(void)from;
	(void)to;
#endif
}

static int log_grow(struct xs_journal *j, size_t need)
{
	size_t want = j->alloc;
	int rc;

	while (want - j->off < need)
		want += J_CHUNK;
	if (want > J_LOG_MAX)
		return -EFBIG;
	if (want == j->alloc)
		return 0;
	/* Blocks are allocated now, so committing cannot run out of space. */
	rc = posix_fallocate(j->log_fd, 0, (off_t)want);
	if (rc)
		return -rc;
	log_prefault(j, j->alloc, want);
	j->alloc = want;
	return 0;
}

/* Start a fresh, empty log for snapshot `seq`. */
static int log_create(struct xs_journal *j, uint64_t seq)
{
	struct j_header hdr = {J_MAGIC_LOG, J_VERSION, seq};
	char *tmp = j_path(j, "tree.log.tmp"), *final = j_path(j, "tree.log");
	int fd = -1, rc = 0;
	void *map = MAP_FAILED;

	if (!tmp || !final) {
		rc = -ENOMEM;
		goto out;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = posix_fallocate(fd, 0, J_CHUNK);
	if (rc) {
		rc = -rc;
		goto out;
	}
	rc = write_all(fd, (const uint8_t *)&hdr, sizeof(hdr));
	if (!rc && fsync(fd))
		rc = -errno;
	if (rc)
		goto out;
	/* Pages past the file's end are never touched: log_grow extends
	 * the file before the offset gets there. */
	map = mmap(NULL, J_LOG_MAX, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto out;
	}
	if (rename(tmp, final)) {
		rc = -errno;
		goto out;
	}
	(void)fsync_dir(j->dir);
	if (j->map)
		munmap(j->map, J_LOG_MAX);
	if (j->log_fd >= 0)
		close(j->log_fd);
	j->map = map;
	map = MAP_FAILED;
	j->log_fd = fd;
	fd = -1;
	j->off = sizeof(hdr);
	j->alloc = J_CHUNK;
	log_prefault(j, 0, J_CHUNK);
	j->seq = seq;
out:
	if (map != MAP_FAILED)
		munmap(map, J_LOG_MAX);
	if (fd >= 0) {
		close(fd);
		unlink(tmp);
	}
	free(tmp);
	free(final);
	return rc;
}

/* Snapshot everything, then switch to a new empty log. */
static int journal_compact(struct xs_store *s)
{
	struct xs_journal *j = s->journal;
	size_t bytes = 0;
	int rc;

	rc = snapshot_write(s, j, j->seq + 1, &bytes);
	if (!rc)
		rc = log_create(j, j->seq + 1);
	if (rc) {
		errno = -rc;
		log_warn("journal: cannot write a snapshot in %s", j->dir);
		return rc;
	}
	j->snap_bytes = bytes;
	j->broken = false;
	/* The snapshot holds what the pending records describe. */
	buf_consume(&j->pending, buf_used(&j->pending));
	return 0;
}

/* --- the hooks the store calls ----------------------------------------- */

static void journal_append(struct xs_store *s, uint32_t type,
			   const struct iov *v, unsigned int n)
{
	struct xs_journal *j = s->journal;
	size_t size;

	if (!j || s->loading || j->broken)
		return;
	size = rec_size(v, n);
	if (buf_reserve(&j->pending, size)) {
		/* The snapshot written before the reply leaves keeps the
		 * change (xs_store_commit). */
		j->broken = true;
		return;
	}
	j->pending.len += rec_encode(j->pending.data + j->pending.len, type,
				     v, n);
}

void journal_node_put(struct xs_store *s, const struct xs_node *n)
{
	struct j_node jn;
	struct iov v[5];

	if (s->journal)
		journal_append(s, J_REC_NODE, v, node_iov(n, &jn, v));
}

void journal_node_delete(struct xs_store *s, const char *path)
{
	struct iov v = {path, strlen(path)};

	journal_append(s, J_REC_DELETE, &v, 1);
}

void journal_domain(struct xs_store *s, const struct xs_domain *d)
{
	struct j_domain jd;
	struct iov v = {&jd, sizeof(jd)};

	domain_rec(d, &jd);
	journal_append(s, J_REC_DOMAIN, &v, 1);
}

static void journal_watch(struct xs_store *s, uint32_t domid, uint32_t op,
			  const struct xs_watch *w)
{
	struct j_watch jw;
	struct iov v[3];

	journal_append(s, J_REC_WATCH, v, watch_iov(domid, op, w, &jw, v));
}

void journal_watch_add(struct xs_store *s, uint32_t domid,
		       const struct xs_watch *w)
{
	journal_watch(s, domid, J_WATCH_ADD, w);
}

void journal_watch_remove(struct xs_store *s, uint32_t domid,
			  const struct xs_watch *w)
{
	journal_watch(s, domid, J_WATCH_REMOVE, w);
}

void journal_watch_clear(struct xs_store *s, uint32_t domid)
{
	journal_watch(s, domid, J_WATCH_CLEAR, NULL);
}

int journal_reserve(struct xs_store *s)
{
	struct xs_journal *j = s->journal;

	if (!j)
		return 0;
	if (j->broken && journal_compact(s))
		return -ENOSPC;
	if (j->alloc - j->off >= J_HEADROOM + buf_used(&j->pending))
		return 0;
	if (!log_grow(j, J_HEADROOM + buf_used(&j->pending)))
		return 0;
	/* The disk is full or the log too long: a compacted log may fit. */
	if (!journal_compact(s) && !log_grow(j, J_HEADROOM))
		return 0;
	return -ENOSPC;
}

void journal_maybe_compact(struct xs_store *s)
{
	struct xs_journal *j = s->journal;

	if (!j)
		return;
	if (j->off > J_COMPACT_MIN && j->off > 2 * j->snap_bytes &&
	    !xs_store_commit(s))
		(void)journal_compact(s);
}

static int log_write(struct xs_journal *j)
{
	size_t len, start;
	int rc;

	/* Close the batch: replay takes it whole or not at all. */
	rc = buf_reserve(&j->pending, rec_size(NULL, 0));
	if (rc)
		return rc;
	j->pending.len += rec_encode(j->pending.data + j->pending.len,
				     J_REC_COMMIT, NULL, 0);
	len = buf_used(&j->pending);

	if (j->alloc - j->off < len) {
		rc = log_grow(j, len);
		if (rc)
			return rc;
	}
	memcpy(j->map + j->off, buf_readp(&j->pending), len);
	start = j->off;
	j->off += len;
	buf_consume(&j->pending, len);
	if (j->sync) {
		start &= ~((size_t)sysconf(_SC_PAGESIZE) - 1);
		if (msync(j->map + start, j->off - start, MS_SYNC))
			return -errno;
	}
	return 0;
}

int xs_store_commit(struct xs_store *s)
{
	struct xs_journal *j = s->journal;
	int rc;

	if (!j || (!j->broken && !buf_used(&j->pending)))
		return 0;
	rc = j->broken ? -ENOSPC : log_write(j);
	if (!rc)
		return 0;
	errno = -rc;
	log_warn("journal: cannot append to the log, writing a snapshot");
	j->broken = true;
	return journal_compact(s);
}

int xs_store_checkpoint(struct xs_store *s)
{
	return s->journal ? journal_compact(s) : 0;
}

void journal_close(struct xs_store *s)
{
	struct xs_journal *j = s->journal;

	if (!j)
		return;
	buf_free(&j->pending);
	if (j->map)
		munmap(j->map, J_LOG_MAX);
	if (j->log_fd >= 0)
		close(j->log_fd);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j->dir);
	free(j);
	s->journal = NULL;
}

/* Load snapshot and log; *seq is the snapshot's sequence number. */
static int journal_load(struct xs_store *s, struct xs_journal *j,
			uint64_t *seq)
{
	char *snap = j_path(j, "tree.snap"), *logp = j_path(j, "tree.log");
	uint8_t *data = NULL;
	size_t len, used;
	struct j_header hdr;
	uint64_t count;
	int rc, err;

	*seq = 0;
	if (!snap || !logp) {
		rc = -ENOMEM;
		goto out;
	}
	rc = read_file(snap, &data, &len);
	if (rc)
		goto out;
	if (data) {
		memcpy(&hdr, data, len >= sizeof(hdr) ? sizeof(hdr) : 0);
		if (len < sizeof(hdr) || hdr.magic != J_MAGIC_SNAP ||
		    hdr.version != J_VERSION) {
			log_warnx("journal: %s is not a snapshot of ours", snap);
			rc = -EINVAL;
			goto out;
		}
		/* The snapshot is the whole store, defaults included. */
		tree_clear(s);
		used = scan(data + sizeof(hdr), len - sizeof(hdr), J_REC_END);
		count = UINT64_MAX;
		err = used ? replay(s, data + sizeof(hdr), used, &count) : 0;
		if (!used || err || count != s->nodes.count) {
			/* Snapshots are renamed into place whole: damage
			 * here is not ours to paper over. */
			log_warnx("journal: snapshot %s is damaged", snap);
			rc = -EINVAL;
			goto out;
		}
		*seq = hdr.seq;
		free(data);
		data = NULL;
	}
	rc = read_file(logp, &data, &len);
	if (rc || !data)
		goto out;
	memcpy(&hdr, data, len >= sizeof(hdr) ? sizeof(hdr) : 0);
	if (len < sizeof(hdr) || hdr.magic != J_MAGIC_LOG ||
	    hdr.version != J_VERSION || hdr.seq != *seq) {
		/* A log from before the snapshot: already inside it. */
		log_info("journal: ignoring stale log %s", logp);
		goto out;
	}
	used = scan(data + sizeof(hdr), len - sizeof(hdr), J_REC_COMMIT);
	err = replay(s, data + sizeof(hdr), used, &count);
	if (err) {
		log_warnx("journal: bad record in %s", logp);
		rc = err;
	} else if (used + sizeof(hdr) < len &&
		   data[used + sizeof(hdr)] != 0) {
		log_info("journal: %s ends in an unfinished batch, dropped",
			 logp);
	}
out:
	free(data);
	free(snap);
	free(logp);
	return rc;
}

int xs_store_open_journal(struct xs_store *s, const char *dir, bool sync)
{
	struct xs_journal *j = calloc(1, sizeof(*j));
	char *lockp = NULL;
	uint64_t seq = 0;
	int rc;

	if (!j)
		return -ENOMEM;
	j->log_fd = j->lock_fd = -1;
	j->sync = sync;
	j->dir = strdup(dir);
	if (!j->dir || !(lockp = j_path(j, "lock"))) {
		rc = -ENOMEM;
		goto fail;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		rc = -errno;
		goto fail;
	}
	j->lock_fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->lock_fd < 0) {
		rc = -errno;
		goto fail;
	}
	if (flock(j->lock_fd, LOCK_EX | LOCK_NB)) {
		rc = -EBUSY;
		log_warnx("journal: %s is in use by another xenstored", dir);
		goto fail;
	}
	s->loading = true;
	rc = journal_load(s, j, &seq);
	s->loading = false;
	if (rc)
		goto fail;
	j->seq = seq;
	s->journal = j;
	/* Start from a clean snapshot: this also drops any torn tail. */
	rc = journal_compact(s);
	if (rc) {
		s->journal = NULL;
		goto fail;
	}
	free(lockp);
	return 0;
fail:
	free(lockp);
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j->dir);
	free(j);
	return rc;
}
