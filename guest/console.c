/* Console output and shutdown, through Xen or through QEMU's devices. */
#include "arch.h"
#include "console.h"
#include "hypercall.h"
#include "lib.h"
#include "pvcons.h"

#define COM1		0x3f8
/* QEMU's isa-debug-exit: the process exits with (value << 1) | 1. */
#define DEBUG_EXIT_PORT	0xf4

/*
 * No wait for THRE: QEMU's UART takes every byte at once, and a status
 * read per byte would double the exits that the boot benchmark counts.
 */
static void serial_write(const char *buf, unsigned long len)
{
	unsigned long i;

	for (i = 0; i < len; i++)
		outb(COM1, (uint8_t)buf[i]);
}

static int console_pv_mirror, console_pv_busy;

/* From now on, output goes to the PV console too (what xm console shows). */
void console_use_pv(void)
{
	console_pv_mirror = 1;
}

void console_write(const char *buf, unsigned long len)
{
	if (hypercall_ready)
		(void)hyp_console_io(CONSOLEIO_write, len, buf);
	else
		serial_write(buf, len);
	/*
	 * One writer at a time on the ring; a vCPU (or an interrupt on this
	 * one) that finds it taken leaves this line to console_io alone
	 * rather than spin.
	 */
	if (console_pv_mirror &&
	    !__atomic_exchange_n(&console_pv_busy, 1, __ATOMIC_ACQUIRE)) {
		(void)pvcons_write(buf, len);
		__atomic_store_n(&console_pv_busy, 0, __ATOMIC_RELEASE);
	}
}

static void vprint(const char *fmt, va_list ap)
{
	char buf[256];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	console_write(buf, (unsigned long)n);
}

int printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	return 0;
}

void guest_shutdown(unsigned int reason)
{
	struct sched_shutdown sd = { .reason = reason };

	if (hypercall_ready) {
		(void)hyp_sched_op(SCHEDOP_shutdown, &sd);
	} else {
		outl(DEBUG_EXIT_PORT, reason == SHUTDOWN_poweroff ? 0 : 1);
	}
	halt_forever();
}

void panic(const char *fmt, ...)
{
	va_list ap;

	console_write("panic: ", 7);
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	guest_shutdown(SHUTDOWN_crash);
}
