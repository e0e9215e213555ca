/*
 * test=idle: the domain stays up doing nothing, as an idle guest does,
 * and obeys the toolstack: control/shutdown "poweroff" (or "halt") powers
 * off, "reboot" reboots, "crash" crashes, as Linux's xenbus shutdown
 * handler does (it clears the node first, to acknowledge).  Without a
 * XenStore it waits forever in SCHEDOP_block.  The balloon target
 * (memory/target) is read and reported; giving memory back comes with
 * the balloon driver.
 */
#include "console.h"
#include "events.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"
#include "xenbus.h"

#define SECOND 1000000000ull

static void idle_forever(void)
{
	for (;;)
		(void)hyp_sched_op(SCHEDOP_block, NULL);
}

void scenario_idle(void)
{
	char path[128], token[16], value[32];
	unsigned long target = 0;
	int rc;

	if (events_init() || xenbus_init()) {
		printf("idle: no XenStore: idling until destroyed\n");
		idle_forever();
	}
	if (!xenbus_read_uint(XENBUS_TX_NONE, "memory/target", &target))
		printf("idle: memory/target %lu KiB\n", target);
	rc = xenbus_watch("control/shutdown", "shutdown");
	if (!check(rc == 0, "idle: watching control/shutdown rc=%d", rc))
		return;
	printf("idle: up, waiting for control/shutdown\n");
	for (;;) {
		rc = xenbus_wait_event(path, sizeof(path), token,
				       sizeof(token), 3600 * SECOND);
		if (rc == -XEN_ETIMEDOUT)
			continue;
		if (rc < 0)
			idle_forever(); /* the store went away: nobody to obey */
		if (xenbus_read(XENBUS_TX_NONE, "control/shutdown", value,
				sizeof(value)) < 0 || !value[0])
			continue;
		/* Acknowledge, as Linux does, then act. */
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
}
