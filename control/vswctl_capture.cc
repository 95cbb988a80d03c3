// vswctl capture start|stop|list: a port's packets into a pcapng file (the dataplane writes
// it; Wireshark and tshark read it).
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "vswctl_cli.h"
#include "vswctl_output.h"

namespace vsw::cli {
namespace {

void print_captures(const google::protobuf::RepeatedPtrField<vswitch::v1::Capture>& captures) {
  using Align = Table::Align;
  Table table({{"PORT"},
               {"DIR"},
               {"STATE"},
               {"PACKETS", Align::kRight},
               {"DROPPED", Align::kRight},
               {"BYTES", Align::kRight},
               {"COUNT", Align::kRight},
               {"SNAPLEN", Align::kRight},
               {"FILE"}});
  for (const auto& c : captures) {
    table.add_row({c.port(), c.direction(), c.state(), std::to_string(c.packets()),
                   std::to_string(c.dropped()), std::to_string(c.bytes()),
                   c.count() ? std::to_string(c.count()) : "-", std::to_string(c.snaplen()),
                   c.file()});
  }
  table.print();
}

int run_capture_start(Context& context, const Args& args) {
  vswitch::v1::StartCaptureRequest request;
  request.set_port(args.positional[0]);
  if (!args.has("--file")) return usage_error("capture start", "--file PATH is required");
  std::string file = args.get("--file");
  // The dataplane runs elsewhere: a relative path means this shell's directory.
  if (!file.empty() && file.front() != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr)
      return usage_error("capture start", std::string("getcwd: ") + std::strerror(errno));
    file = std::string(cwd) + "/" + file;
  }
  request.set_file(file);
  request.set_direction(args.get("--dir", "both"));
  int status = kExitOk;
  if (args.has("--count")) {
    uint32_t count = 0;
    if (!number_option(args, "capture start", "--count", &count, &status)) return status;
    request.set_count(count);
  }
  if (args.has("--snaplen")) {
    uint32_t snaplen = 0;
    if (!number_option(args, "capture start", "--snaplen", &snaplen, &status)) return status;
    request.set_snaplen(snaplen);
  }
  vswitch::v1::Capture response;
  const grpc::Status rpc = context.client.call(&Stub::StartCapture, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("capturing %s (%s) to %s\n", response.port().c_str(), response.direction().c_str(),
                response.file().c_str());
  }
  return kExitOk;
}

int run_capture_stop(Context& context, const Args& args) {
  vswitch::v1::StopCaptureRequest request;
  request.set_port(args.positional[0]);
  vswitch::v1::Capture response;
  const grpc::Status rpc = context.client.call(&Stub::StopCapture, request, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
  } else {
    std::printf("%s: %lu packets (%lu dropped) in %s\n", response.port().c_str(),
                static_cast<unsigned long>(response.packets()),
                static_cast<unsigned long>(response.dropped()), response.file().c_str());
  }
  return kExitOk;
}

int run_capture_list(Context& context, const Args&) {
  vswitch::v1::ListCapturesResponse response;
  const grpc::Status rpc = context.client.call(&Stub::ListCaptures, {}, &response);
  if (!rpc.ok()) return report_failure(context, rpc);
  if (context.json) {
    print_json(response);
    return kExitOk;
  }
  print_captures(response.captures());
  return kExitOk;
}

}  // namespace

const ObjectSpec& capture_object() {
  static const ObjectSpec kObject{
      .name = "capture",
      .summary =
          "Packet capture: a port's packets into a pcapng file that Wireshark and\n"
          "'tshark -r' read, with the port's name and each packet's direction. The workers\n"
          "copy packets onto a ring and never wait: a copy that does not fit is dropped and\n"
          "counted (the packet itself is forwarded). At most 8 captures at once; a file\n"
          "ends at 256 MiB.",
      .verbs =
          {
              {
                  .name = "start",
                  .args = {{"PORT"}},
                  .options =
                      {
                          {"--file", "PATH", "the pcapng file; must not exist (required)"},
                          {"--dir", "rx|tx|both",
                           "rx: what the port receives from its guest; tx: what the switch "
                           "sends out of it (default both)"},
                          {"--count", "N", "stop after N packets (default: until 'capture stop')"},
                          {"--snaplen", "N", "keep the first N bytes of each packet, 1-9216"},
                      },
                  .usage = "PORT --file PATH [--dir rx|tx|both] [--count N] [--snaplen N]",
                  .summary = "start capturing a port",
                  .details =
                      "The dataplane writes the file (as its user, root): a relative PATH is\n"
                      "made absolute against the current directory, and an existing file is\n"
                      "never overwritten. One capture per port.\n"
                      "\n"
                      "With --json: vswitch.v1.Capture.\n",
                  .run = run_capture_start,
              },
              {
                  .name = "stop",
                  .args = {{"PORT"}},
                  .usage = "PORT",
                  .summary = "stop a port's capture and close its file",
                  .details = "Prints how many packets the file holds.\n"
                             "\n"
                             "With --json: vswitch.v1.Capture.\n",
                  .run = run_capture_stop,
              },
              {
                  .name = "list",
                  .usage = "",
                  .summary = "running and ended captures",
                  .details =
                      "One line per capture (the last one of each port stays listed after it\n"
                      "ends): PORT, DIR, STATE (running; done: --count reached; stopped;\n"
                      "port-removed; full: 256 MiB; error: ...), PACKETS written, DROPPED\n"
                      "copies, BYTES of file, COUNT, SNAPLEN, FILE.\n"
                      "\n"
                      "With --json: vswitch.v1.ListCapturesResponse.\n",
                  .run = run_capture_list,
              },
          },
  };
  return kObject;
}

}  // namespace vsw::cli
