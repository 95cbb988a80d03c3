// Validation of bridges, attachments, static MACs and MAC limits: the pure checks of
// bridge_spec.h, then the same rules through a Controller with no dataplane (every change is
// stored and pending), including the cross-object ones (ports, cross-connects).
#include "bridge_spec.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "controller.h"
#include "state_store.h"

namespace vsw::ctl {
namespace {

using grpc::StatusCode;
using vswitch::state::DesiredState;

// The status has `code` and its message starts with "field:".
void expect_status(const grpc::Status& st, StatusCode code, const std::string& field) {
  EXPECT_EQ(st.error_code(), code) << st.error_message();
  EXPECT_EQ(st.error_message().rfind(field + ":", 0), 0u) << st.error_message();
}

vswitch::v1::BridgeSpec bridge(const std::string& name, uint32_t aging = 0, uint32_t limit = 0) {
  vswitch::v1::BridgeSpec b;
  b.set_name(name);
  b.set_aging_seconds(aging);
  b.set_mac_limit(limit);
  return b;
}

vswitch::v1::AttachPortRequest attach(const std::string& br, const std::string& port,
                                      uint32_t vlan = 0) {
  vswitch::v1::AttachPortRequest a;
  a.set_bridge(br);
  a.set_port(port);
  a.set_vlan(vlan);
  return a;
}

vswitch::v1::AddMacRequest mac(const std::string& br, const std::string& m,
                               const std::string& port) {
  vswitch::v1::AddMacRequest r;
  r.set_bridge(br);
  r.set_mac(m);
  r.set_port(port);
  return r;
}

// Ports p1..p3 and q1, q2 (cross-connected), bridges br0 and br1; p1 untagged in br0.
DesiredState sample() {
  DesiredState s;
  for (const char* name : {"p1", "p2", "p3", "q1", "q2"}) {
    auto* p = s.add_ports();
    p->set_name(name);
    p->set_type("ring");
  }
  auto* x = s.add_xconnects();
  x->set_port_a("q1");
  x->set_port_b("q2");
  *s.add_bridges() = normalize_bridge(bridge("br0"));
  *s.add_bridges() = normalize_bridge(bridge("br1"));
  auto* a = s.add_attachments();
  a->set_bridge("br0");
  a->set_port("p1");
  return s;
}

TEST(BridgeSpec, ValidatesNameAgingAndLimit) {
  EXPECT_TRUE(validate_bridge(bridge("br0")).ok());
  EXPECT_TRUE(validate_bridge(bridge("br-0.x_1", 86400, 65536)).ok());
  expect_status(validate_bridge(bridge("")), StatusCode::INVALID_ARGUMENT, "name");
  expect_status(validate_bridge(bridge("br/0")), StatusCode::INVALID_ARGUMENT, "name");
  expect_status(validate_bridge(bridge(std::string(33, 'b'))), StatusCode::INVALID_ARGUMENT,
                "name");
  expect_status(validate_bridge(bridge("br0", 86401)), StatusCode::INVALID_ARGUMENT,
                "aging_seconds");
  expect_status(validate_bridge(bridge("br0", 0, 65537)), StatusCode::INVALID_ARGUMENT,
                "mac_limit");
}

TEST(BridgeSpec, NormalizeMakesDefaultsExplicit) {
  const auto b = normalize_bridge(bridge("br0"));
  EXPECT_EQ(b.aging_seconds(), kDefaultAgingSeconds);
  EXPECT_EQ(b.mac_limit(), kDefaultBridgeMacLimit);
  const auto c = normalize_bridge(bridge("br0", 10, 20));
  EXPECT_EQ(c.aging_seconds(), 10u);
  EXPECT_EQ(c.mac_limit(), 20u);
}

TEST(BridgeSpec, UpdateNeedsSomethingInRange) {
  vswitch::v1::SetBridgeRequest r;
  r.set_name("br0");
  expect_status(validate_bridge_update(r), StatusCode::INVALID_ARGUMENT, "aging_seconds");
  r.set_mac_limit(100);
  EXPECT_TRUE(validate_bridge_update(r).ok());
  r.set_aging_seconds(100000);
  expect_status(validate_bridge_update(r), StatusCode::INVALID_ARGUMENT, "aging_seconds");
  r.set_aging_seconds(0);
  r.set_mac_limit(70000);
  expect_status(validate_bridge_update(r), StatusCode::INVALID_ARGUMENT, "mac_limit");
}

TEST(BridgeSpec, PortMacLimit) {
  EXPECT_TRUE(validate_port_mac_limit(0).ok());
  EXPECT_TRUE(validate_port_mac_limit(kMaxMacLimit).ok());
  expect_status(validate_port_mac_limit(kMaxMacLimit + 1), StatusCode::INVALID_ARGUMENT,
                "mac_limit");
}

TEST(BridgeSpec, StaticMacMustBeUnicastAndIsLowerCased) {
  std::string out;
  ASSERT_TRUE(parse_static_mac("02:AB:cd:00:00:01", &out).ok());
  EXPECT_EQ(out, "02:ab:cd:00:00:01");
  for (const char* bad : {"", "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
                          "02:00:00:00:00", "02-00-00-00-00-01", "zz:00:00:00:00:01"}) {
    expect_status(parse_static_mac(bad, &out), StatusCode::INVALID_ARGUMENT, "mac");
  }
}

TEST(BridgeSpec, AddBridgeRefusesDuplicates) {
  const DesiredState s = sample();
  EXPECT_TRUE(check_add_bridge(s, bridge("br2")).ok());
  expect_status(check_add_bridge(s, bridge("br0")), StatusCode::ALREADY_EXISTS, "name");
}

TEST(BridgeSpec, DeleteBridgeWithPortsNamesTheCount) {
  DesiredState s = sample();
  expect_status(check_delete_bridge(s, "nope"), StatusCode::NOT_FOUND, "name");
  EXPECT_TRUE(check_delete_bridge(s, "br1").ok());
  auto* a = s.add_attachments();
  a->set_bridge("br0");
  a->set_port("p2");
  const grpc::Status st = check_delete_bridge(s, "br0");
  expect_status(st, StatusCode::FAILED_PRECONDITION, "name");
  EXPECT_NE(st.error_message().find("2 port(s)"), std::string::npos) << st.error_message();
}

TEST(BridgeSpec, AttachChecksFieldsAndReferences) {
  const DesiredState s = sample();
  EXPECT_TRUE(check_attach(s, attach("br0", "p2")).ok());
  EXPECT_TRUE(check_attach(s, attach("br0", "p2", 4094)).ok());
  expect_status(check_attach(s, attach("", "p2")), StatusCode::INVALID_ARGUMENT, "bridge");
  expect_status(check_attach(s, attach("br0", "")), StatusCode::INVALID_ARGUMENT, "port");
  expect_status(check_attach(s, attach("br0", "p2", 4095)), StatusCode::INVALID_ARGUMENT, "vlan");
  expect_status(check_attach(s, attach("nope", "p2")), StatusCode::NOT_FOUND, "bridge");
  expect_status(check_attach(s, attach("br0", "nope")), StatusCode::NOT_FOUND, "port");
}

TEST(BridgeSpec, CrossConnectedPortCannotBeAttached) {
  const DesiredState s = sample();
  expect_status(check_attach(s, attach("br0", "q1")), StatusCode::FAILED_PRECONDITION, "port");
  expect_status(check_attach(s, attach("br0", "q2", 10)), StatusCode::FAILED_PRECONDITION, "port");
}

TEST(BridgeSpec, SeveralBridgesOnlyWithDistinctVlansAndOneUntagged) {
  DesiredState s = sample();
  // p1 is untagged in br0: once per bridge, and untagged only once.
  expect_status(check_attach(s, attach("br0", "p1", 10)), StatusCode::ALREADY_EXISTS, "port");
  expect_status(check_attach(s, attach("br1", "p1")), StatusCode::ALREADY_EXISTS, "vlan");
  EXPECT_TRUE(check_attach(s, attach("br1", "p1", 10)).ok());
  auto* a = s.add_attachments();
  a->set_bridge("br1");
  a->set_port("p1");
  a->set_vlan(10);
  *s.add_bridges() = normalize_bridge(bridge("br2"));
  expect_status(check_attach(s, attach("br2", "p1", 10)), StatusCode::ALREADY_EXISTS, "vlan");
  EXPECT_TRUE(check_attach(s, attach("br2", "p1", 20)).ok());
}

TEST(BridgeSpec, VlansPerPortAreBounded) {
  DesiredState s = sample();
  for (int i = 0; i < kMaxVlansPerPort; ++i) {
    const std::string name = "v" + std::to_string(i);
    *s.add_bridges() = normalize_bridge(bridge(name));
    ASSERT_TRUE(check_attach(s, attach(name, "p2", 100 + i)).ok());
    auto* a = s.add_attachments();
    a->set_bridge(name);
    a->set_port("p2");
    a->set_vlan(100 + i);
  }
  expect_status(check_attach(s, attach("br1", "p2", 99)), StatusCode::RESOURCE_EXHAUSTED, "vlan");
  EXPECT_TRUE(check_attach(s, attach("br1", "p2")).ok());  // untagged is not a VLAN
}

TEST(BridgeSpec, DetachRefusesWhileStaticMacsPointAtThePort) {
  DesiredState s = sample();
  vswitch::v1::DetachPortRequest d;
  d.set_bridge("br0");
  d.set_port("p2");
  expect_status(check_detach(s, d), StatusCode::NOT_FOUND, "port");
  d.set_port("p1");
  EXPECT_TRUE(check_detach(s, d).ok());
  d.set_bridge("nope");
  expect_status(check_detach(s, d), StatusCode::NOT_FOUND, "bridge");
  d.set_bridge("br0");
  auto* m = s.add_static_macs();
  m->set_bridge("br0");
  m->set_mac("02:00:00:00:00:01");
  m->set_port("p1");
  const grpc::Status st = check_detach(s, d);
  expect_status(st, StatusCode::FAILED_PRECONDITION, "port");
  EXPECT_NE(st.error_message().find("02:00:00:00:00:01"), std::string::npos);
}

TEST(BridgeSpec, StaticMacNeedsTheAttachment) {
  DesiredState s = sample();
  vswitch::state::StaticMacSpec stored;
  ASSERT_TRUE(check_add_mac(s, mac("br0", "02:00:00:00:00:AA", "p1"), &stored).ok());
  EXPECT_EQ(stored.mac(), "02:00:00:00:00:aa");
  expect_status(check_add_mac(s, mac("br0", "02:00:00:00:00:aa", "p2"), &stored),
                StatusCode::FAILED_PRECONDITION, "port");
  expect_status(check_add_mac(s, mac("br1", "02:00:00:00:00:aa", "p1"), &stored),
                StatusCode::FAILED_PRECONDITION, "port");
  expect_status(check_add_mac(s, mac("br0", "01:00:00:00:00:aa", "p1"), &stored),
                StatusCode::INVALID_ARGUMENT, "mac");
  expect_status(check_add_mac(s, mac("nope", "02:00:00:00:00:aa", "p1"), &stored),
                StatusCode::NOT_FOUND, "bridge");
  expect_status(check_add_mac(s, mac("br0", "02:00:00:00:00:aa", "nope"), &stored),
                StatusCode::NOT_FOUND, "port");
  *s.add_static_macs() = stored;
  // The same MAC in upper case is the same MAC.
  expect_status(check_add_mac(s, mac("br0", "02:00:00:00:00:AA", "p1"), &stored),
                StatusCode::ALREADY_EXISTS, "mac");
}

TEST(BridgeSpec, AttachedPortIsNamedForDeleteAndXconnect) {
  const DesiredState s = sample();
  EXPECT_TRUE(check_not_attached(s, "p2", "name").ok());
  const grpc::Status st = check_not_attached(s, "p1", "port_a");
  expect_status(st, StatusCode::FAILED_PRECONDITION, "port_a");
  EXPECT_NE(st.error_message().find("detach it first"), std::string::npos);
  EXPECT_NE(st.error_message().find("'br0'"), std::string::npos);
}

// ---- through the controller (no dataplane: everything is stored and pending) ----

class ControllerL2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vsw-bridge-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store_ = std::make_unique<StateStore>(dir_ + "/state");
    ASSERT_TRUE(store_->load().ok());
    controller_ = std::make_unique<Controller>(*store_, DesiredState{}, dir_ + "/run");
    for (const char* name : {"p1", "p2", "q1", "q2"}) {
      vswitch::v1::PortSpec p;
      p.set_name(name);
      p.set_type("ring");
      vswitch::v1::Port out;
      ASSERT_TRUE(controller_->add_port(p, &out).ok());
    }
  }
  void TearDown() override {
    controller_.reset();
    std::filesystem::remove_all(dir_);
  }

  // What a restarted controld would load.
  DesiredState stored() {
    LoadResult r = StateStore(dir_ + "/state").load();
    EXPECT_TRUE(r.ok()) << r.error;
    return r.state;
  }

  std::string dir_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(ControllerL2Test, ObjectsArePersistedBeforeTheReply) {
  Controller& c = *controller_;
  vswitch::v1::Bridge b;
  ASSERT_TRUE(c.add_bridge(bridge("br0", 60), &b).ok());
  EXPECT_EQ(b.spec().mac_limit(), kDefaultBridgeMacLimit);
  EXPECT_FALSE(b.state().programmed());
  vswitch::v1::Attachment a;
  ASSERT_TRUE(c.attach_port(attach("br0", "p1", 7), &a).ok());
  EXPECT_EQ(a.vlan(), 7u);
  vswitch::v1::StaticMac m;
  ASSERT_TRUE(c.add_mac(mac("br0", "02:00:00:00:00:0A", "p1"), &m).ok());
  EXPECT_EQ(m.mac(), "02:00:00:00:00:0a");
  vswitch::v1::SetPortRequest sp;
  sp.set_name("p2");
  sp.set_set_mac_limit(true);
  sp.set_mac_limit(5);
  vswitch::v1::Port port;
  ASSERT_TRUE(c.set_port(sp, &port).ok());
  EXPECT_EQ(port.spec().mac_limit(), 5u);

  const DesiredState s = stored();
  ASSERT_EQ(s.bridges_size(), 1);
  EXPECT_EQ(s.bridges(0).aging_seconds(), 60u);
  ASSERT_EQ(s.attachments_size(), 1);
  EXPECT_EQ(s.attachments(0).vlan(), 7u);
  ASSERT_EQ(s.static_macs_size(), 1);
  EXPECT_EQ(s.static_macs(0).mac(), "02:00:00:00:00:0a");
  EXPECT_EQ(s.ports(1).mac_limit(), 5u);

  vswitch::v1::Status status;
  c.status(&status);
  EXPECT_EQ(status.bridges(), 1u);
  EXPECT_EQ(status.attachments(), 1u);
  EXPECT_EQ(status.static_macs(), 1u);
}

TEST_F(ControllerL2Test, DependenciesAreRefusedBothWays) {
  Controller& c = *controller_;
  vswitch::v1::Bridge b;
  ASSERT_TRUE(c.add_bridge(bridge("br0"), &b).ok());
  vswitch::v1::Xconnect x;
  ASSERT_TRUE(c.add_xconnect("q1", "q2", &x).ok());
  vswitch::v1::Attachment a;
  expect_status(c.attach_port(attach("br0", "q1"), &a), StatusCode::FAILED_PRECONDITION, "port");
  ASSERT_TRUE(c.attach_port(attach("br0", "p1"), &a).ok());
  expect_status(c.add_xconnect("p1", "p2", &x), StatusCode::FAILED_PRECONDITION, "port_a");
  expect_status(c.add_xconnect("p2", "p1", &x), StatusCode::FAILED_PRECONDITION, "port_b");
  const grpc::Status del = c.delete_port("p1");
  expect_status(del, StatusCode::FAILED_PRECONDITION, "name");
  EXPECT_NE(del.error_message().find("detach it first"), std::string::npos);
  const grpc::Status del_bridge = c.delete_bridge("br0");
  expect_status(del_bridge, StatusCode::FAILED_PRECONDITION, "name");
  EXPECT_NE(del_bridge.error_message().find("1 port(s)"), std::string::npos);

  vswitch::v1::StaticMac m;
  ASSERT_TRUE(c.add_mac(mac("br0", "02:00:00:00:00:01", "p1"), &m).ok());
  vswitch::v1::DetachPortRequest d;
  d.set_bridge("br0");
  d.set_port("p1");
  expect_status(c.detach_port(d), StatusCode::FAILED_PRECONDITION, "port");
  vswitch::v1::DeleteMacRequest dm;
  dm.set_bridge("br0");
  dm.set_mac("02:00:00:00:00:01");
  ASSERT_TRUE(c.delete_mac(dm).ok());
  ASSERT_TRUE(c.detach_port(d).ok());
  ASSERT_TRUE(c.delete_bridge("br0").ok());
  ASSERT_TRUE(c.delete_port("p1").ok());
  const DesiredState s = stored();
  EXPECT_EQ(s.bridges_size(), 0);
  EXPECT_EQ(s.attachments_size(), 0);
  EXPECT_EQ(s.static_macs_size(), 0);
}

TEST_F(ControllerL2Test, SetBridgeAndSetPortValidate) {
  Controller& c = *controller_;
  vswitch::v1::Bridge b;
  ASSERT_TRUE(c.add_bridge(bridge("br0"), &b).ok());
  expect_status(c.add_bridge(bridge("br0"), &b), StatusCode::ALREADY_EXISTS, "name");
  vswitch::v1::SetBridgeRequest sb;
  sb.set_name("nope");
  sb.set_mac_limit(10);
  expect_status(c.set_bridge(sb, &b), StatusCode::NOT_FOUND, "name");
  sb.set_name("br0");
  ASSERT_TRUE(c.set_bridge(sb, &b).ok());
  EXPECT_EQ(b.spec().mac_limit(), 10u);
  EXPECT_EQ(b.spec().aging_seconds(), kDefaultAgingSeconds);  // kept

  vswitch::v1::SetPortRequest sp;
  vswitch::v1::Port port;
  sp.set_name("p1");
  sp.set_mac_limit(10);
  expect_status(c.set_port(sp, &port), StatusCode::INVALID_ARGUMENT, "set_mac_limit");
  sp.set_set_mac_limit(true);
  sp.set_mac_limit(kMaxMacLimit + 1);
  expect_status(c.set_port(sp, &port), StatusCode::INVALID_ARGUMENT, "mac_limit");
  sp.set_name("nope");
  sp.set_mac_limit(1);
  expect_status(c.set_port(sp, &port), StatusCode::NOT_FOUND, "name");
}

TEST_F(ControllerL2Test, MissingNamesAreInvalidArgument) {
  Controller& c = *controller_;
  vswitch::v1::Bridge b;
  expect_status(c.get_bridge("", &b), StatusCode::INVALID_ARGUMENT, "name");
  expect_status(c.delete_bridge(""), StatusCode::INVALID_ARGUMENT, "name");
  vswitch::v1::SetBridgeRequest sb;
  sb.set_aging_seconds(10);
  expect_status(c.set_bridge(sb, &b), StatusCode::INVALID_ARGUMENT, "name");
  vswitch::v1::DetachPortRequest d;
  expect_status(c.detach_port(d), StatusCode::INVALID_ARGUMENT, "bridge");
  vswitch::v1::DeleteMacRequest dm;
  dm.set_bridge("br0");
  expect_status(c.delete_mac(dm), StatusCode::INVALID_ARGUMENT, "mac");
  vswitch::v1::SetPortRequest sp;
  vswitch::v1::Port port;
  expect_status(c.set_port(sp, &port), StatusCode::INVALID_ARGUMENT, "name");
}

TEST_F(ControllerL2Test, LiveViewsNeedTheDataplane) {
  Controller& c = *controller_;
  vswitch::v1::ListMacsResponse macs;
  expect_status(c.list_macs("nope", &macs), StatusCode::NOT_FOUND, "bridge");
  expect_status(c.list_macs("", &macs), StatusCode::UNAVAILABLE, "dataplane");
  expect_status(c.flush_macs(""), StatusCode::UNAVAILABLE, "dataplane");
  vswitch::v1::ListFlowsResponse flows;
  expect_status(c.list_flows(0, &flows), StatusCode::UNAVAILABLE, "dataplane");
  vswitch::v1::FlowStats stats;
  expect_status(c.flow_stats(&stats), StatusCode::UNAVAILABLE, "dataplane");
}

}  // namespace
}  // namespace vsw::ctl
