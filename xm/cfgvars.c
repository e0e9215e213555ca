/* SPDX-License-Identifier: MIT */
/*
 * Finding a key's statement needs only a rough lexer: statements are
 * KEY = VALUE, separated by line breaks or ';'; a value is a quoted string
 * (backslash escapes), a [list] that may span lines and hold strings and
 * comments, or a bare word.  Where the text stops making sense the scan
 * stops and the rest is left alone: xend parses the result properly and
 * reports what is wrong with it.
 */
#include "cfgvars.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool cfgvars_key_char(char c, bool first)
{
	return c == '_' || isalpha((unsigned char)c) ||
	       (!first && isdigit((unsigned char)c));
}

/* Length of the key before '=' in var, or 0 when it is not KEY=... */
static size_t cfgvars_key_len(const char *var)
{
	size_t n = 0;

	while (cfgvars_key_char(var[n], n == 0))
		n++;
	return n && var[n] == '=' ? n : 0;
}

/* Is the statement's key one the command line sets? */
static bool cfgvars_overridden(const char *key, size_t klen,
			       char *const *vars, int nr)
{
	int i;

	for (i = 0; i < nr; i++)
		if (cfgvars_key_len(vars[i]) == klen &&
		    !strncmp(vars[i], key, klen))
			return true;
	return false;
}

/* Past a quoted string starting at p (the quote); NULL if unterminated. */
static const char *cfgvars_skip_string(const char *p, const char *end)
{
	char q = *p++;

	while (p < end && *p != q) {
		if (*p == '\\')
			p++;
		p++;
	}
	return p < end ? p + 1 : NULL;
}

/* Past the value starting at p; NULL if it does not end. */
static const char *cfgvars_skip_value(const char *p, const char *end)
{
	int depth = 0;

	if (p < end && (*p == '"' || *p == '\''))
		return cfgvars_skip_string(p, end);
	if (p < end && *p == '[') {
		while (p < end) {
			if (*p == '"' || *p == '\'') {
				p = cfgvars_skip_string(p, end);
				if (!p)
					return NULL;
				continue;
			}
			if (*p == '#') {
				while (p < end && *p != '\n')
					p++;
				continue;
			}
			if (*p == '[')
				depth++;
			else if (*p == ']' && --depth == 0)
				return p + 1;
			p++;
		}
		return NULL;
	}
	while (p < end && !isspace((unsigned char)*p) && *p != ';' &&
	       *p != '#')
		p++;
	return p;
}

/* Blanks, in place, every statement of text whose key vars set. */
static void cfgvars_blank(char *text, size_t len, char *const *vars, int nr)
{
	char *p = text, *end = text + len, *key, *q;
	const char *v;
	size_t klen;

	while (p < end) {
		if (isspace((unsigned char)*p) || *p == ';') {
			p++;
			continue;
		}
		if (*p == '#') {
			while (p < end && *p != '\n')
				p++;
			continue;
		}
		key = p;
		while (p < end && cfgvars_key_char(*p, p == key))
			p++;
		klen = (size_t)(p - key);
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (!klen || p == end || *p != '=')
			return;
		p++;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		v = cfgvars_skip_value(p, end);
		if (!v)
			return;
		if (cfgvars_overridden(key, klen, vars, nr))
			for (q = key; q < v; q++)
				if (*q != '\n')
					*q = ' ';
		p = (char *)v;
	}
}

/* A value the config syntax takes as it is: a number, list or string. */
static bool cfgvars_literal(const char *v)
{
	const char *p = v;

	if (*v == '[' || *v == '"' || *v == '\'')
		return true;
	if (*p == '-')
		p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && p[2]) {
		for (p += 2; isxdigit((unsigned char)*p); p++)
			;
		return !*p;
	}
	if (!isdigit((unsigned char)*p))
		return false;
	while (isdigit((unsigned char)*p))
		p++;
	return !*p;
}

int cfgvars_apply(const char *text, size_t len, char *const *vars, int nr,
		  char **out, const char **bad)
{
	char *res = NULL;
	size_t size = 0;
	FILE *f = NULL;
	const char *v;
	int i, j, rc;

	*out = NULL;
	*bad = NULL;
	for (i = 0; i < nr; i++) {
		if (!cfgvars_key_len(vars[i])) {
			*bad = vars[i];
			return -EINVAL;
		}
	}
	f = open_memstream(&res, &size);
	if (!f)
		return -ENOMEM;
	fwrite(text, 1, len, f);
	if (nr && len && text[len - 1] != '\n')
		fputc('\n', f);
	for (i = 0; i < nr; i++) {
		size_t klen = cfgvars_key_len(vars[i]);

		/* The last setting of a key wins. */
		for (j = i + 1; j < nr; j++)
			if (cfgvars_key_len(vars[j]) == klen &&
			    !strncmp(vars[i], vars[j], klen))
				break;
		if (j < nr)
			continue;
		v = vars[i] + klen + 1;
		fprintf(f, "%.*s = ", (int)klen, vars[i]);
		if (cfgvars_literal(v)) {
			fprintf(f, "%s\n", v);
			continue;
		}
		fputc('"', f);
		for (; *v; v++) {
			if (*v == '"' || *v == '\\')
				fputc('\\', f);
			fputc(*v, f);
		}
		fputs("\"\n", f);
	}
	if (fclose(f) != 0 || !res) {
		rc = -ENOMEM;
		goto out;
	}
	/* Only the file's part is scanned: the appended lines must stay. */
	cfgvars_blank(res, len, vars, nr);
	*out = res;
	res = NULL;
	rc = 0;
out:
	free(res);
	return rc;
}
