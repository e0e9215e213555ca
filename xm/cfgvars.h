/* SPDX-License-Identifier: MIT */
/*
 * `xm create FILE key=value...`: settings on the command line win over the
 * file's, as in Xen's xm.  The file's own statement of each such key is
 * blanked out, its line breaks kept so that xend's "FILE:LINE: ..."
 * messages still point at the right line, and the settings are appended
 * in the config syntax (common/xlcfg.h).  A value that is a number, a
 * list or a quoted string goes in as written; anything else is quoted.
 */
#ifndef XENIA_XM_CFGVARS_H
#define XENIA_XM_CFGVARS_H

#include <stddef.h>

/*
 * *out (malloc'd, NUL-terminated) is text with vars applied.  0, -ENOMEM,
 * or -EINVAL when a var is not KEY=VALUE with a valid key (*bad names it).
 */
int cfgvars_apply(const char *text, size_t len, char *const *vars, int nr,
		  char **out, const char **bad)
	__attribute__((warn_unused_result));

#endif
