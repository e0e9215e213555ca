/*
 * test=exception: executes ud2.  The #UD handler must print the vector and
 * RIP and crash the domain: this checks the IDT and the crash path of the
 * hypervisor.  Never in the default run.
 */
#include "console.h"
#include "guest.h"

void scenario_exception(void)
{
	printf("exception: executing ud2, expect a crash with vector 6\n");
	asm volatile("ud2");
	check(0, "exception: ud2 returned");
}
