// vswctl: the command table, the parsed arguments a command receives, and the gRPC client it
// calls vsw-controld with. Each object family (port, xconnect, status, stats, and later bridge,
// mac, route...) lives in its own vswctl_<object>.cc and contributes one ObjectSpec; main only
// parses the global flags, finds the command and renders help from these tables, so help texts
// and the accepted options cannot drift apart.
//
// Not thread safe: vswctl is single threaded (gRPC's own threads never call back into it).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vswitch.grpc.pb.h"

namespace vsw::cli {

// Exit statuses, as documented in 'vswctl --help'.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // the request failed, or controld is unreachable
inline constexpr int kExitUsage = 2;    // the command line is wrong; nothing was sent

// Deadlines: long enough for controld to fsync and program the dataplane, short enough that a
// hung controld does not hang a script forever. Status is what readiness loops poll.
inline constexpr std::chrono::milliseconds kCallDeadline{30'000};
inline constexpr std::chrono::milliseconds kStatusDeadline{5'000};

using Stub = vswitch::v1::Vswitch::Stub;

template <typename Request, typename Response>
using Method = grpc::Status (Stub::*)(grpc::ClientContext*, const Request&, Response*);

// The connection to vsw-controld. The channel is created on the first call, so that commands
// which must set up signal masks before gRPC starts its threads (stats --watch) can do so.
// PEM contents for a TCP target (controld serves TCP only with TLS). Empty ca: a unix socket.
struct TlsFiles {
  std::string ca;    // verifies controld's certificate
  std::string cert;  // optional client certificate (controld --tls-client-ca)
  std::string key;
};

class Client {
 public:
  explicit Client(std::string target, TlsFiles tls = {})
      : target_(std::move(target)), tls_(std::move(tls)) {}

  // "unix:/run/vswitch/control.sock" or "host:port".
  const std::string& target() const { return target_; }

  // Makes one unary call with a deadline. Returns the gRPC status; on a failure, describe()
  // turns it into the line vswctl prints.
  template <typename Request, typename Response>
  grpc::Status call(Method<Request, Response> method, const Request& request, Response* response,
                    std::chrono::milliseconds deadline = kCallDeadline) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline);
    grpc::Status status = (stub().*method)(&context, request, response);
    if (!status.ok()) last_deadline_ = deadline;
    return status;
  }

  // "CODE: message" for a failed call, on one line. A failure to reach controld at all (no
  // socket, connection refused) becomes "UNAVAILABLE: cannot reach vsw-controld at TARGET: ...",
  // distinct from an UNAVAILABLE that controld itself returned.
  std::string describe(const grpc::Status& status);

 private:
  Stub& stub();
  std::string connect_detail(const std::string& message) const;

  std::string target_;
  TlsFiles tls_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<Stub> stub_;
  std::chrono::milliseconds last_deadline_{kCallDeadline};
};

// What every command sees: the global flags and the client.
struct Context {
  bool json = false;
  Client client;
};

// A command's arguments after parsing against its VerbSpec: positionals in order, and each
// option given (by its long name, "--type") with its values in order; a switch that takes no
// value has one empty value.
class Args {
 public:
  std::vector<std::string> positional;
  std::map<std::string, std::vector<std::string>, std::less<>> options;

  bool has(std::string_view option) const { return options.find(option) != options.end(); }
  // The option's (last) value, or `fallback` when it was not given.
  std::string get(std::string_view option, std::string_view fallback = {}) const;
  // Every value of a repeatable option, in the order given.
  std::vector<std::string> all(std::string_view option) const;
};

using Handler = int (*)(Context& context, const Args& args);

struct OptionSpec {
  std::string_view name;   // "--type"
  std::string_view value;  // "TYPE"; empty for a switch that takes no value
  std::string_view help;   // one line
  bool repeatable = false;
};

struct ArgSpec {
  std::string_view name;  // "NAME"
  bool optional = false;
};

struct VerbSpec {
  std::string_view name;  // "add"; empty when the object is itself the command (status, stats)
  std::vector<ArgSpec> args = {};
  std::vector<OptionSpec> options = {};
  std::string_view usage = {};    // after "vswctl OBJECT VERB": "NAME --type TYPE [OPTIONS]"
  std::string_view summary = {};  // one line, for the object's and the top-level help
  std::string_view details = {};  // the rest of 'vswctl OBJECT VERB --help', may be empty
  Handler run = nullptr;
};

struct ObjectSpec {
  std::string_view name;  // "port"
  std::string_view summary;
  std::vector<VerbSpec> verbs = {};
};

// The object families, in the order 'vswctl --help' lists them (defined in vswctl_<object>.cc).
const ObjectSpec& status_object();
const ObjectSpec& port_object();
const ObjectSpec& xconnect_object();
const ObjectSpec& bridge_object();
const ObjectSpec& mac_object();
const ObjectSpec& flow_object();
const ObjectSpec& stats_object();
const ObjectSpec& capture_object();
const ObjectSpec& trace_object();
const ObjectSpec& vm_object();
const ObjectSpec& router_if_object();
const ObjectSpec& route_object();
const ObjectSpec& neigh_object();
const ObjectSpec& acl_object();
const ObjectSpec& conn_object();
const ObjectSpec& conntrack_object();

// Prints "vswctl: COMMAND: REASON; see 'vswctl COMMAND --help'" on stderr, returns kExitUsage.
// For errors only a command can detect (a value that must be a number).
int usage_error(std::string_view command, std::string_view reason);

// A decimal uint32 ("0".."4294967295", nothing else), or nullopt.
std::optional<uint32_t> parse_uint32(std::string_view text);

// The uint32 value of `option` in `args` into *out. On a malformed value prints the usage
// error ("COMMAND: --option: 'x' is not a number") and returns false; *status is then the
// exit status to return.
bool number_option(const Args& args, std::string_view command, std::string_view option,
                   uint32_t* out, int* status);

// Prints the failed call as "vswctl: CODE: message" on stderr and returns kExitFailure.
int report_failure(Context& context, const grpc::Status& status);

// Prints "vswctl: MESSAGE" on stderr.
void print_error(std::string_view message);

}  // namespace vsw::cli
