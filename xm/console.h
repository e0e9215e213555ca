/* SPDX-License-Identifier: MIT */
/*
 * xm console: the domain's console pty (xenia-vmm's consback) relayed to
 * the terminal as Xen's xenconsole does: the terminal in raw mode, Ctrl-]
 * to detach, the terminal restored however the relay ends.
 */
#ifndef XENIA_XM_CONSOLE_H
#define XENIA_XM_CONSOLE_H

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] */

/*
 * Relays in -> pty and pty -> out until Ctrl-] arrives on in, the pty
 * hangs up (the domain ended), a signal asks to stop, or in reaches its
 * end; then the guest's output keeps flowing until it has been quiet for
 * linger_ms (at most a few seconds).  0 or a negative errno.
 */
int console_relay(int pty, int in, int out, int linger_ms)
	__attribute__((warn_unused_result));

/*
 * Opens tty and relays it to stdin/stdout, raw when stdin is a terminal.
 * 0, or a negative errno when the pty cannot be opened or relayed.
 */
int console_attach(const char *tty) __attribute__((warn_unused_result));

#endif
