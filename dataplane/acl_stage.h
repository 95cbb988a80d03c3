// The ACL stage: a port's stateful ACL applied to a burst of frames crossing it, in one
// direction. Worker fast path only (no lock, no allocation, no log).
//
// Where it runs (docs/acl.md, "Wiring"):
// - from-port: in forward_burst(), on the received burst, before the cross-connect, the L2
//   stage and its flow cache, so no cached decision can bypass it;
// - to-port: in flush_port(), on the frames buffered for the output port, whatever stage
//   (switching, routing, flooding, management injection) put them there. Routing rewrote
//   only MACs and TTL, so the 5-tuple is intact.
// A port without an ACL never reaches this file: the callers test one pointer per burst.
//
// Frames that are not IPv4/IPv6 (ARP, LLDP...) pass: the ACL is about IP traffic. An IP
// frame whose IP header is malformed is dropped (counted `malformed`) rather than passed
// unfiltered.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "acl_filter.h"
#include "worker.h"

namespace vsw::dp {

enum class AclParse : uint8_t { kNotIp, kIp, kMalformed };

// Reads the frame's IP 5-tuple (ICMP: type and code in the port slots, echo id apart) and
// the TCP flags into `out`. Headers are length-checked; the L4 header of a non-first
// fragment is not read (ports stay 0), nor is a truncated one.
AclParse parse_acl_packet(const rte_mbuf* m, acl::AclPacket* out);

// Filters pkts[0..n) crossing `port` in `dir` through `acl`: frees what it drops, counts
// it under the verdict (and malformed IP under `malformed`) on `port`, and compacts the
// survivors to the front, in order. Returns how many survive. Any n.
uint16_t acl_filter_mbufs(WorkerContext& ctx, const acl::PortAcl& acl, uint16_t port,
                          acl::Direction dir, rte_mbuf** pkts, uint16_t n);

}  // namespace vsw::dp
