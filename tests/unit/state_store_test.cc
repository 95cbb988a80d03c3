#include "state_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace vsw::ctl {
namespace {

namespace fs = std::filesystem;

class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vsw-state-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { fs::remove_all(root_); }

  static vswitch::state::DesiredState sample() {
    vswitch::state::DesiredState s;
    s.set_generation(7);
    auto* p = s.add_ports();
    p->set_name("vm1");
    p->set_type("vhost-user");
    auto* x = s.add_xconnects();
    x->set_port_a("vm1");
    x->set_port_b("vm2");
    return s;
  }

  std::string root_;
};

TEST_F(StateStoreTest, MissingDirectoryIsCreatedAndStartsEmpty) {
  StateStore store(root_ + "/a/b");
  LoadResult r = store.load();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_FALSE(r.existed);
  EXPECT_EQ(r.state.ports_size(), 0);
  EXPECT_TRUE(fs::is_directory(root_ + "/a/b"));
}

TEST_F(StateStoreTest, SaveThenLoadRoundTrips) {
  StateStore store(root_);
  ASSERT_TRUE(store.load().ok());
  ASSERT_EQ(store.save(sample()), "");
  EXPECT_FALSE(fs::exists(store.path() + ".tmp"));
  LoadResult r = StateStore(root_).load();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_TRUE(r.existed);
  EXPECT_EQ(r.state.generation(), 7u);
  EXPECT_EQ(r.state.ports(0).name(), "vm1");
  EXPECT_EQ(r.state.xconnects(0).port_b(), "vm2");
}

TEST_F(StateStoreTest, EveryTruncationIsAnErrorNamingTheFile) {
  const std::string bytes = encode_state_file(sample());
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    vswitch::state::DesiredState s;
    const std::string err = decode_state_file(bytes.substr(0, n), &s);
    EXPECT_NE(err, "") << "truncated to " << n << " bytes was accepted";
  }
  std::ofstream(root_ + "/state.pb", std::ios::binary) << bytes.substr(0, bytes.size() - 3);
  LoadResult r = StateStore(root_).load();
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.error.find(root_ + "/state.pb"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("truncated"), std::string::npos) << r.error;
}

TEST_F(StateStoreTest, EveryFlippedPayloadBitIsDetected) {
  const std::string bytes = encode_state_file(sample());
  for (std::size_t i = 20; i < bytes.size(); ++i) {
    std::string bad = bytes;
    bad[i] ^= 0x10;
    vswitch::state::DesiredState s;
    EXPECT_NE(decode_state_file(bad, &s).find("checksum"), std::string::npos) << "byte " << i;
  }
}

TEST_F(StateStoreTest, ForeignFilesAndVersionsAreRefused) {
  vswitch::state::DesiredState s;
  EXPECT_NE(decode_state_file(std::string(40, 'x'), &s).find("bad magic"), std::string::npos);
  std::string bytes = encode_state_file(sample());
  bytes[11] = 2;
  EXPECT_NE(decode_state_file(bytes, &s).find("version 2"), std::string::npos);
}

TEST_F(StateStoreTest, ALeftoverTempFileIsIgnored) {
  StateStore store(root_);
  ASSERT_EQ(store.save(sample()), "");
  std::ofstream(store.path() + ".tmp") << "half a write";
  LoadResult r = StateStore(root_).load();
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.state.generation(), 7u);
  EXPECT_FALSE(fs::exists(store.path() + ".tmp"));
}

TEST_F(StateStoreTest, SaveIntoAMissingDirectoryFailsAndSaysWhere) {
  StateStore store(root_ + "/gone");
  const std::string err = store.save(sample());
  EXPECT_NE(err.find(root_ + "/gone/state.pb.tmp"), std::string::npos) << err;
}

}  // namespace
}  // namespace vsw::ctl
