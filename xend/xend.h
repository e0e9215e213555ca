/* SPDX-License-Identifier: MIT */
/*
 * xend: the management daemon.  One table of domains, guarded by one
 * lock (xend.lock), shared by the API's handler threads (http.c) and the
 * main thread, which supervises every xenia-vmm through its pidfd and
 * applies on_poweroff/on_reboot/on_crash (supervise.c).
 *
 * XenStore is the source of truth: each domain has a record under
 * /xend/domains/<uuid> (record.c) from which a restarted xend re-adopts
 * it.  Managed domains keep their configs in the state directory too
 * (managed.c), so they outlive xenstored's data as well.
 */
#ifndef XENIA_XEND_H
#define XENIA_XEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "domcfg.h"
#include "list.h"

#define XEND_VERSION "0.1.0"
#define XEND_RECORDS "/xend/domains"
#define XEND_MAX_DOMID 32751 /* below DOMID_FIRST_RESERVED */
#define XEND_MAX_DOMAINS 1024

enum xdom_state {
	XD_INACTIVE, /* managed, not running */
	XD_STARTING, /* its vmm is being spawned */
	XD_RUNNING,
	XD_PAUSED,
	XD_SHUTDOWN, /* preserved after a shutdown */
	XD_CRASHED,  /* preserved after a crash */
	XD_DYING,    /* being destroyed */
};

struct xdom {
	struct list_head link;
	char name[DOMCFG_NAME_MAX];
	char uuid[37];
	int domid; /* -1 when it has none */
	enum xdom_state state;
	bool managed;

	/* What it was made from: the config's text, as the client sent it. */
	char *config;
	char *config_path;
	char *cwd;
	struct domcfg *cfg; /* parsed, paths resolved */

	/* Its vmm, while one runs. */
	pid_t pid;
	uint64_t pid_start; /* /proc/PID/stat starttime: pid reuse guard */
	int pidfd;
	bool child;	/* ours to wait for (not adopted) */
	/* While a migration comes in: its connection, for the vmm; else -1. */
	int incoming_fd;

	double start_time; /* wall clock */
	double start_mono;
	uint64_t maxmem_kib;
	unsigned int restarts;	    /* quick restarts in a row */
	double shutdown_deadline; /* xend_mono(): destroy if still up; 0 none */
	double dying_since;	  /* SIGTERM sent; SIGKILL after a grace */
};

struct xend {
	pthread_mutex_t lock;
	struct list_head domains;
	unsigned int nr_domains;
	int next_domid;

	const char *rundir;
	char *state_dir;
	char *vmm_path;
	char *xenstored_path;
	int epoll_fd; /* the main thread's: pidfds, signals, a tick */
	struct xs_handle *xs;
	double started;
};

extern struct xend xend;

/* Paths under the run directory; rundir_path() returns a static-sized buf. */
int xend_path(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
double xend_now(void);  /* wall clock: what is shown */
double xend_mono(void); /* CLOCK_MONOTONIC: deadlines and intervals */

/* domain.c: the table.  All under xend.lock. */
struct xdom *xdom_find(const char *name_or_id);
struct xdom *xdom_by_name(const char *name);
struct xdom *xdom_by_uuid(const char *uuid);
struct xdom *xdom_by_pidfd(int fd);
struct xdom *xdom_new(void);
void xdom_free(struct xdom *d);
int xdom_alloc_domid(void);
/*
 * {name, uuid, config, config_path, cwd}: what a managed domain's file,
 * a save's CONFIG and a migration's hello say of d.  NULL: no memory.
 */
json_object *xdom_describe(const struct xdom *d);
const char *xdom_state_flags(const struct xdom *d, bool blocked);
int xdom_set_config(struct xdom *d, const char *text, const char *path,
		    const char *cwd, char *err, size_t errlen,
		    json_object *warnings) __attribute__((warn_unused_result));

/* spawn.c: starting a domain's vmm and ending it. */
int xdom_start(struct xdom *d, bool paused, const char *restore, char *err,
	       size_t errlen)
	__attribute__((warn_unused_result));
int xdom_signal(struct xdom *d, int sig);
void xdom_kill_sync(struct xdom *d);
void spawn_reset_signals(void);
/* Removes what a domain leaves behind (XenStore, sockets, files). */
void xdom_cleanup(struct xdom *d);

/* supervise.c: the main thread. */
extern pthread_cond_t xend_changed; /* a domain changed state or left */
uint64_t xdom_pid_start(pid_t pid);
int xdom_destroy_begin(struct xdom *d);
int supervise_watch(struct xdom *d);
void supervise_unwatch(struct xdom *d);
void supervise_exit(struct xdom *d, const char *reason);
int supervise_run(void);
void supervise_adopt_all(void);

/* record.c: /xend/domains/<uuid> in XenStore. */
int record_write(struct xdom *d);
void record_remove(struct xdom *d);
void record_resync(void);
int record_load_all(void);

/* managed.c: configs of managed domains in the state directory. */
int managed_save(struct xdom *d);
void managed_remove(struct xdom *d);
int managed_load_all(void);

/* store.c: XenStore helpers (Xen's libxenstore). */
int store_connect(void);
int store_check(void);
char *store_read(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int store_write(const char *value, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int store_write_owned(unsigned int owner, unsigned int reader,
		      const char *value, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void store_rm(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char **store_dir(unsigned int *n, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
bool store_exists(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* relocate.c: the relocation server (migrations coming in). */
#define RELOCATE_PORT 8002
/* Loopback only, unless told otherwise. */
#define RELOCATE_ALLOW "^127\\. ^::1$ ^::ffff:127\\."
int relocate_start(const char *address, int port, const char *allow)
	__attribute__((warn_unused_result));
void relocate_stop(void);

/* vmmctl.c: one request to a domain's vmm over its control socket. */
json_object *vmmctl_call(int domid, json_object *req, int timeout_ms,
			 char *err, size_t errlen);
/* The same with pass_fd sent along (SCM_RIGHTS; it stays the caller's). */
json_object *vmmctl_call_fd(int domid, json_object *req, int pass_fd,
			    int timeout_ms, char *err, size_t errlen);
/* One request to many vmms at once; replies[i] NULL for no answer. */
void vmmctl_call_many(const int *domids, unsigned int n, json_object *req,
		      int timeout_ms, json_object **replies);

/* api.c, http.c */
struct api_reply {
	int status;
	json_object *body; /* owned; NULL: {} */
};
int http_start(const char *group);
void http_stop(void);
void api_dispatch(const char *method, const char *url, const char *query,
		  json_object *body, struct api_reply *r);
void api_error(struct api_reply *r, int status, const char *code,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
json_object *api_domain_json(struct xdom *d, bool detail);
/* The same from a vmm "info" reply already at hand (NULL: none). */
json_object *api_domain_json_info(struct xdom *d, bool detail,
				  json_object *info);
json_object *host_info_json(void);
json_object *host_tail_json(const char *which, int lines);
json_object *host_dom0_json(void);

#endif
