// The stateful ACL decision for a burst at one port and direction: connection tracking for
// packets of known connections, rte_acl for the rest, a new connection for what a
// permit-stateful rule matches. Parsing is the caller's (the stage fills AclPacket from its
// flow key), so this file depends on no packet layout.
//
// Semantics (docs/acl.md, "The filter"):
// - A packet of a tracked connection passes if the connection's state machine accepts it,
//   in either direction, without being classified: replies pass the return direction.
// - When the rules of the direction that opened a connection changed since it was last
//   checked, its opening packet is classified again; a connection the new rules deny is
//   revoked (dropped from then on), one still permitted carries on.
// - Anything else is classified: deny drops, permit passes, permit-stateful creates a
//   connection (or drops: invalid opener, over the limit, table full).
// - A port with no permit-stateful rule in either direction never touches conntrack.
//
// Thread safety: filter_burst is a worker function (lock-free, no allocation); PortAcl's
// sets are written by the management thread only (AclSet::update).
#pragma once

#include <atomic>
#include <cstdint>

#include "acl_classifier.h"
#include "acl_rule.h"
#include "conntrack.h"

namespace vsw::acl {

struct AclPacket {
  PacketKey key;          // what rules see (ICMP: type and code in sport and dport)
  uint16_t echo_id = 0;   // ICMP / ICMPv6 echo identifier
  uint8_t tcp_flags = 0;  // TCP only
};

enum class AclVerdict : uint8_t {
  kPass = 0,
  kDeny,     // a deny rule or a deny default
  kInvalid,  // conntrack: does not fit the connection, or opens nothing
  kRevoked,  // conntrack: the rules changed and no longer permit the connection
  kLimit,    // conntrack: the connection limit is reached
  kFull,     // conntrack: the worker's table is full
  kCount
};
const char* to_string(AclVerdict v);

// A port's rule sets, one per Direction.
class PortAcl {
 public:
  explicit PortAcl(rte_rcu_qsbr* rcu) : to_port_(rcu), from_port_(rcu) {}
  AclSet& set(Direction d) { return d == Direction::kToPort ? to_port_ : from_port_; }
  const AclSet& set(Direction d) const { return d == Direction::kToPort ? to_port_ : from_port_; }

 private:
  AclSet to_port_;
  AclSet from_port_;
};

// Per worker, owned by it: plain load+store increments, summed by the management thread.
struct alignas(64) AclFilterCounters {
  std::atomic<uint64_t> verdicts[static_cast<int>(AclVerdict::kCount)] = {};
  std::atomic<uint64_t> tracked{0};     // decided by an existing connection
  std::atomic<uint64_t> classified{0};  // decided by the rules
  std::atomic<uint64_t> rechecked{0};   // connections re-classified after a rule change
};

// How a packet was decided, for packet trace (dataplane/packet_trace.h).
struct AclDecision {
  uint32_t rule_id = UINT32_MAX;  // the deciding rule's id; UINT32_MAX: the default, or tracked
  uint8_t tracked = 0;            // decided by an existing connection
  uint8_t state = 0;              // ConnState after the packet (tracked or created); 0 none
  uint8_t action = 0;             // the rule's (or default's) Action, when classified
};

// The largest burst filter_burst takes.
inline constexpr uint32_t kMaxFilterBurst = 32;

// Decides pkts[0..n) crossing `port` in `dir`; out[i] is packet i's verdict. `ct` may be
// null when no port has stateful rules. `now` is in conntrack's ticks. Worker only.
// `how`, when not null, gets how[i] for each packet (tracing only).
void filter_burst(uint32_t worker, uint16_t port, Direction dir, const PortAcl& acl, Conntrack* ct,
                  const AclPacket* pkts, uint32_t n, uint64_t now, AclVerdict* out,
                  AclFilterCounters& counters, AclDecision* how = nullptr);

// What filter_burst would decide for `p` now, changing nothing (no connection created or
// advanced, no hit counted): `vswctl trace packet`. Management thread.
AclVerdict explain(uint16_t port, Direction dir, const PortAcl& acl, const Conntrack* ct,
                   const AclPacket& p, AclDecision* how);

// The conntrack view of a packet at `zone` (ICMP echo: the identifier as both ports).
ConnPacket conn_packet(const AclPacket& p, uint16_t zone);

}  // namespace vsw::acl
