// Raw-syscall hello world: write(1, msg, len); exit_group(0).
// Integer instructions only, so it runs on tcgpy's integer frontend.
    .global _start
    .text
_start:
    mov     x0, #1
    adr     x1, msg
    mov     x2, #(msg_end - msg)
    mov     x8, #64             // write
    svc     #0
    mov     x0, #0
    mov     x8, #94             // exit_group
    svc     #0
msg:
    .ascii  "hello from aarch64\n"
msg_end:
