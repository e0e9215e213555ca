/* SPDX-License-Identifier: MIT */
/*
 * xm console's relay against real ptys.  The test holds the master side,
 * as xenia-vmm's consback does, and plays both the guest (writing on the
 * master) and the administrator (a pipe, or a second pty standing in for
 * the terminal); the relay runs in a child so that it can be killed and
 * its exit seen.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "console.h"

struct rig {
	int master, slave; /* the console pty: master is the "vmm" */
	int in[2];	   /* administrator -> relay */
	int out[2];	   /* relay -> administrator */
	pid_t pid;
};

static void rig_open(struct rig *r)
{
	struct termios t;

	assert_int_equal(openpty(&r->master, &r->slave, NULL, NULL, NULL), 0);
	/* Raw, as consback leaves it. */
	assert_int_equal(tcgetattr(r->master, &t), 0);
	cfmakeraw(&t);
	assert_int_equal(tcsetattr(r->master, TCSANOW, &t), 0);
	assert_int_equal(pipe(r->in), 0);
	assert_int_equal(pipe(r->out), 0);
}

/* The relay in a child; its exit status is 0 when it returned 0. */
static void rig_relay(struct rig *r, int linger_ms)
{
	r->pid = fork();
	assert_true(r->pid >= 0);
	if (r->pid == 0) {
		close(r->master);
		close(r->in[1]);
		close(r->out[0]);
		_exit(console_relay(r->slave, r->in[0], r->out[1], linger_ms)
			      ? 1
			      : 0);
	}
	close(r->slave);
	close(r->in[0]);
	close(r->out[1]);
}

/* Reads fd until want has arrived (true) or two seconds pass. */
static bool read_until(int fd, const char *want, char *got, size_t len)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;
	ssize_t r;

	got[0] = '\0';
	while (!strstr(got, want)) {
		if (poll(&p, 1, 2000) <= 0 || n + 1 >= len)
			return false;
		r = read(fd, got + n, len - 1 - n);
		if (r <= 0)
			return false;
		n += (size_t)r;
		got[n] = '\0';
	}
	return true;
}

/* The child's exit status, waiting at most two seconds; -1 if it did not. */
static int wait_exit(pid_t pid)
{
	int status, i;

	for (i = 0; i < 200; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static void write_str(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void test_relay_both_ways_and_detach(void **state)
{
	struct rig r;
	char got[256];

	rig_open(&r);
	rig_relay(&r, 0);

	write_str(r.master, "login: \r\n\x01\xff binary ok\n");
	assert_true(read_until(r.out[0], "binary ok\n", got, sizeof(got)));
	assert_string_equal(got, "login: \r\n\x01\xff binary ok\n");

	write_str(r.in[1], "root\r");
	assert_true(read_until(r.master, "root\r", got, sizeof(got)));

	/* Ctrl-] detaches; what came before it in the same read still goes. */
	write_str(r.in[1], "ls\x1dnot this");
	assert_int_equal(wait_exit(r.pid), 0);
	assert_true(read_until(r.master, "ls", got, sizeof(got)));
	assert_string_equal(got, "ls");
	close(r.master);
	close(r.in[1]);
	close(r.out[0]);
}

static void test_relay_ends_when_pty_hangs_up(void **state)
{
	struct rig r;
	char got[64];

	rig_open(&r);
	rig_relay(&r, 0);
	write_str(r.master, "bye\r\n");
	assert_true(read_until(r.out[0], "bye\r\n", got, sizeof(got)));
	close(r.master); /* the domain is gone */
	assert_int_equal(wait_exit(r.pid), 0);
	close(r.in[1]);
	close(r.out[0]);
}

static void test_relay_lingers_after_input_ends(void **state)
{
	struct rig r;
	char got[64];

	rig_open(&r);
	rig_relay(&r, 300);
	write_str(r.in[1], "echo hi\n");
	assert_true(read_until(r.master, "echo hi\n", got, sizeof(got)));
	close(r.in[1]); /* the script's input ends... */
	usleep(100000);
	write_str(r.master, "hi\r\n"); /* ...and its answer still arrives */
	assert_true(read_until(r.out[0], "hi\r\n", got, sizeof(got)));
	assert_int_equal(wait_exit(r.pid), 0);
	close(r.master);
	close(r.out[0]);
}

/*
 * console_attach on a terminal: stdin and stdout on a second pty (the
 * administrator's terminal), which must be raw during the session and
 * restored after it, however it ends.
 */
static void attach_on_terminal(bool by_signal)
{
	int cmaster, cslave, tmaster, tslave;
	struct termios before, during, after;
	char name[128], got[128];
	pid_t pid;

	assert_int_equal(openpty(&cmaster, &cslave, name, NULL, NULL), 0);
	assert_int_equal(openpty(&tmaster, &tslave, NULL, NULL, NULL), 0);
	assert_int_equal(tcgetattr(tslave, &before), 0);
	assert_true(before.c_lflag & ICANON);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(tslave, STDIN_FILENO);
		dup2(tslave, STDOUT_FILENO);
		close(cmaster);
		close(cslave);
		close(tmaster);
		_exit(console_attach(name) ? 1 : 0);
	}
	close(cslave);

	/* The guest's output reaches the terminal... */
	write_str(cmaster, "guest says hi\r\n");
	assert_true(read_until(tmaster, "guest says hi", got, sizeof(got)));
	/* ...which is raw now: no echo, no line editing, ^C is a byte. */
	assert_int_equal(tcgetattr(tslave, &during), 0);
	assert_false(during.c_lflag & (ICANON | ECHO | ISIG));
	write_str(tmaster, "\x03x");
	assert_true(read_until(cmaster, "\x03x", got, sizeof(got)));

	if (by_signal)
		kill(pid, SIGTERM);
	else
		write_str(tmaster, "\x1d");
	assert_int_equal(wait_exit(pid), 0);
	assert_int_equal(tcgetattr(tslave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_iflag, before.c_iflag);
	assert_int_equal(after.c_oflag, before.c_oflag);
	close(cmaster);
	close(tmaster);
	close(tslave);
}

static void test_attach_terminal_detach(void **state)
{
	attach_on_terminal(false);
}

static void test_attach_terminal_signal(void **state)
{
	attach_on_terminal(true);
}

static void test_attach_missing_pty(void **state)
{
	assert_int_equal(console_attach("/dev/pts/does-not-exist"), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_both_ways_and_detach),
		cmocka_unit_test(test_relay_ends_when_pty_hangs_up),
		cmocka_unit_test(test_relay_lingers_after_input_ends),
		cmocka_unit_test(test_attach_terminal_detach),
		cmocka_unit_test(test_attach_terminal_signal),
		cmocka_unit_test(test_attach_missing_pty),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
