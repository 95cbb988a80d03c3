#include "port_spec.h"

#include <gtest/gtest.h>

namespace vsw::ctl {
namespace {

using vswitch::v1::PortSpec;

PortSpec spec(const std::string& name, const std::string& type) {
  PortSpec s;
  s.set_name(name);
  s.set_type(type);
  return s;
}

// The status is INVALID_ARGUMENT and the message starts with the field name.
void expect_invalid(const PortSpec& s, const std::string& field) {
  const grpc::Status st = validate_port(s);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.DebugString();
  EXPECT_EQ(st.error_message().rfind(field + ":", 0), 0u) << st.error_message();
}

TEST(PortSpec, AcceptsEveryTypeWithItsFields) {
  EXPECT_TRUE(validate_port(spec("vm1", "vhost-user")).ok());
  EXPECT_TRUE(validate_port(spec("t0", "tap")).ok());
  PortSpec af = spec("p", "af-packet");
  af.set_iface("veth0");
  EXPECT_TRUE(validate_port(af).ok());
  PortSpec d = spec("nic", "dpdk");
  d.set_devargs("0000:00:04.0");
  EXPECT_TRUE(validate_port(d).ok());
  EXPECT_TRUE(validate_port(spec("r", "ring")).ok());
  EXPECT_TRUE(validate_port(spec("n", "null")).ok());
}

TEST(PortSpec, NamesTheFieldOfEachMistake) {
  expect_invalid(spec("", "ring"), "name");
  expect_invalid(spec("a/b", "ring"), "name");
  expect_invalid(spec("x", ""), "type");
  expect_invalid(spec("x", "vhost"), "type");
  PortSpec m = spec("x", "vhost-user");
  m.set_mode("both");
  expect_invalid(m, "mode");
  PortSpec sock = spec("x", "vhost-user");
  sock.set_socket("relative.sock");
  expect_invalid(sock, "socket");
  expect_invalid(spec("x", "af-packet"), "iface");
  expect_invalid(spec("a-very-long-tap-name", "tap"), "iface");
  expect_invalid(spec("nic", "dpdk"), "devargs");
  PortSpec q = spec("x", "ring");
  q.set_queues(99);
  expect_invalid(q, "queues");
  PortSpec mac = spec("x", "tap");
  mac.set_mac("zz:00:00:00:00:00");
  expect_invalid(mac, "mac");
}

TEST(PortSpec, RefusesFieldsThatDoNotApplyToTheType) {
  PortSpec s = spec("x", "ring");
  s.set_socket("/tmp/x.sock");
  expect_invalid(s, "socket");
  PortSpec t = spec("x", "vhost-user");
  t.set_iface("eth0");
  expect_invalid(t, "iface");
  PortSpec d = spec("x", "tap");
  d.set_devargs("net_null0");
  expect_invalid(d, "devargs");
}

TEST(PortSpec, NormalizeMakesDefaultsExplicit) {
  PortSpec v = normalize_port(spec("vm1", "vhost-user"), "/run/x");
  EXPECT_EQ(v.mode(), "server");
  EXPECT_EQ(v.socket(), "/run/x/vhost/vm1.sock");
  EXPECT_EQ(v.queues(), 1u);
  EXPECT_EQ(normalize_port(spec("t0", "tap"), "/run/x").iface(), "t0");
  PortSpec given = spec("vm2", "vhost-user");
  given.set_socket("/tmp/vm2.sock");
  EXPECT_EQ(normalize_port(given, "/run/x").socket(), "/tmp/vm2.sock");
}

TEST(PortSpec, TranslatesToTheDataplaneConfig) {
  PortSpec v = spec("vm1", "vhost-user");
  v.set_mode("client");
  v.set_socket("/tmp/vm1.sock");
  v.set_queues(2);
  vswitch::dp::PortConfig c = to_dataplane(v);
  EXPECT_EQ(c.type(), vswitch::dp::PORT_TYPE_VHOST_USER);
  EXPECT_EQ(c.mode(), vswitch::dp::VHOST_MODE_CLIENT);
  EXPECT_EQ(c.socket(), "/tmp/vm1.sock");
  EXPECT_EQ(c.queues(), 2u);
  EXPECT_EQ(to_dataplane(spec("p", "af-xdp")).type(), vswitch::dp::PORT_TYPE_AF_XDP);
}

}  // namespace
}  // namespace vsw::ctl
