/* SPDX-License-Identifier: MIT */
/*
 * On-disk record types of the XenStore journal; the format is described in
 * docs/xenstore.md.
 */
#ifndef XENIA_XS_JOURNAL_H
#define XENIA_XS_JOURNAL_H

enum journal_rec_type {
	J_REC_NONE = 0,	  /* zero fill: end of the log */
	J_REC_NODE = 1,	  /* a node's whole record */
	J_REC_DELETE = 2, /* path of a removed node */
	J_REC_DOMAIN = 3, /* an introduced domain's state */
	J_REC_GEN = 4,	  /* the store generation */
	J_REC_END = 5,	  /* end of a snapshot, with the node count */
	J_REC_COMMIT = 6, /* end of a batch in the log: apply up to here */
	J_REC_WATCH = 7,  /* a change of a domain's ring watches */
};

/* What a J_REC_WATCH record does to the domain's list of watches. */
enum journal_watch_op {
	J_WATCH_ADD = 1,
	J_WATCH_REMOVE = 2,
	J_WATCH_CLEAR = 3, /* path and token empty */
};

#endif
