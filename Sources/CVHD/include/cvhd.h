#ifndef CVHD_H
#define CVHD_H
#include <stdint.h>

/// fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length); returns 0 or -errno.
int cvhd_punch_hole(int fd, int64_t offset, int64_t length);

/// sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): starts writeback of the file's dirty
/// pages without waiting for it; returns 0 or -errno.
int cvhd_start_writeback(int fd);

#endif
