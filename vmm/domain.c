/* SPDX-License-Identifier: MIT */
#include "domain.h"

#include <string.h>

#include "ctl.h"
#include "kvm.h"
#include "loader.h"
#include "log.h"
#include "mem.h"
#include "migrate.h"
#include "vcpu.h"

void domain_init(struct domain *d, uint16_t domid)
{
	unsigned int i;

	memset(d, 0, sizeof(*d));
	d->mem_fd = -1;
	d->kvm_fd = -1;
	d->vm_fd = -1;
	for (i = 0; i < VMM_MAX_VCPUS; i++)
		d->vcpus[i].fd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->parked_cond, NULL);
	pthread_mutex_init(&d->kick_lock, NULL);
	loop_clear(&d->loop);
	xs_domain_clear(&d->xs);
	xenbus_back_init(&d->xenbus);
	consback_clear(&d->cons);
	d->exit_status = VMM_EXIT_ERROR;
	d->shutdown_code = -1;
	/* Before anything that shows the id to the guest (CPUID). */
	d->xen.domid = domid;
}

int domain_build(struct domain *d, const struct domain_config *c)
{
	unsigned int i;
	int rc;

	rc = mem_init(d, c->memory_mib << 20);
	/* No thread runs yet: the balloon starts full, without the lock. */
	if (rc == 0)
		d->max_pages = d->cur_pages = d->ram_size / VMM_PAGE_SIZE;
	if (rc == 0 && c->kernel)
		rc = loader_load_pvh(d, c->kernel, c->initrd, c->cmdline);
	if (rc == 0)
		rc = kvm_vm_create(d);
	for (i = 0; rc == 0 && i < c->vcpus; i++) {
		rc = vcpu_create(d, i);
		if (rc == 0)
			d->nr_vcpus = i + 1;
	}
	if (rc == 0)
		rc = loop_init(&d->loop);
	if (rc == 0)
		rc = xen_state_init(d);
	if (rc == 0)
		rc = consback_setup(d, c->console, c->console_log);
	if (rc == 0)
		rc = vcpu_signals_init();
	if (rc == 0)
		rc = loop_start(&d->loop, d);
	return rc;
}

int domain_start(struct domain *d)
{
	/* vCPU 0 boots; the guest brings the others up (VCPUOP_up). */
	return vcpu_up(&d->vcpus[0]);
}

int domain_backends_rebind(struct domain *d)
{
	return consback_rebind(d);
}

int domain_wait(struct domain *d)
{
	vcpu_join_all(d);
	return d->exit_status;
}

void domain_destroy(struct domain *d)
{
	/* No callback may run once what it uses goes. */
	loop_destroy(&d->loop);
	/* A save's thread reads RAM and the backends' state: it goes first. */
	save_destroy(d);
	ctl_destroy(d);
	consback_destroy(d);
	xenbus_back_destroy(d);
	xs_domain_destroy(d);
	xen_state_destroy(d);
	kvm_destroy(d);
	mem_destroy(d);
}

void domain_shutdown(struct domain *d, int status)
{
	unsigned int i;

	pthread_mutex_lock(&d->lock);
	if (d->shutting_down) {
		pthread_mutex_unlock(&d->lock);
		return;
	}
	d->shutting_down = true;
	d->exit_status = status;
	/* Down vCPUs sleep under this lock: no wakeup is lost. */
	vcpu_wake_all(d);
	/* Nor does a domain_pause() or domain_wait() waiting on it miss it. */
	pthread_cond_broadcast(&d->parked_cond);
	pthread_mutex_unlock(&d->lock);
	xen_state_wake_all(d);
	/* Every other vCPU leaves KVM_RUN and sees the flag. */
	for (i = 0; i < d->nr_vcpus; i++)
		if (d->vcpus[i].run)
			vcpu_kick(&d->vcpus[i]);
}

bool domain_is_interrupted(struct domain *d)
{
	bool r;

	pthread_mutex_lock(&d->lock);
	r = d->shutting_down || d->paused;
	pthread_mutex_unlock(&d->lock);
	return r;
}

bool domain_is_shutting_down(struct domain *d)
{
	bool r;

	pthread_mutex_lock(&d->lock);
	r = d->shutting_down;
	pthread_mutex_unlock(&d->lock);
	return r;
}
