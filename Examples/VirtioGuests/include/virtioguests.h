#ifndef VIRTIO_GUESTS_H
#define VIRTIO_GUESTS_H

#include <stddef.h>

/// The console guest (console_guest.S): position-independent 64-bit code, copied into guest
/// memory (identity-mapped, long mode) and entered at its first byte with
///   r8 = the virtio-console's virtio-mmio base (as the Machine target's flat-binary ABI sets
///   it), rsp = a stack.
/// It drives the device as a virtio 1.x driver (polling the used rings, no interrupts): prints
/// "hello from virtio-console\n", reads one line, prints "echo: " and the line, then writes 0
/// to port 0x5f0 (anything else: the failed step), powers off through the ACPI sleep control
/// port 0x600 (S5) and halts.
const unsigned char *virtio_console_guest_bytes(void);
/// The program's size in bytes.
size_t virtio_console_guest_size(void);

/// Guest-physical addresses the console guest uses for its rings and buffers (below 1 MiB,
/// above its load address): the host must map them.
#define VIRTIO_CONSOLE_GUEST_LOAD_ADDRESS 0x10000
#define VIRTIO_CONSOLE_GUEST_DATA_END 0x30000

/// The vsock guest (vsock_guest.S), loaded and entered like the console guest (r10 = the
/// virtio-vsock's virtio-mmio base). It reads its context id from the configuration space,
/// connects from guest port 1234 to host port 5000, sends "hello over vsock\n", reads a line,
/// sends back "echo: " and the line, shuts the stream down (both directions) and waits for the
/// device's RST; then reports on port 0x5f0 (0 = success) and powers off like the console guest.
/// With r8 = a virtio console's base (0: none) it also narrates each step on that console
/// ("vsock guest: ..." lines). Its rings and buffers end at VIRTIO_VSOCK_GUEST_DATA_END.
const unsigned char *virtio_vsock_guest_bytes(void);
/// The program's size in bytes.
size_t virtio_vsock_guest_size(void);
#define VIRTIO_VSOCK_GUEST_DATA_END 0x38000

/// The network guest (net_guest.S), loaded and entered like the others, with r10 = the
/// virtio-net device's virtio-mmio base. It reads its MAC address from the configuration space
/// (VIRTIO_NET_F_MAC), sends an ARP request for 10.99.0.1 from 10.99.0.2, and waits for the ARP
/// reply addressed to it (skipping other frames); then reports on port 0x5f0 (0 = success) and
/// powers off. Its rings and buffers lie below 0x2b000.
const unsigned char *virtio_net_guest_bytes(void);
/// The program's size in bytes.
size_t virtio_net_guest_size(void);

#endif
