#include "frame_codec.h"

namespace vsw::proto {

namespace {

uint32_t read_be32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

}  // namespace

bool encode_frame(const google::protobuf::MessageLite& msg, std::string& out) {
  const std::size_t size = msg.ByteSizeLong();
  if (size > kMaxFrameBytes) return false;
  const std::size_t start = out.size();
  out.resize(start + kFrameHeaderBytes);
  out[start + 0] = static_cast<char>((size >> 24) & 0xff);
  out[start + 1] = static_cast<char>((size >> 16) & 0xff);
  out[start + 2] = static_cast<char>((size >> 8) & 0xff);
  out[start + 3] = static_cast<char>(size & 0xff);
  if (!msg.AppendToString(&out)) {
    out.resize(start);
    return false;
  }
  return true;
}

std::size_t FrameDecoder::announced_length() const {
  if (buffer_.size() - consumed_ < kFrameHeaderBytes) return 0;
  return read_be32(buffer_.data() + consumed_);
}

DecodeResult FrameDecoder::next(std::string& body) {
  const std::size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderBytes) return DecodeResult::kNeedMore;
  const std::size_t length = read_be32(buffer_.data() + consumed_);
  if (length > max_frame_bytes_) return DecodeResult::kOversized;
  if (available - kFrameHeaderBytes < length) return DecodeResult::kNeedMore;
  body.assign(buffer_, consumed_ + kFrameHeaderBytes, length);
  consumed_ += kFrameHeaderBytes + length;
  // Compact once the consumed prefix dominates, so a long-lived connection stays small.
  if (consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > 64 * 1024 && consumed_ * 2 > buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  return DecodeResult::kFrame;
}

}  // namespace vsw::proto
