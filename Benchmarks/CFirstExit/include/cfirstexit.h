/* The C baseline of devices-bench: create a VM and run it to its first exit with raw ioctls. */
#ifndef CFIRSTEXIT_H
#define CFIRSTEXIT_H
#include <stddef.h>
#include <stdint.h>

/**
 * Opens /dev/kvm, creates a VM (KVM_CREATE_VM, KVM_SET_TSS_ADDR), maps `memory_size` bytes of
 * anonymous memory as slot 0, copies `code` to guest address 0x1000, creates vCPU 0, maps its
 * kvm_run, puts it in real mode at 0x1000 (KVM_GET/SET_SREGS, KVM_SET_REGS) and calls KVM_RUN
 * until the first exit, which must be port I/O. Returns the nanoseconds from the open of
 * /dev/kvm to that exit (CLOCK_MONOTONIC), or -errno / -1000 - exit_reason on failure.
 * Everything is torn down after the clock stops.
 */
int64_t c_create_vm_to_first_exit(size_t memory_size, const uint8_t *code, size_t code_size);

#endif
