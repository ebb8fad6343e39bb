/* elisa/vmm/doorbell.c - the host side of one exit-based ELISA call: the
 * guest's fallback gate (elisa/guest/gate_exit.S) stored fn, arg and a new
 * sequence in its mailbox page and did `outl seq, doorbell`; KVM stopped
 * the vCPU and KVM_RUN returned KVM_EXIT_IO to this thread.
 *
 * Everything in the mailbox is guest-written and untrusted.  Each field is
 * read once.  While we run, the only vCPU that maps this mailbox is the
 * one stopped in this exit (one vCPU per VM here), so nothing changes it
 * under us; with several vCPUs each would have its own mailbox page
 * (NEGOTIATE_OK gives one gate block per vCPU).
 *   - The sequence must be the previous one plus 1, and the OUT's data its
 *     low half: anything else is not the gate's protocol (a stale or
 *     forged doorbell, a second caller on the same mailbox), and the VM is
 *     stopped rather than guessed at.
 *   - fn and arg go to the app as they are: validating them is the app's
 *     job (app.h); the guest can name nothing but its own port, which
 *     comes from env, written by us.
 * The result is stored before the ack, so a guest that sees its sequence
 * in ack reads this call's result.
 */
#include <stdio.h>

#include "vmm.h"
#include "../guest/elisa_guest.h"

int vmm_doorbell(struct vmm_vm *vm, uint32_t data, char *err, size_t n)
{
    volatile uint64_t *mb = vm->mailbox;
    uint64_t seq = mb[ELISA_MB_SEQ / 8];
    uint64_t want = vm->last_seq + 1;
    if (seq != want || (uint32_t)seq != data) {
        snprintf(err, n, "doorbell with mailbox sequence %llu and doorbell data 0x%x, expected sequence %llu "
                 "(data 0x%x): not the fallback gate's protocol (elisa/guest/gate_exit.S); VM stopped",
                 (unsigned long long)seq, data, (unsigned long long)want, (uint32_t)want);
        return -1;
    }
    uint64_t fn = mb[ELISA_MB_FN / 8];
    uint64_t arg = mb[ELISA_MB_ARG / 8];
    uint64_t result = vm->app->entry(fn, arg, &vm->env);
    mb[ELISA_MB_RESULT / 8] = result;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    mb[ELISA_MB_ACK / 8] = seq;
    vm->last_seq = seq;
    vm->doorbells++;
    if (result == ELISA_APP_ENOFN)
        vm->app_enofn++;
    return 0;
}
