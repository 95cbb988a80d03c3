// Validation of ACL rules, ACL defaults and conntrack settings, and their translation to the
// dataplane's messages (proto/dataplane.proto, "Stateful ACL").
//
// Pure functions on top of acl/acl_rule.h (plain C++, no DPDK): each validator returns OK or
// the gRPC status to reply with, its message starting with the field at fault ("src: ...",
// "dport: ...": acl::parse_* and acl::validate name the CLI field); on success the canonical
// spec is what controld stores, compares with the dataplane's and sends. Unit-tested without
// a dataplane (tests/unit/acl_spec_test.cc).
#pragma once

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "acl_rule.h"
#include "controld_state.pb.h"
#include "dataplane.pb.h"
#include "vswitch.pb.h"

namespace vsw::ctl {

// Seconds; what fits a uint32 of milliseconds, in case the dataplane counts in those.
inline constexpr uint32_t kMaxConntrackTimeout = 4294967;

// The conntrack timeouts the dataplane knows, by name (ConntrackSetRequest.timeouts).
const std::vector<std::string>& conntrack_timeout_names();

// A rule as AddAclRule receives it: port, dir and action are required, every match field is
// parsed and the whole checked with acl::validate. *out is the canonical spec (prefixes as
// network/length, a protocol by name, "0-65535" as empty), id 0.
grpc::Status validate_acl_rule(const vswitch::v1::AclRuleSpec& spec, vswitch::v1::AclRuleSpec* out);
// "to-port" / "from-port" (required).
grpc::Status validate_acl_dir(const std::string& dir);
// SetAclDefault's fields: port and dir required, action "permit" or "deny".
grpc::Status validate_acl_default(const vswitch::v1::SetAclDefaultRequest& request);
// SetConntrack: at least one setting; known timeout names, 1..kMaxConntrackTimeout seconds.
grpc::Status validate_conntrack(const vswitch::v1::SetConntrackRequest& request);

// The rule model of a (canonical) spec. Returns "" or the first field's problem.
std::string to_acl_rule(const vswitch::v1::AclRuleSpec& spec, acl::Rule* out);

// Same match, priority and action (ids, port and dir aside): a duplicate.
bool same_acl_rule(const vswitch::v1::AclRuleSpec& a, const vswitch::v1::AclRuleSpec& b);

// The record's rules in evaluation order: priority descending, then id ascending.
std::vector<const vswitch::v1::AclRuleSpec*> evaluation_order(
    const vswitch::state::AclRecord& record);

// A record with no rules and a permit default: what "no ACL" is (such records are dropped).
bool acl_record_empty(const vswitch::state::AclRecord& record);

vswitch::dp::AclDirection dataplane_dir(const std::string& dir);
std::string dir_name(vswitch::dp::AclDirection dir);

// The dataplane's AclSetRequest for one port and direction; `record` nullptr: no ACL.
vswitch::dp::AclSetRequest acl_set_request(const std::string& port, const std::string& dir,
                                           const vswitch::state::AclRecord* record);

// True when the dataplane's `live` list is what `record` asks for (nullptr: no ACL).
bool acl_matches_live(const vswitch::state::AclRecord* record,
                      const vswitch::dp::PortAclStatus& live);

}  // namespace vsw::ctl
