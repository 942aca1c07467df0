#include "cfirstexit.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t c_create_vm_to_first_exit(size_t memory_size, const uint8_t *code, size_t code_size) {
    int64_t result = 0, start = now_ns();
    int kvm = -1, vm = -1, vcpu = -1;
    void *memory = MAP_FAILED;
    struct kvm_run *run = MAP_FAILED;
    long run_size = 0;

    if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0) { result = -errno; goto out; }
    if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) { result = -1; goto out; }
    if ((vm = ioctl(kvm, KVM_CREATE_VM, 0)) < 0) { result = -errno; goto out; }
    if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) { result = -errno; goto out; }
    memory = mmap(NULL, memory_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) { result = -errno; goto out; }
    memcpy((uint8_t *)memory + 0x1000, code, code_size);
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = memory_size, .userspace_addr = (uint64_t)memory,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) { result = -errno; goto out; }
    if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0)) < 0) { result = -errno; goto out; }
    if ((run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0)) < 0) { result = -errno; goto out; }
    run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) { result = -errno; goto out; }
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) { result = -errno; goto out; }
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) { result = -errno; goto out; }
    struct kvm_regs regs;
    memset(&regs, 0, sizeof regs);
    regs.rip = 0x1000;
    regs.rflags = 2;
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) { result = -errno; goto out; }
    for (;;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR) continue;
            result = -errno;
            goto out;
        }
        break;
    }
    if (run->exit_reason != KVM_EXIT_IO) { result = -1000 - (int64_t)run->exit_reason; goto out; }
    result = now_ns() - start;
out:
    if (run != MAP_FAILED) munmap(run, (size_t)run_size);
    if (vcpu >= 0) close(vcpu);
    if (memory != MAP_FAILED) munmap(memory, memory_size);
    if (vm >= 0) close(vm);
    if (kvm >= 0) close(kvm);
    return result;
}
