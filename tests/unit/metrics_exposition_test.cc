#include "metrics_exposition.h"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "metrics_server.h"

namespace vsw::ctl {
namespace {

TEST(MetricsExposition, EscapesLabelValues) {
  EXPECT_EQ(Exposition::escape(R"(a"b\c)"), R"(a\"b\\c)");
  EXPECT_EQ(Exposition::escape("line\nbreak"), "line\\nbreak");
  Exposition e;
  e.family("x_total", "counter", "help with \\ and\nnewline");
  e.sample({{"port", "p\"1"}}, uint64_t{7});
  EXPECT_EQ(e.text(),
            "# HELP x_total help with \\\\ and\\nnewline\n# TYPE x_total counter\n"
            "x_total{port=\"p\\\"1\"} 7\n");
}

TEST(MetricsExposition, DoublesKeepTheirPrecisionAndSpecialValues) {
  Exposition e;
  e.family("g", "gauge", "h");
  e.sample({}, 0.1);
  e.sample({{"k", "inf"}}, std::numeric_limits<double>::infinity());
  EXPECT_NE(e.text().find("g 0.10000000000000001\n"), std::string::npos) << e.text();
  EXPECT_NE(e.text().find("g{k=\"inf\"} +Inf\n"), std::string::npos) << e.text();
}

TEST(MetricsExposition, AnAbsentDataplaneLeavesItsFamiliesOut) {
  MetricsSnapshot s;
  s.controld.mutable_dataplane()->set_state("disconnected");
  const std::string text = render_metrics(s);
  EXPECT_NE(text.find("vswitch_dataplane_up 0\n"), std::string::npos);
  EXPECT_NE(text.find("vswitch_controld_dataplane_connected 0\n"), std::string::npos);
  EXPECT_EQ(text.find("vswitch_port_"), std::string::npos);
  EXPECT_EQ(text.find("vswitch_worker_"), std::string::npos);
}

TEST(MetricsExposition, PortDropsHaveOneSeriesPerReason) {
  MetricsSnapshot s;
  vswitch::dp::Stats st;
  auto* p = st.add_ports();
  p->mutable_config()->set_name("vm1");
  p->mutable_drops()->set_tx_full(5);
  p->mutable_drops()->set_malformed(2);
  auto* w = st.add_workers();
  w->set_worker(0);
  w->set_busy_cycles(3'000'000'000);
  st.set_tsc_hz(1'000'000'000);
  s.stats = st;
  const std::string text = render_metrics(s);
  EXPECT_NE(text.find("vswitch_port_drops_total{port=\"vm1\",reason=\"tx_full\"} 5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("vswitch_port_drops_total{port=\"vm1\",reason=\"malformed\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("vswitch_port_drops_total{port=\"vm1\",reason=\"no_mbufs\"} 0\n"),
            std::string::npos);
  // Busy cycles in seconds: rate() of it is the busy ratio.
  EXPECT_NE(text.find("vswitch_worker_busy_seconds_total{worker=\"0\"} 3\n"), std::string::npos)
      << text;
  // One TYPE line per family, however many ports.
  EXPECT_EQ(text.find("# TYPE vswitch_port_drops_total"),
            text.rfind("# TYPE vswitch_port_drops_total"));
}

TEST(MetricsListenAddress, PortAloneMeansLoopback) {
  std::string host;
  uint16_t port = 0;
  EXPECT_EQ(parse_listen_address("9469", &host, &port), "");
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9469);
  EXPECT_EQ(parse_listen_address("[::1]:80", &host, &port), "");
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(parse_listen_address("0.0.0.0:9100", &host, &port), "");
  EXPECT_EQ(host, "0.0.0.0");
}

TEST(MetricsListenAddress, BadAddressesNameTheProblem) {
  std::string host;
  uint16_t port = 0;
  EXPECT_NE(parse_listen_address("localhost:9469", &host, &port).find("not an IPv4 or IPv6"),
            std::string::npos);
  EXPECT_NE(parse_listen_address("127.0.0.1:0", &host, &port).find("1-65535"), std::string::npos);
  EXPECT_NE(parse_listen_address("127.0.0.1:70000", &host, &port).find("1-65535"),
            std::string::npos);
  EXPECT_NE(parse_listen_address("x", &host, &port).find("1-65535"), std::string::npos);
}

}  // namespace
}  // namespace vsw::ctl
