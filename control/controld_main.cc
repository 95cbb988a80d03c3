// vsw-controld --run-dir DIR --state-dir SDIR [--group NAME]
//              [--listen HOST:PORT --tls-cert F --tls-key F [--tls-client-ca F]]
#include <fcntl.h>
#include <grp.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "api_service.h"
#include "controller.h"
#include "log.h"
#include "metrics_server.h"
#include "state_store.h"

namespace {

using vsw::log;
using vsw::LogLevel;

constexpr const char* kUsage =
    "usage: vsw-controld --run-dir DIR --state-dir SDIR [--group NAME]\n"
    "                    [--listen HOST:PORT --tls-cert FILE --tls-key FILE\n"
    "                    [--tls-client-ca FILE]] [--qemu PATH] [--guest-dir DIR]\n"
    "                    [--metrics [HOST:]PORT]\n"
    "  --run-dir DIR     serves gRPC on unix:DIR/control.sock (mode 0660) and programs the\n"
    "                    dataplane at DIR/dataplane.sock, reconnecting on its own\n"
    "  --state-dir SDIR  the desired state (SDIR/state.pb), created when missing\n"
    "  --group NAME      control.sock's group: its members may use vswctl (default: root's)\n"
    "  --listen HOST:PORT  also serve gRPC over TCP; off by default. TCP is served only with\n"
    "                    TLS: --tls-cert and --tls-key (PEM) are required\n"
    "  --tls-client-ca FILE  also require client certificates signed by this CA (PEM)\n"
    "  --qemu PATH       the QEMU binary for VMs (default qemu-system-x86_64 on PATH)\n"
    "  --guest-dir DIR   the default guest image (vmlinuz, initrd.img) for VMs given no\n"
    "                    kernel or disk (default /var/cache/vswitch/guest)\n"
    "  --metrics [HOST:]PORT  serve Prometheus metrics on http://HOST:PORT/metrics (HOST\n"
    "                    defaults to 127.0.0.1; off unless given)\n"
    "VMs keep running when controld stops; the next controld adopts them.\n";

struct Options {
  std::string run_dir;
  std::string state_dir;
  std::string listen;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string group;
  std::string qemu = "qemu-system-x86_64";
  std::string guest_dir = vsw::ctl::kDefaultGuestDir;
  std::string metrics;  // [HOST:]PORT; empty: no metrics endpoint
};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "vsw-controld: %s\n%s", why.c_str(), kUsage);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--run-dir") {
      o.run_dir = value();
    } else if (a == "--state-dir") {
      o.state_dir = value();
    } else if (a == "--listen") {
      o.listen = value();
    } else if (a == "--tls-cert") {
      o.tls_cert = value();
    } else if (a == "--tls-key") {
      o.tls_key = value();
    } else if (a == "--tls-client-ca") {
      o.tls_client_ca = value();
    } else if (a == "--group") {
      o.group = value();
    } else if (a == "--qemu") {
      o.qemu = value();
    } else if (a == "--guest-dir") {
      o.guest_dir = value();
    } else if (a == "--metrics") {
      o.metrics = value();
    } else {
      usage_error("unknown option '" + a + "'");
    }
  }
  if (o.run_dir.empty()) usage_error("--run-dir is required");
  if (o.state_dir.empty()) usage_error("--state-dir is required");
  if (o.tls_cert.empty() != o.tls_key.empty()) usage_error("--tls-cert and --tls-key go together");
  // Plain TCP, even on loopback, would let any local user past control.sock's permissions.
  if (!o.listen.empty() && o.tls_cert.empty())
    usage_error("--listen " + o.listen +
                ": gRPC over TCP is served only with TLS: give --tls-cert and --tls-key");
  if (!o.tls_client_ca.empty() && o.listen.empty())
    usage_error("--tls-client-ca is for --listen (the unix socket is guarded by its mode)");
  return o;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "vsw-controld: %s: %s\n", path.c_str(), std::strerror(errno));
    std::exit(1);
  }
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

int main(int argc, char** argv) {
  vsw::set_log_program("vsw-controld");
  const Options opt = parse(argc, argv);
  std::optional<gid_t> group_id;
  if (!opt.group.empty()) {
    const group* g = ::getgrnam(opt.group.c_str());
    if (g == nullptr) usage_error("--group " + opt.group + ": no such group");
    group_id = g->gr_gid;
  }
  std::string metrics_host;
  uint16_t metrics_port = 0;
  if (!opt.metrics.empty()) {
    if (std::string err = vsw::ctl::parse_listen_address(opt.metrics, &metrics_host, &metrics_port);
        !err.empty())
      usage_error(err);
  }

  // Signals are taken by sigwait() in main, never delivered to gRPC's or our threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  vsw::ctl::StateStore store(opt.state_dir);
  if (std::string err = store.lock(); !err.empty()) {
    std::fprintf(stderr, "vsw-controld: cannot start: %s\n", err.c_str());
    return 1;
  }
  vsw::ctl::LoadResult loaded = store.load();
  if (!loaded.ok()) {
    std::fprintf(stderr, "vsw-controld: cannot start: %s\n", loaded.error.c_str());
    return 1;
  }
  log(LogLevel::kInfo,
      "state %s: %s, %d port(s), %d xconnect(s), %d bridge(s), %d attachment(s), %d static "
      "MAC(s), %d VM(s), generation %lu",
      store.path().c_str(), loaded.existed ? "loaded" : "new", loaded.state.ports_size(),
      loaded.state.xconnects_size(), loaded.state.bridges_size(), loaded.state.attachments_size(),
      loaded.state.static_macs_size(), loaded.state.vms_size(), loaded.state.generation());
  if (::mkdir(opt.run_dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "vsw-controld: %s: %s\n", opt.run_dir.c_str(), std::strerror(errno));
    return 1;
  }
  // One controld per run directory too: a second one would take over control.sock.
  const std::string run_lock = opt.run_dir + "/controld.lock";
  const int run_lock_fd = ::open(run_lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (run_lock_fd < 0 || ::flock(run_lock_fd, LOCK_EX | LOCK_NB) != 0) {
    std::fprintf(stderr, "vsw-controld: cannot start: %s: %s\n", run_lock.c_str(),
                 errno == EWOULDBLOCK ? "another vsw-controld serves this run directory"
                                      : std::strerror(errno));
    return 1;
  }

  vsw::ctl::Controller controller(store, std::move(loaded.state), opt.run_dir, opt.qemu,
                                  opt.guest_dir);
  vsw::ctl::ApiService service(controller);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  const std::string socket_path = opt.run_dir + "/control.sock";
  ::unlink(socket_path.c_str());
  builder.AddListeningPort("unix:" + socket_path, grpc::InsecureServerCredentials());
  if (!opt.listen.empty()) {
    std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
    if (!opt.tls_cert.empty()) {
      grpc::SslServerCredentialsOptions ssl(
          opt.tls_client_ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                                    : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
      ssl.pem_key_cert_pairs.push_back({read_file(opt.tls_key), read_file(opt.tls_cert)});
      if (!opt.tls_client_ca.empty()) ssl.pem_root_certs = read_file(opt.tls_client_ca);
      creds = grpc::SslServerCredentials(ssl);
    }
    builder.AddListeningPort(opt.listen, creds);
  }
  builder.RegisterService(&service);
  // The socket is created with 0660 from the start: operators in the group may connect.
  const mode_t old_mask = ::umask(0117);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_mask);
  if (!server) {
    std::fprintf(stderr, "vsw-controld: cannot serve on unix:%s%s\n", socket_path.c_str(),
                 opt.listen.empty() ? "" : (" or " + opt.listen).c_str());
    return 1;
  }
  ::chmod(socket_path.c_str(), 0660);
  if (group_id && ::chown(socket_path.c_str(), static_cast<uid_t>(-1), *group_id) != 0) {
    std::fprintf(stderr, "vsw-controld: chown %s to group %s: %s\n", socket_path.c_str(),
                 opt.group.c_str(), std::strerror(errno));
    server->Shutdown();
    return 1;
  }
  controller.start();
  vsw::ctl::MetricsServer metrics(controller, opt.run_dir + "/dataplane.sock");
  if (!opt.metrics.empty()) {
    if (std::string err = metrics.start(metrics_host, metrics_port); !err.empty()) {
      std::fprintf(stderr, "vsw-controld: cannot serve metrics: %s\n", err.c_str());
      server->Shutdown();
      controller.stop();
      return 1;
    }
    log(LogLevel::kInfo, "metrics: http://%s/metrics", metrics.address().c_str());
  }
  log(LogLevel::kInfo, "ready: unix:%s%s%s", socket_path.c_str(), opt.listen.empty() ? "" : ", ",
      opt.listen.c_str());

  int signo = 0;
  sigwait(&signals, &signo);
  log(LogLevel::kInfo, "signal %d: shutting down", signo);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  metrics.stop();
  controller.stop();
  ::unlink(socket_path.c_str());
  log(LogLevel::kInfo, "stopped");
  return 0;
}
