/* elisa/vmm/vmm.h - the pieces of elisa-vmm, the kit's minimal VMM for the
 * exit-based ELISA fallback (README.md): one struct per guest VM, and the
 * functions of each file.
 *
 *   kvm_setup.c     /dev/kvm, capabilities, a VM with one vCPU, memory slots
 *   guest_mem.c     guest RAM, the image, boot info, GDT, page tables, and
 *                   the vCPU's 64-bit register state
 *   host_app.c      the app the doorbell runs, mapped executable here
 *   standalone.c    the shared region and struct elisa_attach without a manager
 *   doorbell.c      one doorbell: check the mailbox, run the app, answer
 *   vcpu_loop.c     the vCPU thread: KVM_RUN and every exit
 *   vmm.c           the command line, the run, the checks and the output
 */
#ifndef ELISA_VMM_VMM_H
#define ELISA_VMM_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "attach.h"
#include "vmfunc_guest.h"
#include "vmm_boot.h"
#include "../apps/app.h"

#define VMM_MAX_GUESTS 8
#define VMM_ERR 256

/* ---- kvm_setup.c ---------------------------------------------------------- */

struct vmm_kvm {
    int fd;                          /* /dev/kvm */
    int run_size;                    /* KVM_GET_VCPU_MMAP_SIZE */
    struct kvm_cpuid2 *cpuid;        /* KVM_GET_SUPPORTED_CPUID, given to every vCPU */
};

int vmm_kvm_open(struct vmm_kvm *k, char *err, size_t n);
void vmm_kvm_close(struct vmm_kvm *k);

/* ---- host_app.c ------------------------------------------------------------ */

struct vmm_app {
    elisa_app_fn entry;
    void *map;                       /* elisa_app_map_exec's mapping */
    uint64_t map_size;
    char name[32];
};

/* Standalone: an app file (elisa/apps/NAME.so) through app_image.h. */
int vmm_app_load_file(const char *path, struct vmm_app *app, char *err, size_t n);
/* Manager mode: the flat image in a sealed memfd (struct elisa_attach). */
int vmm_app_load_fd(int fd, uint64_t size, uint32_t entry_offset, const char *name,
                    struct vmm_app *app, char *err, size_t n);
void vmm_app_unload(struct vmm_app *app);

/* ---- standalone.c ----------------------------------------------------------- */

struct vmm_region {
    int fd;                          /* memfd */
    uint64_t size;
    uint32_t nports;
};

int vmm_standalone_region(uint32_t nports, uint32_t ring_slots, uint64_t hash_seed,
                          struct vmm_region *r, char *err, size_t n);
int vmm_standalone_fill(const struct vmm_region *r, uint32_t guest, const struct vmm_app *app,
                        struct elisa_attach *at, char *err, size_t n);
/* The port-area size a guest asks the manager for, for this geometry. */
uint64_t vmm_vmnet_area_size(uint32_t ring_slots);

/* ---- the VM ------------------------------------------------------------------ */

enum vmm_vm_state { VMM_VM_RUNNING = 0, VMM_VM_DONE, VMM_VM_FAILED };

struct vmm_vm {
    uint32_t index;
    uint32_t cpl;                    /* 3: the guest's code runs in user mode (native on PVM) */
    struct elisa_attach at;
    const struct vmm_app *app;

    int vm_fd, vcpu_fd;
    struct kvm_run *run;
    int run_size;
    uint8_t *ram;                    /* ELISA_VMM_RAM_SIZE bytes, GPA 0 */
    volatile uint64_t *mailbox;      /* EXIT mode: one page at at.gate_gpa */
    struct vmm_vmfunc_guest vmfunc;  /* VMFUNC mode: the gate's top and bottom pages */
    uint8_t *region;                 /* the whole shared region (the app's env) */
    uint8_t *port_area;              /* region bytes at at.guest_off, at at.shared_gpa */
    struct elisa_sub_env env;
    struct elisa_vmm_boot boot;      /* what the guest was told */

    /* run state, owned by the vCPU thread */
    pthread_t thread;
    int thread_started;
    int stop_requested;              /* set by the watchdog (atomic accesses) */
    char stop_reason[VMM_ERR];       /* why, if not the time limit (written before the request) */
    uint64_t last_seq;
    enum vmm_vm_state state;
    char error[VMM_ERR];
    int reported;
    struct elisa_vmm_report report;  /* copied once at CONTROL DONE */
    uint64_t exits, doorbells, app_enofn, yields, null_exits, mmio_exits, io_exits;
    uint64_t mark_ns[4];
    uint32_t marks_seen;             /* bit i: mark i */
    char con_line[160];
    size_t con_len;
    uint32_t con_lines;
};

/* ---- guest_mem.c --------------------------------------------------------------- */

/* Map RAM, load the image, write boot info, GDT and page tables, and set the
 * vCPU's registers for 64-bit mode at the image's entry. */
int vmm_guest_setup(struct vmm_vm *vm, const uint8_t *image, size_t image_size, char *err, size_t n);
/* The guest's regions (RAM, mailbox, port area) must not overlap and must
 * lie inside the identity map: checked before any memory slot is made. */
int vmm_guest_check_layout(const struct elisa_attach *at, char *err, size_t n);

/* ---- kvm_setup.c (per VM) --------------------------------------------------- */

int vmm_vm_create(const struct vmm_kvm *k, struct vmm_vm *vm, char *err, size_t n);
int vmm_vm_set_memory(struct vmm_vm *vm, uint32_t slot, uint64_t gpa, void *host, uint64_t size,
                      char *err, size_t n);
void vmm_vm_destroy(struct vmm_vm *vm);

/* ---- doorbell.c ------------------------------------------------------------------ */

int vmm_doorbell(struct vmm_vm *vm, uint32_t data, char *err, size_t n);

/* ---- vcpu_loop.c --------------------------------------------------------------- */

/* The thread body: runs the vCPU until the guest reports DONE, fails or is stopped. */
void *vmm_vcpu_thread(void *arg);
/* Watchdog side: make the vCPU thread leave KVM_RUN and stop. */
void vmm_vcpu_request_stop(struct vmm_vm *vm);
/* Once per process, before any vCPU thread starts. */
int vmm_vcpu_signals_init(char *err, size_t n);
/* Serialised console output ("guest N: ..."). */
void vmm_say(const struct vmm_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t vmm_now_ns(void);

#endif
