#include "eal_options.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace vsw::dp {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(EalOptions, FallsBackToNoHugeWithoutEnoughHugepages) {
  auto plan = plan_eal("vsw", {}, "/run/a", {.free_bytes = 64ull << 20, .mounted = true});
  EXPECT_EQ(plan.memory_mode, "no-huge");
  EXPECT_TRUE(contains(plan.args, "--no-huge"));
  EXPECT_NE(plan.reason.find("64 MiB free"), std::string::npos);
  auto unmounted = plan_eal("vsw", {}, "/run/a", {.free_bytes = 1ull << 30, .mounted = false});
  EXPECT_EQ(unmounted.memory_mode, "no-huge");
  EXPECT_NE(unmounted.reason.find("no hugetlbfs mounted"), std::string::npos);
}

TEST(EalOptions, UsesHugepagesWhenEnoughAreFree) {
  auto plan = plan_eal("vsw", {"-l", "0,1"}, "/run/a", {.free_bytes = 1ull << 30, .mounted = true});
  EXPECT_EQ(plan.memory_mode, "hugepages");
  EXPECT_FALSE(contains(plan.args, "--no-huge"));
  EXPECT_EQ(plan.args.front(), "vsw");
  EXPECT_EQ(plan.args[plan.args.size() - 2], "-l");  // the operator's options come last
}

TEST(EalOptions, OperatorMemoryOptionsWin) {
  HugepageInfo plenty{.free_bytes = 1ull << 30, .mounted = true};
  auto plan = plan_eal("vsw", {"--no-huge", "-m", "256"}, "/run/a", plenty);
  EXPECT_EQ(plan.memory_mode, "no-huge");
  EXPECT_EQ(std::count(plan.args.begin(), plan.args.end(), "--no-huge"), 1);
  auto socket_mem = plan_eal("vsw", {"--socket-mem=1024"}, "/run/a", {});
  EXPECT_EQ(socket_mem.memory_mode, "hugepages");
  EXPECT_FALSE(contains(socket_mem.args, "--no-huge"));
  auto short_m = plan_eal("vsw", {"-m512"}, "/run/a", {});
  EXPECT_FALSE(contains(short_m.args, "--no-huge"));
}

TEST(EalOptions, FilePrefixDerivesFromRunDirUnlessGiven) {
  auto a = plan_eal("vsw", {}, "/run/a", {});
  auto b = plan_eal("vsw", {}, "/run/b", {});
  auto a2 = plan_eal("vsw", {}, "/run/a", {});
  EXPECT_EQ(a.args[1], a2.args[1]);
  EXPECT_NE(a.args[1], b.args[1]);
  EXPECT_TRUE(a.args[1].starts_with("--file-prefix=vsw-"));
  auto given = plan_eal("vsw", {"--file-prefix", "mine"}, "/run/a", {});
  EXPECT_EQ(std::count_if(given.args.begin(), given.args.end(),
                          [](const std::string& s) { return s.starts_with("--file-prefix"); }),
            1);
}

}  // namespace
}  // namespace vsw::dp
