// vswctl: the operator CLI of vswitch, a thin gRPC client of vsw-controld.
//
//   vswctl [--run-dir DIR | --server ADDRESS [--tls-ca F [--tls-cert F --tls-key F]]] [--json]
//          OBJECT VERB [ARGS]
//
// This file parses the global flags, finds the command in the object tables
// (vswctl_<object>.cc), parses its arguments against the command's spec and renders every
// --help from those same specs.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "vswctl_cli.h"

namespace vsw::cli {
namespace {

constexpr std::string_view kDefaultRunDir = "/run/vswitch";

// The objects 'vswctl --help' lists, in this order. A new object family adds one line here.
std::vector<const ObjectSpec*> objects() {
  return {&status_object(), &port_object(),      &xconnect_object(),  &bridge_object(),
          &mac_object(),    &router_if_object(), &route_object(),     &neigh_object(),
          &acl_object(),    &conn_object(),      &conntrack_object(), &flow_object(),
          &stats_object(),  &capture_object(),   &trace_object(),     &vm_object()};
}

struct GlobalOptions {
  std::optional<std::string> run_dir;
  std::optional<std::string> server;
  std::optional<std::string> tls_ca;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  bool json = false;
};

constexpr const char* kGlobalHelp =
    "Global options (before OBJECT, or anywhere among a command's arguments):\n"
    "  --run-dir DIR     connect to vsw-controld at unix:DIR/control.sock\n"
    "                    (default: $VSW_RUN_DIR, else /run/vswitch)\n"
    "  --server ADDRESS  connect to ADDRESS instead: unix:/path/control.sock or host:port\n"
    "                    (controld's optional TCP listener, which is TLS only)\n"
    "  --tls-ca FILE     for a host:port server: the CA (PEM) that signed controld's\n"
    "                    certificate; required, as controld serves TCP only with TLS\n"
    "  --tls-cert FILE --tls-key FILE\n"
    "                    a client certificate (PEM), for a controld started with\n"
    "                    --tls-client-ca\n"
    "  --json            print the reply as exactly one JSON document on stdout: the gRPC\n"
    "                    response message of proto/vswitch.proto (package vswitch.v1) in the\n"
    "                    proto3 JSON mapping, with the .proto field names and every scalar\n"
    "                    field present, zeros too; 64-bit integers are JSON strings;\n"
    "                    deletes print {}\n"
    "  -h, --help        help; 'vswctl OBJECT --help', 'vswctl OBJECT VERB --help' for more\n";

constexpr const char* kExitHelp =
    "Exit status:\n"
    "  0  success\n"
    "  1  the request failed: one line 'vswctl: CODE: message' on stderr, where CODE is the\n"
    "     gRPC status (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,\n"
    "     UNAVAILABLE, ...) and message is controld's, naming the field at fault; when\n"
    "     controld cannot be reached: 'vswctl: UNAVAILABLE: cannot reach vsw-controld at ...'\n"
    "  2  usage error (unknown command, missing argument, bad option): nothing was sent\n";

std::string command_name(const ObjectSpec& object, const VerbSpec& verb) {
  std::string name(object.name);
  if (!verb.name.empty()) name += " " + std::string(verb.name);
  return name;
}

std::string verb_list(const ObjectSpec& object) {
  std::string list;
  for (const auto& verb : object.verbs) {
    if (!list.empty()) list += ", ";
    list += verb.name;
  }
  return list;
}

std::string object_list() {
  std::string list;
  for (const auto* object : objects()) {
    if (!list.empty()) list += ", ";
    list += object->name;
  }
  return list;
}

// "  left   right" with the right column at `width`, or on the next line when left is too long.
void print_two_columns(std::string_view left, std::string_view right, std::size_t width) {
  std::string line = "  " + std::string(left);
  if (line.size() + 1 > width) {
    std::printf("%s\n%*s%.*s\n", line.c_str(), static_cast<int>(width), "",
                static_cast<int>(right.size()), right.data());
    return;
  }
  line.append(width - line.size(), ' ');
  std::printf("%s%.*s\n", line.c_str(), static_cast<int>(right.size()), right.data());
}

std::string verb_synopsis(const ObjectSpec& object, const VerbSpec& verb) {
  std::string synopsis = command_name(object, verb);
  if (!verb.usage.empty()) synopsis += " " + std::string(verb.usage);
  return synopsis;
}

void print_top_help() {
  std::printf(
      "usage: vswctl [--run-dir DIR | --server ADDRESS] [--json] OBJECT VERB [ARGS]\n"
      "\n"
      "The operator CLI of vswitch: every command is one call to vsw-controld's gRPC API.\n"
      "\n"
      "Commands:\n");
  constexpr std::size_t kWidth = 40;
  for (const auto* object : objects()) {
    for (const auto& verb : object->verbs) {
      print_two_columns(verb_synopsis(*object, verb), verb.summary, kWidth);
    }
  }
  std::printf("\n%s\n", kGlobalHelp);
  std::printf(
      "Environment:\n"
      "  VSW_RUN_DIR       the default run directory\n"
      "\n"
      "%s\n"
      "'vswctl OBJECT --help' lists an object's verbs; 'vswctl OBJECT VERB --help' a verb's "
      "options.\n",
      kExitHelp);
}

void print_verb_help(const ObjectSpec& object, const VerbSpec& verb) {
  std::printf("usage: vswctl [GLOBAL OPTIONS] %s\n\n", verb_synopsis(object, verb).c_str());
  std::string summary(verb.summary);
  if (!summary.empty()) summary[0] = static_cast<char>(std::toupper(summary[0]));
  std::printf("%s.\n", summary.c_str());
  if (!verb.options.empty()) {
    std::printf("\nOptions:\n");
    std::size_t width = 0;
    for (const auto& option : verb.options) {
      width = std::max(width, option.name.size() + option.value.size() + 5);
    }
    for (const auto& option : verb.options) {
      std::string left(option.name);
      if (!option.value.empty()) left += " " + std::string(option.value);
      std::string help(option.help);
      if (option.repeatable) help += " (repeatable)";
      print_two_columns(left, help, std::max<std::size_t>(width, 20));
    }
  }
  if (!verb.details.empty()) {
    std::printf("\n%.*s", static_cast<int>(verb.details.size()), verb.details.data());
    if (verb.details.back() != '\n') std::printf("\n");
  }
  std::printf("\nGlobal options: --run-dir DIR, --server ADDRESS, --json (see 'vswctl --help').\n");
}

void print_object_help(const ObjectSpec& object) {
  std::printf("usage: vswctl [GLOBAL OPTIONS] %.*s VERB [ARGS]\n\n%.*s\n\nVerbs:\n",
              static_cast<int>(object.name.size()), object.name.data(),
              static_cast<int>(object.summary.size()), object.summary.data());
  constexpr std::size_t kWidth = 40;
  for (const auto& verb : object.verbs) {
    std::string left(verb.name);
    if (!verb.usage.empty()) left += " " + std::string(verb.usage);
    print_two_columns(left, verb.summary, kWidth);
  }
  std::printf("\n'vswctl %.*s VERB --help' for a verb's options; 'vswctl --help' for the rest.\n",
              static_cast<int>(object.name.size()), object.name.data());
}

bool is_help(std::string_view token) {
  return token == "-h" || token == "--help";
}

// Splits "--name=value" into its parts; other tokens come back whole with no value.
std::pair<std::string, std::optional<std::string>> split_option(const std::string& token) {
  if (token.starts_with("--")) {
    if (const auto eq = token.find('='); eq != std::string::npos) {
      return {token.substr(0, eq), token.substr(eq + 1)};
    }
  }
  return {token, std::nullopt};
}

// Consumes a global option at tokens[*i] (advancing *i past its value). Returns false when the
// token is not a global option; sets *error when it is one but malformed.
bool take_global(const std::vector<std::string>& tokens, std::size_t* i, GlobalOptions* globals,
                 std::string* error) {
  auto [name, inline_value] = split_option(tokens[*i]);
  if (name == "--json") {
    if (inline_value) *error = "--json takes no value";
    globals->json = true;
    return true;
  }
  std::optional<std::string>* slot = name == "--run-dir"    ? &globals->run_dir
                                     : name == "--server"   ? &globals->server
                                     : name == "--tls-ca"   ? &globals->tls_ca
                                     : name == "--tls-cert" ? &globals->tls_cert
                                     : name == "--tls-key"  ? &globals->tls_key
                                                            : nullptr;
  if (slot == nullptr) return false;
  std::string value;
  if (inline_value) {
    value = *inline_value;
  } else if (*i + 1 < tokens.size()) {
    value = tokens[++*i];
  } else {
    *error = name + " needs a value";
    return true;
  }
  *slot = value;
  return true;
}

// Reads the TLS files a TCP target needs. Returns "" or the usage error.
std::string tls_files(const GlobalOptions& g, const std::string& target, TlsFiles* out) {
  const bool tcp = !target.starts_with("unix:");
  if (!tcp) {
    if (g.tls_ca || g.tls_cert || g.tls_key) return "--tls-* options are for a host:port --server";
    return {};
  }
  if (!g.tls_ca)
    return "--server " + target +
           ": controld serves TCP only with TLS; give --tls-ca FILE (the CA that signed its "
           "certificate)";
  if (g.tls_cert.has_value() != g.tls_key.has_value())
    return "--tls-cert and --tls-key go together";
  auto read = [](const std::string& option, const std::string& path, std::string* text) {
    std::ifstream in(path);
    std::ostringstream s;
    if (in) s << in.rdbuf();
    if (!in || s.str().empty()) return option + " " + path + ": cannot read it";
    *text = s.str();
    return std::string();
  };
  if (std::string err = read("--tls-ca", *g.tls_ca, &out->ca); !err.empty()) return err;
  if (g.tls_cert) {
    if (std::string err = read("--tls-cert", *g.tls_cert, &out->cert); !err.empty()) return err;
    if (std::string err = read("--tls-key", *g.tls_key, &out->key); !err.empty()) return err;
  }
  return {};
}

// Parses a command's arguments (tokens[begin..]) against its spec. Global options may appear
// among them. Returns the reason on a usage error.
std::optional<std::string> parse_args(const std::vector<std::string>& tokens, std::size_t begin,
                                      const VerbSpec& verb, GlobalOptions* globals, Args* args) {
  bool options_done = false;
  for (std::size_t i = begin; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (options_done || token.size() < 2 || token[0] != '-') {
      args->positional.push_back(token);
      continue;
    }
    if (token == "--") {
      options_done = true;
      continue;
    }
    std::string error;
    if (take_global(tokens, &i, globals, &error)) {
      if (!error.empty()) return error;
      continue;
    }
    auto [name, inline_value] = split_option(token);
    const auto spec = std::find_if(verb.options.begin(), verb.options.end(),
                                   [&](const OptionSpec& o) { return o.name == name; });
    if (spec == verb.options.end()) return "unknown option " + name;
    if (!spec->repeatable && args->has(name)) return name + " given twice";
    std::string value;
    if (spec->value.empty()) {
      if (inline_value) return name + " takes no value";
    } else if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < tokens.size()) {
      value = tokens[++i];
    } else {
      return name + " needs a value (" + std::string(spec->value) + ")";
    }
    args->options[name].push_back(value);
  }
  std::size_t required = 0;
  for (const auto& arg : verb.args) required += arg.optional ? 0 : 1;
  if (args->positional.size() < required) {
    return "missing " + std::string(verb.args[args->positional.size()].name);
  }
  if (args->positional.size() > verb.args.size()) {
    return "unexpected argument '" + args->positional[verb.args.size()] + "'";
  }
  return std::nullopt;
}

// Help wins over any other problem on the line: 'vswctl port add --help' needs no NAME.
bool wants_help(const std::vector<std::string>& tokens, std::size_t begin) {
  for (std::size_t i = begin; i < tokens.size() && tokens[i] != "--"; ++i) {
    if (is_help(tokens[i])) return true;
  }
  return false;
}

const ObjectSpec* find_object(std::string_view name) {
  for (const auto* object : objects()) {
    if (object->name == name) return object;
  }
  return nullptr;
}

std::string default_run_dir() {
  const char* env = std::getenv("VSW_RUN_DIR");
  return env && *env ? env : std::string(kDefaultRunDir);
}

int run(const std::vector<std::string>& tokens) {
  GlobalOptions globals;
  std::size_t i = 0;
  // Global options before OBJECT.
  for (; i < tokens.size() && tokens[i].starts_with("-"); ++i) {
    if (is_help(tokens[i])) {
      print_top_help();
      return kExitOk;
    }
    std::string error;
    if (!take_global(tokens, &i, &globals, &error)) {
      return usage_error("", "unknown option " + split_option(tokens[i]).first);
    }
    if (!error.empty()) return usage_error("", error);
  }
  if (i == tokens.size()) return usage_error("", "missing OBJECT (" + object_list() + ")");

  // 'vswctl help [OBJECT [VERB]]' is 'vswctl [OBJECT [VERB]] --help'.
  std::vector<std::string> rewritten;
  if (tokens[i] == "help") {
    rewritten.assign(tokens.begin() + static_cast<std::ptrdiff_t>(i) + 1, tokens.end());
    rewritten.push_back("--help");
    if (rewritten.size() == 1) {
      print_top_help();
      return kExitOk;
    }
    return run(rewritten);
  }

  const ObjectSpec* object = find_object(tokens[i]);
  if (!object) {
    return usage_error("", "unknown object '" + tokens[i] + "' (" + object_list() + ")");
  }
  ++i;

  const VerbSpec* verb = nullptr;
  if (object->verbs.size() == 1 && object->verbs[0].name.empty()) {
    verb = &object->verbs[0];
  } else {
    // Global options may sit between OBJECT and VERB too.
    for (; i < tokens.size() && tokens[i].starts_with("-"); ++i) {
      if (is_help(tokens[i])) {
        print_object_help(*object);
        return kExitOk;
      }
      std::string error;
      if (!take_global(tokens, &i, &globals, &error)) {
        return usage_error(object->name, "unknown option " + split_option(tokens[i]).first);
      }
      if (!error.empty()) return usage_error(object->name, error);
    }
    if (i == tokens.size()) {
      return usage_error(object->name, "missing VERB (" + verb_list(*object) + ")");
    }
    for (const auto& candidate : object->verbs) {
      if (candidate.name == tokens[i]) verb = &candidate;
    }
    if (!verb) {
      return usage_error(object->name,
                         "unknown verb '" + tokens[i] + "' (" + verb_list(*object) + ")");
    }
    ++i;
  }

  const std::string command = command_name(*object, *verb);
  if (wants_help(tokens, i)) {
    print_verb_help(*object, *verb);
    return kExitOk;
  }
  Args args;
  if (auto error = parse_args(tokens, i, *verb, &globals, &args)) {
    return usage_error(command, *error);
  }

  std::string target = globals.server.value_or("");
  if (target.empty())
    target = "unix:" + globals.run_dir.value_or(default_run_dir()) + "/control.sock";
  TlsFiles tls;
  if (std::string err = tls_files(globals, target, &tls); !err.empty())
    return usage_error(command, err);
  Context context{globals.json, Client(std::move(target), std::move(tls))};
  return verb->run(context, args);
}

}  // namespace
}  // namespace vsw::cli

int main(int argc, char** argv) {
  std::vector<std::string> tokens(argv + 1, argv + argc);
  const int status = vsw::cli::run(tokens);
  // Flush before gRPC's static destructors run, and report a failed write (a full disk or a
  // closed pipe) as a failure rather than a silent success.
  const bool written = std::fflush(stdout) == 0 && !std::ferror(stdout);
  if (!written && status == vsw::cli::kExitOk) {
    vsw::cli::print_error(std::string("cannot write to stdout: ") + std::strerror(errno));
    return vsw::cli::kExitFailure;
  }
  return status;
}
