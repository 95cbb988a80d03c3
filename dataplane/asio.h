// Include Boost.Asio through this header: Boost 1.74's asio/awaitable.hpp uses std::exchange
// without including <utility>, which GCC 12's C++20 headers no longer pull in on their own.
#pragma once

#include <utility>

#include <boost/asio.hpp>
