#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include "chostsupport.h"

int chost_punch_hole(int fd, int64_t offset, int64_t length) {
    if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)offset, (off_t)length) != 0) {
        return -errno;
    }
    return 0;
}

int chost_start_writeback(int fd) {
    if (sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE) != 0) {
        return -errno;
    }
    return 0;
}
