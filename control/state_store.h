// vsw-controld's desired state on disk: SDIR/state.pb, replaced atomically.
//
// File format: an envelope so that truncation and corruption are detected, never mistaken
// for an empty configuration:
//   bytes 0-7   magic "VSWSTATE"
//   bytes 8-11  format version (big-endian, 1)
//   bytes 12-15 payload length N (big-endian)
//   bytes 16-19 CRC-32 (zlib) of the payload (big-endian)
//   bytes 20-   N bytes: a serialized vswitch.state.DesiredState
// A save writes state.pb.tmp, fsyncs it, renames it over state.pb and fsyncs the directory:
// after save() returns, the new state survives a crash or kill -9, and at every instant the
// file holds either the old or the new state in full.
//
// Thread safety: none; the caller serialises (controld holds its state lock).
#pragma once

#include <string>

#include "controld_state.pb.h"

namespace vsw::ctl {

struct LoadResult {
  bool ok() const { return error.empty(); }
  std::string error;  // "PATH: what is wrong"
  vswitch::state::DesiredState state;
  bool existed = false;
};

class StateStore {
 public:
  explicit StateStore(std::string dir);
  ~StateStore();

  // Creates the directory when missing and reads the state. A missing file is an empty
  // state; a file that is truncated, corrupt or unparsable is an error naming the file.
  LoadResult load();

  // Takes an exclusive lock on SDIR/lock (flock, released when the process exits), so two
  // controlds never share one state. Creates the directory when missing. Returns "" or why
  // not, naming the path.
  std::string lock();

  // Persists `state`. Returns "" or what failed (the old state is then still on disk).
  std::string save(const vswitch::state::DesiredState& state);

  const std::string& path() const { return path_; }

 private:
  std::string dir_;
  std::string path_;
  int lock_fd_ = -1;
};

// The envelope, exposed for tests.
std::string encode_state_file(const vswitch::state::DesiredState& state);
// Returns "" or what is wrong with `bytes`.
std::string decode_state_file(const std::string& bytes, vswitch::state::DesiredState* state);

}  // namespace vsw::ctl
