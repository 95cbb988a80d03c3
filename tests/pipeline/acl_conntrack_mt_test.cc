// Conntrack with real threads: two workers (one opening connections, one answering them
// from the other side, so every hit is in the other worker's table) and the management
// thread expiring and flushing at the same time, under RCU. Run under ASan by
// `make asan-test`; short on purpose (the cores are shared).
#include <gtest/gtest.h>
#include <rte_malloc.h>

#include <atomic>
#include <memory>
#include <thread>

#include "conntrack.h"
#include "pipeline_harness.h"

namespace vsw::acl {
namespace {

ConnPacket udp(uint32_t i, bool reply) {
  ConnPacket p;
  p.proto = kProtoUdp;
  p.zone = 3;
  p.src = {10, 0, static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i)};
  p.dst = {10, 1, 0, 1};
  p.sport = static_cast<uint16_t>(1000 + i);
  p.dport = 53;
  if (reply) {
    std::swap(p.src, p.dst);
    std::swap(p.sport, p.dport);
  }
  return p;
}

TEST(ConntrackThreads, WorkersAndManagementRunConcurrently) {
  ASSERT_TRUE(vsw::test::init_eal("acl_conntrack_mt_test"));
  const size_t size = rte_rcu_qsbr_get_memsize(2);
  auto* rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc(nullptr, size, RTE_CACHE_LINE_SIZE));
  ASSERT_EQ(rte_rcu_qsbr_init(rcu, 2), 0);
  ConntrackConfig cfg;
  cfg.workers = 2;
  cfg.capacity = 2048;
  cfg.limit = 1500;  // below the capacity: the limit is reached, not the table
  cfg.ticks_per_second = 1000;
  cfg.rcu = rcu;
  auto ct = std::make_unique<Conntrack>(cfg);
  ASSERT_TRUE(ct->ok()) << ct->error();

  constexpr uint32_t kFlows = 3000;
  std::atomic<uint64_t> now{0};
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> replies_found{0}, wrong_direction{0}, opener_loops{0};

  std::thread opener([&] {
    rte_rcu_qsbr_thread_register(rcu, 0);
    rte_rcu_qsbr_thread_online(rcu, 0);
    uint32_t i = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      const uint64_t t = now.load(std::memory_order_relaxed);
      for (int k = 0; k < 32; ++k, i = (i + 1) % kFlows) {
        const ConnPacket p = udp(i, false);
        ConnDir dir;
        ConnRef ref = ct->lookup(0, p, &dir);
        if (ref.found()) {
          if (dir != ConnDir::kOriginal) wrong_direction.fetch_add(1);
          ct->update(0, ref, dir, p, t);
        } else {
          ct->create(0, p, Direction::kFromPort, 1, t, &ref);
        }
      }
      ct->service(0, t);
      rte_rcu_qsbr_quiescent(rcu, 0);
      opener_loops.fetch_add(1, std::memory_order_relaxed);
    }
    rte_rcu_qsbr_thread_offline(rcu, 0);
    rte_rcu_qsbr_thread_unregister(rcu, 0);
  });
  std::thread answerer([&] {
    rte_rcu_qsbr_thread_register(rcu, 1);
    rte_rcu_qsbr_thread_online(rcu, 1);
    uint32_t i = kFlows / 2;
    while (!stop.load(std::memory_order_relaxed)) {
      const uint64_t t = now.load(std::memory_order_relaxed);
      for (int k = 0; k < 32; ++k, i = (i + 7) % kFlows) {
        const ConnPacket p = udp(i, true);
        ConnDir dir;
        const ConnRef ref = ct->lookup(1, p, &dir);
        if (!ref.found()) continue;
        if (dir != ConnDir::kReply || ref.table != 0) wrong_direction.fetch_add(1);
        if (ct->update(1, ref, dir, p, t) == ConnVerdict::kPass) replies_found.fetch_add(1);
      }
      ct->service(1, t);
      rte_rcu_qsbr_quiescent(rcu, 1);
    }
    rte_rcu_qsbr_thread_offline(rcu, 1);
    rte_rcu_qsbr_thread_unregister(rcu, 1);
  });

  // Management: time runs at 1 s per step, so unanswered flows expire after 30 steps and
  // are created again; a flush now and then empties everything.
  for (int step = 0; step < 400; ++step) {
    now.fetch_add(1000);
    ct->expire_slice(now.load(), 512);
    if (step % 100 == 50) ct->flush();
    EXPECT_LE(ct->size(), cfg.limit);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  stop.store(true);
  opener.join();
  answerer.join();

  EXPECT_EQ(wrong_direction.load(), 0u);
  EXPECT_GT(replies_found.load(), 0u);
  EXPECT_GT(opener_loops.load(), 10u);
  const ConntrackTotals t = ct->totals();
  EXPECT_GT(t.created, 0u);
  EXPECT_GT(t.limit_drops, 0u);
  EXPECT_GT(t.deleted, 0u);
  // Everything left goes when the owners service their rings (single-threaded now).
  ct->flush();
  ct->service(0, now.load(), 1u << 20);
  ct->service(1, now.load(), 1u << 20);
  EXPECT_EQ(ct->size(), 0u);
  EXPECT_EQ(ct->totals().created, ct->totals().deleted);
  ct.reset();
  rte_free(rcu);
}

}  // namespace
}  // namespace vsw::acl
