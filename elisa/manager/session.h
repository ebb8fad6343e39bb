/* elisa/manager/session.h - one TCP peer's conversation with the manager:
 * a decoded request in, at most one reply out.  No I/O here (the server
 * moves the bytes), so the unit test drives it with plain structs.
 *
 * Rules (elisa/proto/README.md has the messages):
 *   - the first message must be HELLO; anything else gets ERROR(UNEXPECTED)
 *     and the connection is closed;
 *   - HELLO picks the highest common version (HELLO_OK, or ERROR(VERSION)
 *     with our range and close); role guest joins (or creates) the guest
 *     record of that name, role operator gets guest id 0;
 *   - a guest may NEGOTIATE and DISABLE itself ("" or its own name);
 *     ENABLE, LIST and naming another guest are the operator's
 *     (ERROR(DENIED) otherwise);
 *   - the operator may ENABLE, DISABLE (a name is required) and LIST;
 *   - a message only the manager sends (HELLO_OK, NEGOTIATE_OK, ...) gets
 *     ERROR(UNEXPECTED); an ERROR from the peer ends the connection.
 * Request-level refusals keep the connection open; only decoding errors
 * (handled by the server) and the cases above close it.
 */
#ifndef ELISA_MANAGER_SESSION_H
#define ELISA_MANAGER_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

struct mgr_session {
    uint64_t id;                   /* connection id: never 0, never reused */
    uint8_t role;                  /* 0 until HELLO, then PROTO_ROLE_* */
    uint16_t version;              /* agreed at HELLO */
    int guest;                     /* guest index (role guest), else -1 */
    char peer[PROTO_NAME_MAX + 1]; /* the name it said in HELLO */
};

#define MGR_SESSION_KEEP  0
#define MGR_SESSION_CLOSE 1

void mgr_session_init(struct mgr_session *s, uint64_t id);

/* Handle IN.  REPLY->type is 0 if there is nothing to send.  LOG gets one
 * line worth logging ("" if nothing happened worth it).  Returns
 * MGR_SESSION_KEEP or MGR_SESSION_CLOSE (send the reply, then close). */
int mgr_session_handle(struct mgr_state *st, const char *mgr_name, struct mgr_session *s,
                       const struct proto_msg *in, struct proto_msg *reply, char *log,
                       size_t loglen);

/* The connection is gone: a guest's contexts are released. */
void mgr_session_end(struct mgr_state *st, struct mgr_session *s);

#endif
