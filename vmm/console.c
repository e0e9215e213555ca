/* SPDX-License-Identifier: MIT */
/*
 * console_io: the guest's emergency console, written to our stdout (the
 * PV console's stdio mode shares the writer, so lines do not interleave).
 * Bytes that could drive the host terminal (escape sequences) are shown as
 * '.'; one call writes at most CONSOLE_WRITE_MAX bytes.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "console.h"
#include "hypercall.h"
#include "log.h"
#include "mem.h"
#include "xen.h"

#define CONSOLE_WRITE_MAX 4096

static pthread_mutex_t console_lock = PTHREAD_MUTEX_INITIALIZER;

static void console_out(const char *buf, size_t len);

void console_stdout(const char *buf, size_t len)
{
	pthread_mutex_lock(&console_lock);
	console_out(buf, len);
	pthread_mutex_unlock(&console_lock);
}

size_t console_sanitise(char *buf, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '\r')
			continue;
		if ((c < 0x20 && c != '\n' && c != '\t') || c >= 0x7f)
			c = '.';
		buf[n++] = (char)c;
	}
	return n;
}

static void console_out(const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* stdout gone: the guest does not care */
		buf += n;
		len -= (size_t)n;
	}
}

static long console_write(struct vcpu *v, uint64_t count, uint64_t gva)
{
	char buf[CONSOLE_WRITE_MAX];

	if (count > CONSOLE_WRITE_MAX)
		return -XEN_EINVAL;
	if (mem_copy_from_guest(v, buf, gva, count) < 0)
		return -XEN_EFAULT;
	console_stdout(buf, console_sanitise(buf, count));
	return 0;
}

long hcall_console_io(struct vcpu *v, const struct hypercall_args *args)
{
	switch (args->a[0]) {
	case CONSOLEIO_write:
		return console_write(v, args->a[1], args->a[2]);
	default:
		hypercall_log_unknown_op("console_io", args->a[0]);
		return -XEN_ENOSYS;
	}
}
