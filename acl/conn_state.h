// Connection state machines without the table: TCP (as nf_conntrack tracks it, without
// sequence-window checks), and the pseudo-connections of UDP and ICMP echo, with Linux's
// default timeouts. Pure functions: conntrack.h applies them to shared entries with atomics,
// and the unit tests drive them through scripted packet sequences.
#pragma once

#include <cstdint>

namespace vsw::acl {

enum class ConnState : uint8_t {
  kNone = 0,  // no connection (the state a new packet starts from)
  kSynSent,
  kSynRecv,
  kEstablished,
  kFinWait,
  kCloseWait,
  kLastAck,
  kTimeWait,
  kClose,
  // Pseudo-connections (UDP, ICMP echo): a packet seen one way, then an answer.
  kUnreplied,
  kReplied,
  kCount
};

const char* to_string(ConnState s);

// Which way a packet goes relative to the connection's first packet.
enum class ConnDir : uint8_t { kOriginal = 0, kReply = 1 };

// TCP flags as in the header's 13th byte.
inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpAck = 0x10;

enum class TcpEvent : uint8_t { kSyn, kSynAck, kFin, kAck, kRst, kNone, kCount };
TcpEvent tcp_event(uint8_t flags);

// The outcome for one packet: the new state, and whether the packet is valid. An ignored
// packet (a retransmitted SYN-ACK, say) passes and leaves the state alone; an invalid one is
// counted and dropped.
struct TcpStep {
  ConnState next;
  bool valid;
};
TcpStep tcp_step(ConnState state, ConnDir dir, uint8_t flags);

// Whether a first packet, seen with no connection, may open one: a TCP SYN (without ACK),
// any UDP datagram, an ICMP or ICMPv6 echo request. Anything else TCP is invalid then (a bare
// ACK, a SYN-ACK with no SYN: nf_conntrack's tcp_loose=0 behaviour).
inline bool tcp_opens(uint8_t flags) {
  return (flags & (kTcpSyn | kTcpAck | kTcpRst | kTcpFin)) == kTcpSyn;
}

// Timeouts in seconds: nf_conntrack's defaults (net/netfilter/nf_conntrack_proto_{tcp,udp,
// icmp}.c, Linux 6.1): tcp syn_sent 120, syn_recv 60, established 432000 (5 days),
// fin_wait 120, close_wait 60, last_ack 30, time_wait 120, close 10; udp 30 unreplied,
// 120 once replied (udp_timeout_stream); icmp 30.
struct Timeouts {
  uint32_t seconds[static_cast<int>(ConnState::kCount)];
  uint32_t udp_unreplied = 30;
  uint32_t udp_replied = 120;
  uint32_t icmp = 30;

  static Timeouts linux_defaults();
  // How long an entry in `state` lives after its last packet, for protocol `proto`.
  uint32_t for_state(uint8_t proto, ConnState state) const;
};

}  // namespace vsw::acl
