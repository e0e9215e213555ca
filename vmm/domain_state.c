/* SPDX-License-Identifier: MIT */
#include "domain_state.h"

#include <errno.h>
#include <string.h>

#include "balloon.h"
#include "gnttab.h"
#include "log.h"
#include "state.h"
#include "vcpu.h"
#include "vcpu_state.h"
#include "xenstate.h"

struct domain_state_image {
	uint64_t ram_size;
	uint32_t nr_vcpus;
	uint16_t domid;
	uint16_t pad;
};

int domain_state_save(struct domain *d, struct buf *out)
{
	struct domain_state_image h = {
		.ram_size = d->ram_size,
		.nr_vcpus = d->nr_vcpus,
		.domid = d->xen.domid,
	};
	unsigned int i;
	int rc;

	rc = state_put_section(out, STATE_TAG_DOM, 1, &h, sizeof(h));
	if (rc == 0)
		rc = xen_state_save(d, out);
	if (rc == 0)
		rc = gnttab_save(d, out);
	if (rc == 0)
		rc = balloon_save(d, out);
	if (rc == 0)
		rc = vm_state_save(d, out);
	for (i = 0; rc == 0 && i < d->nr_vcpus; i++)
		rc = vcpu_state_save(&d->vcpus[i], out);
	return rc;
}

/*
 * First pass: the framing holds, every tag is known, the image is of a
 * domain shaped like d, and nothing is missing or doubled.
 */
static int domain_state_check(struct domain *d, struct state_reader image)
{
	struct domain_state_image h;
	struct state_section_hdr hdr;
	struct state_reader r;
	unsigned int nr_dom = 0, nr_gnt = 0, nr_kvm = 0, nr_cpu = 0;
	int more;

	while ((more = state_next_section(&image, &hdr, &r)) > 0) {
		switch (hdr.tag) {
		case STATE_TAG_DOM:
			if (nr_dom++ || hdr.version != 1 ||
			    state_read(&r, &h, sizeof(h)) < 0 ||
			    r.off != r.len) {
				log_errx("domain_state: bad DOM1 section");
				return -EINVAL;
			}
			if (h.ram_size != d->ram_size ||
			    h.nr_vcpus != d->nr_vcpus) {
				log_errx("domain_state: the image is of a "
					 "domain with %llu MiB and %u vCPUs, "
					 "this one has %llu MiB and %u",
					 (unsigned long long)(h.ram_size >> 20),
					 h.nr_vcpus,
					 (unsigned long long)(d->ram_size >>
							      20),
					 d->nr_vcpus);
				return -EINVAL;
			}
			break;
		case STATE_TAG_GNT:
			nr_gnt++;
			break;
		case STATE_TAG_KVM:
			nr_kvm++;
			break;
		case STATE_TAG_CPU:
			nr_cpu++;
			break;
		case STATE_TAG_XEN:
		case STATE_TAG_EVT:
		case STATE_TAG_XVC:
		case STATE_TAG_BAL:
			break; /* xen_state_load, balloon_load check theirs */
		default:
			log_errx("domain_state: unknown section 0x%08x",
				 hdr.tag);
			return -EINVAL;
		}
	}
	if (more < 0) {
		log_errx("domain_state: a section runs past the end");
		return -EINVAL;
	}
	if (nr_dom != 1 || nr_gnt != 1 || nr_kvm != 1 ||
	    nr_cpu != d->nr_vcpus) {
		log_errx("domain_state: the image lacks or repeats a section");
		return -EINVAL;
	}
	return 0;
}

int domain_state_load(struct domain *d, const void *image, size_t len)
{
	struct state_reader all = {.p = image, .len = len};
	struct state_reader it = all, r;
	struct state_section_hdr hdr;
	bool seen[XEN_STATE_MAX_VCPUS] = {false};
	uint32_t id;
	int rc, more;

	for (id = 0; id < d->nr_vcpus; id++) {
		if (__atomic_load_n(&d->vcpus[id].thread_started,
				    __ATOMIC_ACQUIRE)) {
			log_errx("domain_state: the domain has run already");
			return -EBUSY;
		}
	}
	rc = domain_state_check(d, all);
	if (rc == 0)
		rc = xen_state_load(d, all);
	while (rc == 0 && (more = state_next_section(&it, &hdr, &r)) > 0) {
		switch (hdr.tag) {
		case STATE_TAG_GNT:
			rc = gnttab_load(d, hdr.version, &r);
			break;
		case STATE_TAG_KVM:
			rc = vm_state_load(d, hdr.version, &r);
			break;
		case STATE_TAG_CPU:
			/* The id leads the payload: refuse doubles. */
			if (r.len < sizeof(id) ||
			    (memcpy(&id, r.p, sizeof(id)), id >= d->nr_vcpus) ||
			    seen[id]) {
				log_errx("domain_state: CPU1 sections do not "
					 "name each vCPU once");
				rc = -EINVAL;
				break;
			}
			seen[id] = true;
			rc = vcpu_state_load(d, hdr.version, &r);
			break;
		default:
			break;
		}
	}
	/* Last: it checks its pages against the placements loaded above. */
	if (rc == 0)
		rc = balloon_load(d, all);
	if (rc == 0) {
		/* Nothing would ever run, and nothing would end it. */
		for (id = 0; id < d->nr_vcpus; id++)
			if (d->vcpus[id].restore_up)
				break;
		if (id == d->nr_vcpus) {
			log_errx("domain_state: no vCPU of the image is running");
			rc = -EINVAL;
		}
	}
	return rc;
}

int domain_state_resume(struct domain *d)
{
	unsigned int i;
	int rc = 0;

	rc = domain_backends_rebind(d);
	if (rc < 0)
		return rc;
	/* A spurious upcall is harmless; a lost one stalls the guest. */
	pthread_mutex_lock(&d->xen.lock);
	for (i = 0; i < d->nr_vcpus; i++)
		evtchn_upcall_resend(d, i);
	pthread_mutex_unlock(&d->xen.lock);
	for (i = 0; rc == 0 && i < d->nr_vcpus; i++)
		if (d->vcpus[i].restore_up)
			rc = vcpu_up(&d->vcpus[i]);
	return rc;
}
