/* elisa/proto/proto.c - encoder and streaming decoder of the manager/guest
 * negotiation protocol (proto.h, README.md).
 *
 * One source of truth for validity: the body parser.  The decoder runs it
 * on each complete message; the encoders write the bytes and then run the
 * same parser over them, so a message we send is exactly one a peer of
 * the same version accepts, and every accepted message re-encodes to the
 * bytes it came from (there is no field whose value is dropped or
 * normalised: no padding, no reserved bits, strings without NULs).
 */
#include <stdio.h>
#include <string.h>

#include "proto.h"
#include "../../vmfunc/elisa_ids.h"

/* The EPTP-list indexes the manager hands out come from vmfunc; they must
 * fit the list (and a u16 on the wire). */
_Static_assert(VMF_CTX_DEFAULT < PROTO_EPTP_LIST_SIZE && VMF_CTX_GATE < PROTO_EPTP_LIST_SIZE &&
               VMF_CTX_SUB < PROTO_EPTP_LIST_SIZE, "EPTP-list indexes out of range");

/* --- body sizes ------------------------------------------------------------------ */

#define STR_MAX(n) (2u + (n))   /* u16 length + bytes */

#define HELLO_MAX         (2u + 2u + 1u + STR_MAX(PROTO_NAME_MAX))
#define HELLO_OK_MAX      (2u + 4u + STR_MAX(PROTO_NAME_MAX))
#define NEGOTIATE_MAX     (4u + 8u + STR_MAX(PROTO_APP_MAX))
#define NEGOTIATE_OK_SIZE_V1 (4u + 8u + 8u + 3u * 2u + 4u + 8u + 8u)
#define NEGOTIATE_OK_SIZE_V2 (NEGOTIATE_OK_SIZE_V1 + 1u + 2u)   /* + mode, doorbell */
#define NEGOTIATE_ERR_MAX (4u + 2u + STR_MAX(PROTO_TEXT_MAX))
#define ENABLE_MAX        (4u + STR_MAX(PROTO_NAME_MAX))
#define OK_SIZE           2u
#define LIST_SIZE         4u
#define LIST_ENTRY_MAX    (4u + STR_MAX(PROTO_NAME_MAX) + 4u + 1u + STR_MAX(PROTO_APP_MAX) + 3u * 8u)
#define LIST_OK_MAX       (4u + 4u + 2u + PROTO_LIST_MAX * LIST_ENTRY_MAX)
#define ERROR_MAX         (2u + 2u + 2u + STR_MAX(PROTO_TEXT_MAX))

_Static_assert(LIST_OK_MAX <= PROTO_BODY_MAX, "LIST_OK does not fit PROTO_BODY_MAX");
_Static_assert(NEGOTIATE_OK_SIZE_V1 == 46 && NEGOTIATE_OK_SIZE_V2 == 49,
               "NEGOTIATE_OK layout changed: update README.md");

/* Only NEGOTIATE_OK differs between versions 1 and 2. */
uint32_t proto_body_max_v(unsigned version, unsigned type)
{
    if (version < PROTO_VERSION_MIN || version > PROTO_VERSION_MAX)
        return 0;
    switch (type) {
    case PROTO_HELLO:         return HELLO_MAX;
    case PROTO_HELLO_OK:      return HELLO_OK_MAX;
    case PROTO_NEGOTIATE:     return NEGOTIATE_MAX;
    case PROTO_NEGOTIATE_OK:  return version == 1 ? NEGOTIATE_OK_SIZE_V1 : NEGOTIATE_OK_SIZE_V2;
    case PROTO_NEGOTIATE_ERR: return NEGOTIATE_ERR_MAX;
    case PROTO_ENABLE:        return ENABLE_MAX;
    case PROTO_DISABLE:       return ENABLE_MAX;
    case PROTO_OK:            return OK_SIZE;
    case PROTO_LIST:          return LIST_SIZE;
    case PROTO_LIST_OK:       return LIST_OK_MAX;
    case PROTO_ERROR:         return ERROR_MAX;
    default:                  return 0;
    }
}

uint32_t proto_body_max(unsigned type)
{
    return proto_body_max_v(PROTO_VERSION, type);
}

const char *proto_type_name(unsigned type)
{
    static const char *const names[] = {
        [PROTO_HELLO] = "HELLO", [PROTO_HELLO_OK] = "HELLO_OK",
        [PROTO_NEGOTIATE] = "NEGOTIATE", [PROTO_NEGOTIATE_OK] = "NEGOTIATE_OK",
        [PROTO_NEGOTIATE_ERR] = "NEGOTIATE_ERR", [PROTO_ENABLE] = "ENABLE",
        [PROTO_DISABLE] = "DISABLE", [PROTO_OK] = "OK", [PROTO_LIST] = "LIST",
        [PROTO_LIST_OK] = "LIST_OK", [PROTO_ERROR] = "ERROR",
    };
    if (type >= PROTO_TYPE_FIRST && type <= PROTO_TYPE_LAST)
        return names[type];
    return "?";
}

const char *proto_strerror(int code)
{
    if (code < 0)
        code = -code;
    switch (code) {
    case 0:                  return "ok";
    case PROTO_E_MAGIC:      return "bad magic";
    case PROTO_E_VERSION:    return "unsupported version";
    case PROTO_E_TYPE:       return "unknown message type";
    case PROTO_E_FLAGS:      return "undefined flags";
    case PROTO_E_LENGTH:     return "length over the limit";
    case PROTO_E_TRUNCATED:  return "truncated field";
    case PROTO_E_TRAILING:   return "trailing bytes";
    case PROTO_E_ENUM:       return "bad enum value";
    case PROTO_E_STRING:     return "bad string";
    case PROTO_E_VALUE:      return "value out of range";
    case PROTO_E_COUNT:      return "array count over the limit";
    case PROTO_E_UNEXPECTED: return "unexpected message";
    case PROTO_E_DENIED:     return "denied";
    case PROTO_E_NO_GUEST:   return "no such guest or vCPU";
    case PROTO_E_BUSY:       return "busy";
    case PROTO_E_INTERNAL:   return "internal error";
    case PROTO_E_NOSPACE:    return "output buffer too small";
    case PROTO_E_INVAL:      return "invalid argument";
    default:                 return "unknown error";
    }
}

char *proto_err_format(const struct proto_err *e, char *buf, size_t n)
{
    char what[96];

    if (n == 0)
        return buf;
    switch (e->code) {
    case PROTO_E_MAGIC:
        snprintf(what, sizeof(what), "byte 0x%02llx, expected 0x%02llx: not an ELISA peer",
                 (unsigned long long)e->value, (unsigned long long)e->limit);
        break;
    case PROTO_E_VERSION:
        snprintf(what, sizeof(what), "%llu (supported %u..%u)", (unsigned long long)e->value,
                 e->ver_min, e->ver_max);
        break;
    case PROTO_E_TYPE:
    case PROTO_E_FLAGS:
        snprintf(what, sizeof(what), "0x%llx", (unsigned long long)e->value);
        break;
    case PROTO_E_LENGTH:
    case PROTO_E_STRING:
    case PROTO_E_COUNT:
    case PROTO_E_TRUNCATED:
    case PROTO_E_TRAILING:
        snprintf(what, sizeof(what), "%llu (limit %llu)", (unsigned long long)e->value,
                 (unsigned long long)e->limit);
        break;
    default:
        snprintf(what, sizeof(what), "0x%llx", (unsigned long long)e->value);
        break;
    }
    snprintf(buf, n, "%s: %s%s%s %s at offset %llu+%u", proto_strerror(e->code),
             e->type ? proto_type_name(e->type) : "", e->type ? " " : "",
             e->field ? e->field : "?", what, (unsigned long long)e->msg_offset,
             (unsigned)e->field_offset);
    return buf;
}

/* --- little-endian bytes ------------------------------------------------------------ */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (unsigned)p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

/* --- the body reader: every read is checked against the body length ---------------- */

struct rd {
    const uint8_t *p;      /* body */
    uint32_t n, at;        /* body length, read position */
    struct proto_err *e;   /* code 0 while all is well */
};

/* Record the first error only: later reads after a failure are no-ops. */
static bool rd_fail(struct rd *r, int code, uint32_t at, const char *field, uint64_t value,
                    uint64_t limit)
{
    if (r->e->code == 0) {
        r->e->code = code;
        r->e->field_offset = PROTO_HDR_SIZE + at;
        r->e->field = field;
        r->e->value = value;
        r->e->limit = limit;
    }
    return false;
}

static bool rd_take(struct rd *r, uint32_t size, const char *field)
{
    if (r->e->code)
        return false;
    if (r->n - r->at < size)
        return rd_fail(r, PROTO_E_TRUNCATED, r->at, field, size, r->n - r->at);
    return true;
}

static bool rd_u8(struct rd *r, const char *field, uint8_t *v)
{
    if (!rd_take(r, 1, field))
        return false;
    *v = r->p[r->at++];
    return true;
}

static bool rd_u16(struct rd *r, const char *field, uint16_t *v)
{
    if (!rd_take(r, 2, field))
        return false;
    *v = get16(r->p + r->at);
    r->at += 2;
    return true;
}

static bool rd_u32(struct rd *r, const char *field, uint32_t *v)
{
    if (!rd_take(r, 4, field))
        return false;
    *v = get32(r->p + r->at);
    r->at += 4;
    return true;
}

static bool rd_u64(struct rd *r, const char *field, uint64_t *v)
{
    if (!rd_take(r, 8, field))
        return false;
    *v = get64(r->p + r->at);
    r->at += 8;
    return true;
}

enum str_kind {
    STR_NAME,        /* non-empty, [A-Za-z0-9._-] */
    STR_NAME_EMPTY,  /* the same or empty */
    STR_TEXT,        /* printable ASCII, may be empty */
};

/* [A-Za-z0-9._-] as a 128-bit set (bit c of word c / 64): strings are
 * most of what the decoder reads, and this is one shift per byte.  The
 * unit test checks it against the plain definition for all 256 bytes. */
static const uint64_t name_set[2] = { 0x3ff600000000000ull, 0x7fffffe87fffffeull };

static bool name_char(uint8_t c)
{
    return c < 128 && ((name_set[c >> 6] >> (c & 63)) & 1);
}

static bool text_char(uint8_t c)
{
    return c >= 0x20 && c <= 0x7e;
}

/* A u16 length, then the bytes into DST[MAX + 1], NUL-terminated.  Names
 * are restricted to a set that is safe in logs, file names and terminals;
 * text may hold any printable ASCII.  No NUL is allowed on the wire, so
 * the C string is the whole wire string (and re-encodes to it). */
static bool rd_str(struct rd *r, const char *field, char *dst, uint32_t max, enum str_kind kind)
{
    uint16_t len;
    uint32_t at = r->at;

    if (!rd_u16(r, field, &len))
        return false;
    if (len > max)
        return rd_fail(r, PROTO_E_STRING, at, field, len, max);
    if (len == 0 && kind == STR_NAME)
        return rd_fail(r, PROTO_E_STRING, at, field, 0, max);
    if (!rd_take(r, len, field))
        return false;
    const uint8_t *s = r->p + r->at;
    for (uint32_t i = 0; i < len; i++)
        if (!(kind == STR_TEXT ? text_char(s[i]) : name_char(s[i])))
            return rd_fail(r, PROTO_E_STRING, r->at + i, field, s[i], max);
    memcpy(dst, s, len);
    dst[len] = '\0';
    r->at += len;
    return true;
}

/* Checks after a field was read: AT is the field's body offset. */
static bool chk(struct rd *r, bool ok, int code, uint32_t at, const char *field, uint64_t value,
                uint64_t limit)
{
    if (r->e->code)
        return false;
    return ok ? true : rd_fail(r, code, at, field, value, limit);
}

static bool page_aligned(uint64_t v) { return (v & (PROTO_PAGE_SIZE - 1)) == 0; }

/* [gpa, gpa + size) is page aligned and below PROTO_GPA_LIMIT. */
static bool gpa_range_ok(uint64_t gpa, uint64_t size)
{
    return page_aligned(gpa) && page_aligned(size) && gpa <= PROTO_GPA_LIMIT &&
           size <= PROTO_GPA_LIMIT - gpa;
}

/* 48-bit canonical: bits 63..47 all equal. */
static bool canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

/* --- body parsers --------------------------------------------------------------------- */

static void parse_hello(struct rd *r, struct proto_hello *b)
{
    uint32_t at_max, at_role;

    rd_u16(r, "hello.ver_min", &b->ver_min);
    chk(r, b->ver_min >= 1, PROTO_E_VALUE, 0, "hello.ver_min", b->ver_min, 1);
    at_max = r->at;
    rd_u16(r, "hello.ver_max", &b->ver_max);
    chk(r, b->ver_max >= b->ver_min, PROTO_E_VALUE, at_max, "hello.ver_max", b->ver_max,
        b->ver_min);
    at_role = r->at;
    rd_u8(r, "hello.role", &b->role);
    chk(r, b->role == PROTO_ROLE_GUEST || b->role == PROTO_ROLE_OPERATOR, PROTO_E_ENUM, at_role,
        "hello.role", b->role, PROTO_ROLE_OPERATOR);
    rd_str(r, "hello.name", b->name, PROTO_NAME_MAX, STR_NAME);
}

static void parse_hello_ok(struct rd *r, struct proto_hello_ok *b)
{
    rd_u16(r, "hello_ok.version", &b->version);
    chk(r, b->version >= 1, PROTO_E_VALUE, 0, "hello_ok.version", b->version, 1);
    rd_u32(r, "hello_ok.guest_id", &b->guest_id);
    rd_str(r, "hello_ok.name", b->name, PROTO_NAME_MAX, STR_NAME);
}

static void parse_negotiate(struct rd *r, struct proto_negotiate *b)
{
    rd_u32(r, "negotiate.vcpu", &b->vcpu);
    chk(r, b->vcpu != PROTO_VCPU_ALL, PROTO_E_VALUE, 0, "negotiate.vcpu", b->vcpu, 0);
    rd_u64(r, "negotiate.shared_size", &b->shared_size);
    chk(r, gpa_range_ok(0, b->shared_size), PROTO_E_VALUE, 4, "negotiate.shared_size",
        b->shared_size, PROTO_GPA_LIMIT);
    rd_str(r, "negotiate.app", b->app, PROTO_APP_MAX, STR_NAME);
}

/* Version 2 puts mode and doorbell right after vcpu: every later check
 * depends on the mode, so it is read first.  Field offsets are taken as
 * the fields are read, since they differ between the versions. */
static void parse_negotiate_ok(struct rd *r, struct proto_negotiate_ok *b, uint16_t version)
{
    uint32_t at;
    bool exit_mode;

    rd_u32(r, "negotiate_ok.vcpu", &b->vcpu);
    chk(r, b->vcpu != PROTO_VCPU_ALL, PROTO_E_VALUE, 0, "negotiate_ok.vcpu", b->vcpu, 0);
    if (version >= 2) {
        at = r->at;
        rd_u8(r, "negotiate_ok.mode", &b->mode);
        chk(r, b->mode >= 1 && b->mode <= PROTO_MODE_LAST, PROTO_E_ENUM, at, "negotiate_ok.mode",
            b->mode, PROTO_MODE_LAST);
        at = r->at;
        rd_u16(r, "negotiate_ok.doorbell", &b->doorbell);
        /* VMFUNC mode rings nothing: 0.  EXIT mode: an I/O port, or 0 for
         * the MMIO doorbell, a store to the gate block's second page
         * (ELISA_DOORBELL_MMIO in elisa/guest/elisa_guest.h; port 0 is
         * the legacy DMA controller's, never a doorbell). */
        chk(r, b->mode == PROTO_MODE_EXIT || b->doorbell == 0, PROTO_E_VALUE, at,
            "negotiate_ok.doorbell", b->doorbell, 0);
    } else {
        b->mode = PROTO_MODE_VMFUNC;
        b->doorbell = 0;
    }
    if (r->e->code)
        return;
    exit_mode = b->mode == PROTO_MODE_EXIT;
    at = r->at;
    rd_u64(r, "negotiate_ok.gate_gpa", &b->gate_gpa);
    chk(r, gpa_range_ok(b->gate_gpa, PROTO_GATE_SIZE), PROTO_E_VALUE, at, "negotiate_ok.gate_gpa",
        b->gate_gpa, PROTO_GPA_LIMIT);
    at = r->at;
    rd_u64(r, "negotiate_ok.gate_gva", &b->gate_gva);
    /* The whole block must be canonical: its first and last byte on the
     * same side of the hole, with no wrap past 2^64. */
    chk(r, page_aligned(b->gate_gva) && b->gate_gva <= UINT64_MAX - PROTO_GATE_SIZE + 1 &&
        canonical(b->gate_gva) && canonical(b->gate_gva + PROTO_GATE_SIZE - 1),
        PROTO_E_VALUE, at, "negotiate_ok.gate_gva", b->gate_gva, 0);
    /* EXIT mode has no EPTP list: the indexes must be 0, so that a guest
     * cannot mistake an exit-mode answer for a VMFUNC one. */
    at = r->at;
    rd_u16(r, "negotiate_ok.idx_default", &b->idx_default);
    chk(r, exit_mode ? b->idx_default == 0 : b->idx_default < PROTO_EPTP_LIST_SIZE, PROTO_E_VALUE,
        at, "negotiate_ok.idx_default", b->idx_default, exit_mode ? 0 : PROTO_EPTP_LIST_SIZE - 1);
    at = r->at;
    rd_u16(r, "negotiate_ok.idx_gate", &b->idx_gate);
    chk(r, exit_mode ? b->idx_gate == 0
                     : b->idx_gate < PROTO_EPTP_LIST_SIZE && b->idx_gate != b->idx_default,
        PROTO_E_VALUE, at, "negotiate_ok.idx_gate", b->idx_gate,
        exit_mode ? 0 : PROTO_EPTP_LIST_SIZE - 1);
    at = r->at;
    rd_u16(r, "negotiate_ok.idx_sub", &b->idx_sub);
    chk(r, exit_mode ? b->idx_sub == 0
                     : b->idx_sub < PROTO_EPTP_LIST_SIZE && b->idx_sub != b->idx_default &&
                       b->idx_sub != b->idx_gate,
        PROTO_E_VALUE, at, "negotiate_ok.idx_sub", b->idx_sub,
        exit_mode ? 0 : PROTO_EPTP_LIST_SIZE - 1);
    rd_u32(r, "negotiate_ok.entry_offset", &b->entry_offset);
    at = r->at;
    rd_u64(r, "negotiate_ok.shared_gpa", &b->shared_gpa);
    chk(r, page_aligned(b->shared_gpa) && b->shared_gpa < PROTO_GPA_LIMIT, PROTO_E_VALUE, at,
        "negotiate_ok.shared_gpa", b->shared_gpa, PROTO_GPA_LIMIT);
    at = r->at;
    rd_u64(r, "negotiate_ok.shared_size", &b->shared_size);
    /* Size 0 means "no shared memory", and then there is no address
     * either; a region must not overlap the gate block. */
    chk(r, gpa_range_ok(b->shared_gpa, b->shared_size) &&
        (b->shared_size != 0 || b->shared_gpa == 0) &&
        (b->shared_size == 0 || b->shared_gpa + b->shared_size <= b->gate_gpa ||
         b->gate_gpa + PROTO_GATE_SIZE <= b->shared_gpa),
        PROTO_E_VALUE, at, "negotiate_ok.shared_size", b->shared_size, PROTO_GPA_LIMIT);
}

static void parse_negotiate_err(struct rd *r, struct proto_negotiate_err *b)
{
    rd_u32(r, "negotiate_err.vcpu", &b->vcpu);
    rd_u16(r, "negotiate_err.code", &b->code);
    chk(r, b->code >= 1 && b->code <= PROTO_NEG_LAST, PROTO_E_ENUM, 4, "negotiate_err.code",
        b->code, PROTO_NEG_LAST);
    rd_str(r, "negotiate_err.text", b->text, PROTO_TEXT_MAX, STR_TEXT);
}

static void parse_enable(struct rd *r, struct proto_enable *b)
{
    rd_u32(r, "enable.vcpu", &b->vcpu);
    rd_str(r, "enable.guest", b->guest, PROTO_NAME_MAX, STR_NAME_EMPTY);
}

static void parse_ok(struct rd *r, struct proto_ok *b)
{
    rd_u16(r, "ok.what", &b->what);
    chk(r, b->what == PROTO_ENABLE || b->what == PROTO_DISABLE, PROTO_E_ENUM, 0, "ok.what",
        b->what, PROTO_DISABLE);
}

static void parse_list(struct rd *r, struct proto_list *b)
{
    rd_u32(r, "list.start", &b->start);
}

static void parse_list_entry(struct rd *r, struct proto_list_entry *x)
{
    uint32_t at;

    rd_u32(r, "list_ok.entry.guest_id", &x->guest_id);
    rd_str(r, "list_ok.entry.guest", x->guest, PROTO_NAME_MAX, STR_NAME);
    at = r->at;
    rd_u32(r, "list_ok.entry.vcpu", &x->vcpu);
    chk(r, x->vcpu != PROTO_VCPU_ALL, PROTO_E_VALUE, at, "list_ok.entry.vcpu", x->vcpu, 0);
    at = r->at;
    rd_u8(r, "list_ok.entry.state", &x->state);
    chk(r, x->state >= 1 && x->state <= PROTO_CTX_LAST, PROTO_E_ENUM, at, "list_ok.entry.state",
        x->state, PROTO_CTX_LAST);
    rd_str(r, "list_ok.entry.app", x->app, PROTO_APP_MAX, STR_NAME);
    at = r->at;
    rd_u64(r, "list_ok.entry.gate_gpa", &x->gate_gpa);
    chk(r, gpa_range_ok(x->gate_gpa, PROTO_GATE_SIZE), PROTO_E_VALUE, at, "list_ok.entry.gate_gpa",
        x->gate_gpa, PROTO_GPA_LIMIT);
    at = r->at;
    rd_u64(r, "list_ok.entry.shared_gpa", &x->shared_gpa);
    chk(r, page_aligned(x->shared_gpa) && x->shared_gpa < PROTO_GPA_LIMIT, PROTO_E_VALUE, at,
        "list_ok.entry.shared_gpa", x->shared_gpa, PROTO_GPA_LIMIT);
    at = r->at;
    rd_u64(r, "list_ok.entry.shared_size", &x->shared_size);
    chk(r, gpa_range_ok(x->shared_gpa, x->shared_size) &&
        (x->shared_size != 0 || x->shared_gpa == 0), PROTO_E_VALUE, at,
        "list_ok.entry.shared_size", x->shared_size, PROTO_GPA_LIMIT);
}

static void parse_list_ok(struct rd *r, struct proto_list_ok *b)
{
    rd_u32(r, "list_ok.total", &b->total);
    rd_u32(r, "list_ok.start", &b->start);
    rd_u16(r, "list_ok.count", &b->count);
    /* The count is checked before any entry is read: it bounds the array. */
    chk(r, b->count <= PROTO_LIST_MAX, PROTO_E_COUNT, 8, "list_ok.count", b->count,
        PROTO_LIST_MAX);
    chk(r, (uint64_t)b->start + b->count <= b->total, PROTO_E_VALUE, 8, "list_ok.count",
        b->count, b->total >= b->start ? b->total - b->start : 0);
    for (unsigned i = 0; i < b->count && r->e->code == 0; i++)
        parse_list_entry(r, &b->entries[i]);
}

static void parse_error(struct rd *r, struct proto_error *b)
{
    rd_u16(r, "error.code", &b->code);
    chk(r, b->code >= 1 && b->code <= PROTO_WIRE_LAST, PROTO_E_ENUM, 0, "error.code", b->code,
        PROTO_WIRE_LAST);
    rd_u16(r, "error.ver_min", &b->ver_min);
    chk(r, b->ver_min >= 1, PROTO_E_VALUE, 2, "error.ver_min", b->ver_min, 1);
    rd_u16(r, "error.ver_max", &b->ver_max);
    chk(r, b->ver_max >= b->ver_min, PROTO_E_VALUE, 4, "error.ver_max", b->ver_max, b->ver_min);
    rd_str(r, "error.text", b->text, PROTO_TEXT_MAX, STR_TEXT);
}

/* Parse the body of a message whose header (in M) was already checked.
 * Returns 0 or the PROTO_E_* recorded in *E. */
static int parse_body(const uint8_t *body, uint32_t len, struct proto_msg *m, struct proto_err *e)
{
    struct rd r = { body, len, 0, e };

    switch (m->type) {
    case PROTO_HELLO:         parse_hello(&r, &m->u.hello); break;
    case PROTO_HELLO_OK:      parse_hello_ok(&r, &m->u.hello_ok); break;
    case PROTO_NEGOTIATE:     parse_negotiate(&r, &m->u.negotiate); break;
    case PROTO_NEGOTIATE_OK:  parse_negotiate_ok(&r, &m->u.negotiate_ok, m->version); break;
    case PROTO_NEGOTIATE_ERR: parse_negotiate_err(&r, &m->u.negotiate_err); break;
    case PROTO_ENABLE:
    case PROTO_DISABLE:       parse_enable(&r, &m->u.enable); break;
    case PROTO_OK:            parse_ok(&r, &m->u.ok); break;
    case PROTO_LIST:          parse_list(&r, &m->u.list); break;
    case PROTO_LIST_OK:       parse_list_ok(&r, &m->u.list_ok); break;
    case PROTO_ERROR:         parse_error(&r, &m->u.error); break;
    default:                  rd_fail(&r, PROTO_E_TYPE, 0, "type", m->type, PROTO_TYPE_LAST); break;
    }
    if (e->code == 0 && r.at != len)
        rd_fail(&r, PROTO_E_TRAILING, r.at, "body", len - r.at, r.at);
    return e->code;
}

/* --- the streaming decoder ---------------------------------------------------------------- */

static const uint8_t magic[4] = { PROTO_MAGIC0, PROTO_MAGIC1, PROTO_MAGIC2, PROTO_MAGIC3 };

void proto_dec_init(struct proto_dec *d)
{
    d->have = 0;
    d->need = 0;
    d->offset = 0;
    d->ver_lo = PROTO_VERSION_MIN;
    d->ver_hi = PROTO_VERSION_MAX;
    d->failed = 0;
    memset(&d->err, 0, sizeof(d->err));
}

int proto_dec_set_versions(struct proto_dec *d, uint16_t lo, uint16_t hi)
{
    if (lo < PROTO_VERSION_MIN || hi > PROTO_VERSION_MAX || lo > hi)
        return -PROTO_E_INVAL;
    d->ver_lo = lo;
    d->ver_hi = hi;
    return 0;
}

static int dec_fail(struct proto_dec *d, int code, uint32_t at, const char *field, uint16_t type,
                    uint64_t value, uint64_t limit)
{
    d->failed = code;
    d->err.code = code;
    d->err.msg_offset = d->offset;
    d->err.field_offset = at;
    d->err.field = field;
    d->err.type = type;
    d->err.value = value;
    d->err.limit = limit;
    d->err.ver_min = d->ver_lo;
    d->err.ver_max = d->ver_hi;
    return -code;
}

/* The header is complete in d->buf: check it in the order a reader must
 * (the version first: another version may number types differently). */
static int dec_header(struct proto_dec *d)
{
    const uint8_t *h = d->buf;
    uint16_t version = get16(h + PROTO_OFF_VERSION);
    uint16_t type = get16(h + PROTO_OFF_TYPE);
    uint32_t flags = get32(h + PROTO_OFF_FLAGS);
    uint32_t length = get32(h + PROTO_OFF_LENGTH);
    uint32_t max;

    /* HELLO, HELLO_OK and ERROR are frozen at version 1 (README.md,
     * "Versions"): readable whatever range a decoder was narrowed to, so
     * that a refusal always reaches the peer. */
    bool frozen = version == PROTO_VERSION_HELLO &&
                  (type == PROTO_HELLO || type == PROTO_HELLO_OK || type == PROTO_ERROR);

    if ((version < d->ver_lo || version > d->ver_hi) && !frozen)
        return dec_fail(d, PROTO_E_VERSION, PROTO_OFF_VERSION, "version", 0, version, d->ver_hi);
    max = proto_body_max_v(version, type);
    if (max == 0)
        return dec_fail(d, PROTO_E_TYPE, PROTO_OFF_TYPE, "type", 0, type, PROTO_TYPE_LAST);
    if (flags & ~(uint32_t)PROTO_FLAGS_V1)
        return dec_fail(d, PROTO_E_FLAGS, PROTO_OFF_FLAGS, "flags", type, flags, PROTO_FLAGS_V1);
    /* Refused before a single body byte is buffered. */
    if (length > max)
        return dec_fail(d, PROTO_E_LENGTH, PROTO_OFF_LENGTH, "length", type, length, max);
    d->need = PROTO_HDR_SIZE + length;
    return 0;
}

int proto_dec_feed(struct proto_dec *d, const uint8_t *data, size_t len, size_t *used,
                   struct proto_msg *out)
{
    size_t pos = 0;

    *used = 0;
    if (d->failed)
        return -d->failed;
    while (pos < len) {
        if (d->have < PROTO_HDR_SIZE) {
            /* Header bytes one by one: the magic is checked as it
             * arrives, so a stranger is refused at its first wrong byte. */
            uint8_t c = data[pos++];
            if (d->have < sizeof(magic) && c != magic[d->have]) {
                *used = pos;
                return dec_fail(d, PROTO_E_MAGIC, d->have, "magic", 0, c, magic[d->have]);
            }
            d->buf[d->have++] = c;
            if (d->have == PROTO_HDR_SIZE) {
                int rc = dec_header(d);
                if (rc < 0) {
                    *used = pos;
                    return rc;
                }
            }
        } else {
            size_t n = d->need - d->have;
            if (n > len - pos)
                n = len - pos;
            memcpy(d->buf + d->have, data + pos, n);
            d->have += (uint32_t)n;
            pos += n;
        }
        if (d->have >= PROTO_HDR_SIZE && d->have == d->need) {
            /* A complete message (a zero-length body completes with its
             * header, without waiting for more input). */
            struct proto_err e;
            memset(&e, 0, sizeof(e));
            out->version = get16(d->buf + PROTO_OFF_VERSION);
            out->type = get16(d->buf + PROTO_OFF_TYPE);
            out->flags = get32(d->buf + PROTO_OFF_FLAGS);
            out->req_id = get32(d->buf + PROTO_OFF_REQID);
            *used = pos;
            if (parse_body(d->buf + PROTO_HDR_SIZE, d->need - PROTO_HDR_SIZE, out, &e) != 0)
                return dec_fail(d, e.code, e.field_offset, e.field, out->type, e.value, e.limit);
            d->offset += d->need;
            d->have = 0;
            d->need = 0;
            return PROTO_MESSAGE;
        }
    }
    *used = pos;
    return PROTO_NEED_MORE;
}

int proto_decode(const uint8_t *buf, size_t len, size_t *used, struct proto_msg *out,
                 struct proto_err *err)
{
    struct proto_dec d;   /* 8 KiB: user space only, like the rest */
    int rc;

    proto_dec_init(&d);
    rc = proto_dec_feed(&d, buf, len, used, out);
    if (rc < 0 && err)
        *err = d.err;
    return rc;
}

/* --- encoding ------------------------------------------------------------------------------ */

struct wr {
    uint8_t *p;
    size_t cap, n;
    bool full;     /* a write did not fit */
};

static void w8(struct wr *w, uint8_t v)
{
    if (w->n < w->cap)
        w->p[w->n++] = v;
    else
        w->full = true;
}

static void w16(struct wr *w, uint16_t v) { w8(w, (uint8_t)v); w8(w, (uint8_t)(v >> 8)); }
static void w32(struct wr *w, uint32_t v) { w16(w, (uint16_t)v); w16(w, (uint16_t)(v >> 16)); }
static void w64(struct wr *w, uint64_t v) { w32(w, (uint32_t)v); w32(w, (uint32_t)(v >> 32)); }

/* A string field from a NUL-terminated array of MAX + 1 bytes.  An array
 * without a NUL within MAX + 1 bytes is too long: refused here, since its
 * length would not even be known.  Returns false then. */
static bool wstr(struct wr *w, const char *s, uint32_t max)
{
    uint32_t len = 0;

    while (len <= max && s[len] != '\0')
        len++;
    if (len > max)
        return false;
    w16(w, (uint16_t)len);
    if (w->cap - w->n < len) {   /* w->n <= w->cap always */
        w->full = true;
        return true;
    }
    memcpy(w->p + w->n, s, len);
    w->n += len;
    return true;
}

static bool enc_body(struct wr *w, const struct proto_msg *m)
{
    bool ok = true;

    switch (m->type) {
    case PROTO_HELLO: {
        const struct proto_hello *b = &m->u.hello;
        w16(w, b->ver_min);
        w16(w, b->ver_max);
        w8(w, b->role);
        ok = wstr(w, b->name, PROTO_NAME_MAX);
        break;
    }
    case PROTO_HELLO_OK: {
        const struct proto_hello_ok *b = &m->u.hello_ok;
        w16(w, b->version);
        w32(w, b->guest_id);
        ok = wstr(w, b->name, PROTO_NAME_MAX);
        break;
    }
    case PROTO_NEGOTIATE: {
        const struct proto_negotiate *b = &m->u.negotiate;
        w32(w, b->vcpu);
        w64(w, b->shared_size);
        ok = wstr(w, b->app, PROTO_APP_MAX);
        break;
    }
    case PROTO_NEGOTIATE_OK: {
        const struct proto_negotiate_ok *b = &m->u.negotiate_ok;
        w32(w, b->vcpu);
        if (m->version >= 2) {
            w8(w, b->mode);
            w16(w, b->doorbell);
        }
        w64(w, b->gate_gpa);
        w64(w, b->gate_gva);
        w16(w, b->idx_default);
        w16(w, b->idx_gate);
        w16(w, b->idx_sub);
        w32(w, b->entry_offset);
        w64(w, b->shared_gpa);
        w64(w, b->shared_size);
        break;
    }
    case PROTO_NEGOTIATE_ERR: {
        const struct proto_negotiate_err *b = &m->u.negotiate_err;
        w32(w, b->vcpu);
        w16(w, b->code);
        ok = wstr(w, b->text, PROTO_TEXT_MAX);
        break;
    }
    case PROTO_ENABLE:
    case PROTO_DISABLE:
        w32(w, m->u.enable.vcpu);
        ok = wstr(w, m->u.enable.guest, PROTO_NAME_MAX);
        break;
    case PROTO_OK:
        w16(w, m->u.ok.what);
        break;
    case PROTO_LIST:
        w32(w, m->u.list.start);
        break;
    case PROTO_LIST_OK: {
        const struct proto_list_ok *b = &m->u.list_ok;
        w32(w, b->total);
        w32(w, b->start);
        w16(w, b->count);
        /* Only the entries the array holds; the count check that the
         * decoder makes is repeated by it on the result. */
        for (unsigned i = 0; i < b->count && i < PROTO_LIST_MAX && ok; i++) {
            const struct proto_list_entry *x = &b->entries[i];
            w32(w, x->guest_id);
            ok = wstr(w, x->guest, PROTO_NAME_MAX);
            w32(w, x->vcpu);
            w8(w, x->state);
            ok = ok && wstr(w, x->app, PROTO_APP_MAX);
            w64(w, x->gate_gpa);
            w64(w, x->shared_gpa);
            w64(w, x->shared_size);
        }
        break;
    }
    case PROTO_ERROR: {
        const struct proto_error *b = &m->u.error;
        w16(w, b->code);
        w16(w, b->ver_min);
        w16(w, b->ver_max);
        ok = wstr(w, b->text, PROTO_TEXT_MAX);
        break;
    }
    default:
        ok = false;
        break;
    }
    return ok;
}

int proto_encode(uint8_t *buf, size_t cap, const struct proto_msg *m)
{
    struct wr w = { buf, cap, PROTO_HDR_SIZE, false };
    struct wr h = { buf, PROTO_HDR_SIZE, 0, false };
    struct proto_msg check;
    struct proto_err e;
    uint32_t len;

    if (!buf || !m || proto_body_max(m->type) == 0)
        return -PROTO_E_INVAL;
    /* The header checks of dec_header(), for what a peer would refuse. */
    if (m->version < PROTO_VERSION_MIN || m->version > PROTO_VERSION_MAX)
        return -PROTO_E_VERSION;
    /* A version-1 NEGOTIATE_OK has no mode on the wire: it means VMFUNC,
     * and anything else cannot be said to a version-1 peer. */
    if (m->type == PROTO_NEGOTIATE_OK && m->version == 1 &&
        (m->u.negotiate_ok.mode != PROTO_MODE_VMFUNC || m->u.negotiate_ok.doorbell != 0))
        return -PROTO_E_VALUE;
    if (m->flags & ~(uint32_t)PROTO_FLAGS_V1)
        return -PROTO_E_FLAGS;
    if (m->type == PROTO_LIST_OK && m->u.list_ok.count > PROTO_LIST_MAX)
        return -PROTO_E_COUNT;
    if (cap < PROTO_HDR_SIZE)
        return -PROTO_E_NOSPACE;
    if (!enc_body(&w, m))
        return -PROTO_E_STRING;
    if (w.full)
        return -PROTO_E_NOSPACE;
    len = (uint32_t)(w.n - PROTO_HDR_SIZE);
    if (len > proto_body_max_v(m->version, m->type))   /* cannot happen: fields are bounded */
        return -PROTO_E_INTERNAL;

    for (unsigned i = 0; i < sizeof(magic); i++)
        w8(&h, magic[i]);
    w16(&h, m->version);
    w16(&h, m->type);
    w32(&h, m->flags);
    w32(&h, len);
    w32(&h, m->req_id);

    /* What we send must decode: the parser is the one definition of valid. */
    memset(&e, 0, sizeof(e));
    check.type = m->type;
    check.version = m->version;
    if (parse_body(buf + PROTO_HDR_SIZE, len, &check, &e) != 0)
        return -e.code;
    return (int)w.n;
}

static int enc_one(uint8_t *buf, size_t cap, uint16_t type, uint16_t version, uint32_t req_id,
                   const void *body, size_t size)
{
    struct proto_msg m;

    if (!body)
        return -PROTO_E_INVAL;
    memset(&m, 0, sizeof(m));
    m.type = type;
    m.version = version;
    m.flags = 0;
    m.req_id = req_id;
    memcpy(&m.u, body, size);
    return proto_encode(buf, cap, &m);
}

int proto_enc_hello(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_hello *b)
{
    return enc_one(buf, cap, PROTO_HELLO, PROTO_VERSION_HELLO, req_id, b, sizeof(*b));
}

int proto_enc_hello_ok(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_hello_ok *b)
{
    return enc_one(buf, cap, PROTO_HELLO_OK, PROTO_VERSION_HELLO, req_id, b, sizeof(*b));
}

int proto_enc_negotiate(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_negotiate *b)
{
    return enc_one(buf, cap, PROTO_NEGOTIATE, PROTO_VERSION, req_id, b, sizeof(*b));
}

int proto_enc_negotiate_ok(uint8_t *buf, size_t cap, uint32_t req_id,
                           const struct proto_negotiate_ok *b)
{
    return enc_one(buf, cap, PROTO_NEGOTIATE_OK, PROTO_VERSION, req_id, b, sizeof(*b));
}

int proto_enc_negotiate_err(uint8_t *buf, size_t cap, uint32_t req_id,
                            const struct proto_negotiate_err *b)
{
    return enc_one(buf, cap, PROTO_NEGOTIATE_ERR, PROTO_VERSION, req_id, b, sizeof(*b));
}

int proto_enc_enable(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_enable *b)
{
    return enc_one(buf, cap, PROTO_ENABLE, PROTO_VERSION, req_id, b, sizeof(*b));
}

int proto_enc_disable(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_enable *b)
{
    return enc_one(buf, cap, PROTO_DISABLE, PROTO_VERSION, req_id, b, sizeof(*b));
}

int proto_enc_ok(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_ok *b)
{
    return enc_one(buf, cap, PROTO_OK, PROTO_VERSION, req_id, b, sizeof(*b));
}

int proto_enc_list(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_list *b)
{
    return enc_one(buf, cap, PROTO_LIST, PROTO_VERSION, req_id, b, sizeof(*b));
}

int proto_enc_list_ok(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_list_ok *b)
{
    return enc_one(buf, cap, PROTO_LIST_OK, PROTO_VERSION, req_id, b, sizeof(*b));
}

int proto_enc_error(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_error *b)
{
    return enc_one(buf, cap, PROTO_ERROR, PROTO_VERSION_HELLO, req_id, b, sizeof(*b));
}

int proto_enc_error_for(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_err *e)
{
    struct proto_error b;
    char line[256];

    if (!e || e->code < 1 || e->code > PROTO_WIRE_LAST)
        return -PROTO_E_INVAL;
    memset(&b, 0, sizeof(b));
    b.code = (uint16_t)e->code;
    b.ver_min = PROTO_VERSION_MIN;
    b.ver_max = PROTO_VERSION_MAX;
    proto_err_format(e, line, sizeof(line));
    /* The line is ASCII from our own format; keep only printable bytes
     * (a field name is ours too, but be strict) and cut to the limit. */
    size_t n = 0;
    for (size_t i = 0; line[i] != '\0' && n < PROTO_TEXT_MAX; i++)
        if (line[i] >= 0x20 && line[i] <= 0x7e)
            b.text[n++] = line[i];
    b.text[n] = '\0';
    return proto_enc_error(buf, cap, req_id, &b);
}

int proto_version_pick(uint16_t my_min, uint16_t my_max, uint16_t peer_min, uint16_t peer_max,
                       uint16_t *out)
{
    uint16_t lo, hi;

    if (my_min == 0 || peer_min == 0 || my_min > my_max || peer_min > peer_max)
        return -PROTO_E_VALUE;
    lo = my_min > peer_min ? my_min : peer_min;
    hi = my_max < peer_max ? my_max : peer_max;
    if (lo > hi)
        return -PROTO_E_VERSION;
    *out = hi;
    return 0;
}
