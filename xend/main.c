/* SPDX-License-Identifier: MIT */
/*
 * xend: the management daemon (docs/api.md).
 *
 *   XENIA_RUNDIR=/run/xenia xend [--state-dir DIR] [--vmm PATH]
 *        [--xenstored PATH] [--socket-group GROUP] [--log-stderr] [-v]
 *
 * Start-up: the run directory, xenstored (started if none answers),
 * managed configs and domain records read back, every recorded domain
 * re-adopted or its end handled, then the API.  SIGTERM stops xend and
 * leaves the domains running; the next xend takes them over.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "tls.h"
#include "tls.h"
#include "xend.h"

struct xend xend = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.domains = LIST_HEAD_INIT(xend.domains),
	.next_domid = 1,
	.epoll_fd = -1,
};

int xend_path(char *buf, size_t len, const char *fmt, ...)
{
	size_t off;
	va_list ap;
	int n;

	n = snprintf(buf, len, "%s/", xend.rundir);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	off = (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(buf + off, len - off, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len - off ? -ENAMETOOLONG : 0;
}

double xend_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double xend_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: xend [--state-dir DIR] [--vmm PATH] [--xenstored PATH]\n"
		"            [--socket-group GROUP] [--log-stderr] [-v]\n"
		"            [--relocation-port N] [--relocation-address ADDR]\n"
		"            [--relocation-hosts-allow 'REGEX ...']\n"
		"            [--relocation-tls-cert PEM --relocation-tls-key PEM\n"
		"             --relocation-tls-ca PEM]\n"
		"The management daemon: the API on $XENIA_RUNDIR/xend.sock\n"
		"(default /run/xenia), for xm.  Starts xenstored there when\n"
		"none runs.  SIGTERM stops it; domains keep running.\n"
		"The relocation server takes migrating domains on TCP port\n"
		"%d (XENIA_RELOCATION_PORT; 0: none), on every address or\n"
		"ADDR, from hosts whose numeric address matches one of the\n"
		"patterns (XENIA_RELOCATION_HOSTS_ALLOW; default: this host\n"
		"only, '%s').  With a TLS certificate, key and CA it speaks\n"
		"TLS only and wants a peer certificate the CA signed; xm\n"
		"migrate --ssl uses them as a client.\n",
		RELOCATE_PORT, RELOCATE_ALLOW);
}

static int mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX], *p;

	if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* A sibling of our own executable: build/xend -> build/xenia-vmm. */
static char *sibling(const char *name)
{
	char exe[PATH_MAX], *out = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (asprintf(&out, "%s/%s", dirname(exe), name) < 0)
		return NULL;
	return out;
}

static int xend_dirs(void)
{
	static const char *const sub[] = {"log", "xend/vmm"};
	char path[PATH_MAX];
	unsigned int i;
	int rc;

	for (i = 0; i < sizeof(sub) / sizeof(*sub); i++) {
		if (xend_path(path, sizeof(path), "%s", sub[i]) < 0)
			return -ENAMETOOLONG;
		rc = mkdirs(path, 0700);
		if (rc < 0) {
			log_errx("xend: creating %s: %s", path, strerror(-rc));
			return rc;
		}
	}
	rc = mkdirs(xend.state_dir, 0700);
	if (rc < 0)
		log_errx("xend: creating %s: %s", xend.state_dir,
			 strerror(-rc));
	return rc;
}

/* Our log goes to log/xend.log (xm log reads it) unless --log-stderr. */
static int xend_log_file(void)
{
	char path[PATH_MAX];
	int fd;

	if (xend_path(path, sizeof(path), "log/xend.log") < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 2) < 0) {
		log_err("xend: %s", path);
		return -errno;
	}
	close(fd);
	return 0;
}

/*
 * One xend per run directory: the pid file is locked for our lifetime,
 * before anything is read or adopted (two xends would both act on a
 * domain's end).
 */
static int xend_pidfile(void)
{
	char path[PATH_MAX], pid[32];
	int fd, n;

	if (xend_path(path, sizeof(path), "xend.pid") < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		log_err("xend: %s", path);
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		log_errx("xend: another xend is running on %s (%s is locked)",
			 xend.rundir, path);
		close(fd);
		return -EADDRINUSE;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, pid, (size_t)n) != n) {
		log_err("xend: %s", path);
		close(fd);
		return -EIO;
	}
	return 0; /* fd stays open: the lock is ours until we exit */
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"state-dir", required_argument, NULL, 's'},
		{"vmm", required_argument, NULL, 'm'},
		{"xenstored", required_argument, NULL, 'x'},
		{"socket-group", required_argument, NULL, 'g'},
		{"log-stderr", no_argument, NULL, 'l'},
		{"relocation-port", required_argument, NULL, 'P'},
		{"relocation-address", required_argument, NULL, 'A'},
		{"relocation-hosts-allow", required_argument, NULL, 'H'},
		{"relocation-tls-cert", required_argument, NULL, 'C'},
		{"relocation-tls-key", required_argument, NULL, 'K'},
		{"relocation-tls-ca", required_argument, NULL, 'T'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *group = NULL;
	const char *reloc_port = getenv("XENIA_RELOCATION_PORT");
	const char *reloc_addr = NULL;
	const char *reloc_allow = getenv("XENIA_RELOCATION_HOSTS_ALLOW");
	const char *tls_cert = NULL, *tls_key = NULL, *tls_ca = NULL;
	bool log_stderr = false;
	int port = RELOCATE_PORT;
	char *end;
	char path[PATH_MAX];
	sigset_t set;
	int c, rc;

	log_init("xend", LOG_LVL_INFO);
	xend.rundir = getenv("XENIA_RUNDIR");
	if (!xend.rundir || !*xend.rundir)
		xend.rundir = "/run/xenia";
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			xend.state_dir = strdup(optarg);
			break;
		case 'm':
			xend.vmm_path = strdup(optarg);
			break;
		case 'x':
			xend.xenstored_path = strdup(optarg);
			break;
		case 'g':
			group = optarg;
			break;
		case 'l':
			log_stderr = true;
			break;
		case 'P':
			reloc_port = optarg;
			break;
		case 'A':
			reloc_addr = optarg;
			break;
		case 'H':
			reloc_allow = optarg;
			break;
		case 'C':
			tls_cert = optarg;
			break;
		case 'K':
			tls_key = optarg;
			break;
		case 'T':
			tls_ca = optarg;
			break;
		case 'v':
			log_set_level(LOG_LVL_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return 2;
	}
	if (reloc_port && *reloc_port) {
		errno = 0;
		port = (int)strtol(reloc_port, &end, 10);
		if (errno || *end || port < 0 || port > 65535) {
			log_errx("xend: relocation port '%s' is not 0 to 65535",
				 reloc_port);
			return 2;
		}
	}
	if (!reloc_allow)
		reloc_allow = RELOCATE_ALLOW;
	if (tls_setup(tls_cert, tls_key, tls_ca) < 0)
		return 2;
	if (!xend.state_dir && xend_path(path, sizeof(path), "xend/managed") ==
				   0)
		xend.state_dir = strdup(path);
	if (!xend.vmm_path)
		xend.vmm_path = sibling("xenia-vmm");
	if (!xend.xenstored_path)
		xend.xenstored_path = sibling("xenstored");
	if (!xend.state_dir || !xend.vmm_path || !xend.xenstored_path) {
		log_errx("xend: out of memory");
		return 1;
	}
	if (xend_dirs() < 0 || xend_pidfile() < 0 ||
	    (!log_stderr && xend_log_file() < 0))
		return 1;
	/* Signals are read from a signalfd by the main thread only; the
	 * API's threads inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	xend.started = xend_now();
	/* Seconds to the millisecond, not 17 digits. */
	json_c_set_serialization_double_format("%.3f", JSON_C_OPTION_GLOBAL);
	xend.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (xend.epoll_fd < 0 || store_connect() < 0)
		return 1;
	if (managed_load_all() < 0 || record_load_all() < 0)
		return 1;
	supervise_adopt_all();
	if (http_start(group) < 0 ||
	    relocate_start(reloc_addr, port, reloc_allow) < 0)
		return 1;
	log_info("xend: %u domains known, run directory %s", xend.nr_domains,
		 xend.rundir);
	rc = supervise_run();
	relocate_stop();
	http_stop();
	if (xend_path(path, sizeof(path), "xend.pid") == 0)
		(void)unlink(path);
	return rc < 0 ? 1 : 0;
}
