// vswctl stats [--watch [--interval S]]: per-port and per-worker counters, or their rates.
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <limits>
#include <map>
#include <optional>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

using Clock = std::chrono::steady_clock;

// Stats come from the dataplane through controld, a round trip per call: bound each one so a
// watch notices a hung controld within an interval or two.
constexpr std::chrono::milliseconds kStatsDeadline{5'000};
constexpr double kMinInterval = 0.1;
constexpr double kMaxInterval = 3600;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string join(const google::protobuf::RepeatedPtrField<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ",") + item;
  return or_dash(out);
}

// Busy cycles per packet and busy share: the two numbers that say how loaded a worker is.
std::string ratio(uint64_t numerator, uint64_t denominator, double scale, int decimals) {
  if (denominator == 0) return "-";
  return fixed(static_cast<double>(numerator) * scale / static_cast<double>(denominator), decimals);
}

void print_counters(const vswitch::v1::Stats& stats) {
  using Align = Table::Align;
  Table ports({{"PORT"},
               {"RX_PKTS", Align::kRight},
               {"RX_BYTES", Align::kRight},
               {"TX_PKTS", Align::kRight},
               {"TX_BYTES", Align::kRight},
               {"DROPS", Align::kRight}});
  for (const auto& port : stats.ports()) {
    const auto& c = port.state().counters();
    ports.add_row({port.spec().name(), std::to_string(c.rx_packets()), std::to_string(c.rx_bytes()),
                   std::to_string(c.tx_packets()), std::to_string(c.tx_bytes()),
                   std::to_string(total_drops(c))});
  }
  ports.print();
  std::printf("\n");
  // LEARN_DROPS only when a worker lost learn reports: the usual table stays narrow.
  bool learn_dropped = false;
  for (const auto& w : stats.workers()) learn_dropped |= w.learn_dropped() != 0;
  std::vector<Table::Column> columns = {{"WORKER", Align::kRight}, {"LCORE", Align::kRight},
                                        {"LOOPS", Align::kRight},  {"BUSY_LOOPS", Align::kRight},
                                        {"BUSY%", Align::kRight},  {"PACKETS", Align::kRight},
                                        {"CYC/PKT", Align::kRight}};
  if (learn_dropped) columns.push_back({"LEARN_DROPS", Align::kRight});
  columns.push_back({"RX_QUEUES"});
  Table workers(std::move(columns));
  for (const auto& w : stats.workers()) {
    std::vector<std::string> row = {std::to_string(w.worker()),
                                    std::to_string(w.lcore()),
                                    std::to_string(w.loops()),
                                    std::to_string(w.busy_loops()),
                                    ratio(w.busy_loops(), w.loops(), 100, 1),
                                    std::to_string(w.packets()),
                                    ratio(w.busy_cycles(), w.packets(), 1, 1)};
    if (learn_dropped) row.push_back(std::to_string(w.learn_dropped()));
    row.push_back(join(w.rx_queues()));
    workers.add_row(std::move(row));
  }
  workers.print();
}

// ---- watch ----

struct Sample {
  vswitch::v1::Stats stats;
  Clock::time_point taken;
};

// Rates over one interval; NaN where they cannot be computed (a port or worker that was not in
// the previous sample, counters that went backwards because the dataplane restarted, a worker
// that handled no packet for cycles per packet).
struct PortRates {
  std::string name;
  double rx_pps = kNaN, rx_bps = kNaN, tx_pps = kNaN, tx_bps = kNaN, drops_ps = kNaN;
};

struct WorkerRates {
  uint32_t worker = 0;
  uint32_t lcore = 0;
  double pps = kNaN, cycles_per_packet = kNaN, busy_percent = kNaN;
  std::vector<std::string> rx_queues;
};

struct Rates {
  double seconds = 0;
  uint64_t timestamp_ns = 0;
  std::vector<PortRates> ports;
  std::vector<WorkerRates> workers;
};

// Controld's timestamp is taken when it read the counters, so it is not skewed by the RPC's
// latency; the local clock is the fallback if a controld does not fill it.
double interval_seconds(const Sample& before, const Sample& after) {
  const uint64_t t0 = before.stats.timestamp_ns();
  const uint64_t t1 = after.stats.timestamp_ns();
  if (t0 != 0 && t1 > t0) return static_cast<double>(t1 - t0) / 1e9;
  return std::chrono::duration<double>(after.taken - before.taken).count();
}

// after - before, or nullopt when the counter went backwards (reset by a dataplane restart).
std::optional<double> delta(uint64_t before, uint64_t after) {
  if (after < before) return std::nullopt;
  return static_cast<double>(after - before);
}

Rates compute_rates(const Sample& before, const Sample& after) {
  Rates rates;
  rates.seconds = interval_seconds(before, after);
  rates.timestamp_ns = after.stats.timestamp_ns();
  const double s = rates.seconds > 0 ? rates.seconds : kNaN;

  std::map<std::string, const vswitch::v1::PortCounters*> previous;
  for (const auto& port : before.stats.ports()) {
    previous[port.spec().name()] = &port.state().counters();
  }
  for (const auto& port : after.stats.ports()) {
    PortRates r{.name = port.spec().name()};
    const auto it = previous.find(r.name);
    if (it != previous.end()) {
      const auto& c0 = *it->second;
      const auto& c1 = port.state().counters();
      const auto rx_p = delta(c0.rx_packets(), c1.rx_packets());
      const auto rx_b = delta(c0.rx_bytes(), c1.rx_bytes());
      const auto tx_p = delta(c0.tx_packets(), c1.tx_packets());
      const auto tx_b = delta(c0.tx_bytes(), c1.tx_bytes());
      const auto drops = delta(total_drops(c0), total_drops(c1));
      if (rx_p && rx_b && tx_p && tx_b && drops) {
        r.rx_pps = *rx_p / s;
        r.rx_bps = *rx_b * 8 / s;
        r.tx_pps = *tx_p / s;
        r.tx_bps = *tx_b * 8 / s;
        r.drops_ps = *drops / s;
      }
    }
    rates.ports.push_back(std::move(r));
  }

  std::map<uint32_t, const vswitch::v1::WorkerStats*> previous_workers;
  for (const auto& w : before.stats.workers()) previous_workers[w.worker()] = &w;
  for (const auto& w1 : after.stats.workers()) {
    WorkerRates r{.worker = w1.worker(),
                  .lcore = w1.lcore(),
                  .rx_queues = {w1.rx_queues().begin(), w1.rx_queues().end()}};
    const auto it = previous_workers.find(w1.worker());
    if (it != previous_workers.end()) {
      const auto& w0 = *it->second;
      const auto loops = delta(w0.loops(), w1.loops());
      const auto busy = delta(w0.busy_loops(), w1.busy_loops());
      const auto packets = delta(w0.packets(), w1.packets());
      const auto cycles = delta(w0.busy_cycles(), w1.busy_cycles());
      if (loops && busy && packets && cycles) {
        r.pps = *packets / s;
        if (*packets > 0) r.cycles_per_packet = *cycles / *packets;
        if (*loops > 0) r.busy_percent = *busy * 100 / *loops;
      }
    }
    rates.workers.push_back(std::move(r));
  }
  return rates;
}

std::string human(double value) {
  return std::isnan(value) ? "-" : si(value);
}
std::string human_fixed(double value, int decimals) {
  return std::isnan(value) ? "-" : fixed(value, decimals);
}
std::string json_value(double value) {
  return std::isnan(value) ? "null" : json_number(value);
}

void print_rates_human(const Rates& rates, double interval, bool tty) {
  // On a terminal, redraw in place (home + clear) like watch(1); into a file or a pipe, append.
  if (tty) std::printf("\033[H\033[2J");
  char now[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(now, sizeof(now), "%H:%M:%S", std::localtime(&t));
  std::printf("%s  rates over %.2f s, every %s s; Ctrl-C to stop\n\n", now, rates.seconds,
              json_number(interval).c_str());
  using Align = Table::Align;
  Table ports({{"PORT"},
               {"RX_PPS", Align::kRight},
               {"RX_BPS", Align::kRight},
               {"TX_PPS", Align::kRight},
               {"TX_BPS", Align::kRight},
               {"DROPS/S", Align::kRight}});
  for (const auto& p : rates.ports) {
    ports.add_row({p.name, human(p.rx_pps), human(p.rx_bps), human(p.tx_pps), human(p.tx_bps),
                   human(p.drops_ps)});
  }
  ports.print();
  std::printf("\n");
  Table workers({{"WORKER", Align::kRight},
                 {"LCORE", Align::kRight},
                 {"PPS", Align::kRight},
                 {"CYC/PKT", Align::kRight},
                 {"BUSY%", Align::kRight},
                 {"RX_QUEUES"}});
  for (const auto& w : rates.workers) {
    std::string queues;
    for (const auto& q : w.rx_queues) queues += (queues.empty() ? "" : ",") + q;
    workers.add_row({std::to_string(w.worker), std::to_string(w.lcore), human(w.pps),
                     human_fixed(w.cycles_per_packet, 1), human_fixed(w.busy_percent, 1),
                     or_dash(queues)});
  }
  workers.print();
  if (!tty) std::printf("\n");
}

// One JSON document on one line (JSON lines), described in the verb's help.
void print_rates_json(const Rates& rates) {
  std::string out = "{\"timestamp_ns\":\"" + std::to_string(rates.timestamp_ns) +
                    "\",\"interval_s\":" + json_number(rates.seconds) + ",\"ports\":[";
  for (std::size_t i = 0; i < rates.ports.size(); ++i) {
    const auto& p = rates.ports[i];
    out += (i ? ",{" : "{") + std::string("\"name\":") + json_quote(p.name) +
           ",\"rx_pps\":" + json_value(p.rx_pps) + ",\"rx_bps\":" + json_value(p.rx_bps) +
           ",\"tx_pps\":" + json_value(p.tx_pps) + ",\"tx_bps\":" + json_value(p.tx_bps) +
           ",\"drops_per_s\":" + json_value(p.drops_ps) + "}";
  }
  out += "],\"workers\":[";
  for (std::size_t i = 0; i < rates.workers.size(); ++i) {
    const auto& w = rates.workers[i];
    out += (i ? ",{" : "{") + std::string("\"worker\":") + std::to_string(w.worker) +
           ",\"lcore\":" + std::to_string(w.lcore) + ",\"pps\":" + json_value(w.pps) +
           ",\"busy_cycles_per_packet\":" + json_value(w.cycles_per_packet) +
           ",\"busy_percent\":" + json_value(w.busy_percent) + ",\"rx_queues\":[";
    for (std::size_t q = 0; q < w.rx_queues.size(); ++q) {
      out += (q ? "," : "") + json_quote(w.rx_queues[q]);
    }
    out += "]}";
  }
  out += "]}";
  std::printf("%s\n", out.c_str());
}

// Waits until `until`; false when SIGINT or SIGTERM arrived first (they are blocked, so they
// wait here as pending signals instead of killing the process mid-print).
bool wait_until(Clock::time_point until, const sigset_t& signals) {
  for (;;) {
    const auto left = until - Clock::now();
    if (left <= Clock::duration::zero()) {
      // Still take a signal that arrived during the call.
      const timespec zero{0, 0};
      return sigtimedwait(&signals, nullptr, &zero) < 0;
    }
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
    const timespec timeout{static_cast<time_t>(ns / 1'000'000'000),
                           static_cast<long>(ns % 1'000'000'000)};
    const int signal = sigtimedwait(&signals, nullptr, &timeout);
    if (signal > 0) return false;
    if (errno == EAGAIN) return true;
    // EINTR (another signal): wait for the rest.
  }
}

int run_watch(Context& context, double interval) {
  // Block before the first call creates gRPC's threads, which inherit the mask: a signal then
  // cannot be delivered to one of them and kill the process with a non-zero status.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const bool tty = isatty(STDOUT_FILENO) == 1;
  const auto period =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(interval));
  auto sample = [&](Sample* out) {
    out->taken = Clock::now();
    return context.client.call(&Stub::GetStats, {}, &out->stats, kStatsDeadline);
  };

  std::optional<Sample> previous;
  Sample first;
  if (const grpc::Status rpc = sample(&first); !rpc.ok()) return report_failure(context, rpc);
  previous = std::move(first);
  auto next = Clock::now() + period;
  while (wait_until(next, signals)) {
    next += period;
    // After a long stall (a suspended terminal), restart the cadence rather than catching up.
    if (next < Clock::now()) next = Clock::now() + period;
    Sample current;
    if (const grpc::Status rpc = sample(&current); !rpc.ok()) {
      // Keep watching through a controld or dataplane restart; rates resume from the next
      // good sample.
      print_error(context.client.describe(rpc));
      previous.reset();
      continue;
    }
    if (previous) {
      const Rates rates = compute_rates(*previous, current);
      if (context.json) {
        print_rates_json(rates);
      } else {
        print_rates_human(rates, interval, tty);
      }
      std::fflush(stdout);
    }
    previous = std::move(current);
  }
  return kExitOk;
}

int run_stats(Context& context, const Args& args) {
  if (args.has("--interval") && !args.has("--watch")) {
    return usage_error("stats", "--interval needs --watch");
  }
  if (args.has("--watch")) {
    double interval = 1;
    if (args.has("--interval")) {
      const std::string text = args.get("--interval");
      char* end = nullptr;
      interval = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !std::isfinite(interval)) {
        return usage_error("stats", "--interval: '" + text + "' is not a number of seconds");
      }
      if (interval < kMinInterval || interval > kMaxInterval) {
        return usage_error("stats", "--interval: " + text + " is not within 0.1-3600 s");
      }
    }
    return run_watch(context, interval);
  }
  vswitch::v1::Stats stats;
  const grpc::Status rpc = context.client.call(&Stub::GetStats, {}, &stats, kStatsDeadline);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(stats);
  } else {
    print_counters(stats);
  }
  return kExitOk;
}

constexpr std::string_view kDetails =
    "Without --watch: the counters since each port was added and since the dataplane started.\n"
    "Ports: PORT, RX_PKTS, RX_BYTES, TX_PKTS, TX_BYTES, DROPS (all reasons; 'vswctl port show'\n"
    "splits them). Workers: WORKER, LCORE, LOOPS (poll loops), BUSY_LOOPS (loops that received\n"
    "packets), BUSY% (their share), PACKETS, CYC/PKT (busy TSC cycles per packet),\n"
    "LEARN_DROPS (only when a worker has some: source MACs it could not report for learning\n"
    "because its queue to the management thread was full), RX_QUEUES (the PORT/QUEUE pairs the\n"
    "worker polls).\n"
    "With --json: the vswitch.v1.Stats message.\n"
    "\n"
    "With --watch: every interval, the rates over that interval, from successive counters and\n"
    "controld's timestamps, until SIGINT (Ctrl-C) or SIGTERM; then exit 0. On a terminal the\n"
    "screen is redrawn; otherwise each interval is appended. Ports: RX_PPS, RX_BPS, TX_PPS,\n"
    "TX_BPS (bits per second), DROPS/S. Workers: PPS, CYC/PKT (busy cycles per packet over the\n"
    "interval), BUSY% (busy loops / loops over the interval). '-': not computable (new port,\n"
    "idle worker, counters reset by a dataplane restart). A failed call is reported on stderr\n"
    "and the watch goes on, except for the first, which exits 1.\n"
    "\n"
    "With --watch --json: JSON lines, one document per interval on its own line:\n"
    "  {\"timestamp_ns\": \"N\", \"interval_s\": S,\n"
    "   \"ports\": [{\"name\", \"rx_pps\", \"rx_bps\", \"tx_pps\", \"tx_bps\", \"drops_per_s\"}],\n"
    "   \"workers\": [{\"worker\", \"lcore\", \"pps\", \"busy_cycles_per_packet\",\n"
    "                \"busy_percent\", \"rx_queues\": [\"PORT/QUEUE\", ...]}]}\n"
    "  Rates are JSON numbers, null where the table shows '-'; timestamp_ns is controld's\n"
    "  CLOCK_MONOTONIC reading, a string as in the other --json output.\n";

}  // namespace

const ObjectSpec& stats_object() {
  static const ObjectSpec kObject{
      .name = "stats",
      .summary = "Per-port and per-worker counters, or their rates with --watch.",
      .verbs = {{
          .name = "",
          .options =
              {
                  {"--watch", "", "print rates every interval until Ctrl-C"},
                  {"--interval", "S", "with --watch: seconds between samples (default 1)"},
              },
          .usage = "[--watch [--interval S]]",
          .summary = "port and worker counters; --watch: rates, cycles/packet",
          .details = kDetails,
          .run = run_stats,
      }},
  };
  return kObject;
}

}  // namespace vsw::cli
