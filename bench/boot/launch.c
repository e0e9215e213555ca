/* SPDX-License-Identifier: MIT */
/*
 * launch: runs one command and times it for bench/boot/run.sh.
 *
 *   launch OUTFILE CMD [ARG...]
 *
 * Forks and execs CMD with stdin on /dev/null and stdout on a pipe (stderr
 * is inherited), copies what CMD writes to OUTFILE and prints one line:
 *
 *   first_byte_us exit_us maxrss_kib status
 *
 * Both times count from just before fork(): first_byte_us when the first
 * byte of CMD's stdout arrives, exit_us when wait4() returns.  maxrss_kib
 * is ru_maxrss of CMD alone (wait4's rusage), status its exit status
 * (128 + signal if killed).  first_byte_us is -1 if CMD wrote nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv)
{
	double t0, first = -1, end;
	struct rusage ru;
	char buf[4096];
	int pipefd[2], out, status;
	ssize_t n;
	pid_t pid;

	if (argc < 3) {
		fprintf(stderr, "usage: launch OUTFILE CMD [ARG...]\n");
		return 2;
	}
	out = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("launch: open/pipe");
		return 2;
	}
	t0 = now_us();
	pid = fork();
	if (pid < 0) {
		perror("launch: fork");
		return 2;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null < 0 || dup2(null, 0) < 0 || dup2(pipefd[1], 1) < 0)
			_exit(127);
		execvp(argv[2], argv + 2);
		perror("launch: exec");
		_exit(127);
	}
	close(pipefd[1]);
	for (;;) {
		n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (first < 0)
			first = now_us() - t0;
		if (write(out, buf, (size_t)n) != n) {
			perror("launch: write");
			return 2;
		}
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("launch: wait4");
			return 2;
		}
	}
	end = now_us() - t0;
	printf("%.0f %.0f %ld %d\n", first, end, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status)
				 : 128 + WTERMSIG(status));
	return 0;
}
