/*
 * test=idle: the domain stays up doing nothing, as an idle guest does,
 * and obeys the toolstack as Linux's PV drivers do:
 *
 *   control/shutdown	poweroff (or halt), reboot, crash; cleared first,
 *			to acknowledge
 *   control/sysrq	a key: cleared, printed; b reboots, o powers off,
 *			c crashes, the others are only printed
 *   memory/target	KiB: the balloon (balloon.h) gives pages back or
 *			takes them back, never below its floor, then says
 *			where it is and checks the hypervisor's count
 *   cpu/<n>/availability  online/offline: an AP goes down itself
 *			(VCPUOP_down, as Linux's play_dead) and vCPU 0
 *			brings it up again (VCPUOP_up); vCPU 0 stays
 *
 * At start every vCPU is brought up unless its availability says
 * offline.  APs sleep in SCHEDOP_block and nothing ticks: an idle domain
 * costs no CPU.  Without a XenStore it waits forever in SCHEDOP_block.
 * The command-line word balloon-touch makes it write every page the
 * balloon may give back first, so that giving them back shows in the
 * host's memory.
 *
 * dirty=MIB [dirty_rate=N] (dirty.h) needs a second vCPU: vCPU 1 runs
 * the dirtying workload in user mode instead of sleeping, stays online
 * whatever cpu/1/availability says, and vCPU 0 wakes once a second to
 * print the workload's counters, with or without a XenStore.
 */
#include "balloon.h"
#include "console.h"
#include "dirty.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "pvcons.h"
#include "smp.h"
#include "xenbus.h"

#define SECOND 1000000000ull
#define TOUCH_PATTERN 0x5a5a5a5a5a5a5a5aull

/* Where an AP is; both NEVER and DOWN are offline. */
enum idle_ap { AP_NEVER, AP_ONLINE, AP_DOWN };

static uint8_t idle_ap[SMP_MAX_VCPUS];
static unsigned int idle_nr_vcpus;
static int idle_balloon_ok;
/* The AP that runs dirty=, which must stay online; 0: none. */
static unsigned int idle_dirty_vcpu;

static int idle_never(unsigned int unused)
{
	(void)unused;
	return 0;
}

/* Nothing (more) to obey: sleep, waking only for dirty='s lines. */
static void idle_forever(void)
{
	for (;;) {
		if (idle_dirty_vcpu)
			(void)smp_wait(idle_never, 0, dirty_report());
		else
			(void)hyp_sched_op(SCHEDOP_block, NULL);
	}
}

/* --- vCPUs ----------------------------------------------------------- */

static int ap_reported_in(unsigned int id)
{
	return __atomic_load_n(&smp_aps[id].online, __ATOMIC_SEQ_CST);
}

static int ap_is_down(unsigned int id)
{
	return hyp_vcpu_op(VCPUOP_is_up, id, NULL) == 0;
}

static void idle_vcpu_online(unsigned int id)
{
	struct vcpu_hvm_context ctx;
	long rc;
	int ok;

	if (idle_ap[id] == AP_NEVER) {
		smp_context_64(&ctx, id);
		rc = hyp_vcpu_op(VCPUOP_initialise, id, &ctx);
		if (rc == 0)
			rc = hyp_vcpu_op(VCPUOP_up, id, NULL);
		ok = rc == 0 && smp_wait(ap_reported_in, id, 10 * SECOND) &&
		     smp_aps[id].init_rc == 0;
	} else {
		rc = hyp_vcpu_op(VCPUOP_up, id, NULL);
		/* Its own VCPUOP_down returns: that command is done. */
		ok = rc == 0 && smp_wait_done(id);
	}
	if (!ok) {
		printf("idle: vcpu %u: bringing it up failed rc=%ld\n", id, rc);
		return;
	}
	idle_ap[id] = AP_ONLINE;
	printf("idle: vcpu %u online\n", id);
}

static void idle_vcpu_offline(unsigned int id)
{
	if (idle_ap[id] == AP_ONLINE) {
		smp_command(id, SMP_CMD_DOWN_SELF);
		if (!smp_wait(ap_is_down, id, 10 * SECOND)) {
			printf("idle: vcpu %u: it did not go down\n", id);
			return;
		}
		idle_ap[id] = AP_DOWN;
	}
	printf("idle: vcpu %u offline\n", id);
}

/* 1 online, 0 offline, -1 unknown (no node, or another word). */
static int idle_vcpu_wanted(unsigned int id)
{
	char path[48], value[16];

	snprintf(path, sizeof(path), "cpu/%u/availability", id);
	if (xenbus_read(XENBUS_TX_NONE, path, value, sizeof(value)) < 0)
		return -1;
	if (!strcmp(value, "online"))
		return 1;
	if (!strcmp(value, "offline"))
		return 0;
	return -1;
}

/* Every AP where cpu/ wants it; at start, an unknown one comes up. */
static void idle_vcpus_sync(int start)
{
	unsigned int id;
	int want;

	for (id = 1; id < idle_nr_vcpus; id++) {
		want = idle_vcpu_wanted(id);
		if (want < 0 && start)
			want = 1;
		if (want == 0 && id == idle_dirty_vcpu) {
			printf("idle: vcpu %u runs the dirty workload: "
			       "staying online\n", id);
			want = 1;
		}
		if (want == 1 && idle_ap[id] != AP_ONLINE)
			idle_vcpu_online(id);
		else if (want == 0 && (idle_ap[id] == AP_ONLINE || start))
			idle_vcpu_offline(id);
	}
}

/* --- the balloon ----------------------------------------------------- */

static void idle_balloon(unsigned long target)
{
	uint64_t floor = balloon_floor_kib(), before = balloon_current_kib();
	long res;
	int rc;

	if (target < floor)
		printf("idle: balloon target %lu KiB below floor\n", target);
	rc = balloon_set_target(target);
	if (balloon_current_kib() == before)
		return;
	printf("idle: balloon at %lu KiB\n", balloon_current_kib());
	if (rc == -XEN_ENOMEM)
		printf("idle: balloon: the hypervisor gives no more pages\n");
	else if (rc)
		printf("idle: balloon: pages refused rc=%d\n", rc);
	res = balloon_reservation();
	check(res >= 0 && (uint64_t)res * 4 == balloon_current_kib(),
	      "idle: current_reservation %ld pages (%ld KiB) agrees", res,
	      res * 4);
}

static void idle_memory_target(void)
{
	unsigned long target;

	if (!idle_balloon_ok ||
	    xenbus_read_uint(XENBUS_TX_NONE, "memory/target", &target))
		return;
	idle_balloon(target);
}

/* --- control/ -------------------------------------------------------- */

static void idle_sysrq(void)
{
	char value[16];

	if (xenbus_read(XENBUS_TX_NONE, "control/sysrq", value,
			sizeof(value)) < 0 || !value[0])
		return;
	/* Acknowledge, as Linux does, then act. */
	(void)xenbus_write(XENBUS_TX_NONE, "control/sysrq", "");
	printf("idle: sysrq %c\n", value[0]);
	if (value[0] == 'b')
		guest_shutdown(SHUTDOWN_reboot);
	if (value[0] == 'o')
		guest_shutdown(SHUTDOWN_poweroff);
	if (value[0] == 'c')
		guest_shutdown(SHUTDOWN_crash);
}

static void idle_shutdown(void)
{
	char value[32];

	if (xenbus_read(XENBUS_TX_NONE, "control/shutdown", value,
			sizeof(value)) < 0 || !value[0])
		return;
	(void)xenbus_write(XENBUS_TX_NONE, "control/shutdown", "");
	printf("idle: control/shutdown says %s\n", value);
	if (!strcmp(value, "poweroff") || !strcmp(value, "halt"))
		guest_shutdown(SHUTDOWN_poweroff);
	if (!strcmp(value, "reboot"))
		guest_shutdown(SHUTDOWN_reboot);
	if (!strcmp(value, "crash"))
		guest_shutdown(SHUTDOWN_crash);
	printf("idle: ignoring '%s'\n", value);
}

/* --- set-up and the loop --------------------------------------------- */

static const struct {
	const char *path, *token;
	void (*handle)(void);
} idle_watches[] = {
	{"control/shutdown", "shutdown", idle_shutdown},
	{"control/sysrq", "sysrq", idle_sysrq},
	{"memory/target", "target", idle_memory_target},
	{"cpu", "cpu", NULL}, /* idle_vcpus_sync(0) */
};

static void idle_smp_start(void)
{
	int rc = smp_init();

	idle_nr_vcpus = rc == 0 ? smp_count_vcpus() : 1;
	if (rc)
		printf("idle: no doorbell for the APs rc=%d\n", rc);
	idle_ap[0] = AP_ONLINE;
	idle_vcpus_sync(1);
}

static void idle_balloon_start(void)
{
	unsigned long target;
	int rc = balloon_init();

	if (rc) {
		printf("idle: no balloon rc=%d\n", rc);
		return;
	}
	idle_balloon_ok = 1;
	if (guest_cmdline_has("balloon-touch")) {
		balloon_touch(TOUCH_PATTERN);
		printf("idle: balloon touched %lu pages\n",
		       balloon.top_gfn - balloon.low_gfn);
	}
	printf("idle: balloon of %lu KiB, floor %lu KiB\n",
	       balloon_current_kib(), balloon_floor_kib());
	if (!xenbus_read_uint(XENBUS_TX_NONE, "memory/target", &target))
		printf("idle: memory/target %lu KiB\n", target);
}

/* dirty=: the region before the balloon, the workload once APs are up. */
static int idle_dirty_setup(void)
{
	int rc = dirty_setup();
	unsigned int n;

	if (rc <= 0)
		return rc;
	n = smp_count_vcpus();
	if (n <= DIRTY_VCPU) {
		check(0, "dirty: needs %u vCPUs, the domain has %u",
		      DIRTY_VCPU + 1, n);
		return -XEN_EINVAL;
	}
	idle_dirty_vcpu = DIRTY_VCPU;
	return 1;
}

static int idle_dirty_start(void)
{
	if (!idle_dirty_vcpu)
		return 0;
	if (idle_ap[idle_dirty_vcpu] != AP_ONLINE) {
		check(0, "dirty: vCPU %u is not online", idle_dirty_vcpu);
		return -XEN_EIO;
	}
	return dirty_start();
}

/* Until the next dirty= line is due, printing one if it is; or long. */
static uint64_t idle_wait(void)
{
	return idle_dirty_vcpu ? dirty_report() : 3600 * SECOND;
}

/* Set the watches, then act on what they report until told to stop. */
static void idle_obey(void)
{
	char path[128], token[16];
	unsigned int i;
	int rc, all;

	for (i = 0; i < ARRAY_SIZE(idle_watches); i++) {
		rc = xenbus_watch(idle_watches[i].path, idle_watches[i].token);
		if (!check(rc == 0, "idle: watching %s rc=%d",
			   idle_watches[i].path, rc))
			return;
	}
	printf("idle: up, waiting for control/shutdown\n");
	for (;;) {
		rc = xenbus_wait_event(path, sizeof(path), token,
				       sizeof(token), idle_wait());
		if (rc == -XEN_ETIMEDOUT)
			continue;
		if (rc < 0 && rc != -XEN_ENOBUFS)
			idle_forever(); /* the store went away: nobody to obey */
		/*
		 * An event says "look again": read the nodes.  One too long
		 * to copy could be anybody's: look at every one.
		 */
		all = rc == -XEN_ENOBUFS;
		for (i = 0; i < ARRAY_SIZE(idle_watches); i++) {
			if (!all && strcmp(token, idle_watches[i].token))
				continue;
			if (idle_watches[i].handle)
				idle_watches[i].handle();
			else
				idle_vcpus_sync(0);
		}
	}
}

void scenario_idle(void)
{
	int store;

	if (events_init()) {
		printf("idle: no XenStore: idling until destroyed\n");
		idle_forever();
	}
	store = xenbus_init() == 0;
	/* As Linux's hvc0: what the domain says, xm console shows. */
	if (pvcons_init() == 0)
		console_use_pv();
	irq_enable();
	if (idle_dirty_setup() < 0)
		return;
	if (!store && !idle_dirty_vcpu) {
		printf("idle: no XenStore: idling until destroyed\n");
		idle_forever();
	}
	idle_smp_start();
	if (idle_dirty_start())
		return;
	if (!store) {
		printf("idle: no XenStore: only the dirty workload runs\n");
		idle_forever();
	}
	idle_balloon_start();
	idle_obey();
}
