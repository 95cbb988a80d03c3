#include "acl_spec.h"

#include <algorithm>
#include <charconv>

namespace vsw::ctl {

using grpc::Status;
using grpc::StatusCode;
using vswitch::state::AclRecord;
using vswitch::v1::AclRuleSpec;

namespace {

Status invalid(const std::string& message) {
  return Status(StatusCode::INVALID_ARGUMENT, message);
}

bool parse_u32(std::string_view text, uint32_t max, uint32_t* out) {
  if (text.empty()) return false;
  uint32_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > max) return false;
  *out = v;
  return true;
}

std::string proto_name(uint8_t proto) {
  switch (proto) {
    case acl::kProtoTcp:
      return "tcp";
    case acl::kProtoUdp:
      return "udp";
    case acl::kProtoIcmp:
      return "icmp";
    case acl::kProtoIcmpv6:
      return "icmpv6";
    case acl::kProtoSctp:
      return "sctp";
    default:
      return std::to_string(proto);
  }
}

std::string range_text(const acl::PortRange& r) {
  if (r.any()) return "";
  if (r.lo == r.hi) return std::to_string(r.lo);
  return std::to_string(r.lo) + "-" + std::to_string(r.hi);
}

// Parses every match field of `spec` into *rule (priority and action too). Returns "" or the
// first problem, named by its field.
std::string parse_fields(const AclRuleSpec& spec, acl::Rule* rule) {
  rule->id = spec.id();
  rule->priority = spec.priority();
  if (std::string e = acl::parse_action(spec.action(), &rule->action); !e.empty()) return e;
  if (!spec.src().empty()) {
    acl::Prefix p;
    if (std::string e = acl::parse_prefix("src", spec.src(), &p); !e.empty()) return e;
    rule->src = p;
  }
  if (!spec.dst().empty()) {
    acl::Prefix p;
    if (std::string e = acl::parse_prefix("dst", spec.dst(), &p); !e.empty()) return e;
    rule->dst = p;
  }
  if (!spec.proto().empty()) {
    uint8_t proto = 0;
    if (std::string e = acl::parse_proto(spec.proto(), &proto); !e.empty()) return e;
    rule->proto = proto;
  }
  if (!spec.sport().empty()) {
    if (std::string e = acl::parse_port_range("sport", spec.sport(), &rule->sport); !e.empty())
      return e;
  }
  if (!spec.dport().empty()) {
    if (std::string e = acl::parse_port_range("dport", spec.dport(), &rule->dport); !e.empty())
      return e;
  }
  if (!spec.icmp_type().empty()) {
    uint32_t type = 0;
    if (!parse_u32(spec.icmp_type(), 255, &type))
      return "icmp-type: '" + spec.icmp_type() + "' is not a number 0..255";
    rule->icmp_type = static_cast<uint8_t>(type);
  }
  return acl::validate(*rule);
}

void canonical_fields(const acl::Rule& rule, AclRuleSpec* out) {
  out->set_priority(rule.priority);
  out->set_action(std::string(acl::to_string(rule.action)));
  out->set_src(rule.src ? acl::to_string(*rule.src) : "");
  out->set_dst(rule.dst ? acl::to_string(*rule.dst) : "");
  out->set_proto(rule.proto ? proto_name(*rule.proto) : "");
  out->set_sport(range_text(rule.sport));
  out->set_dport(range_text(rule.dport));
  out->set_icmp_type(rule.icmp_type ? std::to_string(*rule.icmp_type) : "");
}

vswitch::dp::AclAction dataplane_action(const std::string& action) {
  if (action == "deny") return vswitch::dp::ACL_ACTION_DENY;
  if (action == "permit-stateful") return vswitch::dp::ACL_ACTION_PERMIT_STATEFUL;
  return vswitch::dp::ACL_ACTION_PERMIT;
}

std::string action_name(vswitch::dp::AclAction action) {
  switch (action) {
    case vswitch::dp::ACL_ACTION_DENY:
      return "deny";
    case vswitch::dp::ACL_ACTION_PERMIT_STATEFUL:
      return "permit-stateful";
    default:
      return "permit";
  }
}

// The dataplane's rule as a canonical spec ("" fields when it does not parse, so that it
// compares unequal).
AclRuleSpec from_dataplane_rule(const vswitch::dp::AclRule& r) {
  AclRuleSpec spec;
  spec.set_id(r.id());
  spec.set_priority(r.priority());
  spec.set_action(action_name(r.action()));
  spec.set_src(r.src());
  spec.set_dst(r.dst());
  if (r.has_proto()) spec.set_proto(std::to_string(r.proto()));
  spec.set_sport(r.sport());
  spec.set_dport(r.dport());
  if (r.has_icmp_type()) spec.set_icmp_type(std::to_string(r.icmp_type()));
  acl::Rule rule;
  AclRuleSpec canonical;
  canonical.set_id(r.id());
  if (!parse_fields(spec, &rule).empty()) return canonical;
  canonical_fields(rule, &canonical);
  return canonical;
}

}  // namespace

const std::vector<std::string>& conntrack_timeout_names() {
  static const std::vector<std::string> kNames = {
      "syn_sent",  "syn_recv", "established",   "fin_wait",    "close_wait", "last_ack",
      "time_wait", "close",    "udp_unreplied", "udp_replied", "icmp",
  };
  return kNames;
}

Status validate_acl_dir(const std::string& dir) {
  if (dir.empty()) return invalid("dir: required (to-port or from-port)");
  acl::Direction d;
  if (std::string e = acl::parse_direction(dir, &d); !e.empty()) return invalid(e);
  return Status::OK;
}

Status validate_acl_rule(const AclRuleSpec& spec, AclRuleSpec* out) {
  if (spec.port().empty()) return invalid("port: required");
  if (Status s = validate_acl_dir(spec.dir()); !s.ok()) return s;
  if (spec.action().empty()) return invalid("action: required (permit, deny or permit-stateful)");
  acl::Rule rule;
  AclRuleSpec copy = spec;
  copy.set_id(0);
  if (std::string e = parse_fields(copy, &rule); !e.empty()) return invalid(e);
  out->Clear();
  out->set_port(spec.port());
  out->set_dir(spec.dir());
  canonical_fields(rule, out);
  return Status::OK;
}

Status validate_acl_default(const vswitch::v1::SetAclDefaultRequest& request) {
  if (request.port().empty()) return invalid("port: required");
  if (Status s = validate_acl_dir(request.dir()); !s.ok()) return s;
  if (request.action().empty()) return invalid("action: required (permit or deny)");
  if (request.action() != "permit" && request.action() != "deny")
    return invalid("action: '" + request.action() + "' is not a default action (permit or deny)");
  return Status::OK;
}

Status validate_conntrack(const vswitch::v1::SetConntrackRequest& request) {
  if (request.limit() == 0 && request.timeouts().empty())
    return invalid("limit: nothing to change (give a limit and/or timeouts)");
  const auto& names = conntrack_timeout_names();
  // Sorted, so that the first bad one is the same on every call.
  std::vector<std::pair<std::string, uint32_t>> timeouts(request.timeouts().begin(),
                                                         request.timeouts().end());
  std::sort(timeouts.begin(), timeouts.end());
  for (const auto& [name, seconds] : timeouts) {
    if (std::find(names.begin(), names.end(), name) == names.end()) {
      std::string known;
      for (const std::string& n : names) known += (known.empty() ? "" : ", ") + n;
      return invalid("timeouts: '" + name + "' is not a conntrack timeout (" + known + ")");
    }
    if (seconds == 0 || seconds > kMaxConntrackTimeout)
      return invalid("timeouts: " + name + "=" + std::to_string(seconds) + " is not 1.." +
                     std::to_string(kMaxConntrackTimeout) + " seconds");
  }
  return Status::OK;
}

std::string to_acl_rule(const AclRuleSpec& spec, acl::Rule* out) {
  acl::Rule rule;
  if (std::string e = parse_fields(spec, &rule); !e.empty()) return e;
  *out = rule;
  return "";
}

bool same_acl_rule(const AclRuleSpec& a, const AclRuleSpec& b) {
  return a.priority() == b.priority() && a.action() == b.action() && a.src() == b.src() &&
         a.dst() == b.dst() && a.proto() == b.proto() && a.sport() == b.sport() &&
         a.dport() == b.dport() && a.icmp_type() == b.icmp_type();
}

std::vector<const AclRuleSpec*> evaluation_order(const AclRecord& record) {
  std::vector<const AclRuleSpec*> out;
  for (const AclRuleSpec& r : record.rules()) out.push_back(&r);
  std::sort(out.begin(), out.end(), [](const AclRuleSpec* a, const AclRuleSpec* b) {
    return a->priority() != b->priority() ? a->priority() > b->priority() : a->id() < b->id();
  });
  return out;
}

bool acl_record_empty(const AclRecord& record) {
  return record.rules().empty() && record.default_action() != "deny";
}

vswitch::dp::AclDirection dataplane_dir(const std::string& dir) {
  if (dir == "to-port") return vswitch::dp::ACL_DIRECTION_TO_PORT;
  if (dir == "from-port") return vswitch::dp::ACL_DIRECTION_FROM_PORT;
  return vswitch::dp::ACL_DIRECTION_UNSPECIFIED;
}

std::string dir_name(vswitch::dp::AclDirection dir) {
  switch (dir) {
    case vswitch::dp::ACL_DIRECTION_TO_PORT:
      return "to-port";
    case vswitch::dp::ACL_DIRECTION_FROM_PORT:
      return "from-port";
    default:
      return "?";
  }
}

vswitch::dp::AclSetRequest acl_set_request(const std::string& port, const std::string& dir,
                                           const AclRecord* record) {
  vswitch::dp::AclSetRequest req;
  req.set_port(port);
  req.set_dir(dataplane_dir(dir));
  req.set_default_action(record && record->default_action() == "deny"
                             ? vswitch::dp::ACL_ACTION_DENY
                             : vswitch::dp::ACL_ACTION_PERMIT);
  if (!record) return req;
  for (const AclRuleSpec& spec : record->rules()) {
    acl::Rule rule;
    // Stored specs are canonical: they parse (to_acl_rule fails only on a damaged record,
    // and then the dataplane's own validation refuses the rule with the field's name).
    (void)to_acl_rule(spec, &rule);
    auto* r = req.add_rules();
    r->set_id(spec.id());
    r->set_priority(spec.priority());
    r->set_action(dataplane_action(spec.action()));
    r->set_src(spec.src());
    r->set_dst(spec.dst());
    if (rule.proto) r->set_proto(*rule.proto);
    r->set_sport(spec.sport());
    r->set_dport(spec.dport());
    if (rule.icmp_type) r->set_icmp_type(*rule.icmp_type);
  }
  return req;
}

bool acl_matches_live(const AclRecord* record, const vswitch::dp::PortAclStatus& live) {
  const bool want_deny = record && record->default_action() == "deny";
  const bool live_deny = live.default_action() == vswitch::dp::ACL_ACTION_DENY;
  if (want_deny != live_deny) return false;
  const int want_rules = record ? record->rules_size() : 0;
  if (want_rules != live.rules_size()) return false;
  if (!record) return true;
  std::vector<AclRuleSpec> have;
  for (const auto& r : live.rules()) have.push_back(from_dataplane_rule(r.rule()));
  for (const AclRuleSpec& want : record->rules()) {
    auto it = std::find_if(have.begin(), have.end(),
                           [&](const AclRuleSpec& h) { return h.id() == want.id(); });
    if (it == have.end() || !same_acl_rule(*it, want)) return false;
  }
  return true;
}

}  // namespace vsw::ctl
