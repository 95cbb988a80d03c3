// vsw-dpctl's ACL and conntrack commands (dpctl_acl.cc).
#pragma once

#include <string>
#include <vector>

#include "dataplane.pb.h"

namespace vsw::dpctl {

// acl set/list, conn list/flush, ct set/stats; false when `args` is none of those. Exits
// with status 2 on a malformed command line.
bool build_acl_request(const std::vector<std::string>& args, vswitch::dp::Request& req);
// Prints an ACL or conntrack response for humans; false when `r` is none of those.
bool print_acl(const vswitch::dp::Response& r);

}  // namespace vsw::dpctl
