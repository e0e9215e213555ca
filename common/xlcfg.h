/* SPDX-License-Identifier: MIT */
/*
 * Domain config files in the xm/xl format, the syntax layer:
 *
 *	# a comment
 *	name = "demo"			strings in "..." or '...'
 *	memory = 128			integers (decimal, 0x hex)
 *	disk = [ 'file:/srv/a.img,xvda,w',
 *		 'file:/srv/b.img,xvdb,r' ]	lists, across lines, a
 *						trailing comma allowed
 *	vcpus = 2; on_crash = "destroy"	';' separates statements too
 *
 * Strings take the escapes \\ \" \' \n \t.  A key is [A-Za-z_][A-Za-z0-9_]*
 * and appears once.  Pure parsing of a buffer: no I/O, every error names
 * its line.
 */
#ifndef XENIA_XLCFG_H
#define XENIA_XLCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xlcfg_type { XLCFG_STRING, XLCFG_INT, XLCFG_LIST };

struct xlcfg_value {
	enum xlcfg_type type;
	char *str;			/* XLCFG_STRING */
	int64_t num;			/* XLCFG_INT */
	struct xlcfg_value *items;	/* XLCFG_LIST: strings and ints */
	size_t nr_items;
	unsigned int line;
};

struct xlcfg_entry {
	char *key;
	struct xlcfg_value value;
	unsigned int line;
	bool used; /* set by the semantic layer: unused ones are unknown */
};

struct xlcfg {
	struct xlcfg_entry *entries;
	size_t nr_entries;
};

/* Limits that keep a hostile file from costing much. */
#define XLCFG_MAX_BYTES (1u << 20)
#define XLCFG_MAX_ENTRIES 256
#define XLCFG_MAX_ITEMS 256
#define XLCFG_MAX_STRING 4096

/*
 * Parses len bytes of text.  0, -ENOMEM, or -EINVAL with "line N: what"
 * in err (errlen bytes); on error *cfg holds nothing to free.
 */
int xlcfg_parse(const char *text, size_t len, struct xlcfg *cfg, char *err,
		size_t errlen) __attribute__((warn_unused_result));
void xlcfg_free(struct xlcfg *cfg);

/* The entry for key, marked used, or NULL. */
struct xlcfg_entry *xlcfg_get(struct xlcfg *cfg, const char *key);

#endif
