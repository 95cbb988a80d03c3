// Packet trace, the worker side: `vswctl trace start` marks the next N packets received (on
// one port or any), and every stage records what it decided for a marked packet, as VPP's
// `trace add` does. `vswctl trace packet` runs a synthetic frame through the same stages on
// the management thread (trace_manager.h) and gets the same record.
//
// Cost when off: one load of WorkerContext::trace per stage call site (trace_step() in
// worker.h), tested in a branch that is never taken; the session pointer is loaded once per loop
// (trace_loop_begin). When on: a marked mbuf carries a dynamic flag (rte_mbuf_dynflag) and its
// record's slot in a dynamic field; copies (flooding) keep both, so each copy's output joins the
// same record. A record belongs to the worker that marked the packet and is written by it alone;
// the worker publishes it (`complete`) at the end of the loop in which it marked it, once every
// stage, the to-port ACL and the transmit included, has run. A punted packet's trace ends at
// the punt: the management thread may send it on much later, so its mark is cleared.
#pragma once

#include <rte_branch_prediction.h>
#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>
#include <memory>

namespace vsw::dp {

struct WorkerContext;  // worker.h

inline constexpr uint32_t kMaxTraceCount = 1000;  // packets one session records
inline constexpr uint32_t kDefaultTraceCount = 10;
inline constexpr uint32_t kTraceHeadBytes = 128;  // of each frame, as received
inline constexpr uint32_t kMaxTraceSteps = 24;    // per packet; more are counted, not kept
inline constexpr uint32_t kMaxOpenTraces = 64;    // marked by one worker in one loop

enum class TraceKind : uint8_t {
  kMalformed,      // dropped: the frame's headers do not parse (a: 0 switch, 1 ACL)
  kPortSecurity,   // dropped: a source the port may not use
  kAcl,            // a = direction, b = rule id (kTraceDefaultRule: the default), c: AclTraceInfo
  kXconnect,       // port = the peer
  kNoDestination,  // dropped: port in no bridge, or a = 1: tagged with an unclaimed VLAN b
  kCache,          // a: TraceCache; b: 1 when the entry is a routed one
  kFdbSource,      // a: 0 known here, 1 learning reported (new or moved)
  kFdbDest,        // a: TraceFdb; port, b = VLAN for kUnicast
  kFlood,          // b = members of the bridge
  kRouterIf,       // b = router interface (the frame was addressed to its MAC)
  kRouterDrop,     // a: TraceRouterDrop
  kFib,            // b = next-hop index, port = output router interface, a = 1 connected,
                   // addr = the neighbor the packet goes to, c = ECMP members
  kNeighbor,       // c = the MAC (6 bytes, little-endian), b = neighbor slot
  kRoutedHit,      // a cached routed flow: port = output router interface, c = the MAC
  kPunt,           // a: PuntReason, b = router interface; the trace ends here
  kOutput,         // port, b = VLAN tag pushed (0: none)
  kTxDrop,         // port; a: TraceTxDrop
  kCount
};

enum class TraceCache : uint8_t { kHit, kMiss, kStale };
enum class TraceFdb : uint8_t { kUnicast, kUnknown, kMulticast, kIngress };
enum class TraceRouterDrop : uint8_t {
  kBadHeader,     // malformed IPv4/IPv6 header
  kNotRouted,     // multicast, broadcast or link-local destination
  kNoRoute,       // no route (the FIB's next hop vanished)
  kVlanStrip,     // the tag could not be removed
  kNotIp,         // neither IPv4, IPv6 nor ARP
  kPuntRingFull,  // the management thread's ring was full
};

enum class TraceTxDrop : uint8_t {
  kQueueFull,  // the device's queue did not take it (tx_full)
  kNoTagRoom,  // no room to push the output VLAN tag (tx_full)
  kTooLong,    // longer than a standard frame, refused by the device (tx_mtu_exceeded)
};

inline constexpr uint32_t kTraceDefaultRule = UINT32_MAX;

// kAcl's c: how the ACL decided (bit-packed so a step stays 32 bytes).
struct AclTraceInfo {
  uint8_t verdict;  // acl::AclVerdict
  uint8_t how;      // 0 classified by the rules, 1 a tracked connection, 2 the dry run's guess
  uint8_t state;    // acl::ConnState after the packet (tracked or created), 0 none
  uint8_t action;   // acl::Action of the rule (classified)
};

struct TraceStep {
  TraceKind kind;
  uint8_t a = 0;
  uint16_t port = 0;
  uint32_t b = 0;
  uint64_t c = 0;
  uint8_t addr[16] = {};
};
static_assert(sizeof(TraceStep) == 32);

struct TracedPacket {
  std::atomic<bool> complete{false};
  uint16_t worker = 0;
  uint16_t in_port = 0;
  uint32_t length = 0;
  uint64_t tsc = 0;
  uint16_t head_length = 0;
  uint8_t steps_used = 0;
  uint8_t steps_lost = 0;  // past kMaxTraceSteps
  bool dry_run = false;    // `trace packet`'s: nothing was sent
  uint8_t head[kTraceHeadBytes];
  TraceStep steps[kMaxTraceSteps];
};

// One `trace start` (or one dry run). Published in ForwardingState::trace; freed after an
// RCU grace period once unpublished.
struct TraceSession {
  TraceSession(uint16_t port_, uint32_t capacity_)
      : port(port_), capacity(capacity_), packets(new TracedPacket[capacity_]) {}
  const uint16_t port;  // kNoPort: every port
  const uint32_t capacity;
  std::atomic<uint32_t> claimed{0};  // slots handed out (may pass capacity: the excess is unused)
  std::unique_ptr<TracedPacket[]> packets;
};

// Registers the mbuf flag and field (idempotent). Before the first session.
bool trace_init();

// Whether `m` carries a trace mark (only meaningful while a session runs).
bool trace_marked(const rte_mbuf* m);

// Marks up to the session's remaining count of pkts[0..n) received on `port`.
void trace_mark(WorkerContext& ctx, uint16_t port, rte_mbuf* const* pkts, uint16_t n);

// Appends `step` to m's record when m is marked.
void trace_add(WorkerContext& ctx, const rte_mbuf* m, const TraceStep& step);

// Ends m's trace (it leaves the worker: punted).
void trace_unmark(rte_mbuf* m);

// The worker loop's: load the session once per loop; publish the loop's records at its end.
void trace_loop_begin(WorkerContext& ctx);
void trace_loop_end(WorkerContext& ctx);

}  // namespace vsw::dp
