/* SPDX-License-Identifier: MIT */
#include "vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cpuid.h"
#include "hypercall.h"
#include "kvm.h"
#include "log.h"
#include "xen.h"

static struct log_ratelimit vcpu_rl = LOG_RATELIMIT_INIT;

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

int vcpu_signals_init(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = vcpu_kick_handler;
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0) {
		log_err("vcpu: sigaction");
		return -errno;
	}
	return 0;
}

void vcpu_kick(struct vcpu *v)
{
	/* immediate_exit covers a kick that lands just before KVM_RUN. */
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->thread_started)
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
}

static void vcpu_crash(struct vcpu *v, const char *why)
{
	log_errx("vCPU %u: %s: the domain crashed", v->id, why);
	kvm_vcpu_dump(v);
	domain_shutdown(v->dom, VMM_EXIT_SHUTDOWN_BASE + SHUTDOWN_crash);
}

static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	uint32_t nr;

	if (run->io.port == HYPERCALL_PORT &&
	    run->io.direction == KVM_EXIT_IO_OUT && run->io.size == 4 &&
	    run->io.count == 1) {
		memcpy(&nr, data, sizeof(nr));
		hypercall_dispatch(v, nr);
		return;
	}
	/* The PC POST port: Linux's io_delay, hcbench's raw exit floor. */
	if (run->io.port == 0x80 && run->io.direction == KVM_EXIT_IO_OUT)
		return;
	/* No devices yet: reads float high, writes vanish. */
	if (run->io.direction == KVM_EXIT_IO_IN)
		memset(data, 0xff, (size_t)run->io.size * run->io.count);
	log_warnx_rl(&vcpu_rl, "vCPU %u: unhandled %s of port 0x%x",
		     v->id, run->io.direction == KVM_EXIT_IO_IN ? "in" : "out",
		     run->io.port);
}

static void vcpu_handle_msr(struct vcpu *v, bool write)
{
	struct kvm_run *run = v->run;

	if (write && run->msr.index == XEN_HYPERCALL_MSR) {
		run->msr.error =
			hypercall_page_install(v, run->msr.data) < 0 ? 1 : 0;
		if (run->msr.error)
			log_warnx_rl(&vcpu_rl,
				     "vCPU %u: bad hypercall page 0x%llx: #GP",
				     v->id, (unsigned long long)run->msr.data);
		return;
	}
	/* Reading the hypercall MSR #GPs, as on Xen. */
	run->msr.error = 1;
}

/* One exit; returns false when the vCPU must stop. */
static bool vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char why[96];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return true;
	case KVM_EXIT_X86_WRMSR:
		vcpu_handle_msr(v, true);
		return true;
	case KVM_EXIT_X86_RDMSR:
		vcpu_handle_msr(v, false);
		return true;
	case KVM_EXIT_HLT:
		/* The in-kernel LAPIC handles HLT; nothing to do if not. */
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_MMIO:
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		log_warnx_rl(&vcpu_rl, "vCPU %u: unhandled MMIO %s at 0x%llx",
			     v->id, run->mmio.is_write ? "write" : "read",
			     (unsigned long long)run->mmio.phys_addr);
		return true;
	case KVM_EXIT_SHUTDOWN:
		vcpu_crash(v, "triple fault");
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error, suberror %u",
			 run->internal.suberror);
		vcpu_crash(v, why);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "VM entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry
				 .hardware_entry_failure_reason);
		vcpu_crash(v, why);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET) {
			domain_shutdown(v->dom, VMM_EXIT_SHUTDOWN_BASE +
							SHUTDOWN_reboot);
		} else if (run->system_event.type ==
			   KVM_SYSTEM_EVENT_SHUTDOWN) {
			domain_shutdown(v->dom, VMM_EXIT_OK);
		} else {
			snprintf(why, sizeof(why), "system event %u",
				 run->system_event.type);
			vcpu_crash(v, why);
		}
		return false;
	default:
		snprintf(why, sizeof(why), "unexpected KVM exit %u",
			 run->exit_reason);
		vcpu_crash(v, why);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct domain *d = v->dom;

	v->state = VCPU_RUNNING;
	while (!domain_is_shutting_down(d)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0,
						 __ATOMIC_SEQ_CST);
				continue;
			}
			log_err("vCPU %u: KVM_RUN", v->id);
			domain_shutdown(d, VMM_EXIT_ERROR);
			break;
		}
		if (!vcpu_handle_exit(v))
			break;
	}
	v->state = VCPU_STOPPED;
	return NULL;
}

int vcpu_start(struct vcpu *v)
{
	sigset_t all, old;
	int rc;

	/* The new thread starts with every signal blocked but the kick. */
	sigfillset(&all);
	sigdelset(&all, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&v->thread, NULL, vcpu_thread, v);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc < 0) {
		errno = -rc;
		log_err("vcpu: vCPU %u: pthread_create", v->id);
		return rc;
	}
	v->thread_started = true;
	return 0;
}

void vcpu_join(struct vcpu *v)
{
	if (v->thread_started)
		pthread_join(v->thread, NULL);
	v->thread_started = false;
}
