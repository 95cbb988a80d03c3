// Connection tracking on real rte_hash tables (EAL without hugepages): scripted TCP, UDP and
// ICMP sequences across two workers' tables, expiry with a fake clock, the limit, flush,
// re-checks after rule changes, and key-slot reuse through the RCU defer queue.
#include "conntrack.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <rte_malloc.h>

#include <memory>

#include "pipeline_harness.h"

namespace vsw::acl {
namespace {

constexpr uint64_t kHz = 1000;  // fake clock: milliseconds
constexpr uint64_t kSec = kHz;
constexpr uint8_t SYN = kTcpSyn, ACK = kTcpAck, FIN = kTcpFin, RST = kTcpRst;

ConnPacket packet(const char* src, const char* dst, uint8_t proto, uint16_t sport, uint16_t dport) {
  ConnPacket p;
  p.family =
      std::string_view(src).find(':') == std::string_view::npos ? Family::kIpv4 : Family::kIpv6;
  const int af = p.family == Family::kIpv4 ? AF_INET : AF_INET6;
  inet_pton(af, src, p.src.data());
  inet_pton(af, dst, p.dst.data());
  p.proto = proto;
  p.sport = sport;
  p.dport = dport;
  p.zone = 1;
  return p;
}

ConnPacket tcp(const char* src, const char* dst, uint16_t sport, uint16_t dport, uint8_t flags) {
  ConnPacket p = packet(src, dst, kProtoTcp, sport, dport);
  p.tcp_flags = flags;
  return p;
}

ConnPacket echo(const char* src, const char* dst, uint16_t id, uint8_t type) {
  ConnPacket p = packet(src, dst, kProtoIcmp, id, id);
  p.icmp_type = type;
  return p;
}

ConntrackConfig config(uint32_t workers, uint32_t capacity, rte_rcu_qsbr* rcu) {
  ConntrackConfig c;
  c.workers = workers;
  c.capacity = capacity;
  c.limit = 1000;
  c.ticks_per_second = kHz;
  c.rcu = rcu;
  return c;
}

class Conntracking : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(vsw::test::init_eal("acl_conntrack_test"));
    make(config(2, 1024, nullptr));
  }

  void make(const ConntrackConfig& cfg) {
    ct.reset();
    ct = std::make_unique<Conntrack>(cfg);
    ASSERT_TRUE(ct->ok()) << ct->error();
  }

  // What the ACL stage will do for a packet that a permit-stateful rule of kFromPort matches
  // when it has no connection: track it if it has one, create one otherwise.
  ConnVerdict pass(uint32_t worker, const ConnPacket& p, uint64_t now, ConnDir* dir = nullptr) {
    ConnDir d = ConnDir::kOriginal;
    ConnRef ref = ct->lookup(worker, p, &d);
    if (dir) *dir = d;
    if (ref.found()) {
      last = ref;
      return ct->update(worker, ref, d, p, now);
    }
    const ConnVerdict v = ct->create(worker, p, Direction::kFromPort, 7, now, &ref);
    if (ref.found()) last = ref;
    return v;
  }

  ConnState state_of(const ConnPacket& p) {
    ConnDir d;
    const ConnRef ref = ct->lookup(0, p, &d);
    if (!ref.found()) return ConnState::kNone;
    return static_cast<ConnState>(ct->entry(ref).state.load());
  }

  // Runs expiry to completion at `now`, as the management timer would over several rounds,
  // with both workers deleting what is posted to them.
  void expire_all(uint64_t now) {
    for (int round = 0; round < 8; ++round) {
      ct->expire_slice(now, 4096);
      ct->service(0, now, 4096);
      ct->service(1, now, 4096);
    }
  }

  std::unique_ptr<Conntrack> ct;
  ConnRef last;
};

TEST_F(Conntracking, TcpConnectionFoundFromBothDirectionsAndBothWorkers) {
  const char *a = "10.0.0.1", *b = "10.0.0.2";
  ConnDir dir;
  EXPECT_EQ(pass(0, tcp(b, a, 80, 40000, SYN), 0, &dir), ConnVerdict::kPass);
  EXPECT_EQ(last.table, 0);
  EXPECT_EQ(state_of(tcp(b, a, 80, 40000, 0)), ConnState::kSynSent);
  EXPECT_EQ(ct->size(), 1u);
  // The reply, on the other worker: found in worker 0's table, as the reply direction.
  EXPECT_EQ(pass(1, tcp(a, b, 40000, 80, SYN | ACK), 1, &dir), ConnVerdict::kPass);
  EXPECT_EQ(dir, ConnDir::kReply);
  EXPECT_EQ(last.table, 0);
  EXPECT_EQ(state_of(tcp(a, b, 40000, 80, 0)), ConnState::kSynRecv);
  EXPECT_EQ(pass(0, tcp(b, a, 80, 40000, ACK), 2, &dir), ConnVerdict::kPass);
  EXPECT_EQ(dir, ConnDir::kOriginal);
  EXPECT_EQ(state_of(tcp(a, b, 40000, 80, 0)), ConnState::kEstablished);
  EXPECT_EQ(pass(1, tcp(a, b, 40000, 80, ACK), 3), ConnVerdict::kPass);
  EXPECT_EQ(pass(1, tcp(a, b, 40000, 80, FIN | ACK), 4), ConnVerdict::kPass);
  EXPECT_EQ(state_of(tcp(a, b, 40000, 80, 0)), ConnState::kFinWait);
  EXPECT_EQ(pass(0, tcp(b, a, 80, 40000, ACK), 5), ConnVerdict::kPass);
  EXPECT_EQ(state_of(tcp(a, b, 40000, 80, 0)), ConnState::kCloseWait);
  EXPECT_EQ(pass(0, tcp(b, a, 80, 40000, FIN | ACK), 6), ConnVerdict::kPass);
  EXPECT_EQ(state_of(tcp(a, b, 40000, 80, 0)), ConnState::kLastAck);
  EXPECT_EQ(pass(1, tcp(a, b, 40000, 80, ACK), 7), ConnVerdict::kPass);
  EXPECT_EQ(state_of(tcp(a, b, 40000, 80, 0)), ConnState::kTimeWait);
  EXPECT_EQ(ct->totals().created, 1u);
  EXPECT_EQ(ct->totals().invalid, 0u);

  // TIME_WAIT lasts 120 s from the last packet (at 7 ms).
  expire_all(7 + 120 * kSec - 1);
  EXPECT_EQ(ct->size(), 1u);
  expire_all(7 + 120 * kSec);
  EXPECT_EQ(ct->size(), 0u);
  EXPECT_EQ(state_of(tcp(a, b, 40000, 80, 0)), ConnState::kNone);
  EXPECT_EQ(ct->totals().deleted, 1u);
}

TEST_F(Conntracking, PacketsThatOpenNothingOrDoNotFitAreInvalid) {
  const char *a = "10.0.0.1", *b = "10.0.0.2";
  ConnRef ref;
  // No connection: a bare ACK, a SYN-ACK, a FIN, an RST, an echo reply open nothing.
  for (uint8_t flags : {uint8_t(ACK), uint8_t(SYN | ACK), uint8_t(FIN | ACK), uint8_t(RST)}) {
    EXPECT_EQ(ct->create(0, tcp(a, b, 1, 2, flags), Direction::kFromPort, 1, 0, &ref),
              ConnVerdict::kInvalid);
    EXPECT_FALSE(ref.found());
  }
  EXPECT_EQ(ct->create(0, echo(a, b, 9, 0), Direction::kFromPort, 1, 0, &ref),
            ConnVerdict::kInvalid);
  EXPECT_EQ(ct->size(), 0u);
  EXPECT_EQ(ct->totals().invalid, 5u);
  // With a connection: the opener sending a SYN-ACK, an ACK before the SYN-ACK.
  ASSERT_EQ(pass(0, tcp(a, b, 1, 2, SYN), 0), ConnVerdict::kPass);
  EXPECT_EQ(pass(0, tcp(a, b, 1, 2, SYN | ACK), 1), ConnVerdict::kInvalid);
  EXPECT_EQ(pass(1, tcp(a, b, 1, 2, ACK), 1), ConnVerdict::kInvalid);
  EXPECT_EQ(state_of(tcp(a, b, 1, 2, 0)), ConnState::kSynSent);
  EXPECT_EQ(ct->totals().invalid, 7u);
  // Other protocols are not tracked: they pass on the rule alone.
  EXPECT_EQ(ct->create(0, packet(a, b, 47, 0, 0), Direction::kFromPort, 1, 0, &ref),
            ConnVerdict::kPass);
  EXPECT_FALSE(ref.found());
  EXPECT_EQ(ct->size(), 1u);
}

TEST_F(Conntracking, ResetClosesAndCloseLastsTenSeconds) {
  const char *a = "2001:db8::1", *b = "2001:db8::2";
  ASSERT_EQ(pass(0, tcp(a, b, 5000, 22, SYN), 0), ConnVerdict::kPass);
  ASSERT_EQ(pass(0, tcp(b, a, 22, 5000, SYN | ACK), 0), ConnVerdict::kPass);
  ASSERT_EQ(pass(0, tcp(a, b, 5000, 22, ACK), 0), ConnVerdict::kPass);
  EXPECT_EQ(pass(1, tcp(b, a, 22, 5000, RST | ACK), 1000), ConnVerdict::kPass);
  EXPECT_EQ(state_of(tcp(a, b, 5000, 22, 0)), ConnState::kClose);
  expire_all(1000 + 10 * kSec - 1);
  EXPECT_EQ(ct->size(), 1u);
  expire_all(1000 + 10 * kSec);
  EXPECT_EQ(ct->size(), 0u);
  // Afterwards the port pair is free for a new connection.
  EXPECT_EQ(pass(0, tcp(a, b, 5000, 22, SYN), 20 * kSec), ConnVerdict::kPass);
  EXPECT_EQ(ct->size(), 1u);
}

TEST_F(Conntracking, UdpPseudoConnectionLivesLongerOnceAnswered) {
  const char *a = "10.0.0.1", *b = "10.0.0.2", *c = "10.0.0.3";
  ASSERT_EQ(pass(0, packet(a, b, kProtoUdp, 5353, 53), 0), ConnVerdict::kPass);
  ASSERT_EQ(pass(0, packet(a, c, kProtoUdp, 5353, 53), 0), ConnVerdict::kPass);
  EXPECT_EQ(state_of(packet(a, b, kProtoUdp, 5353, 53)), ConnState::kUnreplied);
  ConnDir dir;
  ASSERT_EQ(pass(1, packet(b, a, kProtoUdp, 53, 5353), 0, &dir), ConnVerdict::kPass);
  EXPECT_EQ(dir, ConnDir::kReply);
  EXPECT_EQ(state_of(packet(a, b, kProtoUdp, 5353, 53)), ConnState::kReplied);
  EXPECT_EQ(ct->totals().created, 2u);
  expire_all(30 * kSec);  // the unanswered one goes after 30 s
  EXPECT_EQ(ct->size(), 1u);
  EXPECT_EQ(state_of(packet(a, c, kProtoUdp, 5353, 53)), ConnState::kNone);
  expire_all(120 * kSec);  // the answered one after 120 s
  EXPECT_EQ(ct->size(), 0u);
}

TEST_F(Conntracking, IcmpEchoByIdentifier) {
  const char *a = "10.0.0.1", *b = "10.0.0.2";
  ASSERT_EQ(pass(0, echo(a, b, 77, 8), 0), ConnVerdict::kPass);
  ConnDir dir;
  EXPECT_EQ(pass(0, echo(b, a, 77, 0), 1, &dir), ConnVerdict::kPass);
  EXPECT_EQ(dir, ConnDir::kReply);
  EXPECT_EQ(state_of(echo(a, b, 77, 8)), ConnState::kReplied);
  // A reply with another identifier has no connection; a request sent back the other way
  // on this one does not fit it.
  ConnRef ref;
  EXPECT_EQ(ct->create(0, echo(b, a, 78, 0), Direction::kFromPort, 1, 1, &ref),
            ConnVerdict::kInvalid);
  EXPECT_EQ(pass(0, echo(b, a, 77, 8), 1), ConnVerdict::kInvalid);
  // ICMPv6 echo the same way.
  ConnPacket req = packet("fe80::1", "fe80::2", kProtoIcmpv6, 5, 5);
  req.icmp_type = 128;
  ConnPacket rep = packet("fe80::2", "fe80::1", kProtoIcmpv6, 5, 5);
  rep.icmp_type = 129;
  ASSERT_EQ(pass(1, req, 0), ConnVerdict::kPass);
  EXPECT_EQ(pass(0, rep, 0, &dir), ConnVerdict::kPass);
  EXPECT_EQ(dir, ConnDir::kReply);
  expire_all(30 * kSec);  // the IPv4 one was last seen at 1 ms
  EXPECT_EQ(ct->size(), 1u);
  expire_all(30 * kSec + 1);
  EXPECT_EQ(ct->size(), 0u);
}

TEST_F(Conntracking, ExpiryRunsInBoundedSlicesAndSparesRefreshedEntries) {
  for (uint16_t i = 0; i < 300; ++i)
    ASSERT_EQ(pass(i % 2, packet("10.1.0.1", "10.2.0.1", kProtoUdp, i, 53), 0), ConnVerdict::kPass);
  // One is refreshed at 20 s (past the 1/8 s refresh granularity).
  ASSERT_EQ(pass(0, packet("10.1.0.1", "10.2.0.1", kProtoUdp, 7, 53), 20 * kSec),
            ConnVerdict::kPass);
  uint32_t posted = 0;
  for (int i = 0; i < 40; ++i) posted += ct->expire_slice(30 * kSec - 1, 100);
  EXPECT_EQ(posted, 0u);
  // Each slice looks at no more than its budget of positions.
  uint32_t total = 0;
  for (int i = 0; i < 60; ++i) {  // 3000 positions: both tables (~1025 each) once
    const uint32_t n = ct->expire_slice(30 * kSec, 50);
    EXPECT_LE(n, 50u);
    total += n;
  }
  EXPECT_EQ(total, 299u);
  EXPECT_EQ(ct->size(), 300u);                      // posted, not yet deleted: only owners delete
  EXPECT_EQ(ct->service(0, 30 * kSec, 100), 100u);  // bounded too
  ct->service(0, 30 * kSec, 4096);
  ct->service(1, 30 * kSec, 4096);
  EXPECT_EQ(ct->size(), 1u);
  EXPECT_EQ(state_of(packet("10.1.0.1", "10.2.0.1", kProtoUdp, 7, 53)), ConnState::kUnreplied);
  expire_all(50 * kSec);
  EXPECT_EQ(ct->size(), 0u);
  EXPECT_EQ(ct->totals().deleted, 300u);
}

TEST_F(Conntracking, AnEntryRefreshedAfterBeingPostedIsKept) {
  ASSERT_EQ(pass(0, packet("10.0.0.1", "10.0.0.2", kProtoUdp, 1, 2), 0), ConnVerdict::kPass);
  EXPECT_EQ(ct->expire_slice(30 * kSec, 4096), 1u);
  // A packet arrives before the owner gets to the deletion.
  ASSERT_EQ(pass(1, packet("10.0.0.1", "10.0.0.2", kProtoUdp, 1, 2), 30 * kSec),
            ConnVerdict::kPass);
  EXPECT_EQ(ct->service(0, 30 * kSec + 1, 64), 0u);
  EXPECT_EQ(ct->size(), 1u);
  expire_all(60 * kSec);
  EXPECT_EQ(ct->size(), 0u);
}

TEST_F(Conntracking, LimitDropsNewConnectionsAndSparesExistingOnes) {
  ct->set_limit(10);
  for (uint16_t i = 0; i < 10; ++i)
    ASSERT_EQ(pass(0, tcp("10.0.0.1", "10.0.0.2", i, 80, SYN), 0), ConnVerdict::kPass);
  EXPECT_EQ(pass(1, tcp("10.0.0.1", "10.0.0.2", 100, 80, SYN), 0), ConnVerdict::kLimit);
  EXPECT_EQ(pass(0, packet("10.0.0.1", "10.0.0.2", kProtoUdp, 1, 2), 0), ConnVerdict::kLimit);
  EXPECT_EQ(ct->totals().limit_drops, 2u);
  EXPECT_EQ(ct->size(), 10u);
  // Existing connections carry on.
  for (uint16_t i = 0; i < 10; ++i)
    EXPECT_EQ(pass(1, tcp("10.0.0.2", "10.0.0.1", 80, i, SYN | ACK), 1), ConnVerdict::kPass);
  ct->set_limit(11);
  EXPECT_EQ(pass(1, tcp("10.0.0.1", "10.0.0.2", 100, 80, SYN), 0), ConnVerdict::kPass);
  EXPECT_EQ(pass(1, tcp("10.0.0.1", "10.0.0.2", 101, 80, SYN), 0), ConnVerdict::kLimit);
  // Deleting makes room again.
  EXPECT_EQ(ct->flush(), 11u);
  ct->service(0, 1, 4096);
  ct->service(1, 1, 4096);
  EXPECT_EQ(ct->size(), 0u);
  EXPECT_EQ(pass(1, tcp("10.0.0.1", "10.0.0.2", 101, 80, SYN), 2), ConnVerdict::kPass);
}

TEST_F(Conntracking, FlushByZone) {
  ConnPacket p = packet("10.0.0.1", "10.0.0.2", kProtoUdp, 1, 2);
  ASSERT_EQ(pass(0, p, 0), ConnVerdict::kPass);
  p.zone = 2;  // the same flow at another port is another connection
  ASSERT_EQ(pass(1, p, 0), ConnVerdict::kPass);
  EXPECT_EQ(ct->size(), 2u);
  EXPECT_EQ(ct->flush(2), 1u);
  ct->service(0, 0, 64);
  ct->service(1, 0, 64);
  EXPECT_EQ(ct->size(), 1u);
  ConnDir dir;
  EXPECT_FALSE(ct->lookup(0, p, &dir).found());
  p.zone = 1;
  EXPECT_TRUE(ct->lookup(1, p, &dir).found());
}

TEST_F(Conntracking, RevokedConnectionsDropFromTheNextPacketAndGoAtTheNextSlice) {
  const char *a = "10.0.0.9", *b = "10.0.0.1";
  ASSERT_EQ(pass(0, tcp(a, b, 3000, 443, SYN), 0), ConnVerdict::kPass);
  ASSERT_EQ(pass(0, tcp(b, a, 443, 3000, SYN | ACK), 0), ConnVerdict::kPass);
  const ConnRef ref = last;
  EXPECT_EQ(ct->entry(ref).acl_generation.load(), 7u);
  EXPECT_EQ(ct->entry(ref).origin_dir, static_cast<uint8_t>(Direction::kFromPort));
  // The stage re-classifies the opener's packet: from a to b, whichever way the key sorts.
  const PacketKey k = ct->original_acl_key(ref);
  EXPECT_EQ(k.family, Family::kIpv4);
  EXPECT_EQ(k.proto, kProtoTcp);
  EXPECT_EQ(k.src[3], 9);
  EXPECT_EQ(k.dst[3], 1);
  EXPECT_EQ(k.sport, 3000);
  EXPECT_EQ(k.dport, 443);
  ct->recheck(ref, 8, /*still_permitted=*/true);
  EXPECT_EQ(pass(0, tcp(a, b, 3000, 443, ACK), 1), ConnVerdict::kPass);
  ct->recheck(ref, 9, /*still_permitted=*/false);
  EXPECT_EQ(pass(0, tcp(a, b, 3000, 443, ACK), 2), ConnVerdict::kRevoked);
  EXPECT_EQ(pass(1, tcp(b, a, 443, 3000, ACK), 2), ConnVerdict::kRevoked);
  EXPECT_EQ(ct->totals().revoked_drops, 2u);
  EXPECT_EQ(ct->expire_slice(3, 4096), 1u);  // long before any timeout
  ct->service(0, 3, 64);
  EXPECT_EQ(ct->size(), 0u);
}

TEST_F(Conntracking, EchoKeyForRecheckIsTheRequest) {
  ASSERT_EQ(pass(0, echo("10.0.0.5", "10.0.0.1", 4, 8), 0), ConnVerdict::kPass);
  const PacketKey k = ct->original_acl_key(last);
  EXPECT_EQ(k.proto, kProtoIcmp);
  EXPECT_EQ(k.sport, 8);  // type
  EXPECT_EQ(k.dport, 0);  // code
  EXPECT_EQ(k.src[3], 5);
}

TEST_F(Conntracking, BulkLookupAgreesWithSingleLookups) {
  // Connections in both workers' tables; packets of both directions and unknown ones.
  for (uint16_t i = 0; i < 40; ++i)
    ASSERT_EQ(pass(i % 2, packet("10.0.0.1", "10.0.0.2", kProtoUdp, i, 53), 0), ConnVerdict::kPass);
  std::vector<ConnPacket> pkts;
  for (uint16_t i = 0; i < 64; ++i) {
    if (i % 2) {
      pkts.push_back(packet("10.0.0.2", "10.0.0.1", kProtoUdp, 53, i));  // replies
    } else {
      pkts.push_back(packet("10.0.0.1", "10.0.0.2", kProtoUdp, i, 53));
    }
  }
  std::vector<const ConnPacket*> ptrs;
  for (const ConnPacket& p : pkts) ptrs.push_back(&p);
  for (uint32_t worker : {0u, 1u}) {
    ConnRef refs[64];
    ConnDir dirs[64];
    ct->lookup_bulk(worker, ptrs.data(), 64, refs, dirs);
    uint32_t found = 0;
    for (uint32_t i = 0; i < 64; ++i) {
      ConnDir dir = ConnDir::kOriginal;
      const ConnRef one = ct->lookup(worker, pkts[i], &dir);
      EXPECT_EQ(refs[i].found(), one.found()) << i;
      if (!one.found()) continue;
      ++found;
      EXPECT_EQ(refs[i].table, one.table) << i;
      EXPECT_EQ(refs[i].pos, one.pos) << i;
      EXPECT_EQ(dirs[i], dir) << i;
      EXPECT_EQ(dir, i % 2 ? ConnDir::kReply : ConnDir::kOriginal) << i;
    }
    EXPECT_EQ(found, 40u);
  }
}

TEST_F(Conntracking, TableFullIsCountedAndSlotsComeBackAfterTheGracePeriod) {
  const size_t size = rte_rcu_qsbr_get_memsize(1);
  auto* rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc(nullptr, size, RTE_CACHE_LINE_SIZE));
  ASSERT_EQ(rte_rcu_qsbr_init(rcu, 1), 0);
  ASSERT_EQ(rte_rcu_qsbr_thread_register(rcu, 0), 0);
  rte_rcu_qsbr_thread_online(rcu, 0);
  make(config(1, 64, rcu));
  for (int round = 0; round < 3; ++round) {
    uint32_t created = 0;
    for (uint16_t i = 0; i < 200; ++i) {
      const ConnVerdict v = pass(0, packet("10.0.0.1", "10.0.0.2", kProtoUdp, i, 53), 0);
      if (v == ConnVerdict::kPass) {
        ++created;
      } else {
        EXPECT_EQ(v, ConnVerdict::kFull);
      }
    }
    EXPECT_EQ(created, 64u) << "round " << round;
    EXPECT_EQ(ct->size(), 64u);
    ct->flush();
    EXPECT_EQ(ct->service(0, 0, 4096), 64u);
    EXPECT_EQ(ct->size(), 0u);
    // The worker passes a quiescent state: the deleted keys' slots may be reused.
    rte_rcu_qsbr_quiescent(rcu, 0);
  }
  EXPECT_EQ(ct->totals().full_drops, 3u * 136u);
  ct.reset();
  rte_rcu_qsbr_thread_offline(rcu, 0);
  rte_free(rcu);
}

}  // namespace
}  // namespace vsw::acl
