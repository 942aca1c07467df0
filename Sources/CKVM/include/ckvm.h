/*
 * CKVM: the C side of swift-vmm's KVM bindings.
 *
 * Swift cannot import function-like macros (the _IO/_IOR/_IOW request numbers) nor call the
 * variadic ioctl(2), and it reads the anonymous unions of `struct kvm_run` awkwardly. This
 * header supplies exactly those three things and nothing else:
 *   - every KVM ioctl request number a VMM needs, as a constant (CKVM_<NAME>);
 *   - non-variadic ioctl wrappers;
 *   - small accessors for the payloads of `struct kvm_run`.
 * It builds against the linux-libc-dev 6.1 headers.
 */
#ifndef CKVM_H
#define CKVM_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <signal.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- ioctl request numbers ---------------------------------------------------------------- */
static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_GET_MSR_INDEX_LIST = KVM_GET_MSR_INDEX_LIST;
static const unsigned long CKVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CKVM_GET_SUPPORTED_CPUID = KVM_GET_SUPPORTED_CPUID;
static const unsigned long CKVM_GET_EMULATED_CPUID = KVM_GET_EMULATED_CPUID;
static const unsigned long CKVM_GET_MSR_FEATURE_INDEX_LIST = KVM_GET_MSR_FEATURE_INDEX_LIST;
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_GET_DIRTY_LOG = KVM_GET_DIRTY_LOG;
static const unsigned long CKVM_CLEAR_DIRTY_LOG = KVM_CLEAR_DIRTY_LOG;
static const unsigned long CKVM_RESET_DIRTY_RINGS = KVM_RESET_DIRTY_RINGS;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long CKVM_SET_IDENTITY_MAP_ADDR = KVM_SET_IDENTITY_MAP_ADDR;
static const unsigned long CKVM_CREATE_IRQCHIP = KVM_CREATE_IRQCHIP;
static const unsigned long CKVM_IRQ_LINE = KVM_IRQ_LINE;
static const unsigned long CKVM_IRQ_LINE_STATUS = KVM_IRQ_LINE_STATUS;
static const unsigned long CKVM_GET_IRQCHIP = KVM_GET_IRQCHIP;
static const unsigned long CKVM_SET_IRQCHIP = KVM_SET_IRQCHIP;
static const unsigned long CKVM_SET_GSI_ROUTING = KVM_SET_GSI_ROUTING;
static const unsigned long CKVM_IRQFD = KVM_IRQFD;
static const unsigned long CKVM_CREATE_PIT2 = KVM_CREATE_PIT2;
static const unsigned long CKVM_GET_PIT2 = KVM_GET_PIT2;
static const unsigned long CKVM_SET_PIT2 = KVM_SET_PIT2;
static const unsigned long CKVM_IOEVENTFD = KVM_IOEVENTFD;
static const unsigned long CKVM_SET_CLOCK = KVM_SET_CLOCK;
static const unsigned long CKVM_GET_CLOCK = KVM_GET_CLOCK;
static const unsigned long CKVM_SIGNAL_MSI = KVM_SIGNAL_MSI;
static const unsigned long CKVM_ENABLE_CAP = KVM_ENABLE_CAP;
static const unsigned long CKVM_REGISTER_COALESCED_MMIO = KVM_REGISTER_COALESCED_MMIO;
static const unsigned long CKVM_UNREGISTER_COALESCED_MMIO = KVM_UNREGISTER_COALESCED_MMIO;
static const unsigned long CKVM_SET_BOOT_CPU_ID = KVM_SET_BOOT_CPU_ID;
static const unsigned long CKVM_RUN = KVM_RUN;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_TRANSLATE = KVM_TRANSLATE;
static const unsigned long CKVM_INTERRUPT = KVM_INTERRUPT;
static const unsigned long CKVM_GET_MSRS = KVM_GET_MSRS;
static const unsigned long CKVM_SET_MSRS = KVM_SET_MSRS;
static const unsigned long CKVM_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long CKVM_GET_CPUID2 = KVM_GET_CPUID2;
static const unsigned long CKVM_SET_SIGNAL_MASK = KVM_SET_SIGNAL_MASK;
static const unsigned long CKVM_GET_FPU = KVM_GET_FPU;
static const unsigned long CKVM_SET_FPU = KVM_SET_FPU;
static const unsigned long CKVM_GET_LAPIC = KVM_GET_LAPIC;
static const unsigned long CKVM_SET_LAPIC = KVM_SET_LAPIC;
static const unsigned long CKVM_GET_MP_STATE = KVM_GET_MP_STATE;
static const unsigned long CKVM_SET_MP_STATE = KVM_SET_MP_STATE;
static const unsigned long CKVM_NMI = KVM_NMI;
static const unsigned long CKVM_SET_GUEST_DEBUG = KVM_SET_GUEST_DEBUG;
static const unsigned long CKVM_GET_VCPU_EVENTS = KVM_GET_VCPU_EVENTS;
static const unsigned long CKVM_SET_VCPU_EVENTS = KVM_SET_VCPU_EVENTS;
static const unsigned long CKVM_GET_DEBUGREGS = KVM_GET_DEBUGREGS;
static const unsigned long CKVM_SET_DEBUGREGS = KVM_SET_DEBUGREGS;
static const unsigned long CKVM_GET_XSAVE = KVM_GET_XSAVE;
static const unsigned long CKVM_SET_XSAVE = KVM_SET_XSAVE;
static const unsigned long CKVM_GET_XSAVE2 = KVM_GET_XSAVE2;
static const unsigned long CKVM_GET_XCRS = KVM_GET_XCRS;
static const unsigned long CKVM_SET_XCRS = KVM_SET_XCRS;
static const unsigned long CKVM_SET_TSC_KHZ = KVM_SET_TSC_KHZ;
static const unsigned long CKVM_GET_TSC_KHZ = KVM_GET_TSC_KHZ;
static const unsigned long CKVM_KVMCLOCK_CTRL = KVM_KVMCLOCK_CTRL;

/* ---- mmap offsets and layout facts (pages, from <asm/kvm.h>) ------------------------------- */
static const long CKVM_COALESCED_MMIO_PAGE_OFFSET = KVM_COALESCED_MMIO_PAGE_OFFSET;
static const long CKVM_DIRTY_LOG_PAGE_OFFSET = KVM_DIRTY_LOG_PAGE_OFFSET;
static const unsigned long CKVM_KVM_RUN_SIZE = sizeof(struct kvm_run);
static const unsigned long CKVM_SYNC_REGS_OFFSET = offsetof(struct kvm_run, s);

static const uint32_t CKVM_IOEVENTFD_FLAG_PIO = KVM_IOEVENTFD_FLAG_PIO;
static const uint32_t CKVM_IOEVENTFD_FLAG_DATAMATCH = KVM_IOEVENTFD_FLAG_DATAMATCH;
static const uint32_t CKVM_IOEVENTFD_FLAG_DEASSIGN = KVM_IOEVENTFD_FLAG_DEASSIGN;

/* ---- ioctl without varargs ------------------------------------------------------------------ */

/** ioctl(fd, request, pointer). Returns the ioctl's result; errno is set on -1. */
static inline int ckvm_ioctl_ptr(int fd, unsigned long request, void *arg) {
    return ioctl(fd, request, arg);
}

/** ioctl(fd, request, integer). Returns the ioctl's result; errno is set on -1. */
static inline int ckvm_ioctl_val(int fd, unsigned long request, unsigned long arg) {
    return ioctl(fd, request, arg);
}

/** KVM_RUN on a vCPU descriptor. */
static inline int ckvm_run(int vcpu_fd) {
    return ioctl(vcpu_fd, KVM_RUN, 0);
}

/* ---- struct kvm_run accessors -------------------------------------------------------------- */

/* immediate_exit is written by a kicking thread and by the vCPU thread: sequentially consistent
 * accesses, so a kick's request flag (stored before immediate_exit) is seen by the vCPU thread
 * after it clears immediate_exit, or the next KVM_RUN returns at once. */
static inline void ckvm_run_set_immediate_exit(struct kvm_run *run, uint8_t value) {
    __atomic_store_n(&run->immediate_exit, value, __ATOMIC_SEQ_CST);
}
static inline uint8_t ckvm_run_immediate_exit(const struct kvm_run *run) {
    return __atomic_load_n(&run->immediate_exit, __ATOMIC_SEQ_CST);
}

struct ckvm_io_exit { uint8_t direction; uint8_t size; uint16_t port; uint32_t count; uint64_t data_offset; };
static inline struct ckvm_io_exit ckvm_run_io(const struct kvm_run *run) {
    struct ckvm_io_exit e = { run->io.direction, run->io.size, run->io.port, run->io.count, run->io.data_offset };
    return e;
}

struct ckvm_mmio_exit { uint64_t phys_addr; uint32_t len; uint8_t is_write; };
static inline struct ckvm_mmio_exit ckvm_run_mmio(const struct kvm_run *run) {
    struct ckvm_mmio_exit e = { run->mmio.phys_addr, run->mmio.len, run->mmio.is_write };
    return e;
}
/** The 8-byte data buffer of an MMIO exit. */
static inline uint8_t *ckvm_run_mmio_data(struct kvm_run *run) { return run->mmio.data; }

static inline uint64_t ckvm_run_hw_exit_reason(const struct kvm_run *run) { return run->hw.hardware_exit_reason; }

struct ckvm_fail_entry_exit { uint64_t reason; uint32_t cpu; };
static inline struct ckvm_fail_entry_exit ckvm_run_fail_entry(const struct kvm_run *run) {
    struct ckvm_fail_entry_exit e = { run->fail_entry.hardware_entry_failure_reason, run->fail_entry.cpu };
    return e;
}

struct ckvm_ex_exit { uint32_t exception; uint32_t error_code; };
static inline struct ckvm_ex_exit ckvm_run_ex(const struct kvm_run *run) {
    struct ckvm_ex_exit e = { run->ex.exception, run->ex.error_code };
    return e;
}

/** Internal-error and system-event exits share a shape: a code, a count and up to 16 words. */
struct ckvm_coded_exit { uint32_t code; uint32_t ndata; uint64_t data[16]; };
static inline struct ckvm_coded_exit ckvm_run_internal(const struct kvm_run *run) {
    struct ckvm_coded_exit e;
    e.code = run->internal.suberror;
    e.ndata = run->internal.ndata;
    for (int i = 0; i < 16; i++) e.data[i] = run->internal.data[i];
    return e;
}
static inline struct ckvm_coded_exit ckvm_run_system_event(const struct kvm_run *run) {
    struct ckvm_coded_exit e;
    e.code = run->system_event.type;
    e.ndata = run->system_event.ndata;
    for (int i = 0; i < 16; i++) e.data[i] = run->system_event.data[i];
    return e;
}

static inline struct kvm_debug_exit_arch ckvm_run_debug(const struct kvm_run *run) { return run->debug.arch; }

struct ckvm_msr_exit { uint32_t reason; uint32_t index; uint64_t data; };
static inline struct ckvm_msr_exit ckvm_run_msr(const struct kvm_run *run) {
    struct ckvm_msr_exit e = { run->msr.reason, run->msr.index, run->msr.data };
    return e;
}
/** Completes a user-space MSR exit: `error` non-zero injects #GP; `data` answers a read. */
static inline void ckvm_run_msr_complete(struct kvm_run *run, uint8_t error, uint64_t data) {
    run->msr.error = error;
    run->msr.data = data;
}

struct ckvm_hypercall_exit { uint64_t nr; uint64_t args[6]; uint32_t longmode; };
static inline struct ckvm_hypercall_exit ckvm_run_hypercall(const struct kvm_run *run) {
    struct ckvm_hypercall_exit e;
    e.nr = run->hypercall.nr;
    for (int i = 0; i < 6; i++) e.args[i] = run->hypercall.args[i];
    e.longmode = run->hypercall.longmode;
    return e;
}
static inline void ckvm_run_hypercall_set_ret(struct kvm_run *run, uint64_t ret) { run->hypercall.ret = ret; }

static inline uint8_t ckvm_run_eoi_vector(const struct kvm_run *run) { return run->eoi.vector; }
static inline uint32_t ckvm_run_notify_flags(const struct kvm_run *run) { return run->notify.flags; }

/** The x86 synchronized register block inside kvm_run (valid with KVM_CAP_SYNC_REGS). */
static inline struct kvm_sync_regs *ckvm_run_sync_regs(struct kvm_run *run) { return &run->s.regs; }

/* ---- dirty ring and coalesced MMIO ring (shared with the kernel; ordered accesses) ---------- */

static inline uint32_t ckvm_dirty_gfn_flags(const struct kvm_dirty_gfn *gfn) {
    return __atomic_load_n(&gfn->flags, __ATOMIC_ACQUIRE);
}
static inline void ckvm_dirty_gfn_set_flags(struct kvm_dirty_gfn *gfn, uint32_t flags) {
    __atomic_store_n(&gfn->flags, flags, __ATOMIC_RELEASE);
}
static const uint32_t CKVM_DIRTY_GFN_F_DIRTY = KVM_DIRTY_GFN_F_DIRTY;
static const uint32_t CKVM_DIRTY_GFN_F_RESET = KVM_DIRTY_GFN_F_RESET;

static inline uint32_t ckvm_coalesced_ring_first(const struct kvm_coalesced_mmio_ring *ring) {
    return __atomic_load_n(&ring->first, __ATOMIC_ACQUIRE);
}
static inline uint32_t ckvm_coalesced_ring_last(const struct kvm_coalesced_mmio_ring *ring) {
    return __atomic_load_n(&ring->last, __ATOMIC_ACQUIRE);
}
static inline void ckvm_coalesced_ring_set_first(struct kvm_coalesced_mmio_ring *ring, uint32_t first) {
    __atomic_store_n(&ring->first, first, __ATOMIC_RELEASE);
}
static inline struct kvm_coalesced_mmio *ckvm_coalesced_ring_entry(struct kvm_coalesced_mmio_ring *ring, uint32_t i) {
    return &ring->coalesced_mmio[i];
}
static const unsigned long CKVM_COALESCED_MMIO_HEADER_SIZE = sizeof(struct kvm_coalesced_mmio_ring);
static const unsigned long CKVM_COALESCED_MMIO_ENTRY_SIZE = sizeof(struct kvm_coalesced_mmio);

/* ---- signals ------------------------------------------------------------------------------- */

static inline int ckvm_sigrtmin(void) { return SIGRTMIN; }
/** SIGRTMAX (a glibc function-like macro, not imported into Swift). */
static inline int ckvm_sigrtmax(void) { return SIGRTMAX; }

#endif /* CKVM_H */
