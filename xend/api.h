/* SPDX-License-Identifier: MIT */
/* The API's handlers (api.c, api_devices.c): helpers they share. */
#ifndef XENIA_XEND_API_H
#define XENIA_XEND_API_H

#include "xend.h"

#define CTL_TIMEOUT_MS 2000
/* A detach waits for the frontend to close (the vmm gives it 10 s). */
#define CTL_DETACH_TIMEOUT_MS 15000

typedef void api_action_fn(struct xdom *d, json_object *body,
			   struct api_reply *r);

/* Body fields: NULL/false with r set when a needed one is missing. */
const char *api_str(json_object *body, const char *key, bool need,
		    struct api_reply *r);
bool api_num(json_object *body, const char *key, bool need, double min,
	     double max, double *out, struct api_reply *r);
bool api_bool(json_object *body, const char *key);
/* {"cmd": cmd} */
json_object *api_cmd(const char *cmd);
/* Sends req (consumed) to d's vmm: its reply, or NULL with r set. */
json_object *api_ctl(struct xdom *d, const char *what, json_object *req,
		     struct api_reply *r);
/* The same without xend.lock while it waits: d may be gone after it. */
json_object *api_ctl_wait(struct xdom *d, const char *what, json_object *req,
			  int timeout_ms, struct api_reply *r);
/* The same with pass_fd sent along (it stays the caller's). */
json_object *api_ctl_wait_fd(struct xdom *d, const char *what,
			     json_object *req, int pass_fd, int timeout_ms,
			     struct api_reply *r);
bool api_start(struct xdom *d, bool paused, const char *restore,
	       struct api_reply *r);
/* A new xdom from a request's config/path/cwd; NULL with r set. */
struct xdom *api_new_domain(json_object *body, json_object *warnings,
			    struct api_reply *r);
/* save.c */
api_action_fn act_save;
void api_restore(json_object *body, struct api_reply *r);
/*
 * A saved or migrating domain's CONFIG members (name, uuid, config,
 * config_path, cwd) checked as a restore does: a new xdom named as the
 * source's, or NULL with r set.  `what` names the source in messages.
 */
struct xdom *save_admit(json_object *cfg, const char *what,
			struct api_reply *r);
/* The figures of a save's or migration's vmm reply, for the client. */
void save_figures(json_object *rep, struct api_reply *r);
/* relocate.c */
api_action_fn act_migrate, act_migration;

/* {"vbd": [...], "vif": [...]}, as the block and network lists. */
json_object *api_devices_json(struct xdom *d);
api_action_fn act_block_list, act_block_attach, act_block_detach;
api_action_fn act_network_list, act_network_attach, act_network_detach;

#endif
