// main() for the flowtable tests: the tables live in DPDK memory, so EAL comes first
// (--no-huge, --no-shconf; EAL still makes a runtime directory for the file prefix, which is
// removed at the end, as the pipeline harness does).
#include <gtest/gtest.h>
#include <rte_eal.h>
#include <rte_errno.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  // gtest_discover_tests runs the binary with --gtest_list_tests: no EAL needed for that.
  if (::testing::GTEST_FLAG(list_tests)) return RUN_ALL_TESTS();
  const std::string prefix = "--file-prefix=vsw-ftest-" + std::to_string(getpid());
  std::vector<std::string> args = {argv[0],
                                   "-l",
                                   "0",
                                   "--no-huge",
                                   "-m",
                                   "1024",
                                   "--no-pci",
                                   "--no-shconf",
                                   prefix,
                                   "--no-telemetry",
                                   "--log-level=*:warning"};
  std::vector<char*> eal_argv;
  for (std::string& a : args) eal_argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    std::fprintf(stderr, "EAL init failed: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  const int rc = RUN_ALL_TESTS();
  rte_eal_cleanup();
  std::filesystem::remove_all("/var/run/dpdk/vsw-ftest-" + std::to_string(getpid()));
  return rc;
}
