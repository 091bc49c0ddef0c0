/*
 * xdp_obj.S -- embeds the XDP program's BPF object (xdp_prog.bpf.o, built
 * by clang -target bpf; Makefile.am) in gtmd, so that the binary needs no
 * file installed beside it. xdp.c opens it with bpf_object__open_mem.
 */
    .section .rodata
    .global gtmd_xdp_obj
    .global gtmd_xdp_obj_end
    .balign 8
gtmd_xdp_obj:
    .incbin "src/net/xdp_prog.bpf.o"
gtmd_xdp_obj_end:
    .byte 0
    .section .note.GNU-stack, "", @progbits
