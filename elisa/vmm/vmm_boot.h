/* elisa/vmm/vmm_boot.h - the contract between elisa-vmm and its bare-metal
 * guest image (elisa/vmm/guest/): where things are in guest-physical
 * memory, the boot-info page the VMM fills in, the report page the guest
 * fills in, and the I/O ports the guest may use.  Freestanding (both sides
 * include it).
 *
 * Guest-physical layout (identity-mapped: GVA = GPA below 4 GiB):
 *
 *   0x0000_0000  page 0: no memory slot, so a NULL access is an MMIO exit
 *   0x0000_1000  boot info (struct elisa_vmm_boot), written by the VMM
 *   0x0000_2000  report (struct elisa_vmm_report), written by the guest
 *   0x0000_3000  GDT
 *   0x0000_4000  PML4, 0x5000 PDPT, 0x6000..0x9fff four page directories
 *   0x0010_0000  the guest image (flat binary), entered at its first byte
 *   ...          stack, growing down from
 *   0x0040_0000  the end of RAM (4 MiB)
 *   0xc000_0000  standalone default gate block (gate_gpa), 12 KiB:
 *                the mailbox page (memory), then the MMIO doorbell page
 *                and a third page, both without memory
 *   0xc020_0000  standalone default: the guest's vmnet port area (shared_gpa)
 *   0xd000_0000  the VMM's device page (no memory: every store is an MMIO
 *                exit): +0 CONTROL, 32-bit stores of ELISA_VMM_CTL_* codes;
 *                +8 CONSOLE, 8-bit stores, one character of a text line
 *
 * The guest's ways out (anything else stops the VM):
 *   the doorbell (elisa_guest.h): a 32-bit store to gate_gva + 4096, or,
 *     with boot.doorbell != 0, a 32-bit OUT to that port;
 *   the device page above;
 *   ELISA_VMM_PORT_NULL: a 32-bit OUT that does nothing (the bench's bare
 *     port-I/O exit).
 * All of them are stores or OUTs, never loads or INs: a guest at CPL 3 can
 * do the stores everywhere, the OUTs only where the KVM honours IOPL.
 */
#ifndef ELISA_VMM_BOOT_H
#define ELISA_VMM_BOOT_H

#include <stdint.h>

#define ELISA_VMM_PAGE        0x1000ull
#define ELISA_VMM_BOOT_GPA    0x1000ull
#define ELISA_VMM_REPORT_GPA  0x2000ull
#define ELISA_VMM_GDT_GPA     0x3000ull
#define ELISA_VMM_PML4_GPA    0x4000ull
#define ELISA_VMM_PDPT_GPA    0x5000ull
#define ELISA_VMM_PD_GPA      0x6000ull    /* 4 pages: 4 GiB in 2 MiB pages */
#define ELISA_VMM_IMAGE_GPA   0x100000ull
#define ELISA_VMM_IMAGE_MAX   0x100000ull  /* image + bss below 2 MiB */
#define ELISA_VMM_RAM_SIZE    0x400000ull
#define ELISA_VMM_MAP_LIMIT   0x100000000ull  /* identity map: the first 4 GiB */

#define ELISA_VMM_GATE_GPA    0xc0000000ull
#define ELISA_VMM_SHARED_GPA  0xc0200000ull

#define ELISA_VMM_DEVICE_GPA  0xd0000000ull
#define ELISA_VMM_DEV_CONTROL 0x0
#define ELISA_VMM_DEV_CONSOLE 0x8

#define ELISA_VMM_PORT_DOORBELL 0x5e1a   /* --doorbell port: the port the gate uses */
#define ELISA_VMM_PORT_NULL     0x5e1b

/* CONTROL codes: low 8 bits the code, the rest an argument. */
enum elisa_vmm_ctl {
    ELISA_VMM_CTL_DONE  = 1,   /* the report page is final; the VMM ends the VM */
    ELISA_VMM_CTL_MARK  = 2,   /* bench: timestamp mark number (value >> 8) */
    ELISA_VMM_CTL_YIELD = 3,   /* nothing to do for now: the VMM yields the CPU */
    ELISA_VMM_CTL_NULL  = 4,   /* bench: an exit that does nothing (bare MMIO exit cost) */
};

enum elisa_vmm_program {
    ELISA_VMM_PROG_PINGPONG = 1,
    ELISA_VMM_PROG_NOP_BENCH = 2,
};

/* Pingpong roles. */
enum elisa_vmm_role {
    ELISA_VMM_ROLE_SENDER = 1,   /* sends K frames, checks K replies */
    ELISA_VMM_ROLE_ECHOER = 2,   /* checks K frames, replies to each */
    ELISA_VMM_ROLE_IDLE   = 3,   /* no peer: only its hostile act, if any */
};

/* What a deliberately misbehaving guest does (--hostile G:KIND), before
 * (or instead of) its role.  The VMM and the other guests must cope. */
enum elisa_vmm_hostile {
    ELISA_VMM_HOSTILE_NONE = 0,
    ELISA_VMM_HOSTILE_TXIDX,     /* garbage TX producer index, then a TX call; repairs it */
    ELISA_VMM_HOSTILE_SLOTLEN,   /* TX slots with impossible lengths, then a TX call */
    ELISA_VMM_HOSTILE_BADFN,     /* calls unknown app functions */
    ELISA_VMM_HOSTILE_BADSEQ,    /* rings the doorbell without a new sequence */
    ELISA_VMM_HOSTILE_BADPORT,   /* OUT to a port the VMM does not serve (at CPL 3 on PVM: #GP) */
    ELISA_VMM_HOSTILE_BADDEV,    /* store to an offset of the device page the VMM does not serve */
    ELISA_VMM_HOSTILE_MMIO,      /* writes to a guest-physical address with no memory */
    ELISA_VMM_HOSTILE_FAULT,     /* an exception with no IDT: triple fault */
    ELISA_VMM_HOSTILE_SPIN,      /* loops for ever without an exit */
    ELISA_VMM_HOSTILE_LAST = ELISA_VMM_HOSTILE_SPIN,
};

#define ELISA_VMM_BOOT_MAGIC   0x544f4f42564d4d45ull   /* "EMMVBOOT" */
#define ELISA_VMM_REPORT_MAGIC 0x54504552564d4d45ull   /* "EMMVREPT" */
#define ELISA_VMM_BOOT_VERSION 1u
#define ELISA_VMM_NO_CORRUPT   0xffffffffu

/* The boot-info page: read by the guest at start (the VMM never reads it
 * back).  The elisa_* fields are what elisa_ctx_exit() needs. */
struct elisa_vmm_boot {
    uint64_t magic;
    uint32_t version;
    uint32_t guest_index;       /* 0..nguests-1 */
    uint32_t nguests;
    uint32_t program;           /* enum elisa_vmm_program */
    uint32_t role;              /* enum elisa_vmm_role */
    uint32_t peer;              /* pingpong peer's index */
    uint32_t hostile;           /* enum elisa_vmm_hostile */
    uint32_t corrupt_at;        /* negative control: flip a byte of this outgoing frame */
    /* the ELISA context */
    uint32_t elisa_mode;        /* ELISA_MODE_EXIT, or ELISA_MODE_VMFUNC (gate_gva: the 12 KiB gate) */
    uint16_t doorbell;          /* a port, or ELISA_DOORBELL_MMIO (0) */
    uint16_t cpl;               /* the privilege level the guest runs at (0 or 3) */
    uint64_t gate_gva;          /* the mailbox page */
    uint64_t shared_gva;        /* this guest's vmnet port area */
    uint64_t shared_size;
    /* test parameters */
    uint64_t seed;
    uint32_t frames;            /* pingpong: K */
    uint32_t window;            /* pingpong: frames in flight after the first */
    uint64_t calls;             /* nop bench: M */
    uint32_t spins_per_yield;   /* empty polls before a YIELD exit */
    uint32_t yield_limit;       /* YIELDs in a row without progress before giving up */
    uint8_t mac[6];             /* this guest's station address */
    uint8_t peer_mac[6];        /* its peer's */
    uint32_t drop_at;           /* negative control: never send this outgoing frame */
};

/* The report page: written by the guest, read once by the VMM after
 * ELISA_VMM_CTL_DONE.  Untrusted numbers: the VMM only prints and
 * compares them. */
struct elisa_vmm_report {
    uint64_t magic;             /* ELISA_VMM_REPORT_MAGIC */
    uint64_t frames_sent;       /* put into the TX ring and switched */
    uint64_t frames_received;   /* taken from the RX ring (peer + foreign) */
    uint64_t frames_checked;    /* peer frames compared with the generator */
    uint64_t frames_foreign;    /* frames from a non-peer (floods), ignored */
    uint64_t bytes_checked;
    uint64_t mismatches;        /* frames with a wrong byte or length */
    uint64_t lost;              /* expected frames that never came */
    uint64_t call_errors;       /* elisa_call results that were errors */
    uint64_t calls;             /* elisa_call made */
    uint64_t yields;
    uint64_t hostile_result[4]; /* what the hostile act observed (per kind) */
    uint64_t hostile_ok;        /* 1: the hostile act got the answers it should */
};

#endif
