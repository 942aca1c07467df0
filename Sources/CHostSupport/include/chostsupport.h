#ifndef CHOSTSUPPORT_H
#define CHOSTSUPPORT_H
// The few host facts and calls Swift cannot reach directly through Glibc: macro constants and
// GNU-only functions. Everything else in HostSupport is plain Swift over Glibc.
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

/// eventfd(2) flags (macros in glibc, not imported into Swift).
static const int CHOST_EFD_CLOEXEC = EFD_CLOEXEC;
static const int CHOST_EFD_NONBLOCK = EFD_NONBLOCK;

/// fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length); returns 0 or -errno.
int chost_punch_hole(int fd, int64_t offset, int64_t length);

/// sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE): starts writeback of the file's dirty
/// pages without waiting for it; returns 0 or -errno.
int chost_start_writeback(int fd);

/// Sets (type 1: read, 2: write) or removes (type 0) an open-file-description lock on `length`
/// bytes from `start` without waiting (fcntl F_OFD_SETLK); returns 0 or -errno (-EAGAIN when
/// another open file description holds a conflicting lock).
int chost_ofd_lock(int fd, int64_t start, int64_t length, int type);

/// Whether a lock of `type` (1: read, 2: write) on the range would conflict with one held by
/// another open file description (fcntl F_OFD_GETLK): 0 no, 1 a read lock is in the way, 2 a
/// write lock is, or -errno.
int chost_ofd_test(int fd, int64_t start, int64_t length, int type);

/// epoll_create1(EPOLL_CLOEXEC); the descriptor or -errno.
int chost_epoll_create(void);

/// epoll_ctl ADD (`op` 1), MOD (2) or DEL (3) of `fd` with `events` (EPOLLIN 1, EPOLLOUT 4, …)
/// and `token` as the event's data; 0 or -errno. (struct epoll_event is packed on x86_64: it
/// stays on the C side.)
int chost_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);

/// epoll_wait for at most `max` events into `tokens` and `events`; the count or -errno.
int chost_epoll_wait(int epfd, uint64_t *tokens, uint32_t *events, int max, int timeout_ms);

/// getrandom(buffer, length, 0): the bytes filled or -errno.
long chost_getrandom(void *buffer, unsigned long length);

/// write(2), retried on EINTR, with SIGPIPE blocked in the calling thread for the call (and a
/// SIGPIPE it raised taken back): the bytes written or -errno (-EPIPE for a closed reader).
long chost_write_nosigpipe(int fd, const void *buffer, unsigned long length);

/// timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK if `nonblocking`); the descriptor
/// or -errno.
int chost_timerfd_create(int nonblocking);

/// timerfd_settime(fd, 0, …): first expiry `value_ns` from now (0 disarms), then every
/// `interval_ns` (0: once); 0 or -errno.
int chost_timerfd_settime(int fd, uint64_t value_ns, uint64_t interval_ns);

/// The kernel id of the calling thread (gettid(2)).
/// Opens /dev/net/tun as the TAP device `name` (empty: the kernel picks one), IFF_TAP |
/// IFF_NO_PI, with IFF_VNET_HDR and a `vnet_header_size`-byte header when it is not 0; the
/// interface's name is written to `actual_name` (16 bytes). Close-on-exec and non-blocking.
/// Returns the descriptor or -errno.
int chost_tap_open(const char *name, char *actual_name, int vnet_header_size);

/// setns(fd, nstype): moves the calling thread into the namespace `fd` refers to; returns 0 or
/// -errno.
int chost_setns(int fd, int nstype);

static inline int chost_gettid(void) { return (int)syscall(SYS_gettid); }

#endif
