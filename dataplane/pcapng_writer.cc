#include "pcapng_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace vsw::dp {

namespace {

constexpr uint32_t kSectionHeader = 0x0A0D0D0A;
constexpr uint32_t kInterfaceDescription = 0x00000001;
constexpr uint32_t kEnhancedPacket = 0x00000006;
constexpr uint32_t kByteOrderMagic = 0x1A2B3C4D;
constexpr uint16_t kLinkTypeEthernet = 1;
constexpr uint16_t kOptEnd = 0;
constexpr uint16_t kShbUserAppl = 4;
constexpr uint16_t kIfName = 2;
constexpr uint16_t kIfDescription = 3;
constexpr uint16_t kIfTsresol = 9;
constexpr uint16_t kEpbFlags = 2;

// Blocks are flushed once this much is buffered.
constexpr std::size_t kFlushBytes = 1 << 16;

uint32_t pad4(std::size_t n) {
  return static_cast<uint32_t>((4 - n % 4) % 4);
}

}  // namespace

PcapngWriter::~PcapngWriter() {
  close();
}

void PcapngWriter::put32(uint32_t v) {
  buf_.append(reinterpret_cast<const char*>(&v), 4);  // host order: the SHB's magic says which
}

void PcapngWriter::option(uint16_t code, const void* value, uint16_t length) {
  buf_.append(reinterpret_cast<const char*>(&code), 2);
  buf_.append(reinterpret_cast<const char*>(&length), 2);
  buf_.append(static_cast<const char*>(value), length);
  buf_.append(pad4(length), '\0');
}

std::string PcapngWriter::open(const std::string& path, const std::string& interface_name,
                               const std::string& description, uint32_t snaplen) {
  close();
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) return path + ": " + std::strerror(errno);
  fd_ = fd;
  bytes_ = 0;
  buf_.clear();

  // Section header block.
  std::size_t start = buf_.size();
  put32(kSectionHeader);
  put32(0);  // total length, patched below
  put32(kByteOrderMagic);
  const uint16_t version[2] = {1, 0};
  buf_.append(reinterpret_cast<const char*>(version), 4);
  const int64_t unknown_length = -1;
  buf_.append(reinterpret_cast<const char*>(&unknown_length), 8);
  const std::string app = "vsw-dataplane";
  option(kShbUserAppl, app.data(), static_cast<uint16_t>(app.size()));
  option(kOptEnd, nullptr, 0);
  uint32_t len = static_cast<uint32_t>(buf_.size() - start + 4);
  std::memcpy(&buf_[start + 4], &len, 4);
  put32(len);

  // Interface description block: the port.
  start = buf_.size();
  put32(kInterfaceDescription);
  put32(0);
  const uint16_t link[2] = {kLinkTypeEthernet, 0};
  buf_.append(reinterpret_cast<const char*>(link), 4);
  put32(snaplen);
  option(kIfName, interface_name.data(), static_cast<uint16_t>(interface_name.size()));
  if (!description.empty())
    option(kIfDescription, description.data(), static_cast<uint16_t>(description.size()));
  const uint8_t nanoseconds = 9;
  option(kIfTsresol, &nanoseconds, 1);
  option(kOptEnd, nullptr, 0);
  len = static_cast<uint32_t>(buf_.size() - start + 4);
  std::memcpy(&buf_[start + 4], &len, 4);
  put32(len);
  return flush();
}

void PcapngWriter::begin_packet(uint64_t timestamp_ns, uint32_t captured_length,
                                uint32_t original_length, PacketDirection direction) {
  block_start_ = buf_.size();
  captured_ = captured_length;
  written_ = 0;
  direction_ = direction;
  put32(kEnhancedPacket);
  put32(0);
  put32(0);  // interface 0: the file's one interface
  put32(static_cast<uint32_t>(timestamp_ns >> 32));
  put32(static_cast<uint32_t>(timestamp_ns));
  put32(captured_length);
  put32(original_length);
}

void PcapngWriter::packet_data(std::span<const uint8_t> piece) {
  const std::size_t n = std::min<std::size_t>(piece.size(), captured_ - written_);
  buf_.append(reinterpret_cast<const char*>(piece.data()), n);
  written_ += static_cast<uint32_t>(n);
}

void PcapngWriter::end_packet() {
  // The block says captured_ bytes: pad a short piece list rather than lie.
  buf_.append(captured_ - written_, '\0');
  buf_.append(pad4(captured_), '\0');
  const uint32_t flags = static_cast<uint32_t>(direction_);  // bits 0-1: 01 in, 10 out
  option(kEpbFlags, &flags, 4);
  option(kOptEnd, nullptr, 0);
  const uint32_t len = static_cast<uint32_t>(buf_.size() - block_start_ + 4);
  std::memcpy(&buf_[block_start_ + 4], &len, 4);
  put32(len);
  if (buf_.size() >= kFlushBytes) flush();
}

std::string PcapngWriter::flush() {
  if (fd_ < 0) return "not open";
  std::size_t off = 0;
  while (off < buf_.size()) {
    const ssize_t n = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::string err = std::strerror(errno);
      ::close(fd_);
      fd_ = -1;
      buf_.clear();
      return err;
    }
    off += static_cast<std::size_t>(n);
  }
  bytes_ += buf_.size();
  buf_.clear();
  return {};
}

std::string PcapngWriter::close() {
  if (fd_ < 0) return {};
  std::string err = flush();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  return err;
}

}  // namespace vsw::dp
