#include "cexitloop.h"

#include <errno.h>
#include <sys/ioctl.h>
#include <time.h>

static inline int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t c_pio_exit_loop(int vcpu_fd, struct kvm_run *run, uint64_t exits) {
    int64_t start = now_ns();
    for (uint64_t i = 0; i < exits; i++) {
        if (ioctl(vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR) { i--; continue; }
            return -errno;
        }
        if (run->exit_reason != KVM_EXIT_IO) return -1000 - (int64_t)run->exit_reason;
    }
    return now_ns() - start;
}
