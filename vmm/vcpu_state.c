/* SPDX-License-Identifier: MIT */
/*
 * KVM's part of a domain's state: per vCPU the registers, FPU/XSAVE area,
 * XCRs, LAPIC, MSRs, MP state, pending events and debug registers (one
 * CPU1 section each), and per VM the in-kernel PIC and IOAPIC and the
 * kvmclock (one KVM1 section).  The structures are KVM's uapi ones, which
 * are stable, so a payload is those structures back to back.
 *
 * Save runs with every vCPU out of KVM_RUN.  Load runs on a freshly built
 * domain before any vCPU has run; it checks sizes, ids and the MSR list
 * (only MSRs KVM names in KVM_GET_MSR_INDEX_LIST may be set) and hands
 * the rest to KVM, which validates register contents itself.
 */
#include "vcpu_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "log.h"

/* KVM reports ~40 MSRs on x86 hosts; this leaves room for more. */
#define VCPU_STATE_MAX_MSRS 256

#define VCPU_STATE_HAS_XSAVE 1u

struct vcpu_state_image {
	uint32_t id;
	uint32_t run_state; /* enum vcpu_state */
	uint32_t flags;	    /* VCPU_STATE_HAS_XSAVE: xsave, else fpu */
	uint32_t nr_msrs;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_mp_state mp_state;
	struct kvm_vcpu_events events;
	struct kvm_debugregs debugregs;
	struct kvm_xsave xsave; /* last: its uapi type ends in extra[] */
	/* then nr_msrs struct kvm_msr_entry */
};

struct vm_state_image {
	struct kvm_irqchip pic_master;
	struct kvm_irqchip pic_slave;
	struct kvm_irqchip ioapic;
	struct kvm_clock_data clock;
};

struct msr_list {
	uint32_t n;
	uint32_t index[VCPU_STATE_MAX_MSRS];
};

static int vcpu_state_msr_index_list(struct domain *d, struct msr_list *l)
{
	struct kvm_msr_list *kl;
	int rc = 0;

	kl = calloc(1, sizeof(*kl) + VCPU_STATE_MAX_MSRS * sizeof(uint32_t));
	if (!kl)
		return -ENOMEM;
	kl->nmsrs = VCPU_STATE_MAX_MSRS;
	if (ioctl(d->kvm_fd, KVM_GET_MSR_INDEX_LIST, kl) < 0) {
		rc = -errno;
		log_err("vcpu_state: KVM_GET_MSR_INDEX_LIST");
		goto out;
	}
	l->n = kl->nmsrs;
	memcpy(l->index, kl->indices, l->n * sizeof(uint32_t));
out:
	free(kl);
	return rc;
}

static bool vcpu_state_msr_known(const struct msr_list *l, uint32_t index)
{
	uint32_t i;

	for (i = 0; i < l->n; i++)
		if (l->index[i] == index)
			return true;
	return false;
}

/*
 * The MSRs to carry: those of KVM_GET_MSR_INDEX_LIST that this vCPU can
 * actually read (KVM_GET_MSRS stops at the first it cannot), tried one by
 * one.  About 40 ioctls, once per save.
 */
static int vcpu_state_readable_msrs(struct vcpu *v, struct msr_list *l)
{
	/* A struct kvm_msrs with room for one entry. */
	union {
		struct kvm_msrs hdr;
		uint8_t bytes[sizeof(struct kvm_msrs) +
			      sizeof(struct kvm_msr_entry)];
	} one;
	struct msr_list all;
	uint32_t i;
	int rc;

	rc = vcpu_state_msr_index_list(v->dom, &all);
	if (rc < 0)
		return rc;
	l->n = 0;
	for (i = 0; i < all.n; i++) {
		memset(&one, 0, sizeof(one));
		one.hdr.nmsrs = 1;
		one.hdr.entries[0].index = all.index[i];
		if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
			l->index[l->n++] = all.index[i];
	}
	return 0;
}

/* One vCPU ioctl that reads or writes state; logs which one failed. */
static int vcpu_state_ioctl(struct vcpu *v, unsigned long req, void *arg,
			    const char *name)
{
	if (ioctl(v->fd, req, arg) < 0) {
		int rc = -errno;

		log_err("vcpu_state: vCPU %u: %s", v->id, name);
		return rc;
	}
	return 0;
}

#define VCPU_STATE_IOCTL(v, req, arg) vcpu_state_ioctl(v, req, arg, #req)

int vcpu_state_save(struct vcpu *v, struct buf *out)
{
	struct vcpu_state_image *img = NULL;
	struct kvm_msrs *msrs = NULL;
	struct msr_list *l = NULL;
	uint8_t *payload = NULL;
	size_t msr_bytes;
	uint32_t i;
	int rc;

	img = calloc(1, sizeof(*img));
	l = calloc(1, sizeof(*l));
	msrs = calloc(1, sizeof(*msrs) + VCPU_STATE_MAX_MSRS *
					     sizeof(msrs->entries[0]));
	if (!img || !l || !msrs) {
		rc = -ENOMEM;
		goto out;
	}
	img->id = v->id;
	pthread_mutex_lock(&v->dom->lock);
	img->run_state = (uint32_t)v->state;
	pthread_mutex_unlock(&v->dom->lock);
	if ((rc = VCPU_STATE_IOCTL(v, KVM_GET_REGS, &img->regs)) < 0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_GET_SREGS, &img->sregs)) < 0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_GET_LAPIC, &img->lapic)) < 0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_GET_MP_STATE, &img->mp_state)) < 0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_GET_VCPU_EVENTS, &img->events)) < 0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_GET_DEBUGREGS, &img->debugregs)) < 0)
		goto out;
	if (ioctl(v->dom->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0) {
		img->flags |= VCPU_STATE_HAS_XSAVE;
		rc = VCPU_STATE_IOCTL(v, KVM_GET_XSAVE, &img->xsave);
	} else {
		rc = VCPU_STATE_IOCTL(v, KVM_GET_FPU, &img->fpu);
	}
	if (rc < 0)
		goto out;
	if (ioctl(v->dom->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0 &&
	    (rc = VCPU_STATE_IOCTL(v, KVM_GET_XCRS, &img->xcrs)) < 0)
		goto out;
	rc = vcpu_state_readable_msrs(v, l);
	if (rc < 0)
		goto out;
	msrs->nmsrs = l->n;
	for (i = 0; i < l->n; i++)
		msrs->entries[i].index = l->index[i];
	if (ioctl(v->fd, KVM_GET_MSRS, msrs) != (int)l->n) {
		rc = -EIO;
		log_errx("vcpu_state: vCPU %u: KVM_GET_MSRS read fewer MSRs "
			 "than it listed",
			 v->id);
		goto out;
	}
	img->nr_msrs = l->n;
	msr_bytes = l->n * sizeof(msrs->entries[0]);
	payload = malloc(sizeof(*img) + msr_bytes);
	if (!payload) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(payload, img, sizeof(*img));
	memcpy(payload + sizeof(*img), msrs->entries, msr_bytes);
	rc = state_put_section(out, STATE_TAG_CPU, 1, payload,
			       sizeof(*img) + msr_bytes);
out:
	free(payload);
	free(img);
	free(l);
	free(msrs);
	return rc;
}

int vcpu_state_load(struct domain *d, uint32_t version,
		    struct state_reader *payload)
{
	struct vcpu_state_image *img = NULL;
	struct kvm_msrs *msrs = NULL;
	struct msr_list *known = NULL;
	struct vcpu *v;
	uint32_t i;
	int rc = -EINVAL;

	img = calloc(1, sizeof(*img));
	known = calloc(1, sizeof(*known));
	msrs = calloc(1, sizeof(*msrs) + VCPU_STATE_MAX_MSRS *
					     sizeof(msrs->entries[0]));
	if (!img || !known || !msrs) {
		rc = -ENOMEM;
		goto out;
	}
	if (version != 1) {
		log_errx("vcpu_state: CPU section version %u, expected 1",
			 version);
		goto out;
	}
	if (state_read(payload, img, sizeof(*img)) < 0 ||
	    img->nr_msrs > VCPU_STATE_MAX_MSRS ||
	    state_read(payload, msrs->entries,
		       img->nr_msrs * sizeof(msrs->entries[0])) < 0 ||
	    payload->off != payload->len) {
		log_errx("vcpu_state: CPU section of the wrong size");
		goto out;
	}
	if (img->id >= d->nr_vcpus) {
		log_errx("vcpu_state: state for vCPU %u, the domain has %u",
			 img->id, d->nr_vcpus);
		goto out;
	}
	if (img->run_state != VCPU_STOPPED && img->run_state != VCPU_DOWN &&
	    img->run_state != VCPU_RUNNING) {
		log_errx("vcpu_state: vCPU %u: bad run state %u", img->id,
			 img->run_state);
		goto out;
	}
	v = &d->vcpus[img->id];
	rc = vcpu_state_msr_index_list(d, known);
	if (rc < 0)
		goto out;
	for (i = 0; i < img->nr_msrs; i++) {
		if (!vcpu_state_msr_known(known, msrs->entries[i].index)) {
			log_errx("vcpu_state: vCPU %u: MSR 0x%x is not one "
				 "KVM saves",
				 img->id, msrs->entries[i].index);
			rc = -EINVAL;
			goto out;
		}
	}
	msrs->nmsrs = img->nr_msrs;
	/*
	 * Order as KVM wants it: SREGS before REGS (mode), MSRs before the
	 * LAPIC (APIC base), events last.
	 */
	if ((rc = VCPU_STATE_IOCTL(v, KVM_SET_SREGS, &img->sregs)) < 0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_SET_REGS, &img->regs)) < 0)
		goto out;
	if (img->flags & VCPU_STATE_HAS_XSAVE)
		rc = VCPU_STATE_IOCTL(v, KVM_SET_XSAVE, &img->xsave);
	else
		rc = VCPU_STATE_IOCTL(v, KVM_SET_FPU, &img->fpu);
	if (rc < 0)
		goto out;
	if (ioctl(d->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0 &&
	    img->xcrs.nr_xcrs &&
	    (rc = VCPU_STATE_IOCTL(v, KVM_SET_XCRS, &img->xcrs)) < 0)
		goto out;
	if (ioctl(v->fd, KVM_SET_MSRS, msrs) != (int)img->nr_msrs) {
		log_errx("vcpu_state: vCPU %u: KVM refused an MSR value",
			 img->id);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = VCPU_STATE_IOCTL(v, KVM_SET_LAPIC, &img->lapic)) < 0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_SET_MP_STATE, &img->mp_state)) < 0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_SET_DEBUGREGS, &img->debugregs)) <
		0 ||
	    (rc = VCPU_STATE_IOCTL(v, KVM_SET_VCPU_EVENTS, &img->events)) < 0)
		goto out;
	/* Down until domain_state_resume() brings the running ones up. */
	pthread_mutex_lock(&d->lock);
	v->state = img->run_state == VCPU_STOPPED ? VCPU_STOPPED : VCPU_DOWN;
	v->restore_up = img->run_state == VCPU_RUNNING;
	pthread_mutex_unlock(&d->lock);
	rc = 0;
out:
	free(img);
	free(known);
	free(msrs);
	return rc;
}

static int vm_state_ioctl(struct domain *d, unsigned long req, void *arg,
			  const char *name)
{
	if (ioctl(d->vm_fd, req, arg) < 0) {
		int rc = -errno;

		log_err("vcpu_state: %s", name);
		return rc;
	}
	return 0;
}

#define VM_STATE_IOCTL(d, req, arg) vm_state_ioctl(d, req, arg, #req)

int vm_state_save(struct domain *d, struct buf *out)
{
	struct vm_state_image img;
	int rc;

	memset(&img, 0, sizeof(img));
	img.pic_master.chip_id = KVM_IRQCHIP_PIC_MASTER;
	img.pic_slave.chip_id = KVM_IRQCHIP_PIC_SLAVE;
	img.ioapic.chip_id = KVM_IRQCHIP_IOAPIC;
	if ((rc = VM_STATE_IOCTL(d, KVM_GET_IRQCHIP, &img.pic_master)) < 0 ||
	    (rc = VM_STATE_IOCTL(d, KVM_GET_IRQCHIP, &img.pic_slave)) < 0 ||
	    (rc = VM_STATE_IOCTL(d, KVM_GET_IRQCHIP, &img.ioapic)) < 0 ||
	    (rc = VM_STATE_IOCTL(d, KVM_GET_CLOCK, &img.clock)) < 0)
		return rc;
	return state_put_section(out, STATE_TAG_KVM, 1, &img, sizeof(img));
}

int vm_state_load(struct domain *d, uint32_t version,
		  struct state_reader *payload)
{
	struct vm_state_image img;
	struct kvm_clock_data clock;
	int rc;

	if (version != 1 || state_read(payload, &img, sizeof(img)) < 0 ||
	    payload->off != payload->len) {
		log_errx("vcpu_state: KVM1 section: bad version or size");
		return -EINVAL;
	}
	if (img.pic_master.chip_id != KVM_IRQCHIP_PIC_MASTER ||
	    img.pic_slave.chip_id != KVM_IRQCHIP_PIC_SLAVE ||
	    img.ioapic.chip_id != KVM_IRQCHIP_IOAPIC) {
		log_errx("vcpu_state: KVM1 section: bad irqchip ids");
		return -EINVAL;
	}
	/* Only the clock value travels; KVM rejects unknown flags. */
	memset(&clock, 0, sizeof(clock));
	clock.clock = img.clock.clock;
	if ((rc = VM_STATE_IOCTL(d, KVM_SET_IRQCHIP, &img.pic_master)) < 0 ||
	    (rc = VM_STATE_IOCTL(d, KVM_SET_IRQCHIP, &img.pic_slave)) < 0 ||
	    (rc = VM_STATE_IOCTL(d, KVM_SET_IRQCHIP, &img.ioapic)) < 0 ||
	    (rc = VM_STATE_IOCTL(d, KVM_SET_CLOCK, &clock)) < 0)
		return rc;
	return 0;
}
