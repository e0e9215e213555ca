/* SPDX-License-Identifier: MIT */
/* UUIDs as Xen's tools write them: 8-4-4-4-12 hex digits. */
#ifndef XENIA_UUID_H
#define XENIA_UUID_H

#include <stdbool.h>

#define UUID_STR_LEN 37 /* with the NUL */

/* A random (version 4) UUID; 0 or -errno from getrandom. */
int uuid_random(char out[UUID_STR_LEN]) __attribute__((warn_unused_result));
/* A well-formed UUID, and nothing after it. */
bool uuid_valid(const char *s);

#endif
