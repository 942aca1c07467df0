// mini-vmm guest: a tiny virtio-blk driver (vCPU 0) and compute workers (other vCPUs).
//
// Built into the MiniVMMGuest C target by SwiftPM (clang assembles .S files); to rebuild a flat
// binary from GNU binutils on a fresh machine, run Examples/mini-vmm/Guest/build-guest.sh.
//
// Entry (every vCPU): rdi = vCPU index, rsi = virtio-mmio base, rdx = GSI (PIC line < 8),
// rcx = vCPU count, rsp = stack. 64-bit long mode, identity-mapped, interrupts off.
//
// Ports (the host's report device):
//   0x500 done (0 = success, else the failed step)   0x504 checksum of sectors 0-7 (FNV-1a)
//   0x508 capacity (sectors, low 32 bits)             0x510 worker result: index << 24 | sum & 0xffffff
// Serial console: 16550 at 0x3f8 (polling LSR.THRE).
//
// The code is position independent (RIP-relative only): the host copies the bytes anywhere.

        .intel_syntax noprefix
        .section .rodata.mini_vmm_guest, "a"
        .globl mini_vmm_guest_start
        .globl mini_vmm_guest_end
        .code64

        .set IDT,      0x1000
        .set DESC,     0x100000         // descriptor table (8 entries)
        .set AVAIL,    0x101000         // available ring
        .set USED,     0x102000         // used ring
        .set HDR,      0x103000         // request header
        .set STATUS,   0x103100         // request status byte
        .set DATA,     0x104000         // read buffer (4 KiB)
        .set WBUF,     0x105000         // write buffer (512 bytes)
        .set QSIZE,    8
        .set WSECTOR,  8                // the sector the driver writes

mini_vmm_guest_start:
        test    rdi, rdi
        jnz     worker

// ---------------------------------------------------------------- vCPU 0: the driver
driver:
        mov     r15, rsi                        // virtio-mmio base
        mov     r12, rdx                        // GSI
        mov     [rip + mmio_base], rsi
        lea     rbx, [rip + msg_hello]
        call    puts

        // IDT gate for vector 0x20 + GSI -> irq_handler, then lidt.
        mov     eax, 9
        cmp     r12, 8
        jae     fail
        lea     rax, [rip + irq_handler]
        lea     rdi, [r12 + 0x20]
        shl     rdi, 4
        add     rdi, IDT
        mov     word ptr [rdi], ax
        mov     word ptr [rdi + 2], 0x08
        mov     word ptr [rdi + 4], 0x8e00
        shr     rax, 16
        mov     word ptr [rdi + 6], ax
        shr     rax, 16
        mov     dword ptr [rdi + 8], eax
        mov     dword ptr [rdi + 12], 0
        lidt    [rip + idt_pointer]

        // 8259 PICs: vectors 0x20 / 0x28, only the device line unmasked.
        mov     al, 0x11
        out     0x20, al
        out     0xa0, al
        mov     al, 0x20
        out     0x21, al
        mov     al, 0x28
        out     0xa1, al
        mov     al, 0x04
        out     0x21, al
        mov     al, 0x02
        out     0xa1, al
        mov     al, 0x01
        out     0x21, al
        out     0xa1, al
        mov     cl, r12b
        mov     al, 1
        shl     al, cl
        not     al
        out     0x21, al
        mov     al, 0xff
        out     0xa1, al

        // Identify the device: magic "virt", version 2, block device.
        mov     eax, 1
        cmp     dword ptr [r15 + 0x000], 0x74726976
        jne     fail
        cmp     dword ptr [r15 + 0x004], 2
        jne     fail
        cmp     dword ptr [r15 + 0x008], 2
        jne     fail

        // Reset, ACKNOWLEDGE, DRIVER.
        mov     dword ptr [r15 + 0x070], 0
        mov     dword ptr [r15 + 0x070], 1
        mov     dword ptr [r15 + 0x070], 3

        // Features: VERSION_1 required; accept FLUSH if offered, nothing else.
        mov     eax, 2
        mov     dword ptr [r15 + 0x014], 1
        test    dword ptr [r15 + 0x010], 1
        jz      fail
        mov     dword ptr [r15 + 0x014], 0
        mov     ebx, [r15 + 0x010]
        and     ebx, (1 << 9)
        mov     dword ptr [r15 + 0x024], 0
        mov     [r15 + 0x020], ebx
        mov     dword ptr [r15 + 0x024], 1
        mov     dword ptr [r15 + 0x020], 1
        mov     dword ptr [r15 + 0x070], 11     // | FEATURES_OK
        test    dword ptr [r15 + 0x070], 8
        jz      fail
        lea     rbx, [rip + msg_features]
        call    puts

        // Queue 0: QSIZE descriptors at DESC / AVAIL / USED.
        mov     eax, 3
        mov     dword ptr [r15 + 0x030], 0
        cmp     dword ptr [r15 + 0x034], QSIZE
        jb      fail
        mov     dword ptr [r15 + 0x038], QSIZE
        mov     dword ptr [r15 + 0x080], DESC
        mov     dword ptr [r15 + 0x084], 0
        mov     dword ptr [r15 + 0x090], AVAIL
        mov     dword ptr [r15 + 0x094], 0
        mov     dword ptr [r15 + 0x0a0], USED
        mov     dword ptr [r15 + 0x0a4], 0
        mov     dword ptr [r15 + 0x044], 1
        cmp     dword ptr [r15 + 0x044], 1
        jne     fail
        mov     dword ptr [r15 + 0x070], 15     // | DRIVER_OK

        // Capacity (config space offset 0), reported and printed.
        mov     eax, [r15 + 0x100]
        mov     dx, 0x508
        out     dx, eax
        lea     rbx, [rip + msg_capacity]
        call    puts
        mov     eax, [r15 + 0x100]
        call    print_hex
        call    newline

        // Read sectors 0-7.
        xor     r8d, r8d                        // VIRTIO_BLK_T_IN
        xor     r9d, r9d
        mov     r10d, DATA
        mov     r11d, 4096
        mov     ecx, 2                          // data buffer device-writable
        call    blk_request
        test    eax, eax
        mov     eax, 4
        jnz     fail

        // FNV-1a over the 4 KiB.
        mov     esi, DATA
        mov     ecx, 4096
        mov     eax, 0x811c9dc5
1:      movzx   edx, byte ptr [rsi]
        xor     eax, edx
        imul    eax, eax, 0x01000193
        inc     rsi
        dec     ecx
        jnz     1b
        mov     dx, 0x504
        out     dx, eax
        mov     ebx, eax
        push    rbx
        lea     rbx, [rip + msg_checksum]
        call    puts
        pop     rax
        call    print_hex
        call    newline

        // Fill WBUF: byte i = i ^ 0x5a, then the message over the start.
        mov     edi, WBUF
        xor     ecx, ecx
2:      mov     al, cl
        xor     al, 0x5a
        mov     [rdi + rcx], al
        inc     ecx
        cmp     ecx, 512
        jne     2b
        lea     rsi, [rip + msg_stamp]
3:      mov     al, [rsi]
        test    al, al
        jz      4f
        mov     [rdi], al
        inc     rsi
        inc     rdi
        jmp     3b
4:
        // Write it to sector WSECTOR.
        mov     r8d, 1                          // VIRTIO_BLK_T_OUT
        mov     r9d, WSECTOR
        mov     r10d, WBUF
        mov     r11d, 512
        xor     ecx, ecx                        // data buffer device-readable
        call    blk_request
        test    eax, eax
        mov     eax, 5
        jnz     fail

        // Read it back and compare.
        xor     r8d, r8d
        mov     r9d, WSECTOR
        mov     r10d, DATA
        mov     r11d, 512
        mov     ecx, 2
        call    blk_request
        test    eax, eax
        mov     eax, 6
        jnz     fail
        mov     esi, DATA
        mov     edi, WBUF
        mov     ecx, 512
5:      mov     al, [rsi]
        cmp     al, [rdi]
        mov     eax, 6
        jne     fail
        inc     rsi
        inc     rdi
        dec     ecx
        jnz     5b
        lea     rbx, [rip + msg_written]
        call    puts

        // Flush.
        mov     r8d, 4                          // VIRTIO_BLK_T_FLUSH
        xor     r9d, r9d
        xor     r11d, r11d
        call    blk_request
        test    eax, eax
        mov     eax, 7
        jnz     fail
        lea     rbx, [rip + msg_flushed]
        call    puts

        lea     rbx, [rip + msg_success]
        call    puts
        xor     eax, eax
        mov     dx, 0x500
        out     dx, eax
        jmp     halt

fail:   // eax = failed step
        push    rax
        lea     rbx, [rip + msg_failed]
        call    puts
        pop     rax
        push    rax
        call    print_hex
        call    newline
        pop     rax
        mov     dx, 0x500
        out     dx, eax
halt:   cli
        hlt
        jmp     halt

// blk_request: r8d = type, r9 = sector, r10 = data address, r11d = data length (0: none),
// ecx = data descriptor flags (2 = device-writable). Returns the status byte in eax.
// Descriptors: 0 header, 1 data, 2 status. Waits for the used ring with sti; hlt.
blk_request:
        mov     dword ptr [HDR], r8d
        mov     dword ptr [HDR + 4], 0
        mov     qword ptr [HDR + 8], r9
        mov     byte ptr [STATUS], 0xff
        mov     qword ptr [DESC], HDR
        mov     dword ptr [DESC + 8], 16
        mov     word ptr [DESC + 12], 1         // NEXT
        mov     word ptr [DESC + 14], 2
        test    r11d, r11d
        jz      1f
        mov     word ptr [DESC + 14], 1
        mov     qword ptr [DESC + 16], r10
        mov     dword ptr [DESC + 24], r11d
        or      ecx, 1                          // NEXT
        mov     word ptr [DESC + 28], cx
        mov     word ptr [DESC + 30], 2
1:      mov     qword ptr [DESC + 32], STATUS
        mov     dword ptr [DESC + 40], 1
        mov     word ptr [DESC + 44], 2         // WRITE
        mov     word ptr [DESC + 46], 0
        // Publish descriptor 0 in the available ring, then notify.
        movzx   eax, word ptr [AVAIL + 2]
        mov     edx, eax
        and     edx, QSIZE - 1
        mov     word ptr [AVAIL + 4 + rdx * 2], 0
        inc     eax
        mov     word ptr [AVAIL + 2], ax        // x86 stores are ordered: ring entry first
        mov     dword ptr [r15 + 0x050], 0      // QueueNotify (an ioeventfd: no exit)
2:      cli
        cmp     word ptr [USED + 2], ax
        je      3f
        sti
        hlt                                     // woken by the completion interrupt
        jmp     2b
3:      movzx   eax, byte ptr [STATUS]
        ret

irq_handler:
        push    rax
        push    rbx
        mov     rax, [rip + mmio_base]
        mov     ebx, [rax + 0x060]              // InterruptStatus
        mov     [rax + 0x064], ebx              // InterruptACK
        mov     al, 0x20
        out     0x20, al                        // EOI
        pop     rbx
        pop     rax
        iretq

// ---------------------------------------------------------------- serial helpers
// puts: rbx = NUL-terminated string.
puts:   mov     al, [rbx]
        test    al, al
        jz      1f
        call    putc
        inc     rbx
        jmp     puts
1:      ret

// putc: al = byte.
putc:   push    rdx
        push    rax
        mov     dx, 0x3fd
1:      in      al, dx
        test    al, 0x20
        jz      1b
        pop     rax
        mov     dx, 0x3f8
        out     dx, al
        pop     rdx
        ret

newline:
        mov     al, 10
        jmp     putc

// print_hex: eax as 8 hex digits.
print_hex:
        push    rcx
        push    rbx
        mov     ebx, eax
        mov     ecx, 8
1:      rol     ebx, 4
        mov     al, bl
        and     al, 15
        add     al, '0'
        cmp     al, '9'
        jbe     2f
        add     al, 'a' - '9' - 1
2:      call    putc
        dec     ecx
        jnz     1b
        pop     rbx
        pop     rcx
        ret

// ---------------------------------------------------------------- other vCPUs: workers
// sum of k*k for k = 1 ... 2000 + 100 * index (mod 2^32), reported as index << 24 | sum & 0xffffff.
worker:
        lea     rcx, [rdi * 4]
        imul    ecx, ecx, 25
        add     ecx, 2000
        xor     eax, eax
1:      mov     edx, ecx
        imul    edx, ecx
        add     eax, edx
        dec     ecx
        jnz     1b
        and     eax, 0xffffff
        shl     edi, 24
        or      eax, edi
        mov     dx, 0x510
        out     dx, eax
        jmp     halt

// ---------------------------------------------------------------- data
        .balign 8
mmio_base:      .quad 0
idt_pointer:    .word 256 * 16 - 1
                .quad IDT
msg_hello:      .asciz "mini-vmm guest: virtio-blk driver on vCPU 0\n"
msg_features:   .asciz "features negotiated: VERSION_1 (+FLUSH)\n"
msg_capacity:   .asciz "capacity (sectors): 0x"
msg_checksum:   .asciz "FNV-1a of sectors 0-7: 0x"
msg_stamp:      .asciz "written by the mini-vmm guest"
msg_written:    .asciz "wrote sector 8 and read it back\n"
msg_flushed:    .asciz "flushed\n"
msg_success:    .asciz "mini-vmm guest: success\n"
msg_failed:     .asciz "mini-vmm guest: FAILED at step 0x"
mini_vmm_guest_end:
