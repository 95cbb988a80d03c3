#include "capture.h"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ring_elem.h>

#include <algorithm>
#include <ctime>

#include "log.h"

namespace vsw::dp {

namespace {

using vswitch::dp::CaptureDirection;

// Records taken from a ring per drain, per capture: bounds one timer tick's work.
constexpr unsigned kDrainBudget = 8192;

uint64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Claims up to `want` copies of the tap's count: one compare-and-swap per burst.
uint16_t claim(std::atomic<int64_t>& remaining, uint16_t want) {
  int64_t left = remaining.load(std::memory_order_relaxed);
  while (left > 0) {
    const int64_t take = std::min<int64_t>(left, want);
    if (remaining.compare_exchange_weak(left, left - take, std::memory_order_relaxed))
      return static_cast<uint16_t>(take);
  }
  return 0;
}

}  // namespace

void capture_burst(CaptureTap& tap, rte_mbuf* const* pkts, uint16_t n, PacketDirection dir) {
  const uint16_t take = claim(tap.remaining, n);
  if (take == 0) return;
  const uint64_t now = rte_rdtsc();
  CaptureRecord recs[64];
  uint16_t made = 0;
  for (uint16_t i = 0; i < take && made < 64; ++i) {
    rte_mbuf* copy = rte_pktmbuf_copy(pkts[i], tap.pool, 0, tap.snaplen);
    if (copy == nullptr) continue;
    recs[made++] = {copy, now, rte_pktmbuf_pkt_len(pkts[i]), static_cast<uint8_t>(dir)};
  }
  const unsigned queued =
      made ? rte_ring_mp_enqueue_burst_elem(tap.ring, recs, sizeof(CaptureRecord), made, nullptr)
           : 0;
  for (unsigned i = queued; i < made; ++i) rte_pktmbuf_free(recs[i].m);
  if (queued < take) tap.dropped.fetch_add(take - queued, std::memory_order_relaxed);
}

CaptureManager::CaptureManager(boost::asio::io_context& io, ForwardingState& fwd, rte_rcu_qsbr* rcu)
    : io_(io), fwd_(fwd), rcu_(rcu), timer_(io) {
  arm();
}

CaptureManager::~CaptureManager() {
  timer_.cancel();
  for (auto& s : sessions_)
    if (s->tap) finish(*s, "stopped");
  if (pool_ != nullptr) rte_mempool_free(pool_);
}

void CaptureManager::arm() {
  timer_.expires_after(kDrainInterval);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    for (auto& s : sessions_) {
      if (!s->tap) continue;
      drain(*s);
      if (!s->writer.is_open()) {
        finish(*s, "error: writing " + s->status.file() + " failed");
      } else if (s->writer.bytes_written() >= kMaxCaptureBytes) {
        finish(*s, "full");
      } else if (s->tap->remaining.load(std::memory_order_relaxed) == 0 &&
                 rte_ring_count(s->tap->ring) == 0) {
        finish(*s, "done");
      }
    }
    arm();
  });
}

Status CaptureManager::start(const vswitch::dp::CaptureStartRequest& req, uint16_t port_id,
                             const std::string& port_description, vswitch::dp::CaptureStatus* out) {
  using vswitch::dp::ERROR_CODE_ALREADY_EXISTS;
  using vswitch::dp::ERROR_CODE_INVALID_ARGUMENT;
  using vswitch::dp::ERROR_CODE_RESOURCE_EXHAUSTED;
  if (req.file().empty() || req.file().front() != '/')
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT,
                         "file: '" + req.file() + "' is not an absolute path");
  if (req.snaplen() > kMaxSnaplen)
    return Status::Error(
        ERROR_CODE_INVALID_ARGUMENT,
        "snaplen: " + std::to_string(req.snaplen()) + " is over " + std::to_string(kMaxSnaplen));
  unsigned running = 0;
  for (const auto& s : sessions_) {
    if (!s->tap) continue;
    ++running;
    if (s->port == req.port())
      return Status::Error(ERROR_CODE_ALREADY_EXISTS,
                           "port: " + req.port() + " is already being captured to " +
                               s->status.file() + " (capture stop " + req.port() + ")");
  }
  if (running >= kMaxCaptures)
    return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED,
                         "capture: " + std::to_string(kMaxCaptures) + " captures already run");
  if (pool_ == nullptr) {
    pool_ = rte_pktmbuf_pool_create("vsw_capture", kCapturePoolMbufs, 256, 0,
                                    RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
    if (pool_ == nullptr)
      return Status::Error(
          ERROR_CODE_RESOURCE_EXHAUSTED,
          std::string("capture: no memory for its mbuf pool: ") + rte_strerror(rte_errno));
  }
  auto s = std::make_unique<Session>();
  s->port = req.port();
  s->port_id = port_id;
  const uint32_t snaplen = req.snaplen() ? req.snaplen() : kDefaultSnaplen;
  const CaptureDirection dir = req.direction() == vswitch::dp::CAPTURE_DIRECTION_UNSPECIFIED
                                   ? vswitch::dp::CAPTURE_DIRECTION_BOTH
                                   : req.direction();
  if (std::string err = s->writer.open(req.file(), req.port(), port_description, snaplen);
      !err.empty())
    return Status::Error(ERROR_CODE_INVALID_ARGUMENT, "file: " + err);
  const std::string ring_name = "vsw_cap" + std::to_string(ring_seq_++);
  rte_ring* ring = rte_ring_create_elem(ring_name.c_str(), sizeof(CaptureRecord), kCaptureRingSize,
                                        rte_socket_id(), RING_F_SC_DEQ);
  if (ring == nullptr) {
    s->writer.close();
    return Status::Error(ERROR_CODE_RESOURCE_EXHAUSTED,
                         std::string("capture: no ring: ") + rte_strerror(rte_errno));
  }
  s->tap = std::make_unique<CaptureTap>();
  s->tap->rx = dir != vswitch::dp::CAPTURE_DIRECTION_TX;
  s->tap->tx = dir != vswitch::dp::CAPTURE_DIRECTION_RX;
  s->tap->snaplen = snaplen;
  s->tap->ring = ring;
  s->tap->pool = pool_;
  s->tap->remaining.store(req.count() ? static_cast<int64_t>(req.count()) : INT64_MAX);
  s->tsc0 = rte_rdtsc();
  s->wall0_ns = wall_ns();
  auto& st = s->status;
  st.set_port(req.port());
  st.set_file(req.file());
  st.set_direction(dir);
  st.set_count(req.count());
  st.set_snaplen(snaplen);
  st.set_state("running");
  fwd_.ports[port_id].capture.store(s->tap.get(), std::memory_order_release);
  log(LogLevel::kInfo, "capture %s (%s) to %s started", req.port().c_str(),
      vswitch::dp::CaptureDirection_Name(dir).c_str(), req.file().c_str());
  // The last ended session of this port makes room for this one.
  std::erase_if(sessions_, [&](const auto& o) { return o->port == req.port() && !o->tap; });
  *out = s->status;
  sessions_.push_back(std::move(s));
  return Status::Ok();
}

void CaptureManager::drain(Session& s) {
  CaptureRecord recs[64];
  const double ns_per_tick = 1e9 / static_cast<double>(rte_get_tsc_hz());
  unsigned total = 0;
  while (total < kDrainBudget) {
    const unsigned n =
        rte_ring_sc_dequeue_burst_elem(s.tap->ring, recs, sizeof(CaptureRecord), 64, nullptr);
    if (n == 0) break;
    total += n;
    for (unsigned i = 0; i < n; ++i) {
      rte_mbuf* m = recs[i].m;
      if (s.writer.is_open()) {
        const uint64_t ts =
            s.wall0_ns +
            static_cast<uint64_t>(static_cast<double>(recs[i].tsc - s.tsc0) * ns_per_tick);
        s.writer.begin_packet(ts, rte_pktmbuf_pkt_len(m), recs[i].original_length,
                              static_cast<PacketDirection>(recs[i].direction));
        for (rte_mbuf* seg = m; seg != nullptr; seg = seg->next)
          s.writer.packet_data({rte_pktmbuf_mtod(seg, const uint8_t*), rte_pktmbuf_data_len(seg)});
        s.writer.end_packet();
        s.status.set_packets(s.status.packets() + 1);
      }
      rte_pktmbuf_free(m);
    }
  }
  if (s.writer.is_open()) s.writer.flush();
  s.status.set_dropped(s.tap->dropped.load(std::memory_order_relaxed));
  s.status.set_bytes(s.writer.bytes_written());
}

void CaptureManager::finish(Session& s, const std::string& state) {
  fwd_.ports[s.port_id].capture.store(nullptr, std::memory_order_release);
  // Every worker is past the loop that may have used the tap: nothing enqueues any more.
  rte_rcu_qsbr_synchronize(rcu_, RTE_QSBR_THRID_INVALID);
  drain(s);
  const uint64_t bytes = s.writer.bytes_written();
  const std::string err = s.writer.close();
  s.status.set_bytes(bytes);
  s.status.set_state(err.empty() ? state : "error: " + err);
  CaptureRecord rec;
  while (rte_ring_sc_dequeue_elem(s.tap->ring, &rec, sizeof(rec)) == 0) rte_pktmbuf_free(rec.m);
  rte_ring_free(s.tap->ring);
  s.tap.reset();
  log(LogLevel::kInfo, "capture %s to %s ended (%s): %lu packets, %lu dropped", s.port.c_str(),
      s.status.file().c_str(), s.status.state().c_str(),
      static_cast<unsigned long>(s.status.packets()),
      static_cast<unsigned long>(s.status.dropped()));
}

Status CaptureManager::stop(const std::string& port, vswitch::dp::CaptureStatus* out) {
  for (auto& s : sessions_) {
    if (s->port == port && s->tap) {
      finish(*s, "stopped");
      *out = s->status;
      return Status::Ok();
    }
  }
  return Status::Error(vswitch::dp::ERROR_CODE_NOT_FOUND, "port: no capture runs on " + port);
}

void CaptureManager::port_removed(uint16_t port_id) {
  for (auto& s : sessions_)
    if (s->tap && s->port_id == port_id) finish(*s, "port-removed");
}

void CaptureManager::list(vswitch::dp::CaptureList* out) const {
  for (const auto& s : sessions_) {
    vswitch::dp::CaptureStatus st = s->status;
    if (s->tap) st.set_dropped(s->tap->dropped.load(std::memory_order_relaxed));
    *out->add_captures() = std::move(st);
  }
}

}  // namespace vsw::dp
