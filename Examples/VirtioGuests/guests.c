#include "virtioguests.h"

extern const unsigned char virtio_console_guest_start[];
extern const unsigned char virtio_console_guest_end[];

const unsigned char *virtio_console_guest_bytes(void) { return virtio_console_guest_start; }

size_t virtio_console_guest_size(void) {
    return (size_t)(virtio_console_guest_end - virtio_console_guest_start);
}

extern const unsigned char virtio_vsock_guest_start[];
extern const unsigned char virtio_vsock_guest_end[];

const unsigned char *virtio_vsock_guest_bytes(void) { return virtio_vsock_guest_start; }

size_t virtio_vsock_guest_size(void) {
    return (size_t)(virtio_vsock_guest_end - virtio_vsock_guest_start);
}

extern const unsigned char virtio_net_guest_start[];
extern const unsigned char virtio_net_guest_end[];

const unsigned char *virtio_net_guest_bytes(void) { return virtio_net_guest_start; }

size_t virtio_net_guest_size(void) { return (size_t)(virtio_net_guest_end - virtio_net_guest_start); }
