/*
 * arch/cc.h - lwIP's port header for exitless (gcc, x86_64 Linux, user space).
 */
#ifndef EXITLESS_LWIP_ARCH_CC_H
#define EXITLESS_LWIP_ARCH_CC_H

#include <stdint.h>

/* errno values are the host's (lwIP's own table is not used), so an err_t
 * converted with err_to_errno() is what the application expects. */
#define LWIP_ERRNO_STDINCLUDE       1
#define LWIP_ERRNO_INCLUDE          <errno.h>
/* struct timeval comes from <sys/time.h>, not lwIP. */
#define LWIP_TIMEVAL_PRIVATE        0

/* Initial sequence numbers and ports must not be predictable. */
uint32_t ns_lwip_rand(void);
#define LWIP_RAND()                 ns_lwip_rand()

/* lwIP asserts on internal invariants only; input is validated without
 * asserting.  If one fires, say where in one line and abort. */
void ns_lwip_assert(const char *msg, int line, const char *file);
#define LWIP_PLATFORM_ASSERT(x)     ns_lwip_assert((x), __LINE__, __FILE__)
#define LWIP_PLATFORM_DIAG(x)       do { } while (0)

/* Byte order: the compiler's builtins. */
#define lwip_htons(x)               ((u16_t)__builtin_bswap16((u16_t)(x)))
#define lwip_htonl(x)               ((u32_t)__builtin_bswap32((u32_t)(x)))
#define LWIP_DONT_PROVIDE_BYTEORDER_FUNCTIONS 1

#endif
