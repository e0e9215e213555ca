/* SPDX-License-Identifier: MIT */
/*
 * The xm/xl config syntax (xlcfg.h): a hand-written scanner and a
 * recursive-descent parser for a grammar of four productions,
 *
 *	file  := { stmt ( '\n' | ';' ) }
 *	stmt  := KEY '=' value
 *	value := STRING | INT | '[' [ item { ',' item } [ ',' ] ] ']'
 *	item  := STRING | INT
 *
 * where newlines inside brackets do not count.  Everything is bounded
 * (file size, entries, items, string length) and the first error stops
 * the parse with its line.
 */
#include "xlcfg.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum tok {
	TOK_EOF,
	TOK_NL,
	TOK_SEMI,
	TOK_EQ,
	TOK_LBRACKET,
	TOK_RBRACKET,
	TOK_COMMA,
	TOK_KEY,
	TOK_STRING,
	TOK_INT,
	TOK_ERROR,
};

struct scan {
	const char *p, *end;
	unsigned int line;
	enum tok tok;
	unsigned int tok_line;
	char *text; /* KEY, STRING: malloc'd */
	int64_t num;
	char *err;
	size_t errlen;
};

static int scan_fail(struct scan *s, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int scan_fail(struct scan *s, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(s->err, s->errlen, "line %u: ", line);
	if (n >= 0 && (size_t)n < s->errlen) {
		va_start(ap, fmt);
		vsnprintf(s->err + n, s->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int scan_string(struct scan *s)
{
	char quote = *s->p++, *out;
	size_t n = 0;

	out = malloc(XLCFG_MAX_STRING + 1);
	if (!out)
		return -ENOMEM;
	for (;;) {
		char c;

		if (s->p == s->end || *s->p == '\n') {
			free(out);
			return scan_fail(s, s->tok_line, "unterminated string");
		}
		c = *s->p++;
		if (c == quote)
			break;
		if (c == '\\') {
			if (s->p == s->end) {
				free(out);
				return scan_fail(s, s->tok_line,
						 "unterminated string");
			}
			c = *s->p++;
			switch (c) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case '\\':
			case '"':
			case '\'':
				break;
			default:
				free(out);
				return scan_fail(s, s->tok_line,
						 "unknown escape '\\%c'", c);
			}
		}
		if (c == '\0') {
			free(out);
			return scan_fail(s, s->tok_line, "a NUL in a string");
		}
		if (n == XLCFG_MAX_STRING) {
			free(out);
			return scan_fail(s, s->tok_line,
					 "a string longer than %u bytes",
					 XLCFG_MAX_STRING);
		}
		out[n++] = c;
	}
	out[n] = '\0';
	s->text = out;
	s->tok = TOK_STRING;
	return 0;
}

static int scan_int(struct scan *s)
{
	const char *start = s->p;
	char buf[32], *endp;
	bool neg = *s->p == '-';
	size_t n;

	if (neg)
		s->p++;
	while (s->p < s->end &&
	       ((*s->p >= '0' && *s->p <= '9') || *s->p == 'x' ||
		*s->p == 'X' || (*s->p >= 'a' && *s->p <= 'f') ||
		(*s->p >= 'A' && *s->p <= 'F')))
		s->p++;
	n = (size_t)(s->p - start);
	if (n >= sizeof(buf))
		return scan_fail(s, s->tok_line, "number too long");
	memcpy(buf, start, n);
	buf[n] = '\0';
	errno = 0;
	s->num = strtoll(buf, &endp, 0);
	if (errno || *endp || endp == buf + neg)
		return scan_fail(s, s->tok_line, "'%s' is not a number", buf);
	s->tok = TOK_INT;
	return 0;
}

static int scan_key(struct scan *s)
{
	const char *start = s->p;
	size_t n;

	while (s->p < s->end &&
	       ((*s->p >= 'a' && *s->p <= 'z') ||
		(*s->p >= 'A' && *s->p <= 'Z') ||
		(*s->p >= '0' && *s->p <= '9') || *s->p == '_'))
		s->p++;
	n = (size_t)(s->p - start);
	if (n > 64)
		return scan_fail(s, s->tok_line, "a key longer than 64");
	s->text = strndup(start, n);
	if (!s->text)
		return -ENOMEM;
	s->tok = TOK_KEY;
	return 0;
}

/* The next token into s->tok (and s->text / s->num). */
static int scan_next(struct scan *s)
{
	char c;

	free(s->text);
	s->text = NULL;
	for (;;) {
		while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' ||
					 *s->p == '\r'))
			s->p++;
		if (s->p < s->end && *s->p == '#') {
			while (s->p < s->end && *s->p != '\n')
				s->p++;
			continue;
		}
		break;
	}
	s->tok_line = s->line;
	if (s->p == s->end) {
		s->tok = TOK_EOF;
		return 0;
	}
	c = *s->p;
	switch (c) {
	case '\n':
		s->p++;
		s->line++;
		s->tok = TOK_NL;
		return 0;
	case ';':
		s->tok = TOK_SEMI;
		break;
	case '=':
		s->tok = TOK_EQ;
		break;
	case '[':
		s->tok = TOK_LBRACKET;
		break;
	case ']':
		s->tok = TOK_RBRACKET;
		break;
	case ',':
		s->tok = TOK_COMMA;
		break;
	case '"':
	case '\'':
		return scan_string(s);
	default:
		if ((c >= '0' && c <= '9') || c == '-')
			return scan_int(s);
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_')
			return scan_key(s);
		if (c == '\0')
			return scan_fail(s, s->line, "a NUL byte");
		return scan_fail(s, s->line, "unexpected '%c'",
				 c > 0x20 && c < 0x7f ? c : '?');
	}
	s->p++;
	return 0;
}

/* Skips newlines (inside brackets they do not end anything). */
static int scan_skip_nl(struct scan *s)
{
	int rc = 0;

	while (rc == 0 && s->tok == TOK_NL)
		rc = scan_next(s);
	return rc;
}

static void value_free(struct xlcfg_value *v)
{
	size_t i;

	free(v->str);
	for (i = 0; i < v->nr_items; i++)
		free(v->items[i].str);
	free(v->items);
	memset(v, 0, sizeof(*v));
}

/* A scalar at the current token; takes the string. */
static int parse_scalar(struct scan *s, struct xlcfg_value *v)
{
	v->line = s->tok_line;
	if (s->tok == TOK_STRING) {
		v->type = XLCFG_STRING;
		v->str = s->text;
		s->text = NULL;
	} else if (s->tok == TOK_INT) {
		v->type = XLCFG_INT;
		v->num = s->num;
	} else {
		return scan_fail(s, s->tok_line,
				 "expected a string or a number");
	}
	return scan_next(s);
}

static int parse_list(struct scan *s, struct xlcfg_value *v)
{
	int rc;

	v->type = XLCFG_LIST;
	v->line = s->tok_line;
	v->items = calloc(XLCFG_MAX_ITEMS, sizeof(*v->items));
	if (!v->items)
		return -ENOMEM;
	rc = scan_next(s);
	if (rc == 0)
		rc = scan_skip_nl(s);
	while (rc == 0 && s->tok != TOK_RBRACKET) {
		if (v->nr_items == XLCFG_MAX_ITEMS)
			return scan_fail(s, s->tok_line,
					 "a list of more than %u items",
					 XLCFG_MAX_ITEMS);
		if (s->tok == TOK_LBRACKET)
			return scan_fail(s, s->tok_line,
					 "lists do not nest");
		if (s->tok == TOK_EOF)
			return scan_fail(s, v->line, "unterminated list");
		/* Counted even on failure: a string taken is freed with it. */
		rc = parse_scalar(s, &v->items[v->nr_items++]);
		if (rc < 0)
			return rc;
		rc = scan_skip_nl(s);
		if (rc < 0)
			return rc;
		if (s->tok == TOK_COMMA) {
			rc = scan_next(s);
			if (rc == 0)
				rc = scan_skip_nl(s);
		} else if (s->tok == TOK_EOF) {
			return scan_fail(s, v->line, "unterminated list");
		} else if (s->tok != TOK_RBRACKET) {
			return scan_fail(s, s->tok_line,
					 "expected ',' or ']' in a list");
		}
	}
	if (rc == 0)
		rc = scan_next(s);
	return rc;
}

static int parse_stmt(struct scan *s, struct xlcfg *cfg)
{
	struct xlcfg_entry *e;
	size_t i;
	int rc;

	if (cfg->nr_entries == XLCFG_MAX_ENTRIES)
		return scan_fail(s, s->tok_line, "more than %u settings",
				 XLCFG_MAX_ENTRIES);
	for (i = 0; i < cfg->nr_entries; i++)
		if (!strcmp(cfg->entries[i].key, s->text))
			return scan_fail(s, s->tok_line,
					 "'%s' is set twice (first on line "
					 "%u)",
					 s->text, cfg->entries[i].line);
	e = &cfg->entries[cfg->nr_entries];
	memset(e, 0, sizeof(*e));
	e->key = s->text;
	e->line = s->tok_line;
	s->text = NULL;
	cfg->nr_entries++;
	rc = scan_next(s);
	if (rc < 0)
		return rc;
	if (s->tok != TOK_EQ)
		return scan_fail(s, s->tok_line, "expected '=' after '%s'",
				 e->key);
	rc = scan_next(s);
	if (rc < 0)
		return rc;
	if (s->tok == TOK_LBRACKET)
		rc = parse_list(s, &e->value);
	else if (s->tok == TOK_NL || s->tok == TOK_EOF || s->tok == TOK_SEMI)
		return scan_fail(s, e->line, "no value for '%s'", e->key);
	else
		rc = parse_scalar(s, &e->value);
	if (rc < 0)
		return rc;
	if (s->tok != TOK_NL && s->tok != TOK_SEMI && s->tok != TOK_EOF)
		return scan_fail(s, s->tok_line,
				 "expected the end of the line after '%s = "
				 "...'",
				 e->key);
	return 0;
}

int xlcfg_parse(const char *text, size_t len, struct xlcfg *cfg, char *err,
		size_t errlen)
{
	struct scan s = {
		.p = text, .end = text + len, .line = 1,
		.err = err, .errlen = errlen,
	};
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (len > XLCFG_MAX_BYTES) {
		snprintf(err, errlen, "larger than %u bytes", XLCFG_MAX_BYTES);
		return -EINVAL;
	}
	cfg->entries = calloc(XLCFG_MAX_ENTRIES, sizeof(*cfg->entries));
	if (!cfg->entries)
		return -ENOMEM;
	rc = scan_next(&s);
	while (rc == 0 && s.tok != TOK_EOF) {
		if (s.tok == TOK_NL || s.tok == TOK_SEMI)
			rc = scan_next(&s);
		else if (s.tok == TOK_KEY)
			rc = parse_stmt(&s, cfg);
		else
			rc = scan_fail(&s, s.tok_line, "expected a setting "
					"(key = value)");
	}
	free(s.text);
	if (rc < 0)
		xlcfg_free(cfg);
	return rc;
}

void xlcfg_free(struct xlcfg *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nr_entries; i++) {
		free(cfg->entries[i].key);
		value_free(&cfg->entries[i].value);
	}
	free(cfg->entries);
	memset(cfg, 0, sizeof(*cfg));
}

struct xlcfg_entry *xlcfg_get(struct xlcfg *cfg, const char *key)
{
	size_t i;

	for (i = 0; i < cfg->nr_entries; i++) {
		if (!strcmp(cfg->entries[i].key, key)) {
			cfg->entries[i].used = true;
			return &cfg->entries[i];
		}
	}
	return NULL;
}
