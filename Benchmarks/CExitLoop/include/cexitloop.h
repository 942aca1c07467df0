/* The C baseline of the exit benchmark: the tightest possible KVM_RUN loop. */
#ifndef CEXITLOOP_H
#define CEXITLOOP_H
#include <stdint.h>
#include <linux/kvm.h>

/**
 * Runs the vCPU until `exits` port-I/O exits have happened, the way a minimal C VMM would:
 * ioctl(KVM_RUN), check exit_reason, repeat. Returns the elapsed nanoseconds (CLOCK_MONOTONIC),
 * or -errno on failure, or -1000 - exit_reason on an exit other than port I/O.
 */
int64_t c_pio_exit_loop(int vcpu_fd, struct kvm_run *run, uint64_t exits);

#endif
