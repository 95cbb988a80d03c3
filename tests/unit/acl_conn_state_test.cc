// The TCP state machine and the timeouts, packet by packet, without a table.
#include "conn_state.h"

#include <gtest/gtest.h>

#include <vector>

#include "acl_rule.h"

namespace vsw::acl {
namespace {

constexpr ConnDir O = ConnDir::kOriginal;
constexpr ConnDir R = ConnDir::kReply;
constexpr uint8_t SYN = kTcpSyn, ACK = kTcpAck, FIN = kTcpFin, RST = kTcpRst;

struct Step {
  ConnDir dir;
  uint8_t flags;
  ConnState expect;
};

// Runs a script from `start`, checking the state after every packet (all valid).
void run(ConnState start, const std::vector<Step>& script) {
  ConnState s = start;
  int i = 0;
  for (const Step& step : script) {
    const TcpStep r = tcp_step(s, step.dir, step.flags);
    EXPECT_TRUE(r.valid) << "packet " << i << " in " << to_string(s);
    EXPECT_EQ(r.next, step.expect)
        << "packet " << i << ": " << to_string(r.next) << " instead of " << to_string(step.expect);
    s = r.next;
    ++i;
  }
}

TEST(TcpState, HandshakeDataAndCloseInitiatedByTheOpener) {
  run(ConnState::kSynSent, {
                               {R, SYN | ACK, ConnState::kSynRecv},
                               {O, ACK, ConnState::kEstablished},
                               {O, ACK, ConnState::kEstablished},  // data
                               {R, ACK, ConnState::kEstablished},
                               {O, FIN | ACK, ConnState::kFinWait},
                               {R, ACK, ConnState::kCloseWait},
                               {R, ACK, ConnState::kCloseWait},  // the other side sends on
                               {R, FIN | ACK, ConnState::kLastAck},
                               {O, ACK, ConnState::kTimeWait},
                               {R, FIN | ACK, ConnState::kTimeWait},  // retransmitted FIN
                               {O, ACK, ConnState::kTimeWait},
                           });
}

TEST(TcpState, CloseInitiatedByTheResponderAndSimultaneousFins) {
  run(ConnState::kEstablished, {
                                   {R, FIN | ACK, ConnState::kFinWait},
                                   {O, FIN | ACK, ConnState::kLastAck},
                                   {R, ACK, ConnState::kTimeWait},
                               });
}

TEST(TcpState, RetransmissionsAreIgnoredNotInvalid) {
  run(ConnState::kSynSent, {
                               {O, SYN, ConnState::kSynSent},
                               {R, SYN | ACK, ConnState::kSynRecv},
                               {R, SYN | ACK, ConnState::kSynRecv},
                               {O, SYN, ConnState::kSynRecv},
                               {O, ACK, ConnState::kEstablished},
                               {R, SYN | ACK, ConnState::kEstablished},
                           });
}

TEST(TcpState, ResetEndsAnyConnectionFromEitherSide) {
  for (ConnState s :
       {ConnState::kSynSent, ConnState::kSynRecv, ConnState::kEstablished, ConnState::kFinWait,
        ConnState::kCloseWait, ConnState::kLastAck, ConnState::kTimeWait}) {
    for (ConnDir d : {O, R}) {
      const TcpStep r = tcp_step(s, d, RST | ACK);
      EXPECT_TRUE(r.valid) << to_string(s);
      EXPECT_EQ(r.next, ConnState::kClose) << to_string(s);
    }
  }
}

TEST(TcpState, PacketsThatDoNotFitAreInvalid) {
  struct Case {
    ConnState state;
    ConnDir dir;
    uint8_t flags;
  };
  for (const Case& c : std::vector<Case>{
           {ConnState::kSynSent, O, SYN | ACK},      // the opener answering itself
           {ConnState::kSynSent, O, ACK},            // ACK before any SYN-ACK
           {ConnState::kSynSent, R, SYN},            // simultaneous open: not supported
           {ConnState::kSynSent, R, FIN},            // FIN before the handshake
           {ConnState::kEstablished, O, 0},          // no flags at all
           {ConnState::kEstablished, O, SYN | FIN},  // never legitimate
           {ConnState::kEstablished, R, SYN},
           {ConnState::kNone, O, ACK},
           {ConnState::kUnreplied, O, SYN},  // not a TCP state
       }) {
    const TcpStep r = tcp_step(c.state, c.dir, c.flags);
    EXPECT_FALSE(r.valid) << to_string(c.state) << " dir " << int(c.dir) << " flags "
                          << int(c.flags);
    EXPECT_EQ(r.next, c.state);
  }
}

TEST(TcpState, OnlyABareSynOpensAndTimeWaitCanBeReopened) {
  EXPECT_TRUE(tcp_opens(SYN));
  EXPECT_TRUE(tcp_opens(SYN | 0x80));  // ECE/CWR bits do not matter
  EXPECT_FALSE(tcp_opens(SYN | ACK));
  EXPECT_FALSE(tcp_opens(ACK));
  EXPECT_FALSE(tcp_opens(RST));
  EXPECT_FALSE(tcp_opens(SYN | FIN));
  EXPECT_FALSE(tcp_opens(0));
  run(ConnState::kTimeWait, {{O, SYN, ConnState::kSynSent}, {R, SYN | ACK, ConnState::kSynRecv}});
  run(ConnState::kClose, {{O, SYN, ConnState::kSynSent}});
}

TEST(Timeouts, LinuxDefaults) {
  const Timeouts t = Timeouts::linux_defaults();
  EXPECT_EQ(t.for_state(kProtoTcp, ConnState::kSynSent), 120u);
  EXPECT_EQ(t.for_state(kProtoTcp, ConnState::kSynRecv), 60u);
  EXPECT_EQ(t.for_state(kProtoTcp, ConnState::kEstablished), 432000u);
  EXPECT_EQ(t.for_state(kProtoTcp, ConnState::kFinWait), 120u);
  EXPECT_EQ(t.for_state(kProtoTcp, ConnState::kCloseWait), 60u);
  EXPECT_EQ(t.for_state(kProtoTcp, ConnState::kLastAck), 30u);
  EXPECT_EQ(t.for_state(kProtoTcp, ConnState::kTimeWait), 120u);
  EXPECT_EQ(t.for_state(kProtoTcp, ConnState::kClose), 10u);
  EXPECT_EQ(t.for_state(kProtoUdp, ConnState::kUnreplied), 30u);
  EXPECT_EQ(t.for_state(kProtoUdp, ConnState::kReplied), 120u);
  EXPECT_EQ(t.for_state(kProtoSctp, ConnState::kReplied), 120u);
  EXPECT_EQ(t.for_state(kProtoIcmp, ConnState::kUnreplied), 30u);
  EXPECT_EQ(t.for_state(kProtoIcmpv6, ConnState::kReplied), 30u);
}

}  // namespace
}  // namespace vsw::acl
