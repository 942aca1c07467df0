#ifndef HELLO_GUEST_H
#define HELLO_GUEST_H
#include <stddef.h>
/* The guest program's machine code (assembled from hello.S) and its length in bytes. */
const unsigned char *hello_guest_code(void);
size_t hello_guest_size(void);
#endif
