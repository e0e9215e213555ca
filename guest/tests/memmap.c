/*
 * test=memmap: hvm_start_info carries a memory map (version >= 1) without
 * overlapping or wrapping entries, whose RAM covers the guest image.  The
 * map need not be sorted and may hold empty entries (QEMU's firmware does
 * both).  hvm_start_info itself may
 * live in reserved memory (QEMU's firmware puts it there), so it is only
 * reported.  Under Xen, XENMEM_memory_map and the reservation queries
 * agree with it.
 */
#include "console.h"
#include "guest.h"
#include "hypercall.h"
#include "lib.h"

#define MEMMAP_MAX	128

static const char *memmap_type(uint32_t type)
{
	switch (type) {
	case XEN_HVM_MEMMAP_TYPE_RAM:
		return "ram";
	case XEN_HVM_MEMMAP_TYPE_RESERVED:
		return "reserved";
	case XEN_HVM_MEMMAP_TYPE_ACPI:
		return "acpi";
	case XEN_HVM_MEMMAP_TYPE_NVS:
		return "nvs";
	default:
		return "other";
	}
}

static int ram_covers(const struct hvm_memmap_table_entry *map, uint32_t n,
		      uint64_t start, uint64_t end)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (map[i].type == XEN_HVM_MEMMAP_TYPE_RAM &&
		    map[i].addr <= start && end <= map[i].addr + map[i].size)
			return 1;
	return 0;
}

/* Bytes of RAM in the map. */
static uint64_t ram_bytes(const struct hvm_memmap_table_entry *map,
			  uint32_t n)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < n; i++)
		if (map[i].type == XEN_HVM_MEMMAP_TYPE_RAM)
			sum += map[i].size;
	return sum;
}

static void memmap_xen(uint64_t ram)
{
	struct e820 {
		uint64_t addr, size;
		uint32_t type;
	} __attribute__((packed)) e[8];
	struct xen_memory_map mm = { .nr_entries = 8 };
	uint64_t pages = ram >> 12, sum = 0;
	domid_t self = DOMID_SELF, other = 0;
	unsigned int i;
	long rc, cur, max, gpfn;

	set_xen_guest_handle(mm.buffer, e);
	rc = hyp_memory_op(XENMEM_memory_map, &mm);
	for (i = 0; rc == 0 && i < mm.nr_entries && i < 8; i++)
		if (e[i].type == XEN_HVM_MEMMAP_TYPE_RAM)
			sum += e[i].size;
	check(rc == 0 && mm.nr_entries >= 1 && sum == ram,
	      "memmap: XENMEM_memory_map: %u entries, %lu bytes of RAM rc=%ld",
	      mm.nr_entries, sum, rc);
	cur = hyp_memory_op(XENMEM_current_reservation, &self);
	max = hyp_memory_op(XENMEM_maximum_reservation, &self);
	gpfn = hyp_memory_op(XENMEM_maximum_gpfn, &self);
	/* The reservation also holds Xen's special pages, not in RAM. */
	check(cur >= (long)pages && max == cur && gpfn == cur - 1,
	      "memmap: reservation %ld pages, maximum %ld, last gpfn 0x%lx",
	      cur, max, gpfn);
	rc = hyp_memory_op(XENMEM_current_reservation, &other);
	check(rc == -XEN_ESRCH, "memmap: another domain's reservation rc=%ld",
	      rc);
	rc = hyp_memory_op(XENMEM_current_reservation, (void *)0x7fff00000000ul);
	check(rc == -XEN_EFAULT, "memmap: reservation via a bad pointer rc=%ld",
	      rc);
	mm.nr_entries = 0;
	rc = hyp_memory_op(XENMEM_memory_map, &mm);
	check(rc == -XEN_EINVAL, "memmap: memory_map into 0 entries rc=%ld",
	      rc);
}

void scenario_memmap(void)
{
	const struct hvm_memmap_table_entry *map;
	uint64_t img_start = (uintptr_t)_image_start;
	uint64_t img_end = (uintptr_t)_image_end;
	uint64_t si = (uintptr_t)start_info;
	uint32_t i, j, n;
	int disjoint = 1;

	if (!check(start_info != NULL, "memmap: valid hvm_start_info"))
		return;
	if (!check(start_info->version >= 1 && start_info->memmap_paddr &&
		   start_info->memmap_entries > 0 &&
		   start_info->memmap_entries <= MEMMAP_MAX,
		   "memmap: start_info version %u has %u memmap entries",
		   start_info->version, start_info->memmap_entries))
		return;

	map = (const void *)(uintptr_t)start_info->memmap_paddr;
	n = start_info->memmap_entries;
	for (i = 0; i < n; i++) {
		printf("memmap: %016lx-%016lx %s\n", map[i].addr,
		       map[i].addr + map[i].size, memmap_type(map[i].type));
		if (map[i].addr + map[i].size < map[i].addr)
			disjoint = 0;
		for (j = 0; j < i; j++)
			if (map[i].size && map[j].size &&
			    map[i].addr < map[j].addr + map[j].size &&
			    map[j].addr < map[i].addr + map[i].size)
				disjoint = 0;
	}
	check(disjoint, "memmap: entries do not overlap or wrap");
	check(ram_covers(map, n, img_start, img_end),
	      "memmap: RAM covers the image 0x%lx-0x%lx", img_start, img_end);
	printf("memmap: hvm_start_info at 0x%lx is %sin RAM\n", si,
	       ram_covers(map, n, si, si + sizeof(*start_info)) ? "" : "not ");
	if (hypercall_ready)
		memmap_xen(ram_bytes(map, n));
}
