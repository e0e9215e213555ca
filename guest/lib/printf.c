/*
 * A minimal vsnprintf: %s %c %d %i %u %x %X %p %%, the l and ll length
 * modifiers, a field width and the '0' and '-' flags.  Output is always
 * NUL-terminated and the return value is the length that would have been
 * written, as in C.
 */
#include <stdint.h>
#include "lib.h"

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_char(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_pad(struct out *o, char c, int n)
{
	while (n-- > 0)
		out_char(o, c);
}

static void out_str(struct out *o, const char *s, int width, int left)
{
	int n = (int)strnlen(s, 4096);

	if (!left)
		out_pad(o, ' ', width - n);
	while (*s)
		out_char(o, *s++);
	if (left)
		out_pad(o, ' ', width - n);
}

static void out_num(struct out *o, uint64_t v, unsigned int base, int neg,
		    int width, int zero, int left, int upper)
{
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = digits[v % base];
		v /= base;
	} while (v);
	if (!left && !zero)
		out_pad(o, ' ', width - n - neg);
	if (neg)
		out_char(o, '-');
	if (!left && zero)
		out_pad(o, '0', width - n - neg);
	if (left)
		width -= n + neg;
	while (n)
		out_char(o, tmp[--n]);
	if (left)
		out_pad(o, ' ', width);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { .buf = buf, .size = size, .len = 0 };

	for (; *fmt; fmt++) {
		int width = 0, zero = 0, left = 0, lng = 0;
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = 1;
			else if (*fmt == '-')
				left = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng++;
			fmt++;
		}
		if (left)
			zero = 0;
		switch (*fmt) {
		case 'd':
		case 'i':
			s = lng ? va_arg(ap, long) : va_arg(ap, int);
			u = s < 0 ? -(uint64_t)s : (uint64_t)s;
			out_num(&o, u, 10, s < 0, width, zero, left, 0);
			break;
		case 'u':
			u = lng ? va_arg(ap, unsigned long)
				: va_arg(ap, unsigned int);
			out_num(&o, u, 10, 0, width, zero, left, 0);
			break;
		case 'x':
		case 'X':
			u = lng ? va_arg(ap, unsigned long)
				: va_arg(ap, unsigned int);
			out_num(&o, u, 16, 0, width, zero, left, *fmt == 'X');
			break;
		case 'p':
			u = (uintptr_t)va_arg(ap, void *);
			out_str(&o, "0x", 0, 0);
			out_num(&o, u, 16, 0, 0, 0, 0, 0);
			break;
		case 'c':
			out_char(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);

			out_str(&o, str ? str : "(null)", width, left);
			break;
		}
		case '%':
			out_char(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			out_char(&o, '%');
			out_char(&o, *fmt);
			break;
		}
	}
	if (size)
		o.buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
