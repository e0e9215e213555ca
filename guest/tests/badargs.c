/*
 * test=badargs: hostile hypercall arguments get an error and the guest
 * goes on.  A hypervisor that crashes the domain instead never prints the
 * PASS lines, and the runner's verdict never arrives.
 */
#include "console.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

/* Not mapped by our page tables (above 4 GiB) and far above any RAM. */
#define BAD_PTR		0x00007fff00000000ul
/* Not canonical. */
#define NONCANON_PTR	0x8000000000000000ul

static int is_fault(long rc)
{
	return rc == -XEN_EFAULT || rc == -XEN_EINVAL;
}

/*
 * The end of guest memory according to the memory map (RAM and the
 * reserved special pages above it are backed; nothing beyond), or 0.
 */
static uint64_t mem_top(void)
{
	const struct hvm_memmap_table_entry *map;
	uint64_t top = 0;
	uint32_t i;

	if (!start_info || start_info->version < 1 ||
	    !start_info->memmap_paddr || start_info->memmap_entries > 128)
		return 0;
	map = (const void *)(uintptr_t)start_info->memmap_paddr;
	for (i = 0; i < start_info->memmap_entries; i++)
		if (map[i].addr + map[i].size > top &&
		    map[i].addr + map[i].size <= 0x100000000ul)
			top = map[i].addr + map[i].size;
	return top;
}

void scenario_badargs(void)
{
	static const char msg[] = "badargs: valid console write\n";
	struct sched_shutdown *bad_sd = (void *)BAD_PTR;
	struct xen_feature_info fi = { .submap_idx = 0x7fffffff };
	uint64_t top;
	long rc;

	rc = hyp_console_io(CONSOLEIO_write, sizeof(msg) - 1, msg);
	check(rc == 0, "badargs: console_io valid write rc=%ld", rc);

	rc = hyp_console_io(CONSOLEIO_write, 0, NULL);
	check(rc == 0, "badargs: console_io zero length rc=%ld", rc);

	rc = hyp_console_io(CONSOLEIO_write, 16, (void *)BAD_PTR);
	check(is_fault(rc), "badargs: console_io unmapped pointer rc=%ld", rc);

	rc = hyp_console_io(CONSOLEIO_write, 16, (void *)NONCANON_PTR);
	check(is_fault(rc), "badargs: console_io non-canonical pointer rc=%ld",
	      rc);

	rc = hyp_console_io(CONSOLEIO_write, 0xffffffffu, msg);
	check(is_fault(rc), "badargs: console_io length 0xffffffff rc=%ld", rc);

	top = mem_top();
	if (top) {
		rc = hyp_console_io(CONSOLEIO_write, 64, (void *)(top - 8));
		check(is_fault(rc),
		      "badargs: console_io across the end of memory (0x%lx) rc=%ld",
		      top, rc);
	}

	rc = hyp_console_io(0x7fff, 1, msg);
	check(rc == -XEN_ENOSYS || rc == -XEN_EINVAL,
	      "badargs: console_io unknown command rc=%ld", rc);

	rc = hypercall5(60, 1, 2, 3, 4, 5);
	check(rc == -XEN_ENOSYS, "badargs: hypercall 60 rc=%ld", rc);

	rc = hypercall5(127, 0, 0, 0, 0, 0);
	check(rc == -XEN_ENOSYS, "badargs: hypercall 127 rc=%ld", rc);

	rc = hyp_xen_version(0x7fff, NULL);
	check(rc == -XEN_ENOSYS, "badargs: xen_version unknown command rc=%ld",
	      rc);

	rc = hyp_xen_version(XENVER_extraversion, (void *)BAD_PTR);
	check(is_fault(rc), "badargs: xen_version extraversion to bad pointer "
	      "rc=%ld", rc);

	rc = hyp_xen_version(XENVER_get_features, &fi);
	check(rc == -XEN_EINVAL,
	      "badargs: xen_version get_features submap 0x7fffffff rc=%ld", rc);

	rc = hyp_sched_op(0x7fff, NULL);
	check(rc == -XEN_ENOSYS, "badargs: sched_op unknown command rc=%ld", rc);

	/* vcpu_info must be 8-byte aligned and within one page. */
	{
		static char page[4096] __attribute__((aligned(4096)));
		struct vcpu_register_vcpu_info r = {
			.mfn = (uintptr_t)page >> 12,
			.offset = 4,
		};

		rc = hyp_vcpu_op(VCPUOP_register_vcpu_info, 0, &r);
		check(rc == -XEN_EINVAL, "badargs: misaligned vcpu_info "
		      "rc=%ld", rc);
		r.offset = 4096 - 16;
		rc = hyp_vcpu_op(VCPUOP_register_vcpu_info, 0, &r);
		check(rc == -XEN_EINVAL, "badargs: vcpu_info across a page "
		      "rc=%ld", rc);
	}

	/* Must fail without shutting the domain down. */
	rc = hyp_sched_op(SCHEDOP_shutdown, bad_sd);
	check(is_fault(rc), "badargs: sched_op shutdown with bad pointer rc=%ld",
	      rc);
}
