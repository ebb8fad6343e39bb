/* vmfunc/elisa_ids.h - the EPTP-list indexes of the ELISA contexts, in a
 * header that assembly (the gate code) and C both include.
 *
 * They are what the guest puts in ECX for VMFUNC leaf 0 (EPTP switching):
 * an index into the 512-entry EPTP list (Intel SDM Vol. 3C, 26.5.6.3
 * "EPTP Switching", 2023 numbering).  Plain literals: no C suffixes, which
 * the assembler would not accept.
 */
#ifndef VMFUNC_ELISA_IDS_H
#define VMFUNC_ELISA_IDS_H

#define VMF_CTX_DEFAULT 0   /* the guest's own view */
#define VMF_CTX_GATE    1   /* the gate block only (+ the anywhere page table) */
#define VMF_CTX_SUB     2   /* sub-context code and shared memory */
#define VMF_CTX_COUNT   3

#endif
