// Fuzz target: the TCP connection state machine (acl/conn_state.h), pure C++.
//
// Input: a sequence of packets, two bytes each: direction (bit 0 of the first byte; bit 1
// asks for a step from an arbitrary state, chosen by the upper bits, instead of the
// connection's own) and the TCP flags byte. The connection starts as conntrack starts one:
// no state until a packet that may open it (tcp_opens), seen in the original direction.
// Invariants, after every step:
//   - the state is a TCP state (kNone..kClose) and has a name; an invalid packet leaves it;
//   - a packet with no connection is valid exactly when it may open one;
//   - RST ends any connection; ESTABLISHED and SYN_RECV need the reply's SYN-ACK first;
//   - every state a connection can be in has a timeout (Linux defaults), and so have UDP's
//     and ICMP's pseudo-states.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "acl_rule.h"
#include "conn_state.h"
#include "fuzz_check.h"

namespace {

using vsw::acl::ConnDir;
using vsw::acl::ConnState;
using vsw::acl::TcpEvent;

constexpr int kTcpStates = static_cast<int>(ConnState::kClose) + 1;

bool is_tcp_state(ConnState s) {
  return static_cast<int>(s) < kTcpStates;
}

void check_timeouts(const vsw::acl::Timeouts& t) {
  for (int s = 1; s < kTcpStates; ++s)
    VSW_FUZZ_CHECK(t.for_state(vsw::acl::kProtoTcp, static_cast<ConnState>(s)) > 0);
  for (ConnState s : {ConnState::kUnreplied, ConnState::kReplied}) {
    VSW_FUZZ_CHECK(t.for_state(vsw::acl::kProtoUdp, s) > 0);
    VSW_FUZZ_CHECK(std::strcmp(vsw::acl::to_string(s), "?") != 0);
  }
  VSW_FUZZ_CHECK(t.for_state(vsw::acl::kProtoIcmp, ConnState::kUnreplied) > 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vsw::acl::Timeouts timeouts = [] {
    vsw::acl::Timeouts t = vsw::acl::Timeouts::linux_defaults();
    check_timeouts(t);
    return t;
  }();
  ConnState state = ConnState::kNone;
  bool reply_synack = false;  // the reply direction's SYN-ACK was seen since the last open
  for (size_t i = 0; i + 1 < size; i += 2) {
    const auto dir = (data[i] & 1) ? ConnDir::kReply : ConnDir::kOriginal;
    const uint8_t flags = data[i + 1];
    const TcpEvent ev = vsw::acl::tcp_event(flags);
    VSW_FUZZ_CHECK(static_cast<int>(ev) < static_cast<int>(TcpEvent::kCount));
    if (data[i] & 2) {
      // A single step from any state, out-of-range ones included: never out of the table.
      const auto from = static_cast<ConnState>(data[i] >> 2);
      const vsw::acl::TcpStep step = vsw::acl::tcp_step(from, dir, flags);
      if (!is_tcp_state(from)) {
        VSW_FUZZ_CHECK(!step.valid && step.next == from);
      } else {
        VSW_FUZZ_CHECK(is_tcp_state(step.next));
        if (!step.valid) VSW_FUZZ_CHECK(step.next == from);
      }
      continue;
    }
    if (state == ConnState::kNone) {
      const vsw::acl::TcpStep step = vsw::acl::tcp_step(state, dir, flags);
      const bool opens = dir == ConnDir::kOriginal && vsw::acl::tcp_opens(flags);
      VSW_FUZZ_CHECK(step.valid == opens);
      if (!opens) {
        VSW_FUZZ_CHECK(step.next == ConnState::kNone);
        continue;  // no connection: conntrack drops it and creates nothing
      }
      VSW_FUZZ_CHECK(step.next == ConnState::kSynSent);
      state = step.next;
      reply_synack = false;
      continue;
    }
    const vsw::acl::TcpStep step = vsw::acl::tcp_step(state, dir, flags);
    VSW_FUZZ_CHECK(is_tcp_state(step.next));
    VSW_FUZZ_CHECK(std::strcmp(vsw::acl::to_string(step.next), "?") != 0);
    if (!step.valid) {
      VSW_FUZZ_CHECK(step.next == state);
      continue;
    }
    // A tracked connection never goes back to "no connection".
    VSW_FUZZ_CHECK(step.next != ConnState::kNone);
    if (ev == TcpEvent::kRst) VSW_FUZZ_CHECK(step.next == ConnState::kClose);
    if (dir == ConnDir::kReply && ev == TcpEvent::kSynAck) reply_synack = true;
    if (step.next == ConnState::kSynSent && state != ConnState::kSynSent) reply_synack = false;
    if ((step.next == ConnState::kEstablished && state != ConnState::kEstablished) ||
        step.next == ConnState::kSynRecv)
      VSW_FUZZ_CHECK(reply_synack);
    VSW_FUZZ_CHECK(timeouts.for_state(vsw::acl::kProtoTcp, step.next) > 0);
    state = step.next;
  }
  return 0;
}
