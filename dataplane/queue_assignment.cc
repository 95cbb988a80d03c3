#include "queue_assignment.h"

#include <algorithm>
#include <set>

namespace vsw::dp {

QueueAssignment assign_queues(const QueueAssignment& current, const std::vector<RxQueueRef>& wanted,
                              std::size_t workers) {
  QueueAssignment next(workers);
  if (workers == 0) return next;
  const std::set<RxQueueRef> wanted_set(wanted.begin(), wanted.end());
  std::set<RxQueueRef> placed;
  for (std::size_t w = 0; w < current.size() && w < workers; ++w) {
    for (const RxQueueRef& q : current[w]) {
      if (wanted_set.count(q) && placed.insert(q).second) next[w].push_back(q);
    }
  }
  for (const RxQueueRef& q : wanted) {
    if (!placed.insert(q).second) continue;
    auto least = std::min_element(next.begin(), next.end(),
                                  [](const auto& a, const auto& b) { return a.size() < b.size(); });
    least->push_back(q);
  }
  return next;
}

}  // namespace vsw::dp
