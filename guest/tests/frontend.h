/* What the scenarios of the xenbus frontends (blk.c, net.c) share. */
#ifndef GUEST_TESTS_FRONTEND_H
#define GUEST_TESTS_FRONTEND_H

/*
 * The XenStore client up, with interrupts on, and probe() run, each
 * checked (what says "dir listed"): probe()'s count, or -1 when the
 * scenario stops (a SKIP line without a store ring, else a FAIL line).
 */
int frontend_setup(const char *name, const char *dir, int (*probe)(void));

#endif
