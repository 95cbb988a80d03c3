#include "frame_codec.h"

#include <gtest/gtest.h>

#include <random>

#include "dataplane.pb.h"

namespace vsw::proto {
namespace {

vswitch::dp::Request sample_request(uint64_t id) {
  vswitch::dp::Request r;
  r.set_id(id);
  auto* port = r.mutable_port_add()->mutable_port();
  port->set_name("vm" + std::to_string(id));
  port->set_type(vswitch::dp::PORT_TYPE_VHOST_USER);
  return r;
}

TEST(FrameCodec, RoundTripsSeveralFramesFedByteByByte) {
  std::string stream;
  for (uint64_t id = 1; id <= 3; ++id) ASSERT_TRUE(encode_frame(sample_request(id), stream));
  FrameDecoder decoder;
  std::string body;
  std::vector<uint64_t> ids;
  for (char c : stream) {
    decoder.append(std::string_view(&c, 1));
    while (decoder.next(body) == DecodeResult::kFrame) {
      vswitch::dp::Request r;
      ASSERT_TRUE(r.ParseFromString(body));
      EXPECT_EQ(r.port_add().port().name(), "vm" + std::to_string(r.id()));
      ids.push_back(r.id());
    }
  }
  EXPECT_EQ(ids, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(decoder.has_partial_frame());
}

TEST(FrameCodec, HeaderIsBigEndianLength) {
  std::string stream;
  ASSERT_TRUE(encode_frame(sample_request(7), stream));
  const std::size_t body = stream.size() - kFrameHeaderBytes;
  EXPECT_EQ(static_cast<unsigned char>(stream[0]), 0);
  EXPECT_EQ(static_cast<unsigned char>(stream[3]), body & 0xff);
}

TEST(FrameCodec, EmptyMessageIsAZeroLengthFrame) {
  std::string stream;
  ASSERT_TRUE(encode_frame(vswitch::dp::Request(), stream));
  EXPECT_EQ(stream, std::string(4, '\0'));
  FrameDecoder decoder;
  decoder.append(stream);
  std::string body = "x";
  EXPECT_EQ(decoder.next(body), DecodeResult::kFrame);
  EXPECT_TRUE(body.empty());
}

TEST(FrameCodec, TruncatedFrameIsReportedAsPartial) {
  std::string stream;
  ASSERT_TRUE(encode_frame(sample_request(1), stream));
  FrameDecoder decoder;
  decoder.append(std::string_view(stream).substr(0, stream.size() - 1));
  std::string body;
  EXPECT_EQ(decoder.next(body), DecodeResult::kNeedMore);
  EXPECT_TRUE(decoder.has_partial_frame());
  // A lone partial header is partial too.
  FrameDecoder header_only;
  header_only.append(std::string_view(stream).substr(0, 2));
  EXPECT_EQ(header_only.next(body), DecodeResult::kNeedMore);
  EXPECT_TRUE(header_only.has_partial_frame());
}

TEST(FrameCodec, OversizedHeaderIsRejectedBeforeTheBodyArrives) {
  FrameDecoder decoder;
  const char header[4] = {0x06, 0x40, 0x00, 0x00};  // 100 MiB
  decoder.append(std::string_view(header, 4));
  std::string body;
  EXPECT_EQ(decoder.next(body), DecodeResult::kOversized);
  EXPECT_EQ(decoder.announced_length(), 100u << 20);
}

TEST(FrameCodec, LimitIsInclusive) {
  FrameDecoder decoder(8);
  const char exact[12] = {0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  decoder.append(std::string_view(exact, sizeof(exact)));
  std::string body;
  EXPECT_EQ(decoder.next(body), DecodeResult::kFrame);
  const char over[4] = {0, 0, 0, 9};
  decoder.append(std::string_view(over, 4));
  EXPECT_EQ(decoder.next(body), DecodeResult::kOversized);
}

TEST(FrameCodec, EncoderRefusesMessagesOverTheLimit) {
  vswitch::dp::Request r;
  r.mutable_port_add()->mutable_port()->set_devargs(std::string(kMaxFrameBytes + 1, 'x'));
  std::string out = "keep";
  EXPECT_FALSE(encode_frame(r, out));
  EXPECT_EQ(out, "keep");
}

TEST(FrameCodec, GarbageBodiesNeverCrashTheParser) {
  std::mt19937 rng(42);
  FrameDecoder decoder;
  int frames = 0, parsed = 0;
  for (int i = 0; i < 1000; ++i) {
    std::string body(rng() % 64, '\0');
    for (char& c : body) c = static_cast<char>(rng());
    const uint32_t n = static_cast<uint32_t>(body.size());
    const char header[4] = {0, 0, static_cast<char>(n >> 8), static_cast<char>(n)};
    decoder.append(std::string_view(header, 4));
    decoder.append(body);
    std::string out;
    ASSERT_EQ(decoder.next(out), DecodeResult::kFrame);
    ++frames;
    vswitch::dp::Request r;
    parsed += r.ParseFromString(out);
  }
  EXPECT_EQ(frames, 1000);
  EXPECT_LT(parsed, 1000);  // most random bytes are not a valid Request
}

}  // namespace
}  // namespace vsw::proto
