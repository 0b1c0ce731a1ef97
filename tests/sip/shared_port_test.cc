// The shared SIP port of several workers (sip/shared_port.h) on real sockets: the kernel's
// choice under our steering program for the requests a call sends there.
#include "sip/shared_port.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace trunkroute::sip {
namespace {

class SharedPortTest : public ::testing::Test {
 protected:
  static constexpr int kWorkers = 2;

  void SetUp() override {
    // Worker 0 binds an ephemeral port and makes the group; worker 1 joins it on that port.
    for (int i = 0; i < kWorkers; ++i) {
      const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
      ASSERT_GE(fd, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port_);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      SharedPortBind armed({"127.0.0.1", port_}, kWorkers, /*first=*/i == 0);
      ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0) << std::strerror(errno);
      ASSERT_TRUE(armed.status().ok()) << armed.status();
      EXPECT_EQ(armed.fd(), fd);
      if (i == 0) {
        socklen_t len = sizeof(a);
        ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
        port_ = ntohs(a.sin_port);
      }
      workers_.push_back(fd);
    }
    sender_ = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(sender_, 0);
  }

  void TearDown() override {
    for (int fd : workers_) close(fd);
    if (sender_ >= 0) close(sender_);
  }

  // Sends `message` to the shared port and returns the worker whose socket got it (-1: none
  // within a second).
  int Deliver(const std::string& message) {
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port_);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(sendto(sender_, message.data(), message.size(), 0, reinterpret_cast<sockaddr*>(&to),
                     sizeof(to)),
              static_cast<ssize_t>(message.size()));
    std::vector<pollfd> fds;
    for (int fd : workers_) fds.push_back({.fd = fd, .events = POLLIN, .revents = 0});
    if (poll(fds.data(), fds.size(), 1000) <= 0) return -1;
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      char buf[2048];
      EXPECT_EQ(recv(fds[i].fd, buf, sizeof(buf), 0), static_cast<ssize_t>(message.size()));
      return static_cast<int>(i);
    }
    return -1;
  }

  static std::string Request(const std::string& method, const std::string& uri) {
    return absl::StrCat(method, " ", uri, " SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070\r\n",
                        "Call-ID: x\r\nCSeq: 1 ", method, "\r\nContent-Length: 0\r\n\r\n");
  }

  uint32_t port_ = 0;
  std::vector<int> workers_;
  int sender_ = -1;
};

TEST_F(SharedPortTest, ACallsInviteCancelAndAckReachOneWorkerAndNumbersSpread) {
  int per_worker[kWorkers] = {0, 0};
  for (int n = 1; n <= 40; ++n) {
    const std::string uri = absl::StrCat("sip:+1555123", n, "@127.0.0.1:5060");
    const int worker = Deliver(Request("INVITE", uri));
    ASSERT_GE(worker, 0) << uri;
    ++per_worker[worker];
    EXPECT_EQ(Deliver(Request("INVITE", uri)), worker) << "retransmission of " << uri;
    EXPECT_EQ(Deliver(Request("CANCEL", uri)), worker) << uri;
    EXPECT_EQ(Deliver(Request("ACK", uri)), worker) << uri;
  }
  EXPECT_GE(per_worker[0], 10);
  EXPECT_GE(per_worker[1], 10);
}

TEST_F(SharedPortTest, InDialogRequestsToAWorkersContactReachThatWorker) {
  for (int worker = 0; worker < kWorkers; ++worker) {
    const std::string contact = absl::StrCat("sip:", WorkerContactUser(worker), "@127.0.0.1:5071");
    for (const char* method : {"ACK", "BYE", "INVITE", "UPDATE", "INFO", "PRACK"}) {
      EXPECT_EQ(Deliver(Request(method, contact)), worker) << method << " " << contact;
    }
  }
}

TEST_F(SharedPortTest, ABindNotArmedGetsNoSharing) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port_);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(errno, EADDRINUSE);
  close(fd);
}

}  // namespace
}  // namespace trunkroute::sip
