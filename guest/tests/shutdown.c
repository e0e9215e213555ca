/*
 * test=shutdown-code: SCHEDOP_shutdown_code latches the reason a later
 * shutdown reports.  We latch reboot, try to latch crash (the first code
 * stays), and let the runner power off: the domain must end as a reboot
 * (xenia-vmm exits 65), which the integration test checks.
 */
#include "console.h"
#include "guest.h"
#include "hypercall.h"

void scenario_shutdown_code(void)
{
	struct sched_shutdown sd = { .reason = SHUTDOWN_reboot };
	long rc;

	rc = hyp_sched_op(SCHEDOP_shutdown_code, &sd);
	check(rc == 0, "shutdown-code: latch reboot rc=%ld", rc);
	sd.reason = SHUTDOWN_crash;
	rc = hyp_sched_op(SCHEDOP_shutdown_code, &sd);
	check(rc == 0, "shutdown-code: a second code is ignored rc=%ld", rc);
	sd.reason = 99;
	rc = hyp_sched_op(SCHEDOP_shutdown_code, &sd);
	check(rc == -XEN_EINVAL, "shutdown-code: unknown reason rc=%ld", rc);
	rc = hyp_sched_op(SCHEDOP_shutdown_code, (void *)0x7fff00000000ul);
	check(rc == -XEN_EFAULT, "shutdown-code: bad pointer rc=%ld", rc);
}
