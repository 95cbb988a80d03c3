// vswctl: the gRPC channel to vsw-controld and how failures are reported.
#include <charconv>
#include <cstdio>
#include <string>

#include "vswctl_cli.h"

namespace vsw::cli {
namespace {

// The canonical names (google.rpc.Code), which scripts match on.
std::string_view code_name(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

// Scripts read the error as one line: fold any newline the server put in its message.
std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

// gRPC wraps the connect error in "failed to connect to all addresses; last error: UNKNOWN:
// unix:/run/vswitch/control.sock: No such file or directory"; the operator needs the errno.
std::string Client::connect_detail(const std::string& message) const {
  std::string detail = message;
  constexpr std::string_view kLastError = "last error: ";
  if (const auto pos = detail.rfind(kLastError); pos != std::string::npos) {
    detail.erase(0, pos + kLastError.size());
  }
  if (detail.starts_with("UNKNOWN: ")) detail.erase(0, 9);
  if (detail.starts_with(target_ + ": ")) detail.erase(0, target_.size() + 2);
  if (detail.empty()) detail = message;
  if (target_.starts_with("unix:") && detail.find("No such file") != std::string::npos) {
    detail += " (is vsw-controld running with this run dir? see --run-dir, VSW_RUN_DIR)";
  }
  return detail;
}

Stub& Client::stub() {
  if (!stub_) {
    // Listings of a full FDB or flow cache exceed gRPC's 4 MB default.
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
    if (!tls_.ca.empty()) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = tls_.ca;
      ssl.pem_cert_chain = tls_.cert;
      ssl.pem_private_key = tls_.key;
      creds = grpc::SslCredentials(ssl);
    }
    channel_ = grpc::CreateCustomChannel(target_, creds, args);
    stub_ = vswitch::v1::Vswitch::NewStub(channel_);
  }
  return *stub_;
}

std::string Client::describe(const grpc::Status& status) {
  const std::string message = one_line(status.error_message());
  const std::string code(code_name(status.error_code()));
  // A call that never reached controld fails with UNAVAILABLE while the channel is not READY;
  // controld's own UNAVAILABLE (say, the dataplane is down) arrives over a READY channel.
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE && channel_ &&
      channel_->GetState(false) != GRPC_CHANNEL_READY) {
    return code + ": cannot reach vsw-controld at " + target_ + ": " + connect_detail(message);
  }
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return code + ": no reply from vsw-controld at " + target_ + " within " +
           std::to_string(last_deadline_.count() / 1000) + " s";
  }
  return code + ": " + message;
}

std::string Args::get(std::string_view option, std::string_view fallback) const {
  auto it = options.find(option);
  if (it == options.end() || it->second.empty()) return std::string(fallback);
  return it->second.back();
}

std::vector<std::string> Args::all(std::string_view option) const {
  auto it = options.find(option);
  return it == options.end() ? std::vector<std::string>{} : it->second;
}

void print_error(std::string_view message) {
  std::fprintf(stderr, "vswctl: %.*s\n", static_cast<int>(message.size()), message.data());
}

int usage_error(std::string_view command, std::string_view reason) {
  std::string line(command);
  if (!line.empty()) line += ": ";
  line += reason;
  line += "; see 'vswctl ";
  if (!command.empty()) line += std::string(command) + " ";
  line += "--help'";
  print_error(line);
  return kExitUsage;
}

std::optional<uint32_t> parse_uint32(std::string_view text) {
  uint32_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool number_option(const Args& args, std::string_view command, std::string_view option,
                   uint32_t* out, int* status) {
  const std::string text = args.get(option);
  const auto value = parse_uint32(text);
  if (!value) {
    *status = usage_error(command, std::string(option) + ": '" + text + "' is not a number");
    return false;
  }
  *out = *value;
  return true;
}

int report_failure(Context& context, const grpc::Status& status) {
  print_error(context.client.describe(status));
  return kExitFailure;
}

}  // namespace vsw::cli
