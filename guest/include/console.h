/*
 * Console and shutdown.  With a Xen hypervisor the console is
 * console_io(CONSOLEIO_write) and shutdown is SCHEDOP_shutdown; without one
 * (QEMU) the console is COM1 and shutdown goes through isa-debug-exit.
 */
#ifndef GUEST_CONSOLE_H
#define GUEST_CONSOLE_H

void console_write(const char *buf, unsigned long len);
/* Mirror output to the PV console, once pvcons_init() has succeeded. */
void console_use_pv(void);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* reason: SHUTDOWN_* (without Xen: poweroff, or anything else as a failure). */
__attribute__((noreturn)) void guest_shutdown(unsigned int reason);
__attribute__((noreturn, format(printf, 1, 2)))
void panic(const char *fmt, ...);

#endif
