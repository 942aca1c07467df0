#include "hello_guest.h"

/* Labels in hello.S around the guest's machine code. */
extern const unsigned char hello_guest_start[];
extern const unsigned char hello_guest_end[];

const unsigned char *hello_guest_code(void) { return hello_guest_start; }
size_t hello_guest_size(void) { return (size_t)(hello_guest_end - hello_guest_start); }
