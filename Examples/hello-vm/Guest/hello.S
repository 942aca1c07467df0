/*
 * The hello-vm guest: 64-bit code that prints a line on the 16550 UART at 0x3f8 (polling the
 * line status register before each byte) and halts. Position independent: the host copies the
 * bytes between hello_guest_start and hello_guest_end anywhere in guest memory and jumps there.
 * Assembled with the rest of the package at build time (SwiftPM builds .S files in C targets);
 * it lives in a data section, it never runs on the host.
 */
    .intel_syntax noprefix
    .section .rodata.hello_guest, "a"
    .globl hello_guest_start
    .globl hello_guest_end
    .code64

hello_guest_start:
    lea rsi, [rip + message]
next_byte:
    mov al, [rsi]
    test al, al
    jz done
    mov bl, al
    mov dx, 0x3fd           /* line status register */
wait_for_transmitter:
    in al, dx
    test al, 0x20           /* THR empty */
    jz wait_for_transmitter
    mov dx, 0x3f8           /* transmit holding register */
    mov al, bl
    out dx, al
    inc rsi
    jmp next_byte
done:
    hlt
    jmp done
message:
    .asciz "Hello from a KVM guest\n"
hello_guest_end:

    .section .note.GNU-stack, "", @progbits
