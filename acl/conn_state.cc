#include "conn_state.h"

#include "acl_rule.h"

namespace vsw::acl {
namespace {

using S = ConnState;
constexpr int kStates = 9;  // the TCP states, kNone..kClose
// Markers in the table below, outside ConnState's range.
constexpr S kIgn = static_cast<S>(0xfe);  // pass, state unchanged
constexpr S kInv = static_cast<S>(0xff);  // invalid: drop

// [direction][event][state]: the TCP transitions. Written from the protocol (RFC 793's
// close sequence as seen from the middle), in the shape nf_conntrack uses, without its
// SYN_SENT2 (simultaneous open) and window tracking. Columns:
//   None     SynSent  SynRecv  Estab    FinWait  CloseWt  LastAck  TimeWt   Close
constexpr S kTcp[2][static_cast<int>(TcpEvent::kCount)][kStates] = {
    {
        // Original direction (the side that sent the first SYN).
        // syn: opens; a repeated SYN is a retransmission; after TIME_WAIT/CLOSE, a reopen.
        {S::kSynSent, S::kSynSent, kIgn, kIgn, kIgn, kIgn, kIgn, S::kSynSent, S::kSynSent},
        // syn-ack: the opener never sends one.
        {kInv, kInv, kInv, kInv, kInv, kInv, kInv, kInv, kInv},
        // fin: closing starts (or, after the other side's FIN, the last FIN).
        {kInv, kInv, S::kFinWait, S::kFinWait, S::kLastAck, S::kLastAck, S::kLastAck, S::kTimeWait,
         S::kClose},
        // ack: completes the handshake; acknowledges the other side's FIN.
        {kInv, kInv, S::kEstablished, S::kEstablished, S::kCloseWait, S::kCloseWait, S::kTimeWait,
         S::kTimeWait, S::kClose},
        // rst: ends whatever there was.
        {kInv, S::kClose, S::kClose, S::kClose, S::kClose, S::kClose, S::kClose, S::kClose,
         S::kClose},
        // no SYN, FIN, ACK or RST: never valid.
        {kInv, kInv, kInv, kInv, kInv, kInv, kInv, kInv, kInv},
    },
    {
        // Reply direction.
        // syn: the responder never sends a bare SYN (no simultaneous open).
        {kInv, kInv, kInv, kInv, kInv, kInv, kInv, kInv, kInv},
        // syn-ack: answers the SYN; repeated, a retransmission.
        {kInv, S::kSynRecv, S::kSynRecv, kIgn, kIgn, kIgn, kIgn, kIgn, kIgn},
        {kInv, kInv, S::kFinWait, S::kFinWait, S::kLastAck, S::kLastAck, S::kLastAck, S::kTimeWait,
         S::kClose},
        // ack before the SYN-ACK: invalid (nothing to acknowledge yet).
        {kInv, kInv, kIgn, S::kEstablished, S::kCloseWait, S::kCloseWait, S::kTimeWait,
         S::kTimeWait, S::kClose},
        {kInv, S::kClose, S::kClose, S::kClose, S::kClose, S::kClose, S::kClose, S::kClose,
         S::kClose},
        {kInv, kInv, kInv, kInv, kInv, kInv, kInv, kInv, kInv},
    },
};

}  // namespace

const char* to_string(ConnState s) {
  static constexpr const char* kNames[] = {
      "NONE",     "SYN_SENT",  "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSE_WAIT",
      "LAST_ACK", "TIME_WAIT", "CLOSE",    "UNREPLIED",   "REPLIED",
  };
  const auto i = static_cast<size_t>(s);
  return i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : "?";
}

TcpEvent tcp_event(uint8_t flags) {
  if (flags & kTcpRst) return TcpEvent::kRst;
  // SYN with FIN is never legitimate (a scan): as nf_conntrack's tcp_error, invalid.
  if ((flags & kTcpSyn) && (flags & kTcpFin)) return TcpEvent::kNone;
  if (flags & kTcpSyn) return (flags & kTcpAck) ? TcpEvent::kSynAck : TcpEvent::kSyn;
  if (flags & kTcpFin) return TcpEvent::kFin;
  if (flags & kTcpAck) return TcpEvent::kAck;
  return TcpEvent::kNone;
}

TcpStep tcp_step(ConnState state, ConnDir dir, uint8_t flags) {
  const auto s = static_cast<int>(state);
  if (s >= kStates) return {state, false};
  const S next = kTcp[static_cast<int>(dir)][static_cast<int>(tcp_event(flags))][s];
  if (next == kInv) return {state, false};
  if (next == kIgn) return {state, true};
  return {next, true};
}

Timeouts Timeouts::linux_defaults() {
  Timeouts t{};
  auto set = [&](ConnState s, uint32_t v) { t.seconds[static_cast<int>(s)] = v; };
  set(S::kSynSent, 120);
  set(S::kSynRecv, 60);
  set(S::kEstablished, 432000);
  set(S::kFinWait, 120);
  set(S::kCloseWait, 60);
  set(S::kLastAck, 30);
  set(S::kTimeWait, 120);
  set(S::kClose, 10);
  return t;
}

uint32_t Timeouts::for_state(uint8_t proto, ConnState state) const {
  if (proto == kProtoTcp) return seconds[static_cast<int>(state)];
  if (proto == kProtoUdp || proto == kProtoSctp)
    return state == S::kReplied ? udp_replied : udp_unreplied;
  return icmp;
}

}  // namespace vsw::acl
