// A tiny virtio-vsock driver: virtio 1.x over MMIO, three queues (rx, tx, event), polling the
// used rings. Opens a stream from guest port 1234 to host port 5000, sends a message, reads a
// reply line, sends it back prefixed "echo: ", shuts the stream down and waits for the RST.
// With a virtio console too, it narrates each step on it.
//
// Entry: r10 = the vsock device's virtio-mmio base, r8 = the virtio console's (0: none) — the
// Machine target's flat-binary start ABI —, rsp = stack; 64-bit
// long mode, identity-mapped, interrupts off. Reports on port 0x5f0 (0 = success, else the
// failed step), then powers off through the ACPI sleep control port 0x600 (S5), then halts.
// Position independent (RIP-relative only): the host copies the bytes anywhere below 0x20000.

        .intel_syntax noprefix
        .section .rodata.virtio_vsock_guest, "a"
        .globl virtio_vsock_guest_start
        .globl virtio_vsock_guest_end
        .code64

#include "virtio_mmio.inc"

        .set QSIZE,   8
        .set RING0,   0x20000           // rx: descriptors, +0x1000 available, +0x2000 used
        .set RING1,   0x24000           // tx: the same layout
        .set RING2,   0x28000           // event: the same layout
        .set RXBUF,   0x2c000           // one receive buffer, reposted after each packet
        .set RXLEN,   300               // a 44-byte header and up to 256 payload bytes
        .set EVBUF,   0x2c800           // one event buffer
        .set TXBUF,   0x2d000           // the packet being sent
        .set LINE,    0x2e000           // the reply read so far
        .set LINEMAX, 200
        .set CONSOLE_BASE, 0x2f000      // the virtio console's base (0: none)
        .set RING3,   0x30000           // the console's receiveq0 (set up, never used)
        .set RING4,   0x34000           // the console's transmitq0
        .set GUEST_PORT, 1234
        .set HOST_PORT,  5000
        .set BUF_ALLOC,  4096           // the guest's receive buffer, advertised
        .set MESSAGE_LEN, 17            // "hello over vsock\n"
        .set ECHO_PREFIX_LEN, 6         // "echo: "
        // The narration's lengths (constants before use: a symbol defined later would be read
        // as a memory operand in Intel syntax).
        .set SAY_CONNECTING_LEN, 42
        .set SAY_CONNECTED_LEN , 42
        .set SAY_REPLIED_LEN   , 31
        .set SAY_CLOSED_LEN    , 27

        // operations
        .set OP_REQUEST,  1
        .set OP_RESPONSE, 2
        .set OP_RST,      3
        .set OP_SHUTDOWN, 4
        .set OP_RW,       5
        .set OP_CREDIT_UPDATE, 6

virtio_vsock_guest_start:
        mov     qword ptr [CONSOLE_BASE], r8
        test    r8, r8
        jz      1f
        call    console_setup
1:      mov     r15, r10
        // Identify (device id 19), negotiate VERSION_1 only (steps 1-5).
        VIRTIO_START 19, 1

        // Our context id, from the configuration space (two 4-byte reads).
        mov     r14d, dword ptr [r15 + CONFIG]
        mov     eax, dword ptr [r15 + CONFIG + 4]
        shl     rax, 32
        or      r14, rax
        mov     eax, 6
        cmp     r14, 3
        jb      fail

        // The three queues: size 8, rings zeroed, ready; then DRIVER_OK.
        xor     ecx, ecx
        mov     rdi, RING0
        call    setup_queue
        mov     ecx, 1
        mov     rdi, RING1
        call    setup_queue
        mov     ecx, 2
        mov     rdi, RING2
        call    setup_queue
        mov     dword ptr [r15 + STATUS], 15

        // An event buffer and a receive buffer.
        mov     rdi, RING2
        mov     rsi, EVBUF
        mov     ecx, 8
        mov     edx, 2                          // VIRTQ_DESC_F_WRITE
        mov     r9d, 2
        call    offer
        call    post_receive
        xor     r12d, r12d                      // fwd_cnt: payload bytes consumed
        xor     r13d, r13d                      // used entries of rx seen
        xor     r8d, r8d                        // flags of the next packet

        lea     rsi, [rip + say_connecting]
        mov     ecx, SAY_CONNECTING_LEN
        call    say
        // Connect: REQUEST, answered RESPONSE (an RST: nobody listens, step 21).
        mov     edi, OP_REQUEST
        xor     ecx, ecx
        call    send_packet
        call    receive_packet
        mov     ecx, eax
        mov     eax, 21
        cmp     ecx, OP_RST
        je      fail
        mov     eax, 20
        cmp     ecx, OP_RESPONSE
        jne     fail
        mov     eax, 22
        cmp     dword ptr [RXBUF + 16], HOST_PORT       // from the host port asked for
        jne     fail
        call    post_receive
        lea     rsi, [rip + say_connected]
        mov     ecx, SAY_CONNECTED_LEN
        call    say

        // The message.
        mov     edi, OP_RW
        lea     rsi, [rip + message]
        mov     ecx, MESSAGE_LEN
        call    send_packet

        // The reply: RW packets until a newline (credit updates skipped).
        xor     ebp, ebp                        // bytes in LINE
read_more:
        call    receive_packet
        cmp     eax, OP_CREDIT_UPDATE
        jne     1f
        call    post_receive
        jmp     read_more
1:      mov     edx, eax
        mov     eax, 23
        cmp     edx, OP_RW
        jne     fail
        lea     edx, [rbp + rcx]
        mov     eax, 24
        cmp     edx, LINEMAX
        ja      fail
        mov     rsi, RXBUF + 44
        lea     rdi, [LINE + rbp]
        add     ebp, ecx
        add     r12d, ecx                       // consumed
        rep movsb
        call    post_receive
        mov     rdi, LINE
        mov     ecx, ebp
        mov     al, 10
        repne scasb
        jne     read_more

        lea     rsi, [rip + say_replied]
        mov     ecx, SAY_REPLIED_LEN
        call    say
        mov     rsi, LINE
        mov     ecx, ebp
        call    say

        // Back to the host: "echo: " and the line.
        mov     edi, OP_RW
        lea     rsi, [rip + echo_prefix]
        mov     ecx, ECHO_PREFIX_LEN
        call    send_packet
        mov     edi, OP_RW
        mov     rsi, LINE
        mov     ecx, ebp
        call    send_packet

        // Close: SHUTDOWN of both directions, answered RST (credit updates skipped).
        mov     r8d, 3
        mov     edi, OP_SHUTDOWN
        xor     ecx, ecx
        call    send_packet
wait_reset:
        call    receive_packet
        cmp     eax, OP_RST
        je      closed
        mov     edx, eax
        mov     eax, 25
        cmp     edx, OP_CREDIT_UPDATE
        jne     fail
        call    post_receive
        jmp     wait_reset
closed:
        lea     rsi, [rip + say_closed]
        mov     ecx, SAY_CLOSED_LEN
        call    say
        xor     eax, eax                        // success
        GUEST_EXIT

        VIRTIO_QUEUE_ROUTINES


// send_packet: edi = operation, rsi = payload, ecx = its length, r8d = flags. Writes the header
// (guest CID → host, GUEST_PORT → HOST_PORT, stream, our credit) and the payload at TXBUF,
// offers them as one readable descriptor on tx and waits until the device has used it.
send_packet:
        mov     r11, TXBUF
        mov     qword ptr [r11], r14            // src_cid
        mov     qword ptr [r11 + 8], 2          // dst_cid: the host
        mov     dword ptr [r11 + 16], GUEST_PORT
        mov     dword ptr [r11 + 20], HOST_PORT
        mov     dword ptr [r11 + 24], ecx       // len
        mov     word ptr [r11 + 28], 1          // type: stream
        mov     word ptr [r11 + 30], di         // op
        mov     dword ptr [r11 + 32], r8d       // flags
        mov     dword ptr [r11 + 36], BUF_ALLOC // buf_alloc
        mov     dword ptr [r11 + 40], r12d      // fwd_cnt
        push    rcx
        lea     rdi, [r11 + 44]
        rep movsb
        pop     rcx
        add     ecx, 44
        mov     rdi, RING1
        mov     rsi, TXBUF
        mov     r9d, 1
        jmp     send_and_wait

// receive_packet: waits for the device to use the receive buffer; eax = the packet's operation,
// ecx = its payload length (at RXBUF + 44). The caller reposts the buffer.
receive_packet:
        call    wait_used                       // ecx = used length
        mov     eax, 12
        cmp     ecx, 44                         // at least a header
        jb      fail
        mov     ecx, dword ptr [RXBUF + 24]
        mov     eax, 13
        cmp     ecx, RXLEN - 44
        ja      fail
        movzx   eax, word ptr [RXBUF + 30]
        ret

// console_setup: r8 = the virtio console's base. Identifies it (device id 3), negotiates
// VERSION_1 (steps 30-34), sets up its two queues (RING3, RING4) and sets DRIVER_OK.
console_setup:
        push    r15
        mov     r15, r8
        VIRTIO_START 3, 30
        xor     ecx, ecx
        mov     rdi, RING3
        call    setup_queue
        mov     ecx, 1
        mov     rdi, RING4
        call    setup_queue
        mov     dword ptr [r15 + STATUS], 15
        pop     r15
        ret

// say: rsi = bytes, ecx = count. Prints them on the virtio console (nothing without one): one
// readable descriptor on transmitq0, waiting until the device has used it.
say:
        mov     rax, qword ptr [CONSOLE_BASE]
        test    rax, rax
        jz      1f
        push    r15
        mov     r15, rax
        mov     rdi, RING4
        mov     r9d, 1
        call    send_and_wait
        pop     r15
1:      ret

say_connecting:
        .ascii  "vsock guest: connecting to host port 5000\n"
say_connected:
        .ascii  "vsock guest: connected, sending a message\n"
say_replied:
        .ascii  "vsock guest: the host replied: "
say_closed:
        .ascii  "vsock guest: stream closed\n"

message:
        .ascii  "hello over vsock\n"                  // MESSAGE_LEN bytes
echo_prefix:
        .ascii  "echo: "                              // ECHO_PREFIX_LEN bytes

virtio_vsock_guest_end:
