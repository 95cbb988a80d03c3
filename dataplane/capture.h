// `vswctl capture start PORT --file PATH [--dir rx|tx|both] [--count N] [--snaplen N]`: the
// packets a port receives and/or sends, into a pcapng file.
//
// Workers never block and never write files: for a port with a capture (a CaptureTap
// published in ForwardingState), a worker copies the first `snaplen` bytes of each packet
// into an mbuf of the capture pool and enqueues it with its TSC time on the tap's ring
// (multi-producer: one compare-and-swap per burst, and only while a capture runs). The
// management thread drains the ring every kDrainInterval and writes the packets
// (pcapng_writer.h). A full ring or an empty pool drops the copy, never the packet, and is
// counted. A capture ends at its packet count, at kMaxCaptureBytes of file, on `capture
// stop`, or when its port goes.
#pragma once

#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "dataplane.pb.h"
#include "forwarding_state.h"
#include "pcapng_writer.h"
#include "status.h"

namespace vsw::dp {

inline constexpr uint32_t kCaptureRingSize = 4096;    // copies in flight per capture
inline constexpr uint32_t kCapturePoolMbufs = 16383;  // copies in flight, all captures
inline constexpr uint32_t kMaxSnaplen = 9216;         // a jumbo frame
inline constexpr uint32_t kDefaultSnaplen = 9216;
inline constexpr uint64_t kMaxCaptureBytes = 256ull << 20;  // per file
inline constexpr unsigned kMaxCaptures = 8;                 // running at once
inline constexpr auto kDrainInterval = std::chrono::milliseconds(10);

struct CaptureRecord {
  rte_mbuf* m;
  uint64_t tsc;
  uint32_t original_length;
  uint8_t direction;  // PacketDirection
};

// What workers see of a running capture. Immutable but for the atomics; freed after an RCU
// grace period once unpublished.
struct alignas(64) CaptureTap {
  bool rx = false;
  bool tx = false;
  uint32_t snaplen = kDefaultSnaplen;
  rte_ring* ring = nullptr;
  rte_mempool* pool = nullptr;
  std::atomic<int64_t> remaining{0};  // copies still wanted (the count); INT64_MAX: no count
  alignas(64) std::atomic<uint64_t> dropped{0};
};

// Worker: copies what `tap` wants of pkts[0..n) (direction `dir`) onto its ring.
void capture_burst(CaptureTap& tap, rte_mbuf* const* pkts, uint16_t n, PacketDirection dir);

class CaptureManager {
 public:
  CaptureManager(boost::asio::io_context& io, ForwardingState& fwd, rte_rcu_qsbr* rcu);
  ~CaptureManager();

  // Starts a capture; `out` gets its status.
  Status start(const vswitch::dp::CaptureStartRequest& req, uint16_t port_id,
               const std::string& port_description, vswitch::dp::CaptureStatus* out);
  // Stops the port's capture (NOT_FOUND when none runs), closes its file and gives its
  // final status.
  Status stop(const std::string& port, vswitch::dp::CaptureStatus* out);
  // The port is going: stop its capture, if any, first.
  void port_removed(uint16_t port_id);
  void list(vswitch::dp::CaptureList* out) const;

 private:
  struct Session {
    std::string port;
    uint16_t port_id = 0;
    std::unique_ptr<CaptureTap> tap;
    PcapngWriter writer;
    vswitch::dp::CaptureStatus status;
    uint64_t tsc0 = 0;  // TSC and wall clock when it started, for timestamps
    uint64_t wall0_ns = 0;
  };

  void arm();
  void drain(Session& s);
  // Unpublishes, waits for the workers, writes what is left and closes the file.
  void finish(Session& s, const std::string& state);

  boost::asio::io_context& io_;
  ForwardingState& fwd_;
  rte_rcu_qsbr* rcu_;
  rte_mempool* pool_ = nullptr;  // created with the first capture
  uint64_t ring_seq_ = 0;
  std::vector<std::unique_ptr<Session>> sessions_;  // running and ended (the last per port)
  boost::asio::steady_timer timer_;
};

}  // namespace vsw::dp
