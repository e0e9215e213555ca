/*
 * The PV console (HVM_PARAM_CONSOLE_PFN/EVTCHN, xen/io/console.h).
 *
 * test=console: a line through the ring, drained by the backend; a
 * corrupt producer index is discarded by the backend and the ring goes on.
 * test=console-flood: CONSOLE_FLOOD_KIB of numbered lines as fast as the
 * ring takes them (the backend rate-limits; the integration test checks
 * that every byte reached the log).  test=console-echo: echoes one line
 * of input (the integration test types it on the pty).
 */
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "pvcons.h"

#define CONSOLE_FLOOD_KIB 256

static int console_ready(const char *name)
{
	long rc = events_init();

	if (!check(rc == 0, "%s: events set up rc=%ld", name, rc))
		return 0;
	if (pvcons_init()) {
		printf("SKIP: %s: no PV console\n", name);
		return 0;
	}
	return 1;
}

static int console_line(const char *s)
{
	unsigned long len = strlen(s);

	return pvcons_write(s, len) == len && pvcons_flush();
}

void scenario_console(void)
{
	struct xencons_interface *r;
	XENCONS_RING_IDX cons;

	if (!console_ready("console"))
		return;
	r = pvcons_ring;
	check(console_line("console: hello through the PV ring\n"),
	      "console: a line through the ring, taken by the backend");

	/* A producer far ahead of the consumer: the backend must not read
	 * 100000 bytes of a 2048-byte ring, nor stop serving us. */
	cons = r->out_cons;
	__atomic_store_n(&r->out_prod, cons + 100000, __ATOMIC_RELEASE);
	(void)ev_send(pvcons_port);
	check(pvcons_flush() && r->out_cons == cons + 100000,
	      "console: a corrupt producer index is discarded");
	check(console_line("console: the ring goes on after it\n"),
	      "console: a line after the corrupt index");
}

void scenario_console_flood(void)
{
	char line[64];
	unsigned long i, lines = CONSOLE_FLOOD_KIB * 1024 / sizeof(line);
	unsigned long sent = 0;
	uint64_t t0, t1;

	if (!console_ready("console-flood"))
		return;
	t0 = events_time_ns();
	for (i = 0; i < lines; i++) {
		/* 63 characters and a newline, numbered. */
		snprintf(line, sizeof(line), "flood %08lu ", i);
		memset(line + 15, 'x', sizeof(line) - 16);
		line[sizeof(line) - 1] = '\n';
		sent += pvcons_write(line, sizeof(line));
	}
	t1 = events_time_ns();
	check(sent == lines * sizeof(line) && pvcons_flush(),
	      "console-flood: %lu bytes through the ring in %lu ms", sent,
	      (t1 - t0) / 1000000);
}

void scenario_console_echo(void)
{
	char in[128], out[200];
	unsigned long n = 0, got;
	unsigned int tries;

	if (!console_ready("console-echo"))
		return;
	(void)console_line("console-echo: ready\n");
	for (tries = 0; tries < 100 && n < sizeof(in) - 1; tries++) {
		got = pvcons_read(in + n, sizeof(in) - 1 - n, 100);
		n += got;
		if (n && in[n - 1] == '\n')
			break;
	}
	in[n] = '\0';
	while (n && (in[n - 1] == '\n' || in[n - 1] == '\r'))
		in[--n] = '\0';
	snprintf(out, sizeof(out), "console-echo: got '%s'\n", in);
	check(n > 0 && console_line(out), "console-echo: a line of input "
	      "(%lu bytes) read and echoed", n);
}
