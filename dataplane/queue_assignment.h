// Which worker polls which receive queue. Pure: unit-tested.
//
// When ports come and go, queues that still exist stay on the worker that polls them, so the
// other ports' traffic never pauses or moves; removed queues disappear and new ones go to the
// least-loaded worker (ties to the lowest worker index).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vsw::dp {

struct RxQueueRef {
  uint16_t port = 0;
  uint16_t queue = 0;
  auto operator<=>(const RxQueueRef&) const = default;
};

using QueueAssignment = std::vector<std::vector<RxQueueRef>>;  // [worker] -> queues

// `current` may have a different worker count than `workers` (start-up); `wanted` is every
// queue that must be polled.
QueueAssignment assign_queues(const QueueAssignment& current, const std::vector<RxQueueRef>& wanted,
                              std::size_t workers);

}  // namespace vsw::dp
