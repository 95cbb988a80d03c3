// The neighbor table's states, timers and bounds, on a clock the test drives (hz = 1000: one
// tick per millisecond).
#include <gtest/gtest.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include <map>

#include "neighbor.h"

namespace vsw::flow {
namespace {

int instance = 0;

class Neighbors : public ::testing::Test {
 protected:
  void SetUp() override {
    pool = rte_pktmbuf_pool_create(("vsw_tnpool" + std::to_string(instance)).c_str(), 1023, 0, 0,
                                   RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
    ASSERT_NE(pool, nullptr);
    make_table({});
  }
  void TearDown() override {
    table.reset();
    rte_mempool_free(pool);
  }
  void make_table(const NeighborTimers& timers, uint32_t capacity = 64) {
    table.reset();
    table = std::make_unique<NeighborTable>("vsw_tneigh" + std::to_string(instance++), capacity,
                                            nullptr, 1000, timers);
    ASSERT_TRUE(table->ok()) << table->error();
  }
  rte_mbuf* mbuf() {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    EXPECT_NE(m, nullptr);
    return m;
  }
  NeighborState state(const NeighborKey& k) {
    const int32_t pos = table->lookup(k);
    EXPECT_GE(pos, 0);
    return neighbor_state(table->entry(pos).mac_state.load());
  }
  void free_all(std::vector<rte_mbuf*>& v) {
    for (rte_mbuf* m : v) rte_pktmbuf_free(m);
    v.clear();
  }
  unsigned in_use() { return rte_mempool_in_use_count(pool); }

  rte_mempool* pool = nullptr;
  std::unique_ptr<NeighborTable> table;
  const uint8_t mac_a[6] = {0x02, 0, 0, 0, 0, 0xa};
  const uint8_t mac_b[6] = {0x02, 0, 0, 0, 0, 0xb};
  NeighborKey k1 = neighbor_key(1, IpAddr::v4(0x0a000001));
};

TEST_F(Neighbors, KeysKeepFamilyAndInterfaceApart) {
  IpAddr v6;
  v6.family = Family::kIpv6;
  std::memcpy(v6.bytes, IpAddr::v4(0x0a000001).bytes, 16);  // same bytes, other family
  NeighborKey a = neighbor_key(1, IpAddr::v4(0x0a000001));
  NeighborKey b = neighbor_key(1, v6);
  NeighborKey c = neighbor_key(2, IpAddr::v4(0x0a000001));
  EXPECT_NE(std::memcmp(&a, &b, sizeof(a)), 0);
  EXPECT_NE(std::memcmp(&a, &c, sizeof(a)), 0);
  EXPECT_TRUE(neighbor_ip(b) == v6);
}

TEST_F(Neighbors, FirstPacketCreatesAnIncompleteEntryAndAsksOnce) {
  EXPECT_EQ(table->enqueue(k1, mbuf(), 0), NeighborTable::Enqueued::kSendRequest);
  EXPECT_EQ(table->enqueue(k1, mbuf(), 1), NeighborTable::Enqueued::kQueued);
  EXPECT_EQ(state(k1), NeighborState::kIncomplete);
  EXPECT_EQ(table->pending(), 2u);
  std::vector<rte_mbuf*> ready;
  ASSERT_TRUE(table->learn(k1, mac_a, true, false, 5, &ready));
  EXPECT_EQ(ready.size(), 2u);  // the waiting packets, in order, to be sent now
  EXPECT_EQ(table->pending(), 0u);
  EXPECT_EQ(state(k1), NeighborState::kReachable);
  uint8_t got[6];
  neighbor_mac(table->entry(table->lookup(k1)).mac_state.load(), got);
  EXPECT_EQ(std::memcmp(got, mac_a, 6), 0);
  EXPECT_EQ(table->counters().resolved, 1u);
  // Resolved since: a later straggler from a worker goes out at once.
  rte_mbuf* m = mbuf();
  EXPECT_EQ(table->enqueue(k1, m, 6), NeighborTable::Enqueued::kSendNow);
  rte_pktmbuf_free(m);
  free_all(ready);
}

TEST_F(Neighbors, PendingPacketsAreBoundedPerNeighborAndOverall) {
  NeighborTimers t;
  t.pending_per_neighbor = 3;
  t.pending_total = 5;
  make_table(t);
  std::vector<rte_mbuf*> refused;
  for (int i = 0; i < 5; ++i) {
    rte_mbuf* m = mbuf();
    if (table->enqueue(k1, m, 0) == NeighborTable::Enqueued::kDropped) refused.push_back(m);
  }
  EXPECT_EQ(refused.size(), 2u);
  const NeighborKey k2 = neighbor_key(1, IpAddr::v4(0x0a000002));
  for (int i = 0; i < 3; ++i) {
    rte_mbuf* m = mbuf();
    if (table->enqueue(k2, m, 0) == NeighborTable::Enqueued::kDropped) refused.push_back(m);
  }
  EXPECT_EQ(refused.size(), 3u);  // the total bound of 5 took the third
  EXPECT_EQ(table->pending(), 5u);
  EXPECT_EQ(table->counters().pending_overflow, 3u);
  // Nothing more is created once the total is reached either.
  rte_mbuf* m = mbuf();
  EXPECT_EQ(table->enqueue(neighbor_key(1, IpAddr::v4(0x0a000003)), m, 0),
            NeighborTable::Enqueued::kDropped);
  refused.push_back(m);
  EXPECT_EQ(table->size(), 2u);
  free_all(refused);
}

TEST_F(Neighbors, ASilentNeighborIsAskedMaxProbesTimesThenDroppedWithItsPackets) {
  const unsigned before = in_use();
  EXPECT_EQ(table->enqueue(k1, mbuf(), 0), NeighborTable::Enqueued::kSendRequest);
  table->enqueue(k1, mbuf(), 0);
  std::vector<NeighborRequest> requests;
  std::vector<rte_mbuf*> dropped;
  for (uint64_t now = 0; now <= 5000; now += 100) table->tick(now, &requests, &dropped);
  // The first request went with enqueue; tick sent retransmissions 2 and 3 one second apart.
  EXPECT_EQ(requests.size(), 2u);
  for (const NeighborRequest& r : requests) EXPECT_FALSE(r.unicast);
  EXPECT_EQ(dropped.size(), 2u);
  EXPECT_EQ(table->size(), 0u);
  EXPECT_EQ(table->pending(), 0u);
  EXPECT_EQ(table->counters().failed, 1u);
  EXPECT_EQ(table->counters().pending_timeout, 2u);
  EXPECT_LT(table->lookup(k1), 0);
  free_all(dropped);
  EXPECT_EQ(in_use(), before);  // nothing held for a host that never answered
}

TEST_F(Neighbors, ReachableGoesStaleThenAUsedStaleEntryIsProbedUnicast) {
  std::vector<rte_mbuf*> ready;
  std::vector<NeighborRequest> requests;
  std::vector<rte_mbuf*> dropped;
  ASSERT_TRUE(table->learn(k1, mac_a, false, true, 0, &ready));  // gratuitous ARP: learned
  EXPECT_EQ(state(k1), NeighborState::kStale);
  ASSERT_TRUE(table->learn(k1, mac_a, true, false, 10, &ready));
  EXPECT_EQ(state(k1), NeighborState::kReachable);
  table->tick(30011, &requests, &dropped);
  EXPECT_EQ(state(k1), NeighborState::kStale);
  EXPECT_TRUE(requests.empty());
  // A worker uses it: the next tick asks the neighbor directly.
  table->entry(table->lookup(k1)).last_used.store(30500);
  table->tick(30600, &requests, &dropped);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_TRUE(requests[0].unicast);
  EXPECT_EQ(std::memcmp(requests[0].mac, mac_a, 6), 0);
  EXPECT_EQ(state(k1), NeighborState::kProbe);
  // Still usable while probed; an answer makes it reachable again.
  EXPECT_TRUE(neighbor_usable(table->entry(table->lookup(k1)).mac_state.load()));
  ASSERT_TRUE(table->learn(k1, mac_a, true, false, 30700, &ready));
  EXPECT_EQ(state(k1), NeighborState::kReachable);
  EXPECT_TRUE(ready.empty());
  EXPECT_TRUE(dropped.empty());
}

TEST_F(Neighbors, AnUnusedStaleEntryAgesOut) {
  std::vector<rte_mbuf*> ready, dropped;
  std::vector<NeighborRequest> requests;
  ASSERT_TRUE(table->learn(k1, mac_a, true, true, 0, &ready));
  const uint32_t gen = table->entry(table->lookup(k1)).generation.load();
  const int32_t pos = table->lookup(k1);
  table->tick(31000, &requests, &dropped);  // stale
  table->tick(60000, &requests, &dropped);  // unused, but not for 60 s yet
  EXPECT_EQ(table->size(), 1u);
  table->tick(60001, &requests, &dropped);
  EXPECT_EQ(table->size(), 0u);
  EXPECT_EQ(table->counters().aged, 1u);
  EXPECT_NE(table->entry(pos).generation.load(), gen);  // cached flows on it go stale
  EXPECT_TRUE(requests.empty());
}

TEST_F(Neighbors, AMacChangeBumpsTheGenerationAndLearningWithoutCreateIgnoresStrangers) {
  std::vector<rte_mbuf*> ready;
  ASSERT_TRUE(table->learn(k1, mac_a, true, true, 0, &ready));
  const int32_t pos = table->lookup(k1);
  const uint32_t gen = table->entry(pos).generation.load();
  ASSERT_TRUE(table->learn(k1, mac_a, false, false, 1, &ready));  // same MAC: no change
  EXPECT_EQ(table->entry(pos).generation.load(), gen);
  ASSERT_TRUE(table->learn(k1, mac_b, false, false, 2, &ready));  // moved
  EXPECT_NE(table->entry(pos).generation.load(), gen);
  EXPECT_EQ(table->counters().mac_changes, 1u);
  EXPECT_EQ(state(k1), NeighborState::kStale);
  const NeighborKey k2 = neighbor_key(1, IpAddr::v4(0x0a000002));
  ASSERT_TRUE(table->learn(k2, mac_a, false, false, 3, &ready));
  EXPECT_LT(table->lookup(k2), 0);
}

TEST_F(Neighbors, CapacityIsAHardLimitAndRemoveRifFreesWaitingPackets) {
  make_table({}, 4);
  std::vector<rte_mbuf*> ready, dropped;
  for (uint32_t i = 0; i < 4; ++i)
    ASSERT_TRUE(
        table->learn(neighbor_key(2, IpAddr::v4(0x0a000100 + i)), mac_a, true, true, 0, &ready));
  EXPECT_FALSE(table->learn(neighbor_key(2, IpAddr::v4(0x0a000200)), mac_a, true, true, 0, &ready));
  rte_mbuf* m = mbuf();
  EXPECT_EQ(table->enqueue(k1, m, 0), NeighborTable::Enqueued::kDropped);
  rte_pktmbuf_free(m);
  EXPECT_EQ(table->counters().table_full, 2u);
  std::vector<rte_mbuf*> removed;
  table->remove_rif(2, &removed);
  EXPECT_EQ(table->size(), 0u);
  EXPECT_EQ(table->enqueue(k1, mbuf(), 0), NeighborTable::Enqueued::kSendRequest);
  table->remove_rif(1, &removed);
  EXPECT_EQ(removed.size(), 1u);
  EXPECT_EQ(table->pending(), 0u);
  free_all(removed);
}

TEST_F(Neighbors, ListShowsStateMacAgeAndWaitingPackets) {
  std::vector<rte_mbuf*> ready;
  ASSERT_TRUE(table->learn(k1, mac_a, true, true, 1000, &ready));
  const NeighborKey k6 = neighbor_key(3, [] {
    IpAddr a;
    parse_ip("2001:db8::7", &a);
    return a;
  }());
  table->enqueue(k6, mbuf(), 2000);
  std::map<std::string, NeighborInfo> seen;
  table->list(4000, [&](const NeighborInfo& i) { seen[format_ip(neighbor_ip(i.key))] = i; });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen["10.0.0.1"].state, NeighborState::kReachable);
  EXPECT_EQ(seen["10.0.0.1"].age_ms, 3000u);
  EXPECT_EQ(seen["10.0.0.1"].key.rif, 1);
  EXPECT_EQ(seen["2001:db8::7"].state, NeighborState::kIncomplete);
  EXPECT_EQ(seen["2001:db8::7"].pending, 1u);
}

}  // namespace
}  // namespace vsw::flow
