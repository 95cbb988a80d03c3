#include "pcapng_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace vsw::dp {
namespace {

struct Block {
  uint32_t type;
  std::vector<uint8_t> body;  // between the two length fields
};

// Reads the blocks back, checking that each one's leading and trailing lengths agree and
// are multiples of 4.
std::vector<Block> read_blocks(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  std::vector<Block> out;
  std::size_t off = 0;
  while (off < bytes.size()) {
    EXPECT_LE(off + 12, bytes.size());
    uint32_t type, len, trailer;
    std::memcpy(&type, &bytes[off], 4);
    std::memcpy(&len, &bytes[off + 4], 4);
    EXPECT_EQ(len % 4, 0u);
    EXPECT_LE(off + len, bytes.size());
    std::memcpy(&trailer, &bytes[off + len - 4], 4);
    EXPECT_EQ(len, trailer);
    out.push_back({type, std::vector<uint8_t>(bytes.begin() + static_cast<long>(off) + 8,
                                              bytes.begin() + static_cast<long>(off + len) - 4)});
    off += len;
  }
  return out;
}

uint32_t u32(const std::vector<uint8_t>& b, std::size_t at) {
  uint32_t v;
  std::memcpy(&v, &b[at], 4);
  return v;
}

class PcapngWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("vsw-pcapng-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(PcapngWriterTest, WritesHeaderInterfaceAndPacketsWithDirection) {
  const std::string path = dir_ / "a.pcapng";
  PcapngWriter w;
  ASSERT_EQ(w.open(path, "vm1", "vhost-user", 128), "");
  const uint8_t frame[61] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 0x08, 0x06};
  w.begin_packet(1'700'000'000'123'456'789ull, 61, 61, PacketDirection::kInbound);
  w.packet_data({frame, 20});  // two pieces, as an mbuf chain gives them
  w.packet_data({frame + 20, 41});
  w.end_packet();
  w.begin_packet(5, 4, 1500, PacketDirection::kOutbound);  // truncated to the snap length
  w.packet_data({frame, 61});
  w.end_packet();
  ASSERT_EQ(w.close(), "");

  const std::vector<Block> blocks = read_blocks(path);
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(blocks[0].type, 0x0A0D0D0Au);
  EXPECT_EQ(u32(blocks[0].body, 0), 0x1A2B3C4Du);
  EXPECT_EQ(blocks[1].type, 1u);
  EXPECT_EQ(u32(blocks[1].body, 4), 128u);  // snaplen
  // if_name "vm1" is the first option.
  EXPECT_EQ(blocks[1].body[8], 2);
  EXPECT_EQ(std::string(blocks[1].body.begin() + 12, blocks[1].body.begin() + 15), "vm1");

  const Block& p1 = blocks[2];
  EXPECT_EQ(p1.type, 6u);
  EXPECT_EQ(u32(p1.body, 0), 0u);  // interface 0
  const uint64_t ts = (uint64_t{u32(p1.body, 4)} << 32) | u32(p1.body, 8);
  EXPECT_EQ(ts, 1'700'000'000'123'456'789ull);
  EXPECT_EQ(u32(p1.body, 12), 61u);
  EXPECT_EQ(u32(p1.body, 16), 61u);
  EXPECT_EQ(0, std::memcmp(&p1.body[20], frame, 61));
  // After the data padded to 4: epb_flags = inbound.
  const std::size_t opt = 20 + 64;
  EXPECT_EQ(p1.body[opt], 2);
  EXPECT_EQ(u32(p1.body, opt + 4), 1u);

  const Block& p2 = blocks[3];
  EXPECT_EQ(u32(p2.body, 12), 4u);
  EXPECT_EQ(u32(p2.body, 16), 1500u);
  EXPECT_EQ(u32(p2.body, 20 + 4 + 4), 2u);  // outbound
}

TEST_F(PcapngWriterTest, NeverOverwritesOrFollowsALink) {
  const std::string path = dir_ / "exists.pcapng";
  std::ofstream(path) << "keep me";
  PcapngWriter w;
  EXPECT_NE(w.open(path, "p", "", 64).find("File exists"), std::string::npos);
  std::ifstream in(path);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text, "keep me");
  const std::string link = dir_ / "link.pcapng";
  std::filesystem::create_symlink(dir_ / "target", link);
  EXPECT_NE(w.open(link, "p", "", 64), "");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "target"));
}

}  // namespace
}  // namespace vsw::dp
