// ACL rules, defaults and conntrack settings: the pure checks and translations of acl_spec.h,
// then the same through a Controller with no dataplane (stored and pending): ids, port
// deletion, persistence.
#include "acl_spec.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>

#include "controller.h"
#include "state_store.h"

namespace vsw::ctl {
namespace {

using grpc::StatusCode;
using vswitch::state::AclRecord;
using vswitch::state::DesiredState;
using vswitch::v1::AclRuleSpec;

void expect_status(const grpc::Status& st, StatusCode code, const std::string& field) {
  EXPECT_EQ(st.error_code(), code) << st.error_message();
  EXPECT_EQ(st.error_message().rfind(field + ":", 0), 0u) << st.error_message();
}

AclRuleSpec rule(const std::string& port, const std::string& dir, uint32_t priority,
                 const std::string& action) {
  AclRuleSpec r;
  r.set_port(port);
  r.set_dir(dir);
  r.set_priority(priority);
  r.set_action(action);
  return r;
}

TEST(AclSpec, RequiredFieldsAndEachFieldNamed) {
  AclRuleSpec out;
  expect_status(validate_acl_rule(rule("", "to-port", 1, "permit"), &out),
                StatusCode::INVALID_ARGUMENT, "port");
  expect_status(validate_acl_rule(rule("a", "", 1, "permit"), &out), StatusCode::INVALID_ARGUMENT,
                "dir");
  expect_status(validate_acl_rule(rule("a", "in", 1, "permit"), &out), StatusCode::INVALID_ARGUMENT,
                "dir");
  expect_status(validate_acl_rule(rule("a", "to-port", 1, ""), &out), StatusCode::INVALID_ARGUMENT,
                "action");
  expect_status(validate_acl_rule(rule("a", "to-port", 1, "allow"), &out),
                StatusCode::INVALID_ARGUMENT, "action");
  expect_status(validate_acl_rule(rule("a", "to-port", 65536, "permit"), &out),
                StatusCode::INVALID_ARGUMENT, "priority");

  struct Case {
    const char* field;
    std::function<void(AclRuleSpec*)> set;
  };
  const std::vector<Case> cases = {
      {"src", [](AclRuleSpec* r) { r->set_src("10.0.0.1/8"); }},
      {"src", [](AclRuleSpec* r) { r->set_src("nope"); }},
      {"dst", [](AclRuleSpec* r) { r->set_dst("10.0.0.0/33"); }},
      {"dst",
       [](AclRuleSpec* r) {
         r->set_src("10.0.0.0/8");
         r->set_dst("2001:db8::/32");
       }},
      {"proto", [](AclRuleSpec* r) { r->set_proto("gre-ish"); }},
      {"proto", [](AclRuleSpec* r) { r->set_proto("256"); }},
      {"proto",
       [](AclRuleSpec* r) {
         r->set_src("2001:db8::/32");
         r->set_proto("icmp");
       }},
      {"sport", [](AclRuleSpec* r) { r->set_sport("80"); }},  // no proto
      {"dport",
       [](AclRuleSpec* r) {
         r->set_proto("tcp");
         r->set_dport("90-80");
       }},
      {"dport",
       [](AclRuleSpec* r) {
         r->set_proto("icmp");
         r->set_dport("80");
       }},
      {"icmp-type", [](AclRuleSpec* r) { r->set_icmp_type("8"); }},  // no proto
      {"icmp-type",
       [](AclRuleSpec* r) {
         r->set_proto("icmp");
         r->set_icmp_type("256");
       }},
  };
  for (const Case& c : cases) {
    AclRuleSpec r = rule("a", "from-port", 10, "deny");
    c.set(&r);
    const grpc::Status st = validate_acl_rule(r, &out);
    SCOPED_TRACE(r.ShortDebugString());
    expect_status(st, StatusCode::INVALID_ARGUMENT, c.field);
  }
}

TEST(AclSpec, CanonicalForm) {
  AclRuleSpec r = rule("a", "to-port", 100, "permit-stateful");
  r.set_id(77);  // controld's to hand out
  r.set_src("10.1.0.0/24");
  r.set_dst("2001:DB8::1");
  r.set_src("");
  r.set_proto("6");
  r.set_sport("0-65535");
  r.set_dport("80-80");
  AclRuleSpec out;
  ASSERT_TRUE(validate_acl_rule(r, &out).ok());
  EXPECT_EQ(out.id(), 0u);
  EXPECT_EQ(out.port(), "a");
  EXPECT_EQ(out.dir(), "to-port");
  EXPECT_EQ(out.dst(), "2001:db8::1/128");
  EXPECT_EQ(out.proto(), "tcp");
  EXPECT_EQ(out.sport(), "");
  EXPECT_EQ(out.dport(), "80");
  EXPECT_EQ(out.action(), "permit-stateful");

  AclRuleSpec icmp = rule("a", "from-port", 0, "permit");
  icmp.set_proto("1");
  icmp.set_icmp_type("08");
  ASSERT_TRUE(validate_acl_rule(icmp, &out).ok());
  EXPECT_EQ(out.proto(), "icmp");
  EXPECT_EQ(out.icmp_type(), "8");

  AclRuleSpec odd = rule("a", "from-port", 0, "deny");
  odd.set_proto("47");
  odd.set_src("10.0.0.1");
  ASSERT_TRUE(validate_acl_rule(odd, &out).ok());
  EXPECT_EQ(out.proto(), "47");
  EXPECT_EQ(out.src(), "10.0.0.1/32");

  // The canonical form parses back to the same rule model, and is a duplicate of itself.
  acl::Rule model;
  ASSERT_EQ(to_acl_rule(out, &model), "");
  EXPECT_EQ(model.proto, 47);
  EXPECT_TRUE(same_acl_rule(out, out));
}

TEST(AclSpec, DefaultAndConntrackValidation) {
  vswitch::v1::SetAclDefaultRequest d;
  d.set_port("a");
  d.set_dir("to-port");
  d.set_action("permit-stateful");
  expect_status(validate_acl_default(d), StatusCode::INVALID_ARGUMENT, "action");
  d.set_action("deny");
  EXPECT_TRUE(validate_acl_default(d).ok());
  d.set_dir("both");
  expect_status(validate_acl_default(d), StatusCode::INVALID_ARGUMENT, "dir");

  vswitch::v1::SetConntrackRequest c;
  expect_status(validate_conntrack(c), StatusCode::INVALID_ARGUMENT, "limit");
  c.set_limit(1000);
  EXPECT_TRUE(validate_conntrack(c).ok());
  (*c.mutable_timeouts())["established"] = 0;
  expect_status(validate_conntrack(c), StatusCode::INVALID_ARGUMENT, "timeouts");
  (*c.mutable_timeouts())["established"] = 60;
  EXPECT_TRUE(validate_conntrack(c).ok());
  (*c.mutable_timeouts())["establshed"] = 60;
  const grpc::Status st = validate_conntrack(c);
  expect_status(st, StatusCode::INVALID_ARGUMENT, "timeouts");
  EXPECT_NE(st.error_message().find("establshed"), std::string::npos);
}

TEST(AclSpec, DataplaneRequestAndLiveComparison) {
  AclRecord rec;
  rec.set_port("b");
  rec.set_dir("to-port");
  rec.set_default_action("deny");
  AclRuleSpec r1;
  ASSERT_TRUE(validate_acl_rule(
                  [] {
                    AclRuleSpec r = rule("b", "to-port", 100, "permit-stateful");
                    r.set_src("10.1.0.0/24");
                    r.set_proto("tcp");
                    r.set_dport("80");
                    return r;
                  }(),
                  &r1)
                  .ok());
  r1.set_id(3);
  AclRuleSpec r2;
  ASSERT_TRUE(validate_acl_rule(
                  [] {
                    AclRuleSpec r = rule("b", "to-port", 200, "permit");
                    r.set_proto("icmpv6");
                    r.set_icmp_type("128");
                    return r;
                  }(),
                  &r2)
                  .ok());
  r2.set_id(5);
  *rec.add_rules() = r1;
  *rec.add_rules() = r2;

  const auto order = evaluation_order(rec);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0]->id(), 5u);  // the higher priority first

  const vswitch::dp::AclSetRequest req = acl_set_request("b", "to-port", &rec);
  EXPECT_EQ(req.port(), "b");
  EXPECT_EQ(req.dir(), vswitch::dp::ACL_DIRECTION_TO_PORT);
  EXPECT_EQ(req.default_action(), vswitch::dp::ACL_ACTION_DENY);
  ASSERT_EQ(req.rules_size(), 2);
  EXPECT_EQ(req.rules(0).id(), 3u);
  EXPECT_EQ(req.rules(0).action(), vswitch::dp::ACL_ACTION_PERMIT_STATEFUL);
  EXPECT_EQ(req.rules(0).src(), "10.1.0.0/24");
  ASSERT_TRUE(req.rules(0).has_proto());
  EXPECT_EQ(req.rules(0).proto(), 6u);
  EXPECT_EQ(req.rules(0).dport(), "80");
  EXPECT_FALSE(req.rules(0).has_icmp_type());
  EXPECT_EQ(req.rules(1).proto(), 58u);
  ASSERT_TRUE(req.rules(1).has_icmp_type());
  EXPECT_EQ(req.rules(1).icmp_type(), 128u);

  const vswitch::dp::AclSetRequest none = acl_set_request("b", "from-port", nullptr);
  EXPECT_EQ(none.dir(), vswitch::dp::ACL_DIRECTION_FROM_PORT);
  EXPECT_EQ(none.default_action(), vswitch::dp::ACL_ACTION_PERMIT);
  EXPECT_EQ(none.rules_size(), 0);

  // What the dataplane would list back, in its own order and spelling.
  vswitch::dp::PortAclStatus live;
  live.set_port("b");
  live.set_dir(vswitch::dp::ACL_DIRECTION_TO_PORT);
  live.set_default_action(vswitch::dp::ACL_ACTION_DENY);
  *live.add_rules()->mutable_rule() = req.rules(1);
  *live.add_rules()->mutable_rule() = req.rules(0);
  live.mutable_rules(1)->mutable_rule()->set_src("10.1.0.0/24");
  EXPECT_TRUE(acl_matches_live(&rec, live));
  live.mutable_rules(1)->mutable_rule()->set_dport("81");
  EXPECT_FALSE(acl_matches_live(&rec, live));
  live.mutable_rules(1)->mutable_rule()->set_dport("80");
  live.set_default_action(vswitch::dp::ACL_ACTION_PERMIT);
  EXPECT_FALSE(acl_matches_live(&rec, live));
  EXPECT_FALSE(acl_matches_live(nullptr, live));
  vswitch::dp::PortAclStatus empty;
  EXPECT_TRUE(acl_matches_live(nullptr, empty));
}

class ControllerAclTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vsw-acl-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store_ = std::make_unique<StateStore>(dir_ + "/state");
    ASSERT_TRUE(store_->load().ok());
    controller_ = std::make_unique<Controller>(*store_, DesiredState{}, dir_ + "/run");
    for (const char* name : {"a", "b"}) {
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
  grpc::Status add(const AclRuleSpec& spec, uint32_t* id = nullptr) {
    vswitch::v1::AclRule out;
    grpc::Status st = controller_->add_acl_rule(spec, &out);
    if (id) *id = out.spec().id();
    return st;
  }
  DesiredState stored() {
    LoadResult r = StateStore(dir_ + "/state").load();
    EXPECT_TRUE(r.ok()) << r.error;
    return r.state;
  }

  std::string dir_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(ControllerAclTest, IdsIncreaseAcrossPortsAndAreNeverReused) {
  uint32_t id1 = 0, id2 = 0, id3 = 0, id4 = 0;
  ASSERT_TRUE(add(rule("a", "to-port", 10, "permit"), &id1).ok());
  ASSERT_TRUE(add(rule("a", "from-port", 10, "permit"), &id2).ok());
  AclRuleSpec r = rule("b", "to-port", 10, "deny");
  r.set_proto("udp");
  ASSERT_TRUE(add(r, &id3).ok());
  EXPECT_EQ(id1, 1u);
  EXPECT_EQ(id2, 2u);
  EXPECT_EQ(id3, 3u);
  // Same rule again: refused, naming the existing one; the other direction is another list.
  const grpc::Status dup = add(rule("a", "to-port", 10, "permit"));
  expect_status(dup, StatusCode::ALREADY_EXISTS, "rule");
  EXPECT_NE(dup.error_message().find("id 1"), std::string::npos) << dup.error_message();

  ASSERT_TRUE(controller_->delete_acl_rule("b", id3).ok());
  ASSERT_TRUE(add(r, &id4).ok());
  EXPECT_EQ(id4, 4u);  // 3 is gone for good

  expect_status(controller_->delete_acl_rule("b", id3), StatusCode::NOT_FOUND, "id");
  expect_status(controller_->delete_acl_rule("a", id4), StatusCode::NOT_FOUND, "id");
  expect_status(controller_->delete_acl_rule("zz", id4), StatusCode::NOT_FOUND, "port");
  expect_status(controller_->delete_acl_rule("b", 0), StatusCode::INVALID_ARGUMENT, "id");
  expect_status(add(rule("zz", "to-port", 1, "permit")), StatusCode::NOT_FOUND, "port");

  const DesiredState s = stored();
  EXPECT_EQ(s.acl_next_id(), 5u);
  ASSERT_EQ(s.acls_size(), 3);
}

TEST_F(ControllerAclTest, ListDefaultsAndPortDeletion) {
  vswitch::v1::SetAclDefaultRequest d;
  d.set_port("b");
  d.set_dir("to-port");
  d.set_action("deny");
  vswitch::v1::PortAcl acl;
  ASSERT_TRUE(controller_->set_acl_default(d, &acl).ok());
  EXPECT_EQ(acl.default_action(), "deny");
  EXPECT_FALSE(acl.programmed());  // no dataplane: pending
  uint32_t low = 0, high = 0;
  ASSERT_TRUE(add(rule("b", "to-port", 5, "permit"), &low).ok());
  AclRuleSpec h = rule("b", "to-port", 500, "deny");
  h.set_src("10.9.0.0/16");
  ASSERT_TRUE(add(h, &high).ok());

  vswitch::v1::ListAclsResponse list;
  ASSERT_TRUE(controller_->list_acls("b", &list).ok());
  ASSERT_EQ(list.acls_size(), 2);  // both directions, with a port
  EXPECT_EQ(list.acls(0).dir(), "to-port");
  ASSERT_EQ(list.acls(0).rules_size(), 2);
  EXPECT_EQ(list.acls(0).rules(0).spec().id(), high);  // evaluation order
  EXPECT_EQ(list.acls(1).dir(), "from-port");
  EXPECT_EQ(list.acls(1).default_action(), "permit");
  EXPECT_FALSE(list.counters_error().empty());
  list.Clear();
  ASSERT_TRUE(controller_->list_acls("", &list).ok());
  EXPECT_EQ(list.acls_size(), 1);  // only what has an ACL
  expect_status(controller_->list_acls("zz", &list), StatusCode::NOT_FOUND, "port");

  // Back to permit with no rules: the record goes.
  ASSERT_TRUE(controller_->delete_acl_rule("b", low).ok());
  ASSERT_TRUE(controller_->delete_acl_rule("b", high).ok());
  EXPECT_EQ(stored().acls_size(), 1);
  d.set_action("permit");
  ASSERT_TRUE(controller_->set_acl_default(d, &acl).ok());
  EXPECT_EQ(stored().acls_size(), 0);

  // Deleting a port deletes its ACL; the next port of that name starts without one, and
  // ids keep growing.
  uint32_t id = 0;
  ASSERT_TRUE(add(rule("a", "from-port", 1, "deny"), &id).ok());
  ASSERT_TRUE(controller_->delete_port("a").ok());
  EXPECT_EQ(stored().acls_size(), 0);
  vswitch::v1::PortSpec p;
  p.set_name("a");
  p.set_type("ring");
  vswitch::v1::Port port;
  ASSERT_TRUE(controller_->add_port(p, &port).ok());
  list.Clear();
  ASSERT_TRUE(controller_->list_acls("a", &list).ok());
  EXPECT_EQ(list.acls(0).rules_size() + list.acls(1).rules_size(), 0);
  uint32_t next = 0;
  ASSERT_TRUE(add(rule("a", "from-port", 1, "deny"), &next).ok());
  EXPECT_GT(next, id);
}

TEST_F(ControllerAclTest, ConntrackStoredAndConnectionsNeedTheDataplane) {
  vswitch::v1::SetConntrackRequest c;
  c.set_limit(1000);
  (*c.mutable_timeouts())["established"] = 60;
  vswitch::v1::Conntrack ct;
  ASSERT_TRUE(controller_->set_conntrack(c, &ct).ok());
  EXPECT_EQ(ct.spec().limit(), 1000u);
  EXPECT_FALSE(ct.has_stats());
  EXPECT_FALSE(ct.stats_error().empty());
  vswitch::v1::SetConntrackRequest c2;
  (*c2.mutable_timeouts())["udp_replied"] = 5;
  ASSERT_TRUE(controller_->set_conntrack(c2, &ct).ok());
  const DesiredState s = stored();
  EXPECT_EQ(s.conntrack().limit(), 1000u);
  EXPECT_EQ(s.conntrack().timeouts().at("established"), 60u);
  EXPECT_EQ(s.conntrack().timeouts().at("udp_replied"), 5u);

  vswitch::v1::ListConnectionsRequest lr;
  vswitch::v1::ListConnectionsResponse conns;
  EXPECT_EQ(controller_->list_connections(lr, &conns).error_code(), StatusCode::UNAVAILABLE);
  lr.set_port("zz");
  expect_status(controller_->list_connections(lr, &conns), StatusCode::NOT_FOUND, "port");
  vswitch::v1::FlushConnectionsResponse flushed;
  EXPECT_EQ(controller_->flush_connections("", &flushed).error_code(), StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace vsw::ctl
