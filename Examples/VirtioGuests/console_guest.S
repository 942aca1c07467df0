// A tiny virtio-console driver: virtio 1.x over MMIO, two queues (receiveq0, transmitq0),
// polling the used rings. Prints a greeting, reads one line, echoes it, reports on port 0x600.
//
// Entry: r8 = virtio-mmio base (the Machine target's flat-binary start ABI), rsp = stack; 64-bit
// long mode, identity-mapped, interrupts off. Reports on port 0x5f0 (0 = success, else the
// failed step), then powers off through the ACPI sleep control port 0x600 (S5), then halts.
// Position independent (RIP-relative only): the host copies the bytes anywhere below 0x20000.

        .intel_syntax noprefix
        .section .rodata.virtio_console_guest, "a"
        .globl virtio_console_guest_start
        .globl virtio_console_guest_end
        .code64

#include "virtio_mmio.inc"

        .set QSIZE,   8
        .set RING0,   0x20000           // receiveq0: descriptors, +0x1000 available, +0x2000 used
        .set RING1,   0x24000           // transmitq0: the same layout
        .set RXBUF,   0x28000           // one 64-byte receive buffer, reposted after each use
        .set RXLEN,   64
        .set LINE,    0x29000           // the line read so far
        .set LINEMAX, 200
        .set GREETING_LEN, 26           // "hello from virtio-console\n"
        .set ECHO_PREFIX_LEN, 6         // "echo: "

virtio_console_guest_start:
        mov     r15, r8
        // Identify (device id 3), negotiate VERSION_1 only (steps 1-5).
        VIRTIO_START 3, 1

        // Both queues: size 8, rings at RING0 / RING1 (zeroed), ready.
        xor     ecx, ecx
        mov     rdi, RING0
        call    setup_queue
        mov     ecx, 1
        mov     rdi, RING1
        call    setup_queue
        mov     dword ptr [r15 + STATUS], 15    // DRIVER_OK

        // Post the receive buffer (descriptor 0 of receiveq0, device-writable).
        call    post_receive

        // Print the greeting.
        lea     rsi, [rip + greeting]
        mov     ecx, GREETING_LEN
        call    transmit

        // Read one line into LINE (at most LINEMAX bytes, ending with '\n').
        xor     r12d, r12d                      // bytes in LINE
        xor     r13d, r13d                      // used entries of receiveq0 seen
read_more:
        call    wait_used                       // ecx = used length
        mov     eax, 7
        cmp     ecx, 64
        ja      fail
        mov     rsi, RXBUF
        lea     rdi, [LINE + r12]
        mov     edx, ecx
        add     r12d, ecx
        mov     eax, 8
        cmp     r12d, LINEMAX
        ja      fail
        rep movsb
        // A newline among the bytes received so far ends the line.
        mov     rdi, LINE
        mov     ecx, r12d
        mov     al, 10
        repne scasb
        je      got_line
        call    post_receive
        jmp     read_more

got_line:
        lea     rsi, [rip + echo_prefix]
        mov     ecx, ECHO_PREFIX_LEN
        call    transmit
        mov     rsi, LINE
        mov     ecx, r12d
        call    transmit

        xor     eax, eax                        // success
        GUEST_EXIT

        VIRTIO_QUEUE_ROUTINES


// transmit: rsi = bytes, ecx = count. Offers them as one readable descriptor on transmitq0 and
// waits until the device has used it.
transmit:
        mov     rdi, RING1
        mov     r9d, 1
        jmp     send_and_wait

greeting:
        .ascii  "hello from virtio-console\n"        // GREETING_LEN bytes
echo_prefix:
        .ascii  "echo: "                            // ECHO_PREFIX_LEN bytes

virtio_console_guest_end:
