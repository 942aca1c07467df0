#ifndef MINI_VMM_GUEST_H
#define MINI_VMM_GUEST_H

#include <stddef.h>

/// The mini-vmm guest program (guest.S): position-independent 64-bit code, copied into guest
/// memory and entered at its first byte with
///   rdi = vCPU index, rsi = virtio-mmio base, rdx = the device's GSI (a PIC line, < 8),
///   rcx = vCPU count, rsp = the vCPU's stack.
const unsigned char *mini_vmm_guest_bytes(void);
/// The program's size in bytes.
size_t mini_vmm_guest_size(void);

/// Where the host loads the program (its data addresses are its own choice, in guest.S).
#define MINI_VMM_GUEST_LOAD_ADDRESS 0x10000

#endif
