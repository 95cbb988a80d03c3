// A pcapng file (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-02.html) with one
// interface: what `vswctl capture` writes for one port. Management thread only.
//
// Why not DPDK's rte_pcapng (22.11): its rte_pcapng_fdopen() writes one interface block per
// ethdev, named by the DPDK device ("net_vhost0", not the operator's port name), and its
// packet blocks use the ethdev port id as the interface index, which is wrong as soon as
// port ids have gaps (a deleted port). Later DPDK releases add rte_pcapng_add_interface()
// for exactly this. The format is small; this writes it with the port's name, nanosecond
// timestamps and each packet's direction (epb_flags), which Wireshark and tshark show.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace vsw::dp {

enum class PacketDirection : uint8_t { kInbound = 1, kOutbound = 2 };

class PcapngWriter {
 public:
  PcapngWriter() = default;
  ~PcapngWriter();
  PcapngWriter(const PcapngWriter&) = delete;
  PcapngWriter& operator=(const PcapngWriter&) = delete;

  // Creates `path` (never an existing file or a symlink: O_EXCL | O_NOFOLLOW, mode 0640) and
  // writes the section header and the interface description. Returns "" or why not.
  std::string open(const std::string& path, const std::string& interface_name,
                   const std::string& description, uint32_t snaplen);
  bool is_open() const { return fd_ >= 0; }

  // One Enhanced Packet Block. `data` is what was captured (at most snaplen bytes, possibly
  // in pieces: an mbuf chain), `original_length` what the packet had. Buffered.
  void begin_packet(uint64_t timestamp_ns, uint32_t captured_length, uint32_t original_length,
                    PacketDirection direction);
  void packet_data(std::span<const uint8_t> piece);
  void end_packet();

  // Writes what is buffered. Returns "" or the error (the file is closed on error).
  std::string flush();
  std::string close();

  uint64_t bytes_written() const { return bytes_; }

 private:
  void put32(uint32_t v);
  void option(uint16_t code, const void* value, uint16_t length);

  int fd_ = -1;
  std::string buf_;
  uint64_t bytes_ = 0;
  // The current packet block: where its total length goes, and its data so far.
  std::size_t block_start_ = 0;
  uint32_t captured_ = 0;
  uint32_t written_ = 0;
  PacketDirection direction_ = PacketDirection::kInbound;
};

}  // namespace vsw::dp
