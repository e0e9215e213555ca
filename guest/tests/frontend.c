/* Set-up shared by the frontend scenarios (frontend.h). */
#include "frontend.h"
#include "console.h"
#include "events.h"
#include "guest.h"
#include "xenbus.h"

int frontend_setup(const char *name, const char *dir, int (*probe)(void))
{
	int rc;

	rc = xenbus_init();
	if (rc == -XEN_ENOENT) {
		printf("SKIP: %s: no store ring\n", name);
		return -1;
	}
	irq_enable();
	if (!check(rc == 0, "%s: XenStore client up rc=%d", name, rc))
		return -1;
	rc = probe();
	if (!check(rc >= 0, "%s: %s listed rc=%d", name, dir, rc))
		return -1;
	return rc;
}
