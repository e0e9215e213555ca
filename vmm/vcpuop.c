/* SPDX-License-Identifier: MIT */
/*
 * vcpu_op's life-cycle ops: VCPUOP_initialise (the HVM/PVH form, a
 * vcpu_hvm_context), VCPUOP_up, VCPUOP_down and VCPUOP_is_up.
 *
 * The context is translated to KVM registers as Xen's
 * arch_set_info_hvm_guest does: in 32-bit mode the guest gives CS, DS,
 * SS, ES and TR (base, limit, attributes), in 64-bit mode the segments are
 * flat ones of ours (selector 0, as on Xen: the guest loads its own GDT).
 * Everything is checked first and refused with -EINVAL, including what
 * Xen leaves to the hardware's VM-entry checks (a CR0/CR4/EFER mix that is
 * not a valid mode, a G-scaled limit with low bits clear): a guest cannot
 * make KVM refuse the state or fail the entry.  FS and GS, which the
 * context does not carry, become copies of DS.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hypercall.h"
#include "kvm.h"
#include "log.h"
#include "mem.h"
#include "vcpu.h"
#include "xen.h"

#define X86_CR0_PE (1ull << 0)
#define X86_CR0_NW (1ull << 29)
#define X86_CR0_CD (1ull << 30)
#define X86_CR0_PG (1ull << 31)
/* PE MP EM TS ET NE, WP, AM, NW CD PG. */
#define X86_CR0_VALID 0xe005003full

#define X86_CR4_PAE (1ull << 5)
/*
 * VME PVI TSD DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT, FSGSBASE PCIDE
 * OSXSAVE, SMEP SMAP: the bits a guest may ask for; KVM refuses (and we
 * answer -EINVAL) any its CPUID does not back.
 */
#define X86_CR4_VALID (0x7ffull | 1ull << 16 | 1ull << 17 | 1ull << 18 |  \
		       1ull << 20 | 1ull << 21)

#define X86_EFER_SCE (1ull << 0)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_EFER_NXE (1ull << 11)
#define X86_EFER_VALID                                                         \
	(X86_EFER_SCE | X86_EFER_LME | X86_EFER_LMA | X86_EFER_NXE)

/* CF PF AF ZF SF TF IF DF OF IOPL NT RF VM AC VIF VIP ID; bit 1 is 1. */
#define X86_EFLAGS_ALL 0x3f7fd5ull
#define X86_EFLAGS_MBS 0x2ull
#define X86_EFLAGS_VM (1ull << 17)

/* The _ar layout of hvm_vcpu.h: type, s, dpl, p, avl, l, db, g. */
#define AR_TYPE(ar) (((ar) >> 0) & 0xf)
#define AR_S(ar) (((ar) >> 4) & 1)
#define AR_DPL(ar) (((ar) >> 5) & 3)
#define AR_P(ar) (((ar) >> 7) & 1)
#define AR_AVL(ar) (((ar) >> 8) & 1)
#define AR_L(ar) (((ar) >> 9) & 1)
#define AR_DB(ar) (((ar) >> 10) & 1)
#define AR_G(ar) (((ar) >> 11) & 1)
#define AR_PAD 0xf000u

#define SEG_TYPE_CODE 0x8
#define SEG_TYPE_WRITE 0x2 /* data: writable; code: readable */
#define SEG_TYPE_ACCESSED 0x1
#define SEG_TYPE_TSS_BUSY_BIT 0x2
#define SEG_TYPE_TSS32_BUSY 0xb

enum vcpuop_seg { SEG_CS, SEG_DS, SEG_SS, SEG_ES, SEG_TR };

static struct log_ratelimit vcpuop_rl = LOG_RATELIMIT_INIT;

/* One refused context: a reason in the log, -EINVAL to the guest. */
static int vcpuop_refuse(unsigned int id, const char *why)
{
	log_warnx_rl(&vcpuop_rl, "vcpu_op: initialise vCPU %u: %s: -EINVAL", id,
		     why);
	return -EINVAL;
}

/*
 * A 32-bit-mode segment from the guest's base/limit/attributes, checked
 * as Xen checks it (null only for DS and ES, TR a busy 32-bit TSS, CS
 * code, SS writable data, DS/ES readable), plus the limit/G consistency
 * VM entry demands.
 */
static int vcpuop_segment(struct kvm_segment *s, enum vcpuop_seg seg,
			  uint32_t base, uint32_t limit, uint16_t ar)
{
	unsigned int type = AR_TYPE(ar);

	memset(s, 0, sizeof(*s));
	if (ar & AR_PAD)
		return -EINVAL;
	if (ar == 0) {
		if (seg != SEG_DS && seg != SEG_ES)
			return -EINVAL;
		s->unusable = 1;
		return 0;
	}
	/* Present segments are used: Xen sets accessed, or busy for TR. */
	if (AR_P(ar))
		type |=
		    seg == SEG_TR ? SEG_TYPE_TSS_BUSY_BIT : SEG_TYPE_ACCESSED;
	if (seg == SEG_TR) {
		if (AR_S(ar) || type != SEG_TYPE_TSS32_BUSY)
			return -EINVAL;
	} else if (!AR_S(ar)) {
		return -EINVAL;
	}
	if (!AR_P(ar))
		return -EINVAL;
	switch (seg) {
	case SEG_CS:
		if (!(type & SEG_TYPE_CODE))
			return -EINVAL;
		break;
	case SEG_SS:
		if ((type & SEG_TYPE_CODE) || !(type & SEG_TYPE_WRITE))
			return -EINVAL;
		break;
	case SEG_DS:
	case SEG_ES:
		if ((type & SEG_TYPE_CODE) && !(type & SEG_TYPE_WRITE))
			return -EINVAL;
		break;
	default:
		break;
	}
	if (AR_G(ar) ? (limit & 0xfff) != 0xfff : limit > 0xfffff)
		return -EINVAL;
	s->base = base;
	s->limit = limit;
	s->selector = 0;
	s->type = (uint8_t)type;
	s->s = AR_S(ar);
	s->dpl = AR_DPL(ar);
	s->present = 1;
	s->avl = AR_AVL(ar);
	s->l = AR_L(ar);
	s->db = AR_DB(ar);
	s->g = AR_G(ar);
	return 0;
}

static int vcpuop_load_32(unsigned int id, const struct vcpu_hvm_x86_32 *c,
			  struct kvm_boot_regs *b)
{
	static const char *const names[] = {"CS", "DS", "SS", "ES", "TR"};
	const struct {
		struct kvm_segment *to;
		uint32_t base, limit;
		uint16_t ar;
	} segs[] = {
	    [SEG_CS] = {&b->cs, c->cs_base, c->cs_limit, c->cs_ar},
	    [SEG_DS] = {&b->ds, c->ds_base, c->ds_limit, c->ds_ar},
	    [SEG_SS] = {&b->ss, c->ss_base, c->ss_limit, c->ss_ar},
	    [SEG_ES] = {&b->es, c->es_base, c->es_limit, c->es_ar},
	    [SEG_TR] = {&b->tr, c->tr_base, c->tr_limit, c->tr_ar},
	};
	char why[32];
	uint32_t limit;
	unsigned int i;

	if (c->pad1 || c->pad2[0] || c->pad2[1] || c->pad2[2])
		return vcpuop_refuse(id, "padding not zero");
	for (i = SEG_CS; i <= SEG_TR; i++) {
		if (vcpuop_segment(segs[i].to, (enum vcpuop_seg)i, segs[i].base,
				   segs[i].limit, segs[i].ar) < 0) {
			snprintf(why, sizeof(why), "bad %s", names[i]);
			return vcpuop_refuse(id, why);
		}
	}
	/* Xen's check, G-scaled; the limit itself is in bytes. */
	limit = b->cs.g ? (c->cs_limit << 12) | 0xfff : c->cs_limit;
	if (c->eip > limit)
		return vcpuop_refuse(id, "EIP outside CS");
	if (b->ss.dpl != b->cs.dpl)
		return vcpuop_refuse(id, "SS.DPL differs from CS.DPL");
	if ((b->ds.present && b->ds.dpl > b->cs.dpl) ||
	    (b->es.present && b->es.dpl > b->cs.dpl))
		return vcpuop_refuse(id, "DS/ES.DPL above CS.DPL");
	b->fs = b->ds;
	b->gs = b->ds;
	b->cr0 = c->cr0;
	b->cr3 = c->cr3;
	b->cr4 = c->cr4;
	b->efer = c->efer;
	b->regs.rax = c->eax;
	b->regs.rcx = c->ecx;
	b->regs.rdx = c->edx;
	b->regs.rbx = c->ebx;
	b->regs.rsp = c->esp;
	b->regs.rbp = c->ebp;
	b->regs.rsi = c->esi;
	b->regs.rdi = c->edi;
	b->regs.rip = c->eip;
	b->regs.rflags = (c->eflags & X86_EFLAGS_ALL) | X86_EFLAGS_MBS;
	return 0;
}

static bool vcpuop_canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

static int vcpuop_load_64(unsigned int id, const struct vcpu_hvm_x86_64 *c,
			  struct kvm_boot_regs *b)
{
	struct kvm_segment data = {
	    .limit = 0xffffffff,
	    .type = 0x3,
	    .s = 1,
	    .present = 1,
	    .db = 1,
	    .g = 1,
	};
	struct kvm_segment code = {
	    .limit = 0xffffffff,
	    .type = 0xb,
	    .s = 1,
	    .present = 1,
	    .l = 1,
	    .g = 1,
	};
	struct kvm_segment tss = {
	    .limit = 0x67,
	    .type = SEG_TYPE_TSS32_BUSY,
	    .present = 1,
	};

	if (!vcpuop_canonical(c->rip))
		return vcpuop_refuse(id, "RIP not canonical");
	if (!(c->cr0 & X86_CR0_PG))
		return vcpuop_refuse(id, "CR0.PG clear");
	if (!(c->cr4 & X86_CR4_PAE))
		return vcpuop_refuse(id, "CR4.PAE clear");
	if (!(c->efer & X86_EFER_LME))
		return vcpuop_refuse(id, "EFER.LME clear");
	b->cs = code;
	b->ds = data;
	b->es = data;
	b->ss = data;
	b->fs = data;
	b->gs = data;
	b->tr = tss;
	b->cr0 = c->cr0;
	b->cr3 = c->cr3;
	b->cr4 = c->cr4;
	b->efer = c->efer;
	b->regs.rax = c->rax;
	b->regs.rcx = c->rcx;
	b->regs.rdx = c->rdx;
	b->regs.rbx = c->rbx;
	b->regs.rsp = c->rsp;
	b->regs.rbp = c->rbp;
	b->regs.rsi = c->rsi;
	b->regs.rdi = c->rdi;
	b->regs.rip = c->rip;
	b->regs.rflags = (c->rflags & X86_EFLAGS_ALL) | X86_EFLAGS_MBS;
	return 0;
}

/*
 * The mode of either context: valid control register bits only, a
 * consistent paging mode, a page-table root inside RAM, no virtual-8086.
 * LMA follows from LME and PG (Xen sets it from LME alone, which VM entry
 * then refuses without PG).
 */
static int vcpuop_check_mode(struct domain *d, unsigned int id,
			     struct kvm_boot_regs *b)
{
	uint64_t root;

	if (b->cr0 & ~X86_CR0_VALID)
		return vcpuop_refuse(id, "reserved CR0 bits");
	if (!(b->cr0 & X86_CR0_PE))
		return vcpuop_refuse(id, "CR0.PE clear");
	if ((b->cr0 & X86_CR0_NW) && !(b->cr0 & X86_CR0_CD))
		return vcpuop_refuse(id, "CR0.NW without CD");
	if (b->cr4 & ~X86_CR4_VALID)
		return vcpuop_refuse(id, "reserved CR4 bits");
	if (b->efer & ~X86_EFER_VALID)
		return vcpuop_refuse(id, "reserved EFER bits");
	if ((b->efer & X86_EFER_LMA) && !(b->efer & X86_EFER_LME))
		return vcpuop_refuse(id, "EFER.LMA without LME");
	b->efer &= ~X86_EFER_LMA;
	if ((b->efer & X86_EFER_LME) && (b->cr0 & X86_CR0_PG)) {
		if (!(b->cr4 & X86_CR4_PAE))
			return vcpuop_refuse(id, "long mode without PAE");
		b->efer |= X86_EFER_LMA;
	}
	if (b->cs.l && (!(b->efer & X86_EFER_LMA) || b->cs.db))
		return vcpuop_refuse(id, "CS.L outside long mode, or with D");
	if (b->regs.rflags & X86_EFLAGS_VM)
		return vcpuop_refuse(id, "virtual-8086 mode");
	if (!(b->cr0 & X86_CR0_PG))
		return 0;
	/* A 4 KiB root in long mode; a 32-byte PDPT or 4 KiB PD else. */
	root = b->cr3 & VMM_PAGE_MASK;
	if ((b->efer & X86_EFER_LMA) ? b->cr3 >> 52 : b->cr3 >> 32)
		return vcpuop_refuse(id, "reserved CR3 bits");
	if (!mem_gpa_ptr(d, root, VMM_PAGE_SIZE))
		return vcpuop_refuse(id, "CR3 outside RAM");
	return 0;
}

static int vcpuop_context(struct domain *d, unsigned int id,
			  const struct vcpu_hvm_context *ctx,
			  struct kvm_boot_regs *b)
{
	int rc;

	memset(b, 0, sizeof(*b));
	if (ctx->pad)
		return vcpuop_refuse(id, "padding not zero");
	switch (ctx->mode) {
	case VCPU_HVM_MODE_32B:
		rc = vcpuop_load_32(id, &ctx->cpu_regs.x86_32, b);
		break;
	case VCPU_HVM_MODE_64B:
		rc = vcpuop_load_64(id, &ctx->cpu_regs.x86_64, b);
		break;
	default:
		return vcpuop_refuse(id, "unknown mode");
	}
	if (rc < 0)
		return rc;
	return vcpuop_check_mode(d, id, b);
}

long vcpuop_initialise(struct vcpu *v, unsigned int id, uint64_t arg)
{
	struct domain *d = v->dom;
	struct vcpu *target = &d->vcpus[id];
	struct vcpu_hvm_context ctx;
	struct kvm_boot_regs b;
	int rc;

	/* Xen's order: the copy, then "initialised already", then checks. */
	if (mem_copy_from_guest(v, &ctx, arg, sizeof(ctx)) < 0)
		return -XEN_EFAULT;
	if (vcpu_load_begin(target) < 0)
		return -XEN_EEXIST;
	rc = vcpuop_context(d, id, &ctx, &b);
	if (rc == 0)
		rc = kvm_vcpu_set_boot_regs(target, &b);
	vcpu_load_end(target, rc == 0);
	if (rc < 0)
		return -XEN_EINVAL;
	log_debug("vcpu_op: vCPU %u initialised by vCPU %u: %s-bit, "
		  "rip 0x%llx",
		  id, v->id, ctx.mode == VCPU_HVM_MODE_64B ? "64" : "32",
		  (unsigned long long)b.regs.rip);
	return 0;
}

long vcpuop_up(struct vcpu *v, unsigned int id)
{
	int rc = vcpu_up(&v->dom->vcpus[id]);

	if (rc == -EINVAL)
		return -XEN_EINVAL;
	return rc < 0 ? -XEN_ENOMEM : 0;
}

long vcpuop_down(struct vcpu *v, unsigned int id)
{
	return vcpu_down(&v->dom->vcpus[id]) < 0 ? -XEN_EINVAL : 0;
}

long vcpuop_is_up(struct vcpu *v, unsigned int id)
{
	return vcpu_is_up(&v->dom->vcpus[id]) ? 1 : 0;
}
