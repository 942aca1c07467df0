#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <sys/timerfd.h>
#include <sys/ioctl.h>
#include <net/if.h>
#include <linux/if_tun.h>
#include <string.h>
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

static short chost_lock_type(int type) { return type == 2 ? F_WRLCK : (type == 1 ? F_RDLCK : F_UNLCK); }

/// A `struct flock` for an OFD lock of `type` (0 unlock, 1 read, 2 write) on `length` bytes from `start`.
static struct flock chost_ofd_range(int64_t start, int64_t length, int type) {
    struct flock lock = {0};
    lock.l_type = chost_lock_type(type);
    lock.l_whence = SEEK_SET;
    lock.l_start = (off_t)start;
    lock.l_len = (off_t)length;
    lock.l_pid = 0;  // required 0 for OFD locks
    return lock;
}

int chost_ofd_lock(int fd, int64_t start, int64_t length, int type) {
    struct flock lock = chost_ofd_range(start, length, type);
    return fcntl(fd, F_OFD_SETLK, &lock) != 0 ? -errno : 0;
}

int chost_ofd_test(int fd, int64_t start, int64_t length, int type) {
    struct flock lock = chost_ofd_range(start, length, type);
    if (fcntl(fd, F_OFD_GETLK, &lock) != 0) {
        return -errno;
    }
    if (lock.l_type == F_UNLCK) return 0;
    return lock.l_type == F_WRLCK ? 2 : 1;
}

int chost_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int chost_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token) {
    struct epoll_event event = {.events = events, .data = {.u64 = token}};
    int ctl = op == 1 ? EPOLL_CTL_ADD : op == 2 ? EPOLL_CTL_MOD : EPOLL_CTL_DEL;
    return epoll_ctl(epfd, ctl, fd, &event) < 0 ? -errno : 0;
}

int chost_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event ready[64];
    if (max > 64) max = 64;
    int count = epoll_wait(epfd, ready, max, timeout_ms);
    if (count < 0) return -errno;
    for (int i = 0; i < count; i++) {
        tokens[i] = ready[i].data.u64;
        events[i] = ready[i].events;
    }
    return count;
}

int chost_timerfd_create(int nonblocking) {
    int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | (nonblocking ? TFD_NONBLOCK : 0));
    return fd < 0 ? -errno : fd;
}

int chost_timerfd_settime(int fd, uint64_t value_ns, uint64_t interval_ns) {
    struct itimerspec spec = {
        .it_interval = {.tv_sec = (time_t)(interval_ns / 1000000000u), .tv_nsec = (long)(interval_ns % 1000000000u)},
        .it_value = {.tv_sec = (time_t)(value_ns / 1000000000u), .tv_nsec = (long)(value_ns % 1000000000u)},
    };
    return timerfd_settime(fd, 0, &spec, NULL) < 0 ? -errno : 0;
}

long chost_getrandom(void *buffer, unsigned long length) {
    ssize_t n = getrandom(buffer, length, 0);
    return n < 0 ? -errno : (long)n;
}

long chost_write_nosigpipe(int fd, const void *buffer, unsigned long length) {
    // Block SIGPIPE in this thread for the write; if the write raised one (EPIPE) that was not
    // already pending, take it back, so a closed reader never kills the process.
    sigset_t pipe_set, old_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    ssize_t n;
    do {
        n = write(fd, buffer, length);
    } while (n < 0 && errno == EINTR);
    int saved = errno;
    if (n < 0 && saved == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    return n < 0 ? -saved : (long)n;
}

int chost_tap_open(const char *name, char *actual_name, int vnet_header_size) {
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -errno;
    struct ifreq request;
    memset(&request, 0, sizeof request);
    request.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet_header_size ? IFF_VNET_HDR : 0);
    strncpy(request.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &request) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    if (vnet_header_size && ioctl(fd, TUNSETVNETHDRSZ, &vnet_header_size) < 0) {
        int error = errno;
        close(fd);
        return -error;
    }
    memcpy(actual_name, request.ifr_name, IFNAMSIZ);
    actual_name[IFNAMSIZ - 1] = 0;
    return fd;
}

int chost_setns(int fd, int nstype) {
    return syscall(SYS_setns, fd, nstype) < 0 ? -errno : 0;
}
