// A tiny virtio-net driver: virtio 1.x over MMIO, one queue pair, polling the used rings. Reads
// its MAC address from the configuration space, sends an ARP request for 10.99.0.1 from
// 10.99.0.2, and waits for the ARP reply (other frames — IPv6 neighbour discovery — skipped).
//
// Entry: r10 = the virtio-net device's virtio-mmio base, rsp = stack; 64-bit long mode,
// identity-mapped, interrupts off. Reports on port 0x5f0 (0 = success, else the failed step),
// then powers off through the ACPI sleep control port 0x600 (S5), then halts. Position
// independent (RIP-relative only): the host copies the bytes anywhere below 0x20000.

        .intel_syntax noprefix
        .section .rodata.virtio_net_guest, "a"
        .globl virtio_net_guest_start
        .globl virtio_net_guest_end
        .code64

#include "virtio_mmio.inc"

        .set QSIZE,   8
        .set RING0,   0x20000           // receiveq1: descriptors, +0x1000 available, +0x2000 used
        .set RING1,   0x24000           // transmitq1: the same layout
        .set RXBUF,   0x28000           // one receive buffer: the 12-byte header and a frame
        .set RXLEN,   1526
        .set TXBUF,   0x29000           // the ARP request, after a 12-byte header
        .set MAC,     0x2a000           // our MAC address (6 bytes)
        .set HDR,     12
        .set FEATURE_MAC, 0x20          // VIRTIO_NET_F_MAC

virtio_net_guest_start:
        mov     r15, r10
        // Identify (device id 1), negotiate VERSION_1 and MAC (steps 1-5).
        VIRTIO_START 1, 1, FEATURE_MAC
        // Our MAC address, byte by byte from the configuration space.
        xor     ecx, ecx
1:      mov     al, byte ptr [r15 + CONFIG + rcx]
        mov     byte ptr [MAC + rcx], al
        inc     ecx
        cmp     ecx, 6
        jb      1b

        xor     ecx, ecx
        mov     rdi, RING0
        call    setup_queue
        mov     ecx, 1
        mov     rdi, RING1
        call    setup_queue
        mov     dword ptr [r15 + STATUS], 15    // DRIVER_OK
        call    post_receive
        xor     r13d, r13d                      // used entries of receiveq1 seen

        // The request: a zero header, then the Ethernet frame (60 bytes, zero padded).
        mov     rdi, TXBUF
        xor     eax, eax
        mov     ecx, (HDR + 60) / 8
        rep stosq
        mov     rdi, TXBUF + HDR
        mov     dword ptr [rdi], 0xffffffff             // destination: broadcast
        mov     word ptr [rdi + 4], 0xffff
        mov     eax, dword ptr [MAC]                     // source: our MAC
        mov     dword ptr [rdi + 6], eax
        mov     ax, word ptr [MAC + 4]
        mov     word ptr [rdi + 10], ax
        mov     word ptr [rdi + 12], 0x0608              // ethertype 0x0806 (ARP), big-endian
        mov     dword ptr [rdi + 14], 0x00080100         // htype 1, ptype 0x0800
        mov     dword ptr [rdi + 18], 0x01000406         // hlen 6, plen 4, oper 1 (request)
        mov     eax, dword ptr [MAC]                     // sender hardware address
        mov     dword ptr [rdi + 22], eax
        mov     ax, word ptr [MAC + 4]
        mov     word ptr [rdi + 26], ax
        mov     dword ptr [rdi + 28], 0x0200630a         // sender IP 10.99.0.2
        mov     dword ptr [rdi + 38], 0x0100630a         // target IP 10.99.0.1
        mov     rdi, RING1
        mov     rsi, TXBUF
        mov     ecx, HDR + 60
        mov     r9d, 1
        call    send_and_wait

        // Frames until the ARP reply (at most 32).
        mov     r12d, 32
next_frame:
        mov     eax, 20
        dec     r12d
        jz      fail
        call    receive_frame
        mov     rsi, RXBUF + HDR
        cmp     word ptr [rsi + 12], 0x0608              // ARP
        jne     skip
        cmp     word ptr [rsi + 20], 0x0200              // oper 2 (reply)
        jne     skip
        mov     eax, 21
        cmp     dword ptr [rsi + 28], 0x0100630a         // from 10.99.0.1
        jne     fail
        mov     eax, 22
        cmp     dword ptr [rsi + 38], 0x0200630a         // to 10.99.0.2
        jne     fail
        mov     eax, 23
        mov     edx, dword ptr [MAC]                     // to our MAC
        cmp     dword ptr [rsi + 32], edx
        jne     fail
        cmp     dword ptr [rsi], edx                     // addressed to us
        jne     fail
        xor     eax, eax                                 // success
        jmp     fail
skip:
        call    post_receive
        jmp     next_frame

        GUEST_EXIT

        VIRTIO_QUEUE_ROUTINES

// receive_frame: waits for the device to use the receive buffer (fails with 11 when a poll
// budget runs out: a hang guard) and checks that it holds a header and a frame (12).
receive_frame:
        call    wait_used                       // ecx = used length
        mov     eax, 12
        cmp     ecx, HDR + 14
        jb      fail
        ret

virtio_net_guest_end:
