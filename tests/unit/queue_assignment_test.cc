#include "queue_assignment.h"

#include <gtest/gtest.h>

namespace vsw::dp {
namespace {

std::vector<RxQueueRef> queues_of(std::initializer_list<std::pair<uint16_t, uint16_t>> list) {
  std::vector<RxQueueRef> out;
  for (auto [p, q] : list) out.push_back({p, q});
  return out;
}

std::size_t total(const QueueAssignment& a) {
  std::size_t n = 0;
  for (const auto& w : a) n += w.size();
  return n;
}

TEST(QueueAssignment, SpreadsNewQueuesOverWorkers) {
  auto a = assign_queues({}, queues_of({{0, 0}, {0, 1}, {1, 0}, {1, 1}}), 2);
  ASSERT_EQ(a.size(), 2u);
  EXPECT_EQ(a[0].size(), 2u);
  EXPECT_EQ(a[1].size(), 2u);
  EXPECT_EQ(a[0][0], (RxQueueRef{0, 0}));
  EXPECT_EQ(a[1][0], (RxQueueRef{0, 1}));
}

TEST(QueueAssignment, ExistingQueuesStayWhenAPortComesOrGoes) {
  auto a = assign_queues({}, queues_of({{0, 0}, {1, 0}, {2, 0}}), 2);
  // port 1 goes away: ports 0 and 2 stay where they were.
  auto b = assign_queues(a, queues_of({{0, 0}, {2, 0}}), 2);
  for (std::size_t w = 0; w < 2; ++w) {
    for (const RxQueueRef& q : b[w]) EXPECT_NE(std::find(a[w].begin(), a[w].end(), q), a[w].end());
  }
  EXPECT_EQ(total(b), 2u);
  // port 3 arrives: it goes to the worker with fewer queues, nobody else moves.
  auto c = assign_queues(b, queues_of({{0, 0}, {2, 0}, {3, 0}}), 2);
  for (std::size_t w = 0; w < 2; ++w) {
    for (const RxQueueRef& q : b[w]) EXPECT_NE(std::find(c[w].begin(), c[w].end(), q), c[w].end());
  }
  EXPECT_EQ(total(c), 3u);
  EXPECT_LE(std::max(c[0].size(), c[1].size()) - std::min(c[0].size(), c[1].size()), 1u);
}

TEST(QueueAssignment, ARemovedQueueIsPolledByNobody) {
  auto a = assign_queues({}, queues_of({{0, 0}, {1, 0}}), 1);
  auto b = assign_queues(a, queues_of({{1, 0}}), 1);
  EXPECT_EQ(b[0], queues_of({{1, 0}}));
  auto empty = assign_queues(b, {}, 1);
  EXPECT_TRUE(empty[0].empty());
}

TEST(QueueAssignment, DuplicatesAreAssignedOnce) {
  auto a = assign_queues({}, queues_of({{0, 0}, {0, 0}}), 3);
  EXPECT_EQ(total(a), 1u);
}

TEST(QueueAssignment, WorkerCountChangeKeepsWhatFits) {
  auto a = assign_queues({}, queues_of({{0, 0}, {1, 0}, {2, 0}, {3, 0}}), 4);
  auto b = assign_queues(a, queues_of({{0, 0}, {1, 0}, {2, 0}, {3, 0}}), 2);
  EXPECT_EQ(total(b), 4u);
  EXPECT_EQ(b[0].size(), 2u);
  EXPECT_EQ(b[1].size(), 2u);
  EXPECT_TRUE(assign_queues(a, queues_of({{0, 0}}), 0).empty());
}

}  // namespace
}  // namespace vsw::dp
