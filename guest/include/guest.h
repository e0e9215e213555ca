/* Boot state, traps and the scenario runner of the test guest. */
#ifndef GUEST_GUEST_H
#define GUEST_GUEST_H

#include <stddef.h>
#include <stdint.h>
#include "xen.h"

extern char _image_start[], _image_end[];

/* NULL if the loader gave no valid hvm_start_info. */
extern const struct hvm_start_info *start_info;

void traps_init(void);
/* Points IDT entry vector (32..255) at an interrupt stub. */
void traps_set_vector(unsigned int vector, void (*stub)(void));

/*
 * A scenario runs checks; each check prints one line with PASS or FAIL.
 * check() returns its condition so that a scenario can stop early.
 */
struct scenario {
	const char *name;
	void (*run)(void);
	/* Needs hypercalls: skipped with a SKIP line when there is no Xen. */
	int needs_xen;
	/* Run when the command line names no scenario. */
	int in_default;
};

int check(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether the command line holds `word` as a whole word. */
int guest_cmdline_has(const char *word);
/*
 * The value of a word key=VALUE of the command line, NUL-terminated in
 * buf (cut to fit): 1 if there is one, else 0.
 */
int guest_cmdline_get(const char *key, char *buf, size_t size);
/* A decimal key=N: 1 with *val set, 0 if absent, -XEN_EINVAL if bad. */
int guest_cmdline_uint(const char *key, uint64_t *val);

void scenario_boot(void);
void scenario_version(void);
void scenario_memmap(void);
void scenario_badargs(void);
void scenario_exception(void);
void scenario_evtchn(void);
void scenario_timer(void);
void scenario_hcbench(void);
void scenario_shutdown_code(void);
void scenario_idle(void);
void scenario_balloon(void);
void scenario_devices(void);
void scenario_netbench(void);
void scenario_blkbench(void);
void scenario_xenstore_garbage(void);
void scenario_console(void);
void scenario_console_flood(void);
void scenario_console_echo(void);
void scenario_smp(void);
void scenario_grant(void);
void scenario_xenstore(void);
void scenario_blk(void);
void scenario_blk_hostile(void);
void scenario_net(void);
void scenario_net_hostile(void);

#endif
