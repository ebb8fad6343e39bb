/* elisa/vmm/guest/pingpong.c - two guests exchange K frames through their
 * vmnet ports, every byte checked (frames.h says what each byte is).
 *
 * Sender: frame 0 broadcast, wait for its reply (the peer is then known
 * to the switch and to us), then frames 1..K-1 unicast with at most
 * `window' frames unanswered.  Echoer: take each frame from the RX ring
 * (no exit: the switch already copied it there during the sender's TX
 * call), check it, send the reply built from it.  Each side checks what
 * it receives against the generator; frames from other guests (another
 * pair's broadcast) are counted as foreign and skipped.
 */
#include "guest.h"
#include "frames.h"
#include "elisa_guest.h"

static uint8_t rx_buf[VMNET_SLOT_DEFAULT];
static uint8_t want_buf[VMNET_SLOT_DEFAULT];
static uint8_t tmp_buf[VMNET_SLOT_DEFAULT];
static uint8_t tx_buf[VMNET_SLOT_DEFAULT];

#define MISMATCH_LINES 5     /* console lines about mismatches, at most */

int guest_send(struct guest *g, const uint8_t *frame, uint32_t len)
{
    volatile struct elisa_vmm_report *rep = g->report;
    int rc = vmnet_guest_put(&g->port, frame, len);
    if (rc != 0) {
        con_str("vmnet_guest_put failed: ");
        con_u64((uint64_t)-rc);
        con_end();
        rep->call_errors++;
        return -1;
    }
    /* The switch consumes the frame in this call unless its lock stayed
     * busy (VMNET_EBUSY: queued, consumed by a later call). */
    for (int attempt = 0; attempt < 8; attempt++) {
        uint64_t r = elisa_call(ELISA_VMNET_TX, 0);
        rep->calls++;
        if ((int64_t)r >= 1) {
            rep->frames_sent++;
            return 0;
        }
        if ((int64_t)r != VMNET_EBUSY) {
            rep->call_errors++;
            con_str("TX call returned ");
            con_hex(r);
            con_end();
            return -1;
        }
    }
    rep->call_errors++;
    con_str("TX call: switch lock busy 8 times");
    con_end();
    return -1;
}

/* Compare, count, and describe the first few mismatches. */
static void check_frame(struct guest *g, const char *what, uint32_t i, const uint8_t *got,
                        uint32_t glen, const uint8_t *want, uint32_t wlen)
{
    volatile struct elisa_vmm_report *rep = g->report;
    int64_t at = frame_diff(got, glen, want, wlen);
    rep->frames_checked++;
    rep->bytes_checked += glen < wlen ? glen : wlen;
    if (at < 0)
        return;
    if (rep->mismatches++ < MISMATCH_LINES) {
        con_str(what);
        con_str(" ");
        con_u64(i);
        if (glen != wlen) {
            con_str(": length ");
            con_u64(glen);
            con_str(", expected ");
            con_u64(wlen);
        } else {
            con_str(": byte ");
            con_u64((uint64_t)at);
            con_str(" is ");
            con_hex(got[at]);
            con_str(", expected ");
            con_hex(want[at]);
        }
        con_end();
    }
}

/* Take one frame from the RX ring: its length, 0 if none, -1 on a ring
 * error (counted). */
static int receive(struct guest *g)
{
    int r = vmnet_guest_get(&g->port, rx_buf, sizeof rx_buf);
    if (r == VMNET_EAGAIN)
        return 0;
    if (r < 0) {
        g->report->call_errors++;
        con_str("vmnet_guest_get failed: ");
        con_u64((uint64_t)-r);
        con_end();
        return -1;
    }
    g->report->frames_received++;
    return r;
}

static int from_peer(struct guest *g, uint32_t len)
{
    if (len >= 12 && mac_equal(rx_buf + 6, g->boot.peer_mac))
        return 1;
    g->report->frames_foreign++;
    return 0;
}

/* One poll of the RX ring, as both roles do it: the length of a frame
 * from the peer (now in rx_buf); 0 if there was none or it came from
 * another guest (poll again); -1 to give up: a ring error, or nothing for
 * longer than poll_idle allows (then IDLE_MSG goes to the console).  Any
 * frame, even a foreign one, counts as progress: the switch is alive. */
static int receive_from_peer(struct guest *g, const char *idle_msg)
{
    int len = receive(g);
    if (len < 0)
        return -1;
    if (len == 0) {
        if (poll_idle(&g->poll) != 0) {
            con_str(idle_msg);
            con_end();
            return -1;
        }
        return 0;
    }
    poll_progress(&g->poll);
    if (!from_peer(g, (uint32_t)len))
        return 0;
    return len;
}

/* Negative controls: --drop G:I, the frame is never sent (the peer must
 * see a gap and, in the end, a lost frame). */
static int send_or_drop(struct guest *g, const uint8_t *f, uint32_t len, uint32_t i)
{
    if (i == g->boot.drop_at)
        return 0;
    return guest_send(g, f, len);
}

/* --corrupt G:I: flip one byte of an outgoing frame. */
static void maybe_corrupt(struct guest *g, uint8_t *f, uint32_t len, uint32_t i)
{
    if (i == g->boot.corrupt_at)
        f[len / 2] ^= 0x01;
}

static void sender(struct guest *g)
{
    const struct elisa_vmm_boot *b = &g->boot;
    volatile struct elisa_vmm_report *rep = g->report;
    uint32_t k = b->frames, sent = 0, got = 0;

    while (got < k) {
        /* Frame 0 alone; then keep up to `window' in flight. */
        if (sent < k && (sent == 0 || (got >= 1 && sent - got < b->window))) {
            uint32_t len = frame_make(tx_buf, b->seed, b->guest_index, sent,
                                      sent == 0 ? frame_broadcast : b->peer_mac, b->mac);
            maybe_corrupt(g, tx_buf, len, sent);
            if (send_or_drop(g, tx_buf, len, sent) != 0)
                break;
            sent++;
            continue;
        }
        int len = receive_from_peer(g, "sender: no reply for a long time");
        if (len < 0)
            break;
        if (len == 0)
            continue;
        /* The reply to frame `got', built from the frame as sent. */
        uint32_t wlen = frame_make(tmp_buf, b->seed, b->guest_index, got,
                                   got == 0 ? frame_broadcast : b->peer_mac, b->mac);
        frame_reply(want_buf, tmp_buf, wlen, b->peer_mac);
        check_frame(g, "reply", got, rx_buf, (uint32_t)len, want_buf, wlen);
        got++;
    }
    rep->lost += k - got;
}

static void echoer(struct guest *g)
{
    const struct elisa_vmm_boot *b = &g->boot;
    volatile struct elisa_vmm_report *rep = g->report;
    uint32_t k = b->frames, got = 0;

    while (got < k) {
        int len = receive_from_peer(g, "echoer: no frame for a long time");
        if (len < 0)
            break;
        if (len == 0)
            continue;
        uint32_t wlen = frame_make(want_buf, b->seed, b->peer, got,
                                   got == 0 ? frame_broadcast : b->mac, b->peer_mac);
        check_frame(g, "frame", got, rx_buf, (uint32_t)len, want_buf, wlen);
        uint32_t rlen = frame_reply(tx_buf, rx_buf, (uint32_t)len, b->mac);
        maybe_corrupt(g, tx_buf, rlen, got);
        got++;
        if (send_or_drop(g, tx_buf, rlen, got - 1) != 0)
            break;
    }
    rep->lost += k - got;
}

void prog_pingpong(struct guest *g)
{
    if (!g->have_port) {
        con_str("pingpong: no vmnet port");
        con_end();
        g->report->lost = g->boot.frames;
        return;
    }
    if (g->boot.role == ELISA_VMM_ROLE_SENDER)
        sender(g);
    else if (g->boot.role == ELISA_VMM_ROLE_ECHOER)
        echoer(g);
}
