// Fuzz target: the dataplane socket's frame decoder and the Request parse behind it
// (proto/frame_codec.h, dataplane.proto), as the management server runs them.
//
// Input: byte 0 picks the decoder's frame limit (so the oversized path is reached without
// megabytes of input) and how the rest is cut into reads; the rest is the byte stream a
// client sends. The decoder, fed read by read, must give exactly the frames that a one-shot
// reference split of the whole stream gives, then stop where it does (need more / oversized,
// with the same partial-frame and announced-length answers). Every body that parses as a
// Request must survive encode_frame and decoding again unchanged.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include "dataplane.pb.h"
#include "frame_codec.h"
#include "fuzz_check.h"

namespace {

using vsw::proto::DecodeResult;
using vsw::proto::FrameDecoder;

struct Split {
  std::vector<std::string> frames;
  bool oversized = false;
  size_t rest = 0;  // bytes after the last frame
  size_t announced = 0;
};

Split reference_split(std::string_view s, size_t limit) {
  Split out;
  size_t off = 0;
  while (s.size() - off >= 4) {
    const auto* u = reinterpret_cast<const unsigned char*>(s.data() + off);
    const size_t len = (size_t{u[0]} << 24) | (size_t{u[1]} << 16) | (size_t{u[2]} << 8) | u[3];
    out.announced = len;
    if (len > limit) {
      out.oversized = true;
      break;
    }
    if (s.size() - off - 4 < len) break;
    out.frames.emplace_back(s.substr(off + 4, len));
    off += 4 + len;
    out.announced = 0;
  }
  out.rest = s.size() - off;
  if (out.rest < 4) out.announced = 0;
  return out;
}

void check_request(const std::string& body) {
  vswitch::dp::Request request;
  if (!request.ParseFromString(body)) return;
  std::string frame;
  if (!vsw::proto::encode_frame(request, frame)) return;  // re-encoded larger than the limit
  FrameDecoder again;
  again.append(frame);
  std::string decoded;
  VSW_FUZZ_CHECK(again.next(decoded) == DecodeResult::kFrame);
  VSW_FUZZ_CHECK(!again.has_partial_frame());
  vswitch::dp::Request round;
  VSW_FUZZ_CHECK(round.ParseFromString(decoded));
  VSW_FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(round, request));
  (void)request.DebugString();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Protobuf logs every string field with invalid UTF-8 it refuses: millions of lines here.
  static const bool quiet = [] {
    google::protobuf::SetLogHandler(
        [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
    return true;
  }();
  (void)quiet;
  if (size < 1) return 0;
  const uint8_t control = data[0];
  // Limits from 0 bytes up; 7 and above: the real limit.
  const size_t limit =
      (control & 7) == 7 ? vsw::proto::kMaxFrameBytes : (size_t{1} << (control & 7) * 2) - 1;
  const size_t read_size = (control >> 3) + 1;  // 1..32 bytes per read
  const std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  const Split expected = reference_split(stream, limit);

  FrameDecoder decoder(limit);
  std::vector<std::string> frames;
  bool oversized = false;
  std::string body;
  for (size_t off = 0; off < stream.size() && !oversized; off += read_size) {
    decoder.append(stream.substr(off, read_size));
    for (;;) {
      const DecodeResult r = decoder.next(body);
      if (r == DecodeResult::kNeedMore) break;
      if (r == DecodeResult::kOversized) {
        oversized = true;
        break;
      }
      VSW_FUZZ_CHECK(body.size() <= limit);
      frames.push_back(body);
    }
  }
  VSW_FUZZ_CHECK(frames == expected.frames);
  VSW_FUZZ_CHECK(oversized == expected.oversized);
  if (!oversized) {
    VSW_FUZZ_CHECK(decoder.has_partial_frame() == (expected.rest > 0));
    VSW_FUZZ_CHECK(decoder.announced_length() == expected.announced);
  }
  for (const std::string& f : frames) check_request(f);
  return 0;
}
