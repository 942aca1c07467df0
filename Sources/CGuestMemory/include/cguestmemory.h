// Thin C shims for the few Linux calls that Swift's Glibc module does not import
// (they need _GNU_SOURCE). Used only by the GuestMemory target.
#ifndef CGUESTMEMORY_H
#define CGUESTMEMORY_H

/// memfd_create(2) flags (from <linux/memfd.h>).
enum {
    CGM_MFD_CLOEXEC = 0x0001U,
    CGM_MFD_ALLOW_SEALING = 0x0002U,
    CGM_MFD_HUGETLB = 0x0004U,
};

/// memfd_create(2): returns a file descriptor or -1 with errno set.
int cgm_memfd_create(const char *name, unsigned int flags);

#endif
