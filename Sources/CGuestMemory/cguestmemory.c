#define _GNU_SOURCE
#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "cguestmemory.h"

int cgm_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}

int cgm_membarrier(int command, unsigned int flags) {
#ifdef SYS_membarrier
    return (int)syscall(SYS_membarrier, command, flags, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}
