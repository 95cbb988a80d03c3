#include "state_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace vsw::ctl {

namespace {

constexpr char kMagic[8] = {'V', 'S', 'W', 'S', 'T', 'A', 'T', 'E'};
constexpr uint32_t kVersion = 1;
constexpr std::size_t kHeaderBytes = 20;

void put_be32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

uint32_t get_be32(const std::string& in, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(in.data() + at);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint32_t crc(const std::string& bytes, std::size_t from) {
  return static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(bytes.data() + from),
                                     static_cast<uInt>(bytes.size() - from)));
}

std::string errno_text(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

bool write_all(int fd, const std::string& bytes) {
  for (std::size_t done = 0; done < bytes.size();) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

bool mkdir_p(const std::string& dir) {
  std::string partial;
  std::istringstream parts(dir);
  std::string part;
  if (!dir.empty() && dir[0] == '/') partial = "/";
  while (std::getline(parts, part, '/')) {
    if (part.empty()) continue;
    partial += part + "/";
    if (::mkdir(partial.c_str(), 0750) != 0 && errno != EEXIST) return false;
  }
  return true;
}

}  // namespace

std::string encode_state_file(const vswitch::state::DesiredState& state) {
  std::string out(kMagic, sizeof(kMagic));
  put_be32(out, kVersion);
  std::string payload;
  state.SerializeToString(&payload);
  put_be32(out, static_cast<uint32_t>(payload.size()));
  put_be32(out, static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(payload.data()),
                                            static_cast<uInt>(payload.size()))));
  out += payload;
  return out;
}

std::string decode_state_file(const std::string& bytes, vswitch::state::DesiredState* state) {
  if (bytes.size() < kHeaderBytes)
    return "truncated: " + std::to_string(bytes.size()) + " bytes, the header alone is " +
           std::to_string(kHeaderBytes);
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0)
    return "not a vswitch state file (bad magic)";
  if (const uint32_t v = get_be32(bytes, 8); v != kVersion)
    return "format version " + std::to_string(v) + " is not supported (want " +
           std::to_string(kVersion) + ")";
  const std::size_t length = get_be32(bytes, 12);
  if (bytes.size() - kHeaderBytes != length)
    return "truncated or padded: the header announces " + std::to_string(length) +
           " bytes of state, the file holds " + std::to_string(bytes.size() - kHeaderBytes);
  if (crc(bytes, kHeaderBytes) != get_be32(bytes, 16))
    return "checksum mismatch: the file is corrupt";
  if (!state->ParseFromString(bytes.substr(kHeaderBytes)))
    return "the checksum is right but the state does not parse";
  return {};
}

StateStore::StateStore(std::string dir) : dir_(std::move(dir)), path_(dir_ + "/state.pb") {}

StateStore::~StateStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::string StateStore::lock() {
  if (!mkdir_p(dir_)) return errno_text(dir_ + ": cannot create the state directory");
  const std::string lock_path = dir_ + "/lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) return errno_text(lock_path);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) return lock_path + ": another vsw-controld uses this state directory";
    errno = err;
    return errno_text(lock_path);
  }
  lock_fd_ = fd;
  return {};
}

LoadResult StateStore::load() {
  LoadResult r;
  if (!mkdir_p(dir_)) {
    r.error = errno_text(dir_ + ": cannot create the state directory");
    return r;
  }
  // A temp file left by a crash in the middle of save() was never acknowledged.
  ::unlink((path_ + ".tmp").c_str());
  std::ifstream in(path_, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return r;
    r.error = errno_text(path_);
    return r;
  }
  r.existed = true;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (std::string err = decode_state_file(bytes.str(), &r.state); !err.empty())
    r.error = path_ + ": " + err;
  return r;
}

std::string StateStore::save(const vswitch::state::DesiredState& state) {
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return errno_text("open " + tmp);
  const bool written = write_all(fd, encode_state_file(state)) && ::fsync(fd) == 0;
  std::string err = written ? "" : errno_text("write " + tmp);
  ::close(fd);
  if (!err.empty()) return err;
  if (::rename(tmp.c_str(), path_.c_str()) != 0) return errno_text("rename " + tmp);
  const int dir_fd = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) return errno_text("open " + dir_);
  if (::fsync(dir_fd) != 0) err = errno_text("fsync " + dir_);
  ::close(dir_fd);
  return err;
}

}  // namespace vsw::ctl
