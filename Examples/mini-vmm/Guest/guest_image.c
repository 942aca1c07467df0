#include "minivmmguest.h"

// Start and end labels of the program in guest.S.
extern const unsigned char mini_vmm_guest_start[];
extern const unsigned char mini_vmm_guest_end[];

const unsigned char *mini_vmm_guest_bytes(void) { return mini_vmm_guest_start; }

size_t mini_vmm_guest_size(void) { return (size_t)(mini_vmm_guest_end - mini_vmm_guest_start); }
