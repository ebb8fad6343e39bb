/* vmfunc/testbed/hc.h - the testbed's hypercall numbers (RAX at VMCALL),
 * shared by C and assembly. */
#ifndef TESTBED_HC_H
#define TESTBED_HC_H

#define HC_PING   0x100   /* host returns RBX + 1 in RBX */
#define HC_DONE   0x101   /* the guest routine finished; result in RBX */
#define HC_NOP    0x102   /* host only resumes (VMCALL round trip) */
#define HC_APP    0x103   /* host runs the app: RAX = app(RDI, RSI, env), then resumes
                             (the exit-based path, guest_exit_call) */

#endif
