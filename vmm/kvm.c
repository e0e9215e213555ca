/* SPDX-License-Identifier: MIT */
#include "kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cpuid.h"
#include "log.h"

static int kvm_check_cap(struct domain *d, int cap, const char *name)
{
	int r = ioctl(d->kvm_fd, KVM_CHECK_EXTENSION, cap);

	if (r <= 0) {
		log_errx("kvm: this KVM lacks KVM_CAP_%s", name);
		return -ENOTSUP;
	}
	return r;
}

/*
 * WRMSR/RDMSR of the hypercall-page MSR leave to userspace as
 * KVM_EXIT_X86_WRMSR/RDMSR: KVM does not know the MSR (UNKNOWN) or
 * refuses it (INVAL), and the cap turns that into an exit instead of a
 * #GP.  0x40000000 is also Hyper-V's guest OS ID MSR, which a KVM built
 * with Hyper-V emulation takes itself: there each vCPU enforces its CPUID
 * (it has no Hyper-V leaves, so the MSR is refused: INVAL), or, on a KVM
 * too old to enforce, a filter denies the MSR (FILTER).  The filter is
 * the last resort: setting one waits for a VM-wide SRCU grace period,
 * 12-20 ms here, most of what building a domain costs.
 */
static int kvm_trap_hypercall_msr(struct domain *d)
{
	static uint8_t deny_bitmap[1];
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args[0] = KVM_MSR_EXIT_REASON_UNKNOWN |
			   KVM_MSR_EXIT_REASON_INVAL |
			   KVM_MSR_EXIT_REASON_FILTER,
	};
	struct kvm_msr_filter filter = {
		.flags = KVM_MSR_FILTER_DEFAULT_ALLOW,
		.ranges[0] = {
			.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE,
			.nmsrs = 1,
			.base = XEN_HYPERCALL_MSR,
			.bitmap = deny_bitmap,
		},
	};
	bool hyperv = ioctl(d->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_HYPERV) > 0;

	if (ioctl(d->vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
		log_err("kvm: KVM_ENABLE_CAP(X86_USER_SPACE_MSR)");
		return -errno;
	}
	if (!hyperv)
		return 0;
	d->kvm_hv_enforce = ioctl(d->kvm_fd, KVM_CHECK_EXTENSION,
				  KVM_CAP_HYPERV_ENFORCE_CPUID) > 0;
	if (d->kvm_hv_enforce)
		return 0;
	if (ioctl(d->vm_fd, KVM_X86_SET_MSR_FILTER, &filter) < 0) {
		log_err("kvm: KVM_X86_SET_MSR_FILTER");
		return -errno;
	}
	return 0;
}

/* The RAM slot, with dirty logging or without. */
static int kvm_set_ram_slot(struct domain *d, bool log_dirty)
{
	struct kvm_userspace_memory_region slot = {
		.slot = 0,
		.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = 0,
		.memory_size = d->ram_size,
		.userspace_addr = (uintptr_t)d->ram,
	};

	if (ioctl(d->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return -errno;
	return 0;
}

int kvm_dirty_log(struct domain *d, bool on)
{
	int rc = kvm_set_ram_slot(d, on);

	if (rc < 0)
		log_errx("kvm: dirty logging %s: %s", on ? "on" : "off",
			 strerror(-rc));
	return rc;
}

int kvm_dirty_log_get(struct domain *d, uint64_t *bitmap)
{
	struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = bitmap};

	if (ioctl(d->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
		log_err("kvm: KVM_GET_DIRTY_LOG");
		return -errno;
	}
	return 0;
}

int kvm_vm_create(struct domain *d)
{
	int rc;

	d->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (d->kvm_fd < 0) {
		rc = -errno;
		log_err("kvm: open /dev/kvm");
		return rc;
	}
	if (ioctl(d->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		log_errx("kvm: unexpected KVM API version");
		return -ENOTSUP;
	}
	if ((rc = kvm_check_cap(d, KVM_CAP_IRQCHIP, "IRQCHIP")) < 0 ||
	    (rc = kvm_check_cap(d, KVM_CAP_SYNC_REGS, "SYNC_REGS")) < 0 ||
	    (rc = kvm_check_cap(d, KVM_CAP_X86_USER_SPACE_MSR,
				"X86_USER_SPACE_MSR")) < 0 ||
	    (rc = kvm_check_cap(d, KVM_CAP_X86_MSR_FILTER,
				"X86_MSR_FILTER")) < 0)
		return rc;
	d->vm_fd = ioctl(d->kvm_fd, KVM_CREATE_VM, 0);
	if (d->vm_fd < 0) {
		rc = -errno;
		log_err("kvm: KVM_CREATE_VM");
		return rc;
	}
	rc = kvm_set_ram_slot(d, false);
	if (rc < 0) {
		log_errx("kvm: KVM_SET_USER_MEMORY_REGION: %s", strerror(-rc));
		return rc;
	}
	/* The irqchip must exist before the first vCPU is created. */
	if (ioctl(d->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		rc = -errno;
		log_err("kvm: KVM_CREATE_IRQCHIP");
		return rc;
	}
	rc = kvm_trap_hypercall_msr(d);
	if (rc < 0)
		return rc;
	return cpuid_build(d->kvm_fd, d->xen.domid, &d->cpuid);
}

static void kvm_flat_segment(struct kvm_segment *s, uint16_t sel,
			     uint8_t type)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->db = 1;
	s->g = 1;
}

int kvm_vcpu_set_boot_regs(struct vcpu *v, const struct kvm_boot_regs *b)
{
	struct kvm_mp_state mp = {.mp_state = KVM_MP_STATE_RUNNABLE};
	struct kvm_sregs sregs;
	struct kvm_regs regs = b->regs;

	/* Start from KVM's values for what the boot state leaves alone. */
	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0) {
		log_err("kvm: vCPU %u: KVM_GET_SREGS", v->id);
		return -errno;
	}
	sregs.cs = b->cs;
	sregs.ds = b->ds;
	sregs.es = b->es;
	sregs.ss = b->ss;
	sregs.fs = b->fs;
	sregs.gs = b->gs;
	sregs.tr = b->tr;
	sregs.cr0 = b->cr0;
	sregs.cr3 = b->cr3;
	sregs.cr4 = b->cr4;
	sregs.efer = b->efer;
	/* SREGS first: the mode decides how KVM takes RIP and RFLAGS. */
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0) {
		log_warn("kvm: vCPU %u: KVM_SET_SREGS", v->id);
		return -EINVAL;
	}
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0) {
		log_warn("kvm: vCPU %u: KVM_SET_REGS", v->id);
		return -EINVAL;
	}
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0) {
		log_warn("kvm: vCPU %u: KVM_SET_MP_STATE", v->id);
		return -EINVAL;
	}
	return 0;
}

/*
 * PVH entry state: 32-bit flat protected mode, paging off, EBX pointing at
 * hvm_start_info (Xen's docs/misc/pvh.pandoc).
 */
static int kvm_vcpu_set_pvh_entry(struct vcpu *v)
{
	struct domain *d = v->dom;
	struct kvm_boot_regs b;

	memset(&b, 0, sizeof(b));
	kvm_flat_segment(&b.cs, 0x10, 0xb);
	kvm_flat_segment(&b.ds, 0x18, 0x3);
	b.es = b.ds;
	b.ss = b.ds;
	b.fs = b.ds;
	b.gs = b.ds;
	b.tr.type = 0xb;
	b.tr.limit = 0x67;
	b.tr.present = 1;
	b.cr0 = 0x11;
	b.regs.rip = d->entry;
	b.regs.rbx = d->start_info_gpa;
	b.regs.rflags = 2;
	return kvm_vcpu_set_boot_regs(v, &b);
}

int kvm_vcpu_create(struct domain *d, unsigned int id)
{
	struct vcpu *v = &d->vcpus[id];
	int mmap_size;

	v->dom = d;
	v->id = id;
	v->fd = ioctl(d->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		log_err("kvm: KVM_CREATE_VCPU %u", id);
		return -errno;
	}
	mmap_size = ioctl(d->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run)) {
		log_err("kvm: KVM_GET_VCPU_MMAP_SIZE");
		return -EINVAL;
	}
	v->run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		log_err("kvm: vCPU %u: mmap of the run area", id);
		return -errno;
	}
	v->run_size = (size_t)mmap_size;
	/* CPUID first: KVM checks CPUID.LM when the guest sets EFER.LME. */
	cpuid_set_vcpu_id(d->cpuid, id);
	if (ioctl(v->fd, KVM_SET_CPUID2, d->cpuid) < 0) {
		log_err("kvm: vCPU %u: KVM_SET_CPUID2", id);
		return -errno;
	}
	/* Hyper-V's MSRs refused, the hypercall MSR ours: see above. */
	if (d->kvm_hv_enforce &&
	    ioctl(v->fd, KVM_ENABLE_CAP,
		  &(struct kvm_enable_cap){
		      .cap = KVM_CAP_HYPERV_ENFORCE_CPUID, .args[0] = 1}) < 0) {
		log_err("kvm: vCPU %u: KVM_ENABLE_CAP(HYPERV_ENFORCE_CPUID)",
			id);
		return -errno;
	}
	/* Registers come with every exit: no GET/SET ioctl per hypercall. */
	v->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
	if (id == 0)
		return kvm_vcpu_set_pvh_entry(v);
	return 0;
}

void kvm_vcpu_dump(struct vcpu *v)
{
	struct kvm_sregs s;
	struct kvm_regs r;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_err("kvm: vCPU %u: cannot read registers", v->id);
		return;
	}
	log_errx("vCPU %u: rip %016llx rsp %016llx rflags %016llx", v->id,
		 r.rip, r.rsp, r.rflags);
	log_errx("vCPU %u: rax %016llx rbx %016llx rcx %016llx rdx %016llx",
		 v->id, r.rax, r.rbx, r.rcx, r.rdx);
	log_errx("vCPU %u: rsi %016llx rdi %016llx rbp %016llx r8  %016llx",
		 v->id, r.rsi, r.rdi, r.rbp, r.r8);
	log_errx("vCPU %u: r9  %016llx r10 %016llx r11 %016llx r12 %016llx",
		 v->id, r.r9, r.r10, r.r11, r.r12);
	log_errx("vCPU %u: r13 %016llx r14 %016llx r15 %016llx", v->id,
		 r.r13, r.r14, r.r15);
	log_errx("vCPU %u: cr0 %016llx cr2 %016llx cr3 %016llx cr4 %016llx "
		 "efer %llx",
		 v->id, s.cr0, s.cr2, s.cr3, s.cr4, s.efer);
	log_errx("vCPU %u: cs %04x base %llx l %u db %u dpl %u; ss %04x; "
		 "idt %llx+%x gdt %llx+%x",
		 v->id, s.cs.selector, s.cs.base, s.cs.l, s.cs.db, s.cs.dpl,
		 s.ss.selector, s.idt.base, s.idt.limit, s.gdt.base,
		 s.gdt.limit);
}

void kvm_destroy(struct domain *d)
{
	unsigned int i;

	for (i = 0; i < VMM_MAX_VCPUS; i++) {
		struct vcpu *v = &d->vcpus[i];

		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd >= 0)
			close(v->fd);
		v->run = NULL;
		v->fd = -1;
	}
	if (d->vm_fd >= 0)
		close(d->vm_fd);
	if (d->kvm_fd >= 0)
		close(d->kvm_fd);
	d->vm_fd = -1;
	d->kvm_fd = -1;
	free(d->cpuid);
	d->cpuid = NULL;
}
