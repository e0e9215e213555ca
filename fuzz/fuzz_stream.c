/* SPDX-License-Identifier: MIT */
/*
 * The migration stream's reader (vmm/stream.c) and the restore's first
 * half (vmm/restore.c) over hostile streams: a save file can be edited,
 * a migration source can lie.  The input is the stream itself, read as
 * `xenia-vmm --restore` reads a file: header, CONFIG (checked), then
 * every record into a fake domain of 4 MiB and 1 vCPU (tests/unit/
 * vmm_fake.c): PAGES into its RAM, VMM_STATE kept, DEVICE and XENSTORE
 * parsed and checked, END's checksum.  The seeds
 * (scripts/make-fuzz-corpus.py) are valid streams of such a domain, so
 * the fuzzer starts past the framing; the checksum is checked last, so
 * mutated records reach their parsers.
 *
 * Whatever the input, the reader must refuse it with a message or accept
 * it, never read or write out of bounds, and leak nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "migrate.h"
#include "vmm_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct domain *dst;
	static struct restore rs;
	int rc;

	if (!dst) {
		log_init("fuzz_stream", LOG_LVL_ERR);
		log_set_level(LOG_LVL_ERR);
		dst = vmm_fake_domain(9, 1);
	}
	rc = restore_open_mem(&rs, data, size);
	if (rc == 0)
		rc = restore_read(&rs, dst);
	/* A refusal says why. */
	if (rc < 0 && !rs.err[0])
		abort();
	restore_free(&rs);
	return 0;
}
