// Fuzz target: the packet parsers, without EAL.
//
// Input: one Ethernet frame. parse_frame (flowtable/flow_key.h) builds the flow key; its
// result is compared field by field with a byte-at-a-time reference parser written here from
// the header formats, so a wrong key is caught as surely as a read past the frame (the frame
// sits in a heap buffer of exactly its size: ASan reports any overread). Then the router's
// parsers run on what parsed: parse_arp, parse_nd, make_echo_reply and flow_hash
// (dataplane/l3_packets.h, l3_stage.h).
#include <rte_ether.h>
#include <rte_ip.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "flow_key.h"
#include "heap_mbuf.h"
#include "l3_packets.h"
#include "l3_stage.h"

namespace {

using vsw::flow::FlowKey;
using vsw::flow::ParsedFrame;
using vsw::flow::ParseResult;

constexpr uint16_t kInPort = 7;

uint16_t be16(const uint8_t* p) {
  return static_cast<uint16_t>((p[0] << 8) | p[1]);
}

uint32_t le32(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// IPv6 addresses fold to the XOR of their four 32-bit words (flow_key.h's comment).
uint32_t fold_v6(const uint8_t* a) {
  return le32(a) ^ le32(a + 4) ^ le32(a + 8) ^ le32(a + 12);
}

struct Expected {
  bool ok = false;
  FlowKey key{};
  uint16_t l2_len = 0;
  bool tagged = false;
};

// The parser as the header formats describe it, one byte at a time.
Expected reference_parse(const uint8_t* p, size_t len) {
  Expected e;
  std::memset(static_cast<void*>(&e.key), 0, sizeof(e.key));
  if (len < 14) return e;
  FlowKey& k = e.key;
  std::memcpy(k.dst, p, 6);
  std::memcpy(k.src, p + 6, 6);
  k.in_port = kInPort;
  uint16_t type = be16(p + 12);
  size_t off = 14;
  if (type == 0x8100) {
    if (len < 18) return e;
    k.vlan = be16(p + 14) & 0x0fff;
    type = be16(p + 16);
    off = 18;
    e.tagged = true;
    k.tagged = 1;
    if (type == 0x8100) return e;  // a second 802.1Q tag: malformed
  }
  e.l2_len = static_cast<uint16_t>(off);
  k.ethertype = rte_cpu_to_be_16(type);
  if (type == 0x86dd) {
    if (len < off + 40 || (p[off] >> 4) != 6) return e;
    k.l4_proto = p[off + 6];
    k.src_ip = fold_v6(p + off + 8);
    k.dst_ip = fold_v6(p + off + 24);
    if ((k.l4_proto == IPPROTO_TCP || k.l4_proto == IPPROTO_UDP) && len >= off + 44) {
      std::memcpy(&k.src_port, p + off + 40, 2);
      std::memcpy(&k.dst_port, p + off + 42, 2);
    }
    e.ok = true;
    return e;
  }
  if (type != 0x0800) {
    e.ok = true;
    return e;
  }
  if (len < off + 20) return e;
  const size_t ihl = (p[off] & 0x0f) * 4u;
  if ((p[off] >> 4) != 4 || ihl < 20 || len < off + ihl) return e;
  k.l4_proto = p[off + 9];
  std::memcpy(&k.src_ip, p + off + 12, 4);
  std::memcpy(&k.dst_ip, p + off + 16, 4);
  const bool first_fragment = (be16(p + off + 6) & 0x1fff) == 0;
  if (first_fragment && (k.l4_proto == IPPROTO_TCP || k.l4_proto == IPPROTO_UDP) &&
      len >= off + ihl + 4) {
    std::memcpy(&k.src_port, p + off + ihl, 2);
    std::memcpy(&k.dst_port, p + off + ihl + 2, 2);
  }
  e.ok = true;
  return e;
}

void check_router_parsers(rte_mbuf* m, const FlowKey& key, const ParsedFrame& parsed) {
  if (key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_ARP)) {
    vsw::dp::ArpInfo arp;
    if (vsw::dp::parse_arp(m, parsed.l2_len, &arp)) VSW_FUZZ_CHECK(arp.op == 1 || arp.op == 2);
  }
  if (key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
    vsw::dp::NdInfo nd;
    if (vsw::dp::parse_nd(m, parsed.l2_len, &nd)) VSW_FUZZ_CHECK(nd.type == 135 || nd.type == 136);
  }
  if (key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) ||
      key.ethertype == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6))
    (void)vsw::dp::flow_hash(key, m, parsed.l2_len);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > vsw::fuzz::kMaxFrame) return 0;
  vsw::fuzz::HeapMbuf frame(data, size);
  FlowKey key;
  ParsedFrame parsed{};  // a malformed frame leaves it unset
  const ParseResult r = vsw::flow::parse_frame(frame.get(), kInPort, key, parsed);
  const Expected e = reference_parse(data, size);
  VSW_FUZZ_CHECK((r == ParseResult::kOk) == e.ok);
  if (!e.ok) return 0;
  VSW_FUZZ_CHECK(key == e.key);
  VSW_FUZZ_CHECK(parsed.l2_len == e.l2_len && parsed.tagged == e.tagged);
  VSW_FUZZ_CHECK(parsed.l2_len <= size);
  check_router_parsers(frame.get(), key, parsed);
  // The echo reply is built in place from untagged frames (the L3 stage strips the tag).
  if (!parsed.tagged) {
    vsw::fuzz::HeapMbuf copy(data, size);
    const uint8_t router_mac[6] = {0x02, 0, 0, 0, 0x01, 0x01};
    if (vsw::dp::make_echo_reply(copy.get(), router_mac)) {
      VSW_FUZZ_CHECK(std::memcmp(copy.data(), data + 6, 6) == 0);
      VSW_FUZZ_CHECK(std::memcmp(copy.data() + 6, router_mac, 6) == 0);
      FlowKey reply_key;
      ParsedFrame reply_parsed;
      VSW_FUZZ_CHECK(vsw::flow::parse_frame(copy.get(), kInPort, reply_key, reply_parsed) ==
                     ParseResult::kOk);
    }
  }
  return 0;
}
