/* SPDX-License-Identifier: MIT */
/* Guest console bytes to our stdout: console_io and the PV console. */
#ifndef XENIA_VMM_CONSOLE_H
#define XENIA_VMM_CONSOLE_H

#include <stddef.h>

/*
 * Makes guest bytes safe for a host terminal in place: drops CR, shows
 * control and non-ASCII bytes (escape sequences) as '.'.  The new length.
 */
size_t console_sanitise(char *buf, size_t len);
/* Writes to stdout, whole, under one lock shared by every writer. */
void console_stdout(const char *buf, size_t len);

#endif
