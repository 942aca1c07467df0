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

/// membarrier(2) (glibc has no wrapper): `syscall(SYS_membarrier, command, flags, 0)`; the
/// result, or -1 with errno set (ENOSYS where the call does not exist).
int cgm_membarrier(int command, unsigned int flags);

/// Walks `depth` levels of an implicit (Eytzinger-ordered, 1-based) binary search tree of
/// ascending keys and returns the final node index: at each node, go right when
/// `keys[node] < address`. Written so the step is a compare and an add-with-carry with no
/// branch (Swift's optimiser otherwise turns the select back into a mispredicting branch).
static inline unsigned long cgm_search_tree(const unsigned long long *keys, long depth,
                                            unsigned long long address) {
    unsigned long node = 1;
    for (long level = 0; level < depth; level++) {
#if defined(__x86_64__)
        /* CF = keys[node] < address (unsigned borrow); node = 2 * node + CF */
        __asm__("cmpq %2, %1\n\tadcq %0, %0" : "+r"(node) : "r"(keys[node]), "r"(address) : "cc");
#else
        node = 2 * node + (keys[node] < address);
#endif
    }
    return node;
}

#endif
