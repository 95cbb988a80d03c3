#include "eal_options.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

namespace vsw::dp {

namespace {

uint64_t read_number(const std::string& path) {
  std::ifstream in(path);
  uint64_t value = 0;
  in >> value;
  return in ? value : 0;
}

bool has_option(const std::vector<std::string>& args, std::initializer_list<const char*> names) {
  return std::any_of(args.begin(), args.end(), [&](const std::string& arg) {
    return std::any_of(names.begin(), names.end(), [&](const char* name) {
      const std::string n(name);
      return arg == n || arg.starts_with(n + "=") ||
             (n.size() == 2 && arg.size() > 2 && arg.starts_with(n));  // "-m512"
    });
  });
}

}  // namespace

HugepageInfo probe_hugepages() {
  HugepageInfo info;
  const std::string base = "/sys/kernel/mm/hugepages";
  if (DIR* dir = opendir(base.c_str())) {
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;  // "hugepages-2048kB"
      if (!name.starts_with("hugepages-")) continue;
      const uint64_t kb = std::strtoull(name.c_str() + 10, nullptr, 10);
      info.free_bytes += read_number(base + "/" + name + "/free_hugepages") * kb * 1024;
    }
    closedir(dir);
  }
  std::ifstream mounts("/proc/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, mountpoint, type;
    fields >> device >> mountpoint >> type;
    if (type == "hugetlbfs") info.mounted = true;
  }
  return info;
}

EalPlan plan_eal(const std::string& program, const std::vector<std::string>& operator_args,
                 const std::string& run_dir, const HugepageInfo& huge) {
  EalPlan plan;
  plan.args.push_back(program);
  if (!has_option(operator_args, {"--file-prefix"})) {
    // Stable per run dir, so a restarted dataplane reuses (and cleans) its own EAL files.
    const std::size_t hash = std::hash<std::string>{}(run_dir);
    std::ostringstream prefix;
    prefix << "vsw-" << std::hex << (hash & 0xffffffffu);
    plan.args.push_back("--file-prefix=" + prefix.str());
  }
  const bool operator_memory =
      has_option(operator_args, {"--no-huge", "-m", "--socket-mem", "--in-memory", "--huge-dir",
                                 "--legacy-mem", "--socket-limit"});
  const uint64_t free_mib = huge.free_bytes >> 20;
  if (operator_memory) {
    plan.memory_mode = has_option(operator_args, {"--no-huge"}) ? "no-huge" : "hugepages";
    plan.reason = "memory: " + plan.memory_mode + ", as the operator's EAL options say";
  } else if (huge.mounted && huge.free_bytes >= kHugepageBytesWanted) {
    plan.memory_mode = "hugepages";
    plan.reason = "memory: hugepages (" + std::to_string(free_mib) + " MiB free)";
  } else {
    plan.memory_mode = "no-huge";
    plan.args.push_back("--no-huge");
    plan.args.push_back("-m");
    plan.args.push_back(std::to_string(kNoHugeMegabytes));
    plan.reason = "memory: --no-huge, " + std::to_string(kNoHugeMegabytes) +
                  " MiB memfd-backed (hugepages: " + std::to_string(free_mib) + " MiB free" +
                  (huge.mounted ? "" : ", no hugetlbfs mounted") + ", want " +
                  std::to_string(kHugepageBytesWanted >> 20) + " MiB)";
  }
  plan.args.insert(plan.args.end(), operator_args.begin(), operator_args.end());
  return plan;
}

}  // namespace vsw::dp
