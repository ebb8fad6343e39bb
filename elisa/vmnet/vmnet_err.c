/* elisa/vmnet/vmnet_err.c - names of the vmnet error codes.  A file of its
 * own because its strings live in .rodata, which vmnet.o (the code that
 * runs in the sub context) must not need. */
#include "vmnet.h"

const char *vmnet_strerror(int err)
{
    switch (err) {
    case VMNET_OK:         return "success";
    case VMNET_EINVAL:     return "invalid argument";
    case VMNET_EBADREGION: return "bad vmnet region header";
    case VMNET_EPORT:      return "no such port";
    case VMNET_EAGAIN:     return "ring full or empty";
    case VMNET_E2BIG:      return "frame larger than the buffer";
    case VMNET_EBUSY:      return "switch busy";
    case VMNET_ECORRUPT:   return "inconsistent ring indices";
    default:               return "unknown vmnet error";
    }
}
