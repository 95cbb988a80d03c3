// Packet trace through the real worker code: `trace start` marks, each stage records, `trace
// show` reads the records; `trace packet` runs a synthetic frame through the same stages and
// sends, learns and tracks nothing.
//
//   A (p1) -- br0 -- B (p2), C (p3)
#include <gtest/gtest.h>

#include <string>

#include "pipeline_harness.h"
#include "trace_manager.h"

namespace vsw::test {
namespace {

using vswitch::dp::AclRule;

std::string steps_text(const vswitch::dp::TracedPacket& p) {
  std::string s;
  for (const auto& step : p.steps()) s += step.stage() + ": " + step.detail() + "\n";
  return s + "result: " + p.result() + "\n";
}

bool has_step(const vswitch::dp::TracedPacket& p, const std::string& stage,
              const std::string& needle) {
  for (const auto& step : p.steps())
    if (step.stage() == stage && step.detail().find(needle) != std::string::npos) return true;
  return false;
}

class TracePipeline : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(init_eal("acl_trace_test"));
    pl = std::make_unique<Pipeline>();
    const std::vector<uint16_t> ids = pl->add_bridge_with_ports("br0", {"p1", "p2", "p3"});
    p1 = ids[0];
    p2 = ids[1];
    p3 = ids[2];
    traces = std::make_unique<vsw::dp::TraceManager>(*pl->fwd, pl->rcu, pl->pool, *pl->ports,
                                                     *pl->router);
  }
  void TearDown() override {
    traces.reset();
    pl.reset();
  }
  void learn_a_and_b() {
    pl->send(p1, {{.dst = B, .src = A}});
    pl->learn();
    pl->send(p2, {{.dst = A, .src = B}});
    pl->learn();
    pl->drain_all();
  }
  vswitch::dp::TraceStatus start(const std::string& port, uint32_t count) {
    vswitch::dp::TraceStartRequest req;
    req.set_port(port);
    req.set_count(count);
    vswitch::dp::TraceStatus st;
    EXPECT_TRUE(traces->start(req, &st).ok());
    return st;
  }
  vswitch::dp::TraceStatus show() {
    vswitch::dp::TraceStatus st;
    traces->show(&st);
    return st;
  }

  std::unique_ptr<Pipeline> pl;
  std::unique_ptr<vsw::dp::TraceManager> traces;
  uint16_t p1 = 0, p2 = 0, p3 = 0;
  const Mac A = mac(0xa), B = mac(0xb), C = mac(0xc);
};

TEST_F(TracePipeline, RecordsTheStagesOfTheMarkedPacketsOnly) {
  learn_a_and_b();
  start("p1", 2);
  pl->send(p2, {{.dst = A, .src = B}});  // another port: not marked
  pl->send(p1, {{.dst = B, .src = A}, {.dst = C, .src = A}, {.dst = B, .src = A}});
  pl->drain_all();
  const vswitch::dp::TraceStatus st = show();
  EXPECT_FALSE(st.running()) << "the count is reached";
  EXPECT_EQ(st.marked(), 2u);
  ASSERT_EQ(st.packets_size(), 2);
  const auto& unicast = st.packets(0);
  EXPECT_EQ(unicast.port(), "p1");
  EXPECT_NE(unicast.summary().find("ipv4 10.0.0.1 > 10.0.0.2 udp 1000 > 2000"), std::string::npos)
      << unicast.summary();
  EXPECT_TRUE(has_step(unicast, "fdb", "destination on p2")) << steps_text(unicast);
  EXPECT_EQ(unicast.result(), "output p2") << steps_text(unicast);
  // C is unknown: flooded, and each copy's output joins the one record.
  const auto& flooded = st.packets(1);
  EXPECT_TRUE(has_step(flooded, "fdb", "destination unknown: flood")) << steps_text(flooded);
  EXPECT_EQ(flooded.result(), "output p2, p3") << steps_text(flooded);
  // The third packet was not marked; a new start forgets the old records.
  start("", 10);
  EXPECT_EQ(show().packets_size(), 0);
  pl->send(p1, {{.dst = B, .src = A}});
  const auto again = show();
  ASSERT_EQ(again.packets_size(), 1);
  EXPECT_TRUE(again.running());
  EXPECT_TRUE(has_step(again.packets(0), "flow-cache", "hit: to p2"))
      << steps_text(again.packets(0));
  vswitch::dp::TraceStatus stopped;
  ASSERT_TRUE(traces->stop(&stopped).ok());
  EXPECT_EQ(stopped.packets_size(), 1);
  EXPECT_EQ(pl->fwd->trace.load(), nullptr);
  pl->send(p1, {{.dst = B, .src = A}});
  EXPECT_EQ(show().packets_size(), 0);
}

TEST_F(TracePipeline, NamesTheAclRuleThatDropped) {
  learn_a_and_b();
  AclRule deny;
  deny.set_id(7);
  deny.set_priority(10);
  deny.set_action(vswitch::dp::ACL_ACTION_DENY);
  deny.set_proto(17);
  deny.set_dport("2000");
  vswitch::dp::AclSetRequest req;
  req.set_port("p2");
  req.set_dir(vswitch::dp::ACL_DIRECTION_TO_PORT);
  req.set_default_action(vswitch::dp::ACL_ACTION_PERMIT);
  *req.add_rules() = deny;
  ASSERT_TRUE(pl->acl->set(p2, req).ok());
  start("", 1);
  pl->send(p1, {{.dst = B, .src = A}});
  EXPECT_EQ(pl->receive(p2).size(), 0u);
  const auto st = show();
  ASSERT_EQ(st.packets_size(), 1);
  const auto& p = st.packets(0);
  EXPECT_TRUE(has_step(p, "acl", "p2 to-port: rule 7 deny: dropped (acl_deny)")) << steps_text(p);
  EXPECT_EQ(p.result(), "dropped: acl_deny") << steps_text(p);
}

TEST_F(TracePipeline, TracePacketDecidesWithoutSendingOrLearning) {
  learn_a_and_b();
  vswitch::dp::TracePacketRequest req;
  req.set_port("p1");
  req.set_src("10.0.0.1");
  req.set_dst("10.0.0.2");
  req.set_protocol(6);
  req.set_dst_port(80);
  req.set_src_mac("02:00:00:00:00:0a");
  req.set_dst_mac("02:00:00:00:00:0b");
  vswitch::dp::TracedPacket out;
  ASSERT_TRUE(traces->trace_packet(req, &out).ok());
  EXPECT_EQ(out.result(), "output p2") << steps_text(out);
  EXPECT_NE(out.summary().find("tcp 49152 > 80 [S]"), std::string::npos) << out.summary();
  EXPECT_TRUE(has_step(out, "output", "not sent")) << steps_text(out);
  EXPECT_EQ(pl->receive(p2).size(), 0u);
  EXPECT_EQ(pl->worker().ports[p1].rx_packets.load(), 1u) << "the real counters did not move";
  // A source the FDB does not know is not learned by a dry run.
  req.set_src_mac("02:00:00:00:00:99");
  ASSERT_TRUE(traces->trace_packet(req, &out).ok());
  EXPECT_TRUE(has_step(out, "fdb", "a dry run learns nothing")) << steps_text(out);
  pl->learn();
  vswitch::dp::MacList macs;
  ASSERT_TRUE(pl->bridges->mac_list("br0", &macs).ok());
  EXPECT_EQ(macs.macs_size(), 2);
  // Errors name the field.
  req.set_dst("2001:db8::1");
  EXPECT_NE(traces->trace_packet(req, &out).message.find("dst:"), std::string::npos);
  req.set_dst("10.0.0.2");
  req.clear_src_mac();
  const auto s = traces->trace_packet(req, &out);
  EXPECT_NE(s.message.find("src_mac:"), std::string::npos) << s.message;
  req.set_port("nope");
  EXPECT_EQ(traces->trace_packet(req, &out).code, vswitch::dp::ERROR_CODE_NOT_FOUND);
}

TEST_F(TracePipeline, CountIsBounded) {
  vswitch::dp::TraceStartRequest req;
  req.set_count(vsw::dp::kMaxTraceCount + 1);
  vswitch::dp::TraceStatus st;
  const auto s = traces->start(req, &st);
  EXPECT_EQ(s.code, vswitch::dp::ERROR_CODE_INVALID_ARGUMENT);
  EXPECT_NE(s.message.find("count:"), std::string::npos);
  vswitch::dp::TraceStatus none;
  EXPECT_EQ(traces->stop(&none).code, vswitch::dp::ERROR_CODE_FAILED_PRECONDITION);
}

}  // namespace
}  // namespace vsw::test
