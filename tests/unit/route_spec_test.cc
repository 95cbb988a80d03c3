// Router interfaces and static routes: the pure checks of route_spec.h, then the same rules
// through a Controller with no dataplane (stored and pending), with the cross-object ones.
#include "route_spec.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "controller.h"
#include "state_store.h"

namespace vsw::ctl {
namespace {

using grpc::StatusCode;
using vswitch::state::DesiredState;
using vswitch::v1::RouterInterfaceSpec;
using vswitch::v1::RouteSpec;

void expect_status(const grpc::Status& st, StatusCode code, const std::string& field) {
  EXPECT_EQ(st.error_code(), code) << st.error_message();
  EXPECT_EQ(st.error_message().rfind(field + ":", 0), 0u) << st.error_message();
}

RouterInterfaceSpec rif(const std::string& name, const std::string& bridge,
                        std::vector<std::string> addresses) {
  RouterInterfaceSpec r;
  r.set_name(name);
  r.set_bridge(bridge);
  for (auto& a : addresses) r.add_addresses(a);
  return r;
}

RouteSpec route(const std::string& prefix, std::vector<std::string> via) {
  RouteSpec r;
  r.set_prefix(prefix);
  for (auto& v : via) r.add_via(v);
  return r;
}

TEST(IpPrefix, ParseContainOverlap) {
  IpPrefix p;
  ASSERT_TRUE(parse_prefix("10.1.2.3/16", &p));
  EXPECT_EQ(p.network_str(), "10.1.0.0/16");
  EXPECT_EQ(p.str(), "10.1.2.3/16");
  IpAddress a;
  ASSERT_TRUE(parse_ip("10.1.255.1", &a));
  EXPECT_TRUE(p.contains(a));
  ASSERT_TRUE(parse_ip("10.2.0.1", &a));
  EXPECT_FALSE(p.contains(a));
  IpPrefix q;
  ASSERT_TRUE(parse_prefix("10.1.128.0/17", &q));
  EXPECT_TRUE(p.overlaps(q));
  ASSERT_TRUE(parse_prefix("10.2.0.0/16", &q));
  EXPECT_FALSE(p.overlaps(q));
  ASSERT_TRUE(parse_prefix("FD00:0:0::1/64", &p));
  EXPECT_EQ(p.str(), "fd00::1/64");
  EXPECT_EQ(p.network_str(), "fd00::/64");
  ASSERT_TRUE(parse_prefix("0.0.0.0/0", &p));
  ASSERT_TRUE(parse_ip("203.0.113.9", &a));
  EXPECT_TRUE(p.contains(a));
  ASSERT_TRUE(parse_ip("fd00::1", &a));
  EXPECT_FALSE(p.contains(a));  // another family
  for (const char* bad :
       {"10.0.0.1", "10.0.0.1/33", "10.0.0.1/", "10.0.0.1/-1", "x/8", "::1/129", "10.0.0.1/1000"}) {
    EXPECT_FALSE(parse_prefix(bad, &p)) << bad;
  }
}

TEST(RouteSpec, RouterInterfaceFields) {
  RouterInterfaceSpec out;
  ASSERT_TRUE(
      validate_router_interface(rif("r1", "br0", {"10.0.0.1/24", "FD00::1/64"}), &out).ok());
  EXPECT_EQ(out.addresses(1), "fd00::1/64");
  EXPECT_EQ(out.mac(), derived_router_mac("r1"));
  expect_status(validate_router_interface(rif("", "br0", {"10.0.0.1/24"}), &out),
                StatusCode::INVALID_ARGUMENT, "name");
  expect_status(validate_router_interface(rif("r1", "", {"10.0.0.1/24"}), &out),
                StatusCode::INVALID_ARGUMENT, "bridge");
  expect_status(validate_router_interface(rif("r1", "br0", {}), &out), StatusCode::INVALID_ARGUMENT,
                "addresses");
  for (const char* bad : {"10.0.0.1", "224.0.0.1/4", "127.0.0.1/8", "0.0.0.0/8", "10.0.0.0/24",
                          "ff02::1/64", "::1/128"}) {
    expect_status(validate_router_interface(rif("r1", "br0", {bad}), &out),
                  StatusCode::INVALID_ARGUMENT, "addresses");
  }
  expect_status(validate_router_interface(rif("r1", "br0", {"10.0.0.1/24", "10.0.0.2/25"}), &out),
                StatusCode::INVALID_ARGUMENT, "addresses");
  RouterInterfaceSpec m = rif("r1", "br0", {"10.0.0.1/24"});
  m.set_mac("01:00:00:00:00:01");
  expect_status(validate_router_interface(m, &out), StatusCode::INVALID_ARGUMENT, "mac");
  m.set_mac("02:AA:00:00:00:01");
  ASSERT_TRUE(validate_router_interface(m, &out).ok());
  EXPECT_EQ(out.mac(), "02:aa:00:00:00:01");
}

TEST(RouteSpec, RouteFields) {
  RouteSpec out;
  ASSERT_TRUE(validate_route(route("10.1.0.0/16", {"10.0.0.2", "10.0.0.3"}), &out).ok());
  ASSERT_TRUE(validate_route(route("FD00:1::/48", {"FD00::2"}), &out).ok());
  EXPECT_EQ(out.prefix(), "fd00:1::/48");
  EXPECT_EQ(out.via(0), "fd00::2");
  ASSERT_TRUE(validate_route(route("0.0.0.0/0", {"10.0.0.254"}), &out).ok());
  expect_status(validate_route(route("", {"10.0.0.2"}), &out), StatusCode::INVALID_ARGUMENT,
                "prefix");
  expect_status(validate_route(route("10.1.0.1/16", {"10.0.0.2"}), &out),
                StatusCode::INVALID_ARGUMENT, "prefix");
  expect_status(validate_route(route("10.1.0.0/16", {}), &out), StatusCode::INVALID_ARGUMENT,
                "via");
  expect_status(validate_route(route("10.1.0.0/16", {"fd00::2"}), &out),
                StatusCode::INVALID_ARGUMENT, "via");
  expect_status(validate_route(route("10.1.0.0/16", {"10.0.0.2", "10.0.0.2"}), &out),
                StatusCode::INVALID_ARGUMENT, "via");
  expect_status(validate_route(route("10.1.0.0/16", {"224.0.0.5"}), &out),
                StatusCode::INVALID_ARGUMENT, "via");
  std::vector<std::string> many;
  for (int i = 1; i <= kMaxEcmpNextHops + 1; ++i) many.push_back("10.0.0." + std::to_string(i));
  expect_status(validate_route(route("10.1.0.0/16", many), &out), StatusCode::INVALID_ARGUMENT,
                "via");
  many.pop_back();
  EXPECT_TRUE(validate_route(route("10.1.0.0/16", many), &out).ok());
}

// ---- through the controller (no dataplane) ----

class ControllerL3Test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/vsw-l3-test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    store_ = std::make_unique<StateStore>(dir_ + "/state");
    ASSERT_TRUE(store_->load().ok());
    controller_ = std::make_unique<Controller>(*store_, DesiredState{}, dir_ + "/run");
    for (const char* name : {"br0", "br1", "br2"}) {
      vswitch::v1::BridgeSpec b;
      b.set_name(name);
      vswitch::v1::Bridge out;
      ASSERT_TRUE(controller_->add_bridge(b, &out).ok());
    }
  }
  void TearDown() override {
    controller_.reset();
    std::filesystem::remove_all(dir_);
  }
  grpc::Status add_rif(const RouterInterfaceSpec& spec) {
    vswitch::v1::RouterInterface out;
    return controller_->add_router_interface(spec, &out);
  }
  grpc::Status add_route(const RouteSpec& spec, bool replace = false) {
    vswitch::v1::AddRouteRequest r;
    *r.mutable_route() = spec;
    r.set_replace(replace);
    vswitch::v1::Route out;
    return controller_->add_route(r, &out);
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

TEST_F(ControllerL3Test, StoredCanonicalAndListedWithConnectedRoutes) {
  ASSERT_TRUE(add_rif(rif("r0", "br0", {"10.0.0.1/24", "fd00::1/64"})).ok());
  ASSERT_TRUE(add_rif(rif("r1", "br1", {"10.0.1.1/24"})).ok());
  ASSERT_TRUE(add_route(route("10.9.0.0/16", {"10.0.1.2", "10.0.0.2"})).ok());
  const DesiredState s = stored();
  ASSERT_EQ(s.router_interfaces_size(), 2);
  ASSERT_EQ(s.routes_size(), 1);
  vswitch::v1::ListRoutesResponse routes;
  controller_->list_routes(&routes);
  ASSERT_EQ(routes.routes_size(), 4);
  EXPECT_EQ(routes.routes(0).spec().prefix(), "10.0.0.0/24");
  EXPECT_EQ(routes.routes(0).kind(), "connected");
  EXPECT_EQ(routes.routes(0).router_interface(), "r0");
  EXPECT_EQ(routes.routes(1).spec().prefix(), "fd00::/64");
  EXPECT_EQ(routes.routes(3).kind(), "static");
  EXPECT_FALSE(routes.routes(3).state().programmed());
  // Replace changes the next hops in place; without replace it is refused.
  expect_status(add_route(route("10.9.0.0/16", {"10.0.0.3"})), StatusCode::ALREADY_EXISTS,
                "prefix");
  ASSERT_TRUE(add_route(route("10.9.0.0/16", {"10.0.0.3"}), true).ok());
  EXPECT_EQ(stored().routes(0).via_size(), 1);
  // Delete takes any spelling of the prefix.
  EXPECT_TRUE(controller_->delete_route("10.9.0.0/16").ok());
  expect_status(controller_->delete_route("10.9.0.0/16"), StatusCode::NOT_FOUND, "prefix");
  expect_status(controller_->delete_route("nope"), StatusCode::INVALID_ARGUMENT, "prefix");
  ASSERT_TRUE(add_route(route("fd00:9::/48", {"fd00::2"})).ok());
  EXPECT_TRUE(controller_->delete_route("FD00:9:0::/48").ok());
}

TEST_F(ControllerL3Test, CrossObjectRefusals) {
  ASSERT_TRUE(add_rif(rif("r0", "br0", {"10.0.0.1/24"})).ok());
  expect_status(add_rif(rif("r0", "br1", {"10.0.1.1/24"})), StatusCode::ALREADY_EXISTS, "name");
  expect_status(add_rif(rif("r9", "br0", {"10.0.1.1/24"})), StatusCode::ALREADY_EXISTS, "bridge");
  expect_status(add_rif(rif("r9", "nope", {"10.0.1.1/24"})), StatusCode::NOT_FOUND, "bridge");
  expect_status(add_rif(rif("r9", "br1", {"10.0.0.9/16"})), StatusCode::FAILED_PRECONDITION,
                "addresses");
  expect_status(add_route(route("10.0.0.0/24", {"10.0.0.2"})), StatusCode::FAILED_PRECONDITION,
                "prefix");
  expect_status(add_route(route("10.9.0.0/16", {"10.0.9.2"})), StatusCode::FAILED_PRECONDITION,
                "via");
  ASSERT_TRUE(add_route(route("10.9.0.0/16", {"10.0.0.2"})).ok());
  expect_status(controller_->delete_router_interface("r0"), StatusCode::FAILED_PRECONDITION,
                "name");
  ASSERT_TRUE(controller_->delete_route("10.9.0.0/16").ok());
  expect_status(controller_->delete_bridge("br0"), StatusCode::FAILED_PRECONDITION, "name");
  expect_status(controller_->delete_router_interface("zz"), StatusCode::NOT_FOUND, "name");
  ASSERT_TRUE(controller_->delete_router_interface("r0").ok());
  EXPECT_TRUE(controller_->delete_bridge("br0").ok());
  EXPECT_EQ(stored().router_interfaces_size(), 0);
}

}  // namespace
}  // namespace vsw::ctl
