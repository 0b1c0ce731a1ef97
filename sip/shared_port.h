#ifndef TRUNKROUTE_SIP_SHARED_PORT_H_
#define TRUNKROUTE_SIP_SHARED_PORT_H_

// The SIP port that several workers (Sofia stacks, one per thread) receive new calls on
// (docs/sip-edge.md "Workers").
//
// Each worker has its own UDP socket bound to the same address with SO_REUSEPORT; the kernel
// delivers each datagram to one of them. Which one is decided by a classic BPF program on the
// group (SO_ATTACH_REUSEPORT_CBPF) from the Request-URI: an INVITE, its retransmissions, its
// CANCEL and the ACK of a non-2xx final carry the same Request-URI (RFC 3261 §9.1, §17.1.1.3)
// and so reach the worker that holds the call; calls to different numbers spread over the
// workers. Everything else of a call (responses from trunks, in-dialog requests from either
// side) goes to the worker's own port, in its Via and Contact.
//
// Sofia-SIP binds its sockets itself and has no option for SO_REUSEPORT. While a
// SharedPortBind is alive on a thread, the next UDP bind() of that thread to exactly its
// address gets SO_REUSEPORT first (and, for the group's first socket, the steering program):
// this file defines bind() for the process, which is the system call itself for every other
// caller.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "sip/edge_util.h"

namespace trunkroute::sip {

class SharedPortBind {
 public:
  // `address` must be an IP literal. `workers` ≥ 2: the program steers over that many sockets.
  // `first`: this bind creates the group (it gets the program).
  SharedPortBind(const HostPort& address, int workers, bool first);
  ~SharedPortBind();
  SharedPortBind(const SharedPortBind&) = delete;
  SharedPortBind& operator=(const SharedPortBind&) = delete;

  // The socket bound while armed, -1 if none was. Owned by whoever called bind() (Sofia).
  int fd() const { return fd_; }
  // Why setting the socket up failed (SO_REUSEPORT or the program), OK if it did not.
  const absl::Status& status() const { return status_; }

  // For the bind() below.
  static SharedPortBind* ArmedOnThisThread();
  bool Matches(int fd, const void* addr, unsigned len) const;
  void Prepare(int fd);

 private:
  std::vector<unsigned char> address_;  // the sockaddr bytes
  int workers_;
  bool first_;
  int fd_ = -1;
  absl::Status status_;
  SharedPortBind* previous_;
};

// The user part of every Contact worker `worker` sends ("w07"): an in-dialog request that comes
// to the shared port instead of the worker's own (a peer that sends everything to one address)
// is steered by it to that worker.
std::string WorkerContactUser(int worker);

}  // namespace trunkroute::sip

#endif  // TRUNKROUTE_SIP_SHARED_PORT_H_
