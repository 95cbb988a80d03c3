#include "port_devargs.h"

#include <gtest/gtest.h>

namespace vsw::dp {
namespace {

using vswitch::dp::PortConfig;

PortConfig make(const std::string& name, vswitch::dp::PortType type) {
  PortConfig c;
  c.set_name(name);
  c.set_type(type);
  return c;
}

TEST(PortDevargs, VhostUserServerDefaultsToASocketInTheRunDir) {
  auto r = build_devargs(make("vm1", vswitch::dp::PORT_TYPE_VHOST_USER), "/run/vsw", 3);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.devargs, "net_vhost_vsw3,iface=/run/vsw/vhost/vm1.sock,queues=1");
  EXPECT_EQ(r.dev_name, "net_vhost_vsw3");
}

TEST(PortDevargs, VhostUserClientWithQueues) {
  auto c = make("vm1", vswitch::dp::PORT_TYPE_VHOST_USER);
  c.set_mode(vswitch::dp::VHOST_MODE_CLIENT);
  c.set_socket("/tmp/q.sock");
  c.set_queues(4);
  auto r = build_devargs(c, "/run/vsw", 0);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.devargs, "net_vhost_vsw0,iface=/tmp/q.sock,queues=4,client=1");
}

TEST(PortDevargs, VhostUserRejectsRelativeOrCommaPaths) {
  auto c = make("vm1", vswitch::dp::PORT_TYPE_VHOST_USER);
  c.set_socket("rel.sock");
  EXPECT_NE(build_devargs(c, "/r", 0).error.find("socket:"), std::string::npos);
  c.set_socket("/tmp/a,b.sock");
  EXPECT_NE(build_devargs(c, "/r", 0).error.find("','"), std::string::npos);
}

TEST(PortDevargs, TapDefaultsItsInterfaceToThePortName) {
  auto r = build_devargs(make("tap0", vswitch::dp::PORT_TYPE_TAP), "/r", 1);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.devargs, "net_tap_vsw1,iface=tap0");
  auto c = make("a-very-long-port-name", vswitch::dp::PORT_TYPE_TAP);
  auto bad = build_devargs(c, "/r", 1);
  EXPECT_NE(bad.error.find("iface:"), std::string::npos);
  c.set_iface("short");
  c.set_mac("02:00:00:00:00:01");
  EXPECT_EQ(build_devargs(c, "/r", 1).devargs, "net_tap_vsw1,iface=short,mac=02:00:00:00:00:01");
}

TEST(PortDevargs, AfPacketAndAfXdpNeedAnInterface) {
  auto c = make("p", vswitch::dp::PORT_TYPE_AF_PACKET);
  EXPECT_EQ(build_devargs(c, "/r", 0).error, "iface: required for this port type");
  c.set_iface("veth0");
  c.set_queues(2);
  EXPECT_EQ(build_devargs(c, "/r", 5).devargs, "net_af_packet_vsw5,iface=veth0,qpairs=2");
  auto x = make("x", vswitch::dp::PORT_TYPE_AF_XDP);
  x.set_iface("eth1");
  EXPECT_EQ(build_devargs(x, "/r", 6).devargs,
            "net_af_xdp_vsw6,iface=eth1,start_queue=0,queue_count=1");
}

TEST(PortDevargs, DpdkTakesTheDevargsAsGiven) {
  auto c = make("nic", vswitch::dp::PORT_TYPE_DPDK);
  EXPECT_NE(build_devargs(c, "/r", 0).error.find("devargs:"), std::string::npos);
  c.set_devargs("0000:00:04.0,rx_burst=32");
  auto r = build_devargs(c, "/r", 0);
  EXPECT_EQ(r.devargs, "0000:00:04.0,rx_burst=32");
  EXPECT_EQ(r.dev_name, "0000:00:04.0");
}

TEST(PortDevargs, RingAndNull) {
  EXPECT_EQ(build_devargs(make("r", vswitch::dp::PORT_TYPE_RING), "/r", 2).devargs,
            "net_ring_vsw2");
  EXPECT_EQ(build_devargs(make("n", vswitch::dp::PORT_TYPE_NULL), "/r", 2).devargs,
            "net_null_vsw2");
}

TEST(PortDevargs, RejectsBadNamesTypesQueuesAndMacs) {
  EXPECT_NE(build_devargs(make("", vswitch::dp::PORT_TYPE_NULL), "/r", 0).error.find("name:"),
            std::string::npos);
  EXPECT_NE(build_devargs(make("a b", vswitch::dp::PORT_TYPE_NULL), "/r", 0).error.find("name:"),
            std::string::npos);
  EXPECT_NE(build_devargs(make(std::string(33, 'a'), vswitch::dp::PORT_TYPE_NULL), "/r", 0)
                .error.find("name:"),
            std::string::npos);
  EXPECT_NE(
      build_devargs(make("p", vswitch::dp::PORT_TYPE_UNSPECIFIED), "/r", 0).error.find("type:"),
      std::string::npos);
  auto q = make("p", vswitch::dp::PORT_TYPE_NULL);
  q.set_queues(17);
  EXPECT_NE(build_devargs(q, "/r", 0).error.find("queues: 17"), std::string::npos);
  auto m = make("p", vswitch::dp::PORT_TYPE_TAP);
  m.set_mac("01:00:5e:00:00:01");
  EXPECT_NE(build_devargs(m, "/r", 0).error.find("mac:"), std::string::npos);
  m.set_mac("02:00:00:00:00:0g");
  EXPECT_NE(build_devargs(m, "/r", 0).error.find("mac:"), std::string::npos);
}

TEST(PortFields, ParseMac) {
  using fields::parse_mac;
  uint8_t mac[6];
  ASSERT_TRUE(parse_mac("02:aB:00:00:10:ff", mac));
  EXPECT_EQ(mac[1], 0xab);
  EXPECT_EQ(mac[5], 0xff);
  EXPECT_FALSE(parse_mac("02:ab:00:00:10", mac));
  EXPECT_FALSE(parse_mac("02:ab:00:00:10:ff:", mac));
  EXPECT_FALSE(parse_mac("02-ab-00-00-10-ff", mac));
  EXPECT_FALSE(parse_mac("ff:ff:ff:ff:ff:ff", mac));
}

}  // namespace
}  // namespace vsw::dp
