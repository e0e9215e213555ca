/* SPDX-License-Identifier: MIT */
/*
 * The domain state image carries a running guest across KVM VMs: boot
 * the test guest's default run (every ABI scenario: events, timers,
 * grants, SMP with 2 vCPUs), pause it at some point of its work, save
 * its state and RAM, and load both into a second, freshly built domain
 * that has never run.  The guest there must finish every scenario with
 * all checks passing (it powers off, exit status 0; a failed check
 * crashes it).  The first domain is unpaused too (a checkpoint, as
 * `xm save -c`) and must finish as well.
 *
 * Real KVM and the real test guest: skipped, with the reason, without
 * /dev/kvm or the guest ELF ($XENIA_TEST_GUEST).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "domain.h"
#include "domain_state.h"
#include "log.h"

#define MEMORY_MIB 32
#define VCPUS 2

static const char *guest_elf;

static int setup(void **state)
{
	(void)state;
	guest_elf = getenv("XENIA_TEST_GUEST");
	return 0;
}

static void need_kvm_and_guest(void)
{
	if (access("/dev/kvm", R_OK | W_OK) < 0) {
		printf("SKIP: /dev/kvm is not usable here\n");
		skip();
	}
	if (!guest_elf || access(guest_elf, R_OK) < 0) {
		printf("SKIP: no test guest ($XENIA_TEST_GUEST)\n");
		skip();
	}
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Boots A, pauses it after `ms`, moves it into B, runs both to their
 * end.  Returns whether A was still at work when paused.
 */
static bool move_after(unsigned int ms)
{
	static struct domain a, b;
	struct domain_config cfg = {
		.kernel = guest_elf,
		.cmdline = getenv("XENIA_RESTORE_CMDLINE") ?: "",
		.memory_mib = MEMORY_MIB,
		.vcpus = VCPUS,
		.domid = 1,
	};
	struct buf img = {0};
	bool was_running;

	domain_init(&a, cfg.domid);
	assert_int_equal(domain_build(&a, &cfg), 0);
	assert_int_equal(domain_start(&a), 0);
	sleep_ms(ms);
	domain_pause(&a);
	was_running = !domain_is_shutting_down(&a);
	if (was_running) {
		assert_int_equal(domain_state_save(&a, &img), 0);

		/* B: same shape, no kernel; RAM and state from A. */
		cfg.kernel = NULL;
		domain_init(&b, cfg.domid);
		assert_int_equal(domain_build(&b, &cfg), 0);
		memcpy(b.ram, a.ram, a.ram_size);
		assert_int_equal(domain_state_load(&b, img.data, img.len), 0);
		assert_int_equal(domain_state_resume(&b), 0);
	}
	domain_unpause(&a);
	assert_int_equal(domain_wait(&a), VMM_EXIT_OK);
	domain_destroy(&a);
	if (was_running) {
		assert_int_equal(domain_wait(&b), VMM_EXIT_OK);
		domain_destroy(&b);
	}
	buf_free(&img);
	return was_running;
}

static void test_move_running_guest(void **state)
{
	static const unsigned int points_ms[] = {2, 20, 60, 120, 200, 300};
	const char *env = getenv("XENIA_RESTORE_POINTS");
	unsigned int i, ms, moved = 0;
	char *p;

	(void)state;
	need_kvm_and_guest();
	for (i = 0; i < sizeof(points_ms) / sizeof(points_ms[0]); i++) {
		ms = points_ms[i];
		/* XENIA_RESTORE_POINTS="ms,ms,...": other points, to debug. */
		if (env) {
			if (!*env)
				break;
			ms = (unsigned int)strtoul(env, &p, 10);
			env = *p == ',' ? p + 1 : "";
			i = 0;
		}
		printf("-- pause after %u ms\n", ms);
		if (move_after(ms))
			moved++;
	}
	/* The early points always land inside the run (~0.5 s). */
	assert_true(moved >= 2);
	printf("-- moved %u running guests\n", moved);
}

static void test_refuses_image_of_other_shape(void **state)
{
	static struct domain a, b;
	struct domain_config cfg = {
		.kernel = guest_elf,
		.cmdline = "test=boot",
		.memory_mib = MEMORY_MIB,
		.vcpus = VCPUS,
		.domid = 1,
	};
	struct buf img = {0};

	(void)state;
	need_kvm_and_guest();
	domain_init(&a, 1);
	assert_int_equal(domain_build(&a, &cfg), 0);
	assert_int_equal(domain_state_save(&a, &img), 0);
	/* One vCPU instead of two; then twice the memory. */
	cfg.kernel = NULL;
	cfg.vcpus = 1;
	domain_init(&b, 1);
	assert_int_equal(domain_build(&b, &cfg), 0);
	assert_int_equal(domain_state_load(&b, img.data, img.len), -EINVAL);
	domain_destroy(&b);
	cfg.vcpus = VCPUS;
	cfg.memory_mib = 2 * MEMORY_MIB;
	domain_init(&b, 1);
	assert_int_equal(domain_build(&b, &cfg), 0);
	assert_int_equal(domain_state_load(&b, img.data, img.len), -EINVAL);
	domain_destroy(&b);
	/* A CPU1 section naming an MSR KVM does not save. */
	cfg.memory_mib = MEMORY_MIB;
	domain_init(&b, 1);
	assert_int_equal(domain_build(&b, &cfg), 0);
	{
		/* The last bytes are vCPU 1's last MSR entry: index first. */
		uint32_t bogus = 0x4b564dffu;

		memcpy(img.data + img.len - 16, &bogus, sizeof(bogus));
	}
	assert_int_equal(domain_state_load(&b, img.data, img.len), -EINVAL);
	domain_destroy(&b);
	domain_destroy(&a);
	buf_free(&img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_move_running_guest),
		cmocka_unit_test(test_refuses_image_of_other_shape),
	};

	log_init("test_restore", LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, setup, NULL);
}
