/*
 * test=memmap: hvm_start_info carries a memory map (version >= 1) without
 * overlapping or wrapping entries, whose RAM covers the guest image.  The
 * map need not be sorted and may hold empty entries (QEMU's firmware does
 * both).  hvm_start_info itself may
 * live in reserved memory (QEMU's firmware puts it there), so it is only
 * reported.
 */
#include "console.h"
#include "guest.h"
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
}
