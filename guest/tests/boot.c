/* test=boot: the boot benchmark.  One line, then power off. */
#include "console.h"
#include "guest.h"

void scenario_boot(void)
{
	printf("xenia test guest: boot\n");
}
