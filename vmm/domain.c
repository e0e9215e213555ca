/* SPDX-License-Identifier: MIT */
#include "domain.h"

#include "vcpu.h"

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
	pthread_mutex_unlock(&d->lock);
	xen_state_wake_all(d);
	/* Every other vCPU leaves KVM_RUN and sees the flag. */
	for (i = 0; i < d->nr_vcpus; i++) {
		struct vcpu *v = &d->vcpus[i];

		if (!v->run)
			continue;
		if (__atomic_load_n(&v->thread_started, __ATOMIC_ACQUIRE) &&
		    pthread_equal(v->thread, pthread_self()))
			continue;
		vcpu_kick(v);
	}
}

bool domain_is_shutting_down(struct domain *d)
{
	bool r;

	pthread_mutex_lock(&d->lock);
	r = d->shutting_down;
	pthread_mutex_unlock(&d->lock);
	return r;
}
