/* elisa/manager/agent/agent_blob.S - the agent's flat image (agent.bin,
 * built by elisa/manager/vmfunc_host.mk) embedded into the manager, so the
 * manager needs no file at run time.  .incbin finds agent.bin through the
 * assembler's include path (-Wa,-I). */
        .section .rodata.elisa_agent, "a"
        .balign 4096
        .globl  elisa_agent_image
        .globl  elisa_agent_image_end
elisa_agent_image:
        .incbin "agent.bin"
elisa_agent_image_end:
        .section .note.GNU-stack, "", @progbits
