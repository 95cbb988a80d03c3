// The result of a control-side call: ok, or an error code and a message naming the field.
#pragma once

#include <string>
#include <utility>

#include "dataplane.pb.h"

namespace vsw::dp {

struct Status {
  vswitch::dp::ErrorCode code = vswitch::dp::ERROR_CODE_UNSPECIFIED;
  std::string message;

  bool ok() const { return code == vswitch::dp::ERROR_CODE_UNSPECIFIED; }
  static Status Ok() { return {}; }
  static Status Error(vswitch::dp::ErrorCode code, std::string message) {
    return {code, std::move(message)};
  }
};

}  // namespace vsw::dp
