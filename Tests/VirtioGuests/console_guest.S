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

        // virtio-mmio registers
        .set MAGIC,         0x000
        .set VERSION,       0x004
        .set DEVICE_ID,     0x008
        .set DEV_FEATURES,  0x010
        .set DEV_FEAT_SEL,  0x014
        .set DRV_FEATURES,  0x020
        .set DRV_FEAT_SEL,  0x024
        .set QUEUE_SEL,     0x030
        .set QUEUE_NUM_MAX, 0x034
        .set QUEUE_NUM,     0x038
        .set QUEUE_READY,   0x044
        .set QUEUE_NOTIFY,  0x050
        .set STATUS,        0x070
        .set QUEUE_DESC,    0x080
        .set QUEUE_DRIVER,  0x090
        .set QUEUE_DEVICE,  0x0a0

        .set QSIZE,   8
        .set RING0,   0x20000           // receiveq0: descriptors, +0x1000 available, +0x2000 used
        .set RING1,   0x24000           // transmitq0: the same layout
        .set RXBUF,   0x28000           // one 64-byte receive buffer, reposted after each use
        .set LINE,    0x29000           // the line read so far
        .set LINEMAX, 200
        .set GREETING_LEN, 26           // "hello from virtio-console\n"
        .set ECHO_PREFIX_LEN, 6         // "echo: "

virtio_console_guest_start:
        mov     r15, r8
        // Identify: magic "virt", version 2, device id 3.
        mov     eax, 1
        cmp     dword ptr [r15 + MAGIC], 0x74726976
        jne     fail
        mov     eax, 2
        cmp     dword ptr [r15 + VERSION], 2
        jne     fail
        mov     eax, 3
        cmp     dword ptr [r15 + DEVICE_ID], 3
        jne     fail

        // Reset, ACKNOWLEDGE, DRIVER; accept VERSION_1 only; FEATURES_OK (checked).
        mov     dword ptr [r15 + STATUS], 0
        mov     dword ptr [r15 + STATUS], 1
        mov     dword ptr [r15 + STATUS], 3
        mov     dword ptr [r15 + DEV_FEAT_SEL], 1
        mov     eax, 4
        test    dword ptr [r15 + DEV_FEATURES], 1
        jz      fail
        mov     dword ptr [r15 + DRV_FEAT_SEL], 0
        mov     dword ptr [r15 + DRV_FEATURES], 0
        mov     dword ptr [r15 + DRV_FEAT_SEL], 1
        mov     dword ptr [r15 + DRV_FEATURES], 1
        mov     dword ptr [r15 + STATUS], 11
        mov     eax, 5
        test    dword ptr [r15 + STATUS], 8
        jz      fail

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
        mov     eax, 6
        mov     rbx, 20000000                   // poll budget (a hang guard; the host may pause us here)
1:      movzx   edx, word ptr [RING0 + 0x2000 + 2]
        cmp     dx, r13w
        jne     2f
        pause
        dec     rbx
        jnz     1b
        jmp     fail
2:      mov     edx, r13d
        and     edx, QSIZE - 1
        mov     ecx, dword ptr [RING0 + 0x2000 + 4 + rdx * 8 + 4]   // used len
        inc     r13d
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
fail:
        mov     dx, 0x5f0
        out     dx, eax
        mov     al, 0x34                        // SLP_EN | SLP_TYP 5 (S5) << 2
        mov     dx, 0x600
        out     dx, al
3:      cli
        hlt
        jmp     3b

// setup_queue: ecx = queue index, rdi = its ring area (descriptors; +0x1000 available,
// +0x2000 used). Zeroes the area, programs the queue and makes it ready.
setup_queue:
        push    rdi
        push    rcx
        xor     eax, eax
        mov     ecx, 0x3000 / 8
        rep stosq
        pop     rcx
        pop     rdi
        mov     dword ptr [r15 + QUEUE_SEL], ecx
        mov     eax, 9
        cmp     dword ptr [r15 + QUEUE_NUM_MAX], QSIZE
        jb      fail
        mov     dword ptr [r15 + QUEUE_NUM], QSIZE
        mov     dword ptr [r15 + QUEUE_DESC], edi
        mov     dword ptr [r15 + QUEUE_DESC + 4], 0
        lea     eax, [rdi + 0x1000]
        mov     dword ptr [r15 + QUEUE_DRIVER], eax
        mov     dword ptr [r15 + QUEUE_DRIVER + 4], 0
        lea     eax, [rdi + 0x2000]
        mov     dword ptr [r15 + QUEUE_DEVICE], eax
        mov     dword ptr [r15 + QUEUE_DEVICE + 4], 0
        mov     dword ptr [r15 + QUEUE_READY], 1
        ret

// offer: rdi = a queue's ring area, rsi = buffer, ecx = its length, dx = descriptor flags,
// r9d = the queue's index. Puts the buffer in descriptor 0, makes it available (x86 stores are
// ordered: the ring entry before avail.idx) and notifies the queue; eax = the new avail.idx.
offer:
        mov     qword ptr [rdi], rsi
        mov     dword ptr [rdi + 8], ecx
        mov     word ptr [rdi + 12], dx
        mov     word ptr [rdi + 14], 0
        movzx   eax, word ptr [rdi + 0x1000 + 2]
        mov     r10d, eax
        and     r10d, QSIZE - 1
        mov     word ptr [rdi + 0x1000 + 4 + r10 * 2], 0
        inc     eax
        mov     word ptr [rdi + 0x1000 + 2], ax
        mov     dword ptr [r15 + QUEUE_NOTIFY], r9d
        ret

// post_receive: offers RXBUF (64 bytes, device-writable) on receiveq0 again.
post_receive:
        mov     rdi, RING0
        mov     rsi, RXBUF
        mov     ecx, 64
        mov     edx, 2                          // VIRTQ_DESC_F_WRITE
        xor     r9d, r9d
        jmp     offer

// transmit: rsi = bytes, ecx = count. Offers them as one readable descriptor on transmitq0 and
// waits until the device has used it.
transmit:
        mov     rdi, RING1
        xor     edx, edx
        mov     r9d, 1
        call    offer
        mov     rbx, 2000000                    // poll budget (a hang guard)
1:      cmp     word ptr [RING1 + 0x2000 + 2], ax
        je      2f
        pause
        dec     rbx
        jnz     1b
        mov     eax, 10
        jmp     fail
2:      ret

greeting:
        .ascii  "hello from virtio-console\n"        // GREETING_LEN bytes
echo_prefix:
        .ascii  "echo: "                            // ECHO_PREFIX_LEN bytes

virtio_console_guest_end:
