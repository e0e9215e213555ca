/*
 * test=devices: every frontend in one run, as a guest with all its
 * devices uses them: the PV console, the XenStore client, the block
 * frontend (xvda, and a read-only xvdb if present) and the network
 * frontend (vif 0; its addresses from ip=/peer= on the command line).
 * Each part prints a SKIP line when its device is absent.
 */
#include "guest.h"

void scenario_devices(void)
{
	scenario_console();
	scenario_xenstore();
	scenario_blk();
	scenario_net();
}
