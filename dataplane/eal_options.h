// Builds the EAL argument list from the operator's EAL options and what the host offers.
// Pure functions (plus one that reads sysfs), so the choice is unit-tested.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vsw::dp {

// Hugepage memory the dataplane wants before it prefers hugepages over --no-huge.
inline constexpr uint64_t kHugepageBytesWanted = 512ull << 20;
// Memory given to EAL in --no-huge mode (memfd-backed, so vhost-user still works).
inline constexpr unsigned kNoHugeMegabytes = 512;

struct HugepageInfo {
  uint64_t free_bytes = 0;  // over all page sizes
  bool mounted = false;     // a hugetlbfs is mounted
};

// Reads /sys/kernel/mm/hugepages and /proc/mounts.
HugepageInfo probe_hugepages();

struct EalPlan {
  std::vector<std::string> args;  // argv for rte_eal_init, program name first
  std::string memory_mode;        // "hugepages" or "no-huge"
  std::string reason;             // one line for the log
};

// `operator_args` are the EAL options the operator gave (before "--"); they win over every
// default. Defaults added when absent: a --file-prefix derived from the run dir (so two
// dataplanes on one host never share EAL files), and the memory options.
EalPlan plan_eal(const std::string& program, const std::vector<std::string>& operator_args,
                 const std::string& run_dir, const HugepageInfo& huge);

}  // namespace vsw::dp
