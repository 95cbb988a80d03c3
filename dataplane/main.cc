// vsw-dataplane [EAL options] -- --run-dir DIR [--workers N]
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>
#include "asio.h"

#include "acl_manager.h"
#include "bridge_manager.h"
#include "eal_options.h"
#include "log.h"
#include "mgmt_server.h"
#include "port_manager.h"
#include "request_handler.h"
#include "router_manager.h"
#include "telemetry.h"
#include "worker.h"

namespace {

using vsw::log;
using vsw::LogLevel;

// Sized for every port's receive rings (kMaxPorts x kRxDescriptors) plus packets in flight.
constexpr unsigned kMbufCount = 32767;
constexpr unsigned kMbufCacheSize = 256;

struct Options {
  std::vector<std::string> eal_args;
  std::string run_dir;
  unsigned workers = 0;  // 0: every lcore but the main one
  vsw::dp::RouterOptions router;
  vsw::dp::AclOptions acl;
};

void usage(FILE* out) {
  std::fprintf(out,
               "usage: vsw-dataplane [EAL options] -- --run-dir DIR [--workers N]\n"
               "                     [--ipv4-routes N] [--ipv6-routes N] [--neighbors N]\n"
               "                     [--ct-capacity N]\n"
               "  --run-dir DIR  where dataplane.sock and default vhost-user sockets live\n"
               "  --workers N    poll-mode workers (default: every lcore but the main one)\n"
               "  --ipv4-routes N, --ipv6-routes N  FIB capacity, fixed at start (default %u\n"
               "                 and %u; 1M IPv4 routes need about 470 MiB of EAL memory)\n"
               "  --neighbors N  neighbor table capacity (default %u)\n"
               "  --ct-capacity N  connections per worker's conntrack table, also the default\n"
               "                 connection limit (default %u)\n"
               "With no EAL memory option, hugepages are used when %llu MiB are free, else\n"
               "--no-huge -m %u (memfd-backed, so vhost-user still works).\n",
               vsw::flow::kDefaultIpv4Routes, vsw::flow::kDefaultIpv6Routes,
               vsw::flow::kDefaultNeighbors, vsw::dp::kDefaultCtCapacity,
               static_cast<unsigned long long>(vsw::dp::kHugepageBytesWanted >> 20),
               vsw::dp::kNoHugeMegabytes);
}

bool parse_options(int argc, char** argv, Options& opt) {
  int i = 1;
  bool has_separator = false;
  for (int j = 1; j < argc; ++j) has_separator |= std::strcmp(argv[j], "--") == 0;
  if (has_separator) {
    for (; i < argc && std::strcmp(argv[i], "--") != 0; ++i) opt.eal_args.push_back(argv[i]);
    ++i;
  }
  for (; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      std::exit(0);
    } else if (arg == "--run-dir" && i + 1 < argc) {
      opt.run_dir = argv[++i];
    } else if (arg == "--workers" && i + 1 < argc) {
      char* end = nullptr;
      const long n = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || n < 1 || n > static_cast<long>(vsw::dp::kMaxWorkers)) {
        std::fprintf(stderr, "vsw-dataplane: --workers: '%s' is not a number from 1 to %u\n",
                     argv[i], vsw::dp::kMaxWorkers);
        return false;
      }
      opt.workers = static_cast<unsigned>(n);
    } else if (arg == "--ct-capacity" && i + 1 < argc) {
      char* end = nullptr;
      const unsigned long n = std::strtoul(argv[++i], &end, 10);
      if (*end != '\0' || n < 64 || n > vsw::dp::kMaxCtCapacity) {
        std::fprintf(stderr, "vsw-dataplane: --ct-capacity: '%s' is not a number from 64 to %u\n",
                     argv[i], vsw::dp::kMaxCtCapacity);
        return false;
      }
      opt.acl.ct_capacity = static_cast<uint32_t>(n);
    } else if ((arg == "--ipv4-routes" || arg == "--ipv6-routes" || arg == "--neighbors") &&
               i + 1 < argc) {
      const uint32_t max = arg == "--ipv4-routes"   ? vsw::flow::kMaxIpv4Routes
                           : arg == "--ipv6-routes" ? vsw::flow::kMaxIpv6Routes
                                                    : (1u << 22);
      char* end = nullptr;
      const unsigned long n = std::strtoul(argv[++i], &end, 10);
      if (*end != '\0' || n < 1 || n > max) {
        std::fprintf(stderr, "vsw-dataplane: %s: '%s' is not a number from 1 to %u\n", arg.c_str(),
                     argv[i], max);
        return false;
      }
      const auto v = static_cast<uint32_t>(n);
      if (arg == "--ipv4-routes") {
        opt.router.fib.ipv4_routes = v;
      } else if (arg == "--ipv6-routes") {
        opt.router.fib.ipv6_routes = v;
      } else {
        opt.router.neighbors = v;
      }
    } else {
      std::fprintf(stderr, "vsw-dataplane: unknown or incomplete option '%s'\n", arg.c_str());
      usage(stderr);
      return false;
    }
  }
  if (opt.run_dir.empty()) {
    std::fprintf(stderr, "vsw-dataplane: --run-dir is required\n");
    usage(stderr);
    return false;
  }
  return true;
}

bool ensure_dir(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return true;
  std::fprintf(stderr, "vsw-dataplane: cannot create %s: %s\n", path.c_str(), std::strerror(errno));
  return false;
}

// Creates `path` with `mode`, or tightens an existing one to it (never looser) when group or
// others may write there.
bool ensure_private_dir(const std::string& path, mode_t mode) {
  if (!ensure_dir(path, mode)) return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "vsw-dataplane: %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    if (::chmod(path.c_str(), mode) != 0) {
      std::fprintf(stderr, "vsw-dataplane: chmod %s: %s\n", path.c_str(), std::strerror(errno));
      return false;
    }
    log(LogLevel::kWarning, "%s was writable by group or others: now %o", path.c_str(), mode);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  vsw::set_log_program("vsw-dataplane");
  Options opt;
  if (!parse_options(argc, argv, opt)) return 2;
  // vhost-user sockets: only the switch and the VM manager (root) may create or replace one;
  // a socket another user could plant would hand them a guest's memory.
  if (!ensure_dir(opt.run_dir, 0755) || !ensure_private_dir(opt.run_dir + "/vhost", 0750)) return 1;

  const vsw::dp::EalPlan eal =
      vsw::dp::plan_eal(argv[0], opt.eal_args, opt.run_dir, vsw::dp::probe_hugepages());
  log(LogLevel::kInfo, "%s", eal.reason.c_str());
  std::vector<char*> eal_argv;
  for (const std::string& a : eal.args) eal_argv.push_back(const_cast<char*>(a.c_str()));
  if (rte_eal_init(static_cast<int>(eal_argv.size()), eal_argv.data()) < 0) {
    log(LogLevel::kError, "EAL initialisation failed: %s", rte_strerror(rte_errno));
    return 1;
  }

  std::vector<unsigned> lcores;
  unsigned lcore;
  RTE_LCORE_FOREACH_WORKER(lcore) lcores.push_back(lcore);
  if (opt.workers == 0) opt.workers = static_cast<unsigned>(lcores.size());
  if (lcores.empty() || opt.workers > lcores.size()) {
    log(LogLevel::kError, "--workers %u needs that many lcores besides the main one; EAL has %zu",
        opt.workers, lcores.size());
    rte_eal_cleanup();
    return 1;
  }
  lcores.resize(opt.workers);

  rte_mempool* pool = rte_pktmbuf_pool_create("vsw_mbufs", kMbufCount, kMbufCacheSize, 0,
                                              RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  const size_t rcu_size = rte_rcu_qsbr_get_memsize(opt.workers);
  auto* rcu = static_cast<rte_rcu_qsbr*>(rte_zmalloc("vsw_rcu", rcu_size, RTE_CACHE_LINE_SIZE));
  if (pool == nullptr || rcu == nullptr || rte_rcu_qsbr_init(rcu, opt.workers) != 0) {
    log(LogLevel::kError, "cannot allocate the mbuf pool or RCU state: %s",
        rte_strerror(rte_errno));
    rte_eal_cleanup();
    return 1;
  }

  auto fwd = std::make_unique<vsw::dp::ForwardingState>();
  std::vector<std::unique_ptr<vsw::dp::WorkerContext>> contexts;
  std::vector<vsw::dp::WorkerContext*> workers;
  for (unsigned i = 0; i < opt.workers; ++i) {
    auto ctx = std::make_unique<vsw::dp::WorkerContext>();
    ctx->index = i;
    ctx->lcore = lcores[i];
    ctx->fwd = fwd.get();
    ctx->rcu = rcu;
    ctx->pool = pool;
    workers.push_back(ctx.get());
    contexts.push_back(std::move(ctx));
  }
  for (vsw::dp::WorkerContext* w : workers)
    rte_eal_remote_launch(vsw::dp::worker_main, w, w->lcore);

  int exit_code = 0;
  {
    boost::asio::io_context io(1);
    vsw::dp::PortManager ports(opt.run_dir, pool, *fwd, workers, rcu);
    vsw::dp::BridgeManager bridges(io, *fwd, rcu, workers,
                                   [&ports](uint16_t id) { return ports.name_of(id); });
    if (std::string err = bridges.init(); !err.empty()) {
      log(LogLevel::kError, "%s", err.c_str());
      exit_code = 1;
      io.stop();
    }
    vsw::dp::RouterManager router(
        io, *fwd, rcu, workers, pool, opt.router,
        [&bridges](const std::string& n) { return bridges.bridge_id(n); });
    if (exit_code == 0) {
      if (std::string err = router.init(); !err.empty()) {
        log(LogLevel::kError, "%s", err.c_str());
        exit_code = 1;
        io.stop();
      }
    }
    vsw::dp::AclManager acl(io, *fwd, rcu, opt.workers, opt.acl,
                            [&ports](uint16_t id) { return ports.name_of(id); });
    if (exit_code == 0) {
      if (std::string err = acl.init(); !err.empty()) {
        log(LogLevel::kError, "%s", err.c_str());
        exit_code = 1;
        io.stop();
      }
    }
    auto counters = std::make_shared<vsw::dp::ManagementCounters>();
    vsw::dp::CaptureManager captures(io, *fwd, rcu);
    vsw::dp::TraceManager traces(*fwd, rcu, pool, ports, router);
    vsw::dp::RequestHandler handler(ports, bridges, router, acl, captures, traces, *counters,
                                    eal.memory_mode, opt.workers);
    vsw::dp::Telemetry telemetry(io,
                                 [&](const vswitch::dp::Request& r) { return handler.handle(r); });
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code, int signo) {
      log(LogLevel::kInfo, "signal %d: shutting down", signo);
      io.stop();
    });
    const std::string socket_path = opt.run_dir + "/dataplane.sock";
    try {
      vsw::dp::MgmtServer server(
          io, socket_path, [&](const vswitch::dp::Request& r) { return handler.handle(r); },
          counters);
      std::string lcore_list;
      for (unsigned l : lcores) lcore_list += (lcore_list.empty() ? "" : ",") + std::to_string(l);
      log(LogLevel::kInfo, "ready: %s, %u worker(s) on lcore(s) %s, main lcore %u",
          socket_path.c_str(), opt.workers, lcore_list.c_str(), rte_get_main_lcore());
      io.run();
    } catch (const std::exception& e) {
      log(LogLevel::kError, "%s", e.what());
      exit_code = 1;
    }
    // Leaving this scope removes the ports while the workers still pass quiescent states.
  }
  for (vsw::dp::WorkerContext* w : workers) w->stop.store(true, std::memory_order_relaxed);
  rte_eal_mp_wait_lcore();
  rte_free(rcu);
  rte_mempool_free(pool);
  rte_eal_cleanup();
  log(LogLevel::kInfo, "stopped");
  return exit_code;
}
