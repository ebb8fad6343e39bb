/* elisa/vmm/attach.h - what the exit-based host (elisa-vmm) needs to serve
 * one guest vCPU: what the guest was told at negotiation, and the host
 * side's memory and code.  Filled either from the command line
 * (standalone: the VMM makes the region and loads the app itself) or from
 * the manager (vmm_attach_from_manager: negotiation over TCP as the guest's
 * agent, then the manager's host link, a unix socket passing the fds).
 */
#ifndef ELISA_VMM_ATTACH_H
#define ELISA_VMM_ATTACH_H

#include <stddef.h>
#include <stdint.h>

struct elisa_attach {
    /* NEGOTIATE_OK, as the guest must use it. */
    uint32_t guest_id, vcpu;
    uint8_t mode;              /* ELISA_MODE_EXIT, or ELISA_MODE_VMFUNC (manager mode, elisa-kvm) */
    uint16_t doorbell;         /* I/O port the fallback gate rings, or ELISA_DOORBELL_MMIO (0):
                                * a 32-bit store to gate_gpa + 4096, the gate block's second
                                * page, which has no memory (elisa/guest/elisa_guest.h) */
    uint64_t gate_gpa, gate_gva;     /* EXIT: the mailbox page (first of the 12 KiB) */
    uint64_t shared_gpa, shared_size; /* the guest's part of the shared region (vmnet: its port area) */
    uint32_t entry_offset;

    /* Host side: what runs when the doorbell rings. */
    int region_fd;             /* the app's whole shared region (memfd), -1: none */
    uint64_t region_size;
    uint64_t guest_off;        /* offset in region_fd of the bytes mapped at shared_gpa */
    uint64_t env_arg;          /* elisa_sub_env.arg for this vCPU (vmnet: the port) */
    int app_fd;                /* sealed memfd holding the flat app image */
    uint64_t app_size;
    char app[32];

    /* Manager mode only (standalone: set both to -1).  manager_fd is the
     * guest's negotiation connection: the manager releases the vCPU (and
     * its vmnet port) when it closes, so keep it open while the guest runs.
     * link_fd is the host link connection: the manager sends DETACH on it
     * when the vCPU is disabled or released (vmm_attach_poll). */
    int manager_fd;
    int link_fd;

    /* VMFUNC mode only (manager mode): the host link's VMFUNC_INFO.  The
     * VMM gives its guest VM the ELISA guest role {2, guest_kvm_id,
     * manager_kvm_id}, maps the gate pages (their hash must be gate_hash),
     * then asks the manager to install with vmm_attach_vmfunc_install. */
    uint16_t manager_kvm_id, guest_kvm_id;
    uint64_t gate_hash;
};

/* Negotiate vCPU `vcpu' of guest `guest' for `app' with the manager at
 * `manager' (host:port), asking for shared_size bytes, then fetch the host
 * side through the manager's host link at `link_path'.  Returns 0, or -1
 * with one line in err (e.g. "manager 127.0.0.1:7070: guest g1 is not
 * enabled; run 'elisactl enable g1'").  Implemented in elisa/vmm/vmm_manager.c. */
int vmm_attach_from_manager(const char *manager, const char *link_path, const char *guest,
                            uint32_t vcpu, const char *app, uint64_t shared_size,
                            struct elisa_attach *out, char *err, size_t errlen);

/* link_path NULL: the manager's default (elisa/manager/link_msg.h,
 * elisa_link_default_path).  The fds in *out are close-on-exec; the image
 * and region fds were checked (sizes, the image's seals).
 *
 * Is the vCPU still attached?  Never blocks: returns 1 yes; 0 no, with
 * one line in err ("manager detached guest web1 vCPU 0: the operator
 * disabled this vCPU", or the manager closed either connection): stop
 * running the app for it (the region stays mapped until you unmap it,
 * but its port may be handed to another guest); -1 on a broken link
 * message (err).  Call it now and then from the VMM's loop, or poll
 * link_fd and manager_fd for input yourself. */
int vmm_attach_poll(struct elisa_attach *a, char *err, size_t errlen);

/* VMFUNC mode: ask the manager to install the contexts of KVM vCPU
 * KVM_VCPU_ID of this guest VM (after the role and the gate pages are
 * set); USER_MODE: the guest calls the gate at CPL 3.  Waits for
 * VMFUNC_INSTALLED.  0, or -1 with one line in err (the manager's ERROR
 * text, e.g. the hypercall's error name).  In vmm_manager.c. */
int vmm_attach_vmfunc_install(struct elisa_attach *a, uint32_t kvm_vcpu_id, int user_mode, char *err,
                              size_t errlen);

/* Close every fd of a manager-mode attach (the manager then releases the
 * vCPU); fds are set to -1. */
void vmm_attach_release(struct elisa_attach *a);

#endif
