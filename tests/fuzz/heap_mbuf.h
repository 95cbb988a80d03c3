// An rte_mbuf over a heap buffer of exactly the frame's size, so that ASan catches a parser
// reading one byte past the frame. No EAL: only the parsers' view of an mbuf (buf_addr,
// data_off, data_len) is real.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <cstring>
#include <memory>

#include "fuzz_check.h"

namespace vsw::fuzz {

// Frames longer than this are not interesting (and do not fit an mbuf's 16-bit length).
inline constexpr size_t kMaxFrame = 9216;

class HeapMbuf {
 public:
  HeapMbuf(const uint8_t* data, size_t size) : buf_(new uint8_t[size]) {
    if (size) std::memcpy(buf_.get(), data, size);
    std::memset(static_cast<void*>(&m_), 0, sizeof(m_));
    m_.buf_addr = buf_.get();
    m_.buf_len = static_cast<uint16_t>(size);
    m_.data_off = 0;
    m_.data_len = static_cast<uint16_t>(size);
    m_.pkt_len = static_cast<uint32_t>(size);
    m_.nb_segs = 1;
    m_.refcnt = 1;
  }
  HeapMbuf(const HeapMbuf&) = delete;
  HeapMbuf& operator=(const HeapMbuf&) = delete;

  rte_mbuf* get() { return &m_; }
  const uint8_t* data() const { return buf_.get(); }

 private:
  std::unique_ptr<uint8_t[]> buf_;
  rte_mbuf m_;
};

}  // namespace vsw::fuzz
