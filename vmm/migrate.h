/* SPDX-License-Identifier: MIT */
/*
 * Saving a running domain to a file and restoring it from one, in the
 * stream format of docs/migration-stream.md (stream.h has the framing).
 *
 * save.c: the control socket's `save` request.  The domain is paused,
 * its backends drained, its state gathered on the loop thread, and a
 * thread of its own writes the file while the loop goes on serving
 * (`info` answers; requests that would change the domain are refused
 * until the save is over).  Then the domain runs on (a checkpoint, or a
 * failed save) or ends with status VMM_EXIT_SAVED.
 *
 * restore.c: `xenia-vmm --restore FILE`.  The file is read whole into a
 * domain built without a kernel, and only once its END checks out is
 * anything of the domain made visible: the state loaded, XenStore and
 * the backends set up under the new domain id, the vCPUs started.
 */
#ifndef XENIA_VMM_MIGRATE_H
#define XENIA_VMM_MIGRATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "stream.h"
#include "xs_domain.h"

struct domain;
struct json_object;

/* --- save ---------------------------------------------------------------- */

/* One round of a migration, for the reply. */
struct migrate_round {
	uint64_t pages, bytes, ms;
	uint64_t dirty; /* pages written meanwhile: the next round's */
};
#define MIGRATE_ROUNDS_LOGGED 64

struct save_result {
	uint64_t bytes; /* of the file, or sent */
	uint64_t pages; /* guest pages written, zero ones included */
	uint64_t ms;	/* from the request to the file fsync'd, or the end */
	/* A migration's: */
	unsigned int rounds;  /* of pages while the domain ran */
	uint64_t downtime_ms; /* from the pause to running on the other side */
	bool unconfirmed;     /* handed over; RUNNING never came */
	/* The first rounds and, last, the one while paused. */
	struct migrate_round log[MIGRATE_ROUNDS_LOGGED];
	unsigned int nr_log;
};

/*
 * Called on the loop thread when the save is over: rc 0 with res, or
 * -errno with a one-line reason in err.  For a save that is not a
 * checkpoint, rc 0 means the domain is ending (VMM_EXIT_SAVED).
 */
typedef void save_done_fn(void *arg, int rc, const struct save_result *res,
			  const char *err);

struct save_args {
	const char *path;	    /* absolute; NULL: a migration over fd */
	bool checkpoint;	    /* the domain runs on afterwards */
	bool compress;		    /* zstd for PAGES */
	struct json_object *config; /* the caller's CONFIG members; taken */
	/* A migration: the connection (taken when save_start succeeds). */
	int fd;
	bool live;		/* rounds of pages while the domain runs */
	uint64_t downtime_ms;	/* stop when the rest would take this long */
	unsigned int max_rounds; /* or after this many rounds */
};

#define MIGRATE_DOWNTIME_MS 300u
#define MIGRATE_MAX_ROUNDS 30u

/* A migration's progress, for `info`. */
struct migrate_progress {
	const char *phase; /* "copying", "stopped", "handover" */
	unsigned int round;
	uint64_t pages;	       /* sent so far */
	uint64_t bytes;	       /* sent so far */
	uint64_t dirty;	       /* left after the last round */
	uint64_t rate;	       /* bytes/s of the last big round */
	uint64_t expected_ms;  /* downtime if it stopped now */
};

/*
 * Starts a save (loop thread).  0: done() will be called; -EBUSY while
 * one is under way, -ESHUTDOWN, or -errno, with the reason in err.
 */
int save_start(struct domain *d, const struct save_args *a, save_done_fn *done,
	       void *arg, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* Whether a save is under way (loop thread). */
bool save_busy(struct domain *d);
/* A migration's progress (loop thread): false when none is under way. */
bool save_progress(struct domain *d, struct migrate_progress *out);
/* domain_destroy(), after the loop stopped: ends and joins a save. */
void save_destroy(struct domain *d);

/* --- the dirty set of a live migration (precopy.c) ------------------------ */

struct precopy {
	uint64_t *bitmap;  /* harvested and not sent yet: a bit per pfn */
	uint64_t nr_dirty; /* bits set in it */
	uint64_t *kvm;	   /* KVM's log, read into here first */
	bool logging;
};

/* KVM's dirty log on, this process's writes tracked.  0 or -errno. */
int precopy_begin(struct domain *d, struct precopy *pc)
    __attribute__((warn_unused_result));
/* What was written since begin or the last harvest, added to pc->bitmap. */
int precopy_harvest(struct domain *d, struct precopy *pc)
    __attribute__((warn_unused_result));
/* The pages of pc->bitmap are sent: it starts over empty. */
void precopy_sent(struct domain *d, struct precopy *pc);
void precopy_end(struct domain *d, struct precopy *pc);

/*
 * The lines both ends of a migration say after END
 * (docs/migration-stream.md, "Handover").
 */
#define MIGRATE_BUILT "XENIA-BUILT"
#define MIGRATE_READY "XENIA-READY"
#define MIGRATE_GO "XENIA-GO"
#define MIGRATE_RUNNING "XENIA-RUNNING"
#define MIGRATE_ERROR "XENIA-ERROR"
#define MIGRATE_LINE_MAX 512

/*
 * One line from fd into buf (no newline, unprintables as '?'), waiting
 * at most timeout_ms: 0, -ETIMEDOUT, -ECONNRESET (the peer hung up),
 * -EPROTO (longer than len) or -errno.
 */
int handover_read_line(int fd, char *buf, size_t len, int timeout_ms)
    __attribute__((warn_unused_result));
/* One line, printf-style, the newline added.  0 or -errno. */
int handover_write_line(int fd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));
/* The reason of an ERROR line, or NULL if line is not one. */
const char *handover_error_text(const char *line);
/*
 * The destination gives up: an ERROR line with reason, then what the
 * source still sends is read and dropped until it hangs up (a few
 * seconds at most), so the line is not lost to a reset.
 */
void handover_refuse(int fd, const char *reason);

/* --- restore ------------------------------------------------------------- */

#define RESTORE_MAX_DISKS 8
#define RESTORE_MAX_VIFS 8

struct restore {
	struct stream_reader rd;
	int fd;
	/* CONFIG, checked. */
	struct json_object *config;
	uint64_t ram_size;
	unsigned int vcpus;
	unsigned int src_domid;
	const char *name, *uuid; /* NULL when not given */
	const char *disks[RESTORE_MAX_DISKS];
	unsigned int nr_disks;
	const char *vifs[RESTORE_MAX_VIFS];
	unsigned int nr_vifs;
	/* The records after the pages. */
	struct buf vmm_state;
	struct json_object *devices[STREAM_DEVICES_MAX];
	unsigned int nr_devices;
	struct xs_saved xs;
	bool have_xs;
	/* Reading. */
	struct buf payload, scratch;
	struct stream_pages pages;
	uint64_t *seen; /* pfns written so far */
	uint64_t nr_pages;
	char err[320];
};

/*
 * Opens path and reads the header and CONFIG (checked).  0 or -errno
 * with rs->err set.  restore_free() either way.
 */
int restore_open(struct restore *rs, const char *path)
    __attribute__((warn_unused_result));
/* The same from a connection (a migration; fd stays the caller's). */
int restore_open_fd(struct restore *rs, int fd)
    __attribute__((warn_unused_result));
/* The same over bytes in memory (the fuzz harness). */
int restore_open_mem(struct restore *rs, const void *p, size_t len)
    __attribute__((warn_unused_result));
/*
 * Before a single page is read: every disk of rs->disks (the stream's,
 * or the command line's put there instead) can be opened as its mode
 * says.  0 or -errno with rs->err set.
 */
int restore_check_disks(struct restore *rs) __attribute__((warn_unused_result));
/*
 * The rest of the stream into d, a domain built with the stream's RAM
 * size and vCPU count that has not run: pages into its RAM, VMM_STATE,
 * DEVICE and XENSTORE kept, END checked.  Nothing is loaded or
 * registered.  0 or -errno with rs->err set.
 */
int restore_read(struct restore *rs, struct domain *d)
    __attribute__((warn_unused_result));
/*
 * After restore_read: the state into d (domain_state_load), and the
 * DEVICE records checked against it and against rs->disks and rs->vifs:
 * a vbd record for each disk (by devid) and none without, one vif
 * record for each vif (in order).  0 or -errno, logged.
 */
int restore_load(struct restore *rs, struct domain *d)
    __attribute__((warn_unused_result));
/* The n-th DEVICE record of type (0 first), or NULL. */
struct json_object *restore_device(const struct restore *rs, const char *type,
				   unsigned int n);
/* The DEVICE record of type with devid, or NULL. */
struct json_object *restore_device_find(const struct restore *rs,
					const char *type, unsigned int devid);
/* A DEVICE record's devid. */
unsigned int restore_device_id(struct json_object *rec);
void restore_free(struct restore *rs);

#endif
