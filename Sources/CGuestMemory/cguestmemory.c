#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>
#include "cguestmemory.h"

int cgm_memfd_create(const char *name, unsigned int flags) {
    return (int)syscall(SYS_memfd_create, name, flags);
}
