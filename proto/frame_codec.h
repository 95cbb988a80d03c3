// Length-prefixed framing for the dataplane socket: a 4-byte big-endian length, then the body.
//
// Thread safety: a FrameDecoder belongs to one connection and one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <google/protobuf/message_lite.h>

namespace vsw::proto {

// The largest frame body either side accepts. Large enough for the longest listing (a full
// FDB: 65,536 MACs at ~70 bytes) and bulk table updates; small enough that a hostile length
// cannot make us allocate much.
inline constexpr std::size_t kMaxFrameBytes = 16u << 20;
inline constexpr std::size_t kFrameHeaderBytes = 4;

// Appends the frame for `msg` to `out`. Returns false (and appends nothing) when the
// serialized message would exceed kMaxFrameBytes.
bool encode_frame(const google::protobuf::MessageLite& msg, std::string& out);

enum class DecodeResult : uint8_t {
  kNeedMore,   // no complete frame buffered yet
  kFrame,      // `body` holds the next frame's body
  kOversized,  // the length header exceeds the limit; the stream cannot be resynchronised
};

class FrameDecoder {
 public:
  explicit FrameDecoder(std::size_t max_frame_bytes = kMaxFrameBytes)
      : max_frame_bytes_(max_frame_bytes) {}

  // Buffers received bytes. Never buffers more than one header plus max_frame_bytes beyond
  // what next() has consumed, as long as the caller calls next() after each append.
  void append(std::string_view bytes) { buffer_.append(bytes); }

  // Extracts the next complete frame body into `body`.
  DecodeResult next(std::string& body);

  // True when bytes of an incomplete frame are buffered: at end of stream, the peer closed
  // the connection in the middle of a frame.
  bool has_partial_frame() const { return buffer_.size() > consumed_; }

  // The length the next header announces, or 0 when no full header is buffered.
  std::size_t announced_length() const;

 private:
  std::size_t max_frame_bytes_;
  std::string buffer_;
  std::size_t consumed_ = 0;
};

}  // namespace vsw::proto
