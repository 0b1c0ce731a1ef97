#include "sip/shared_port.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace trunkroute::sip {
namespace {

thread_local SharedPortBind* armed = nullptr;

std::vector<unsigned char> SockaddrOf(const HostPort& hp) {
  const std::optional<SocketAddress> a = SocketAddressOf(hp);
  if (!a.has_value()) return {};
  const auto* p = reinterpret_cast<const unsigned char*>(&a->storage);
  return {p, p + a->length};
}

// The steering program (classic BPF; the packet starts at the UDP payload). A request's
// Request-URI starts after the first space, within bytes 4–10 (methods are 3–9 letters here:
// ACK … OPTIONS, REGISTER, SUBSCRIBE). Then:
//  - "sip:wNN@": a URI of ours (WorkerContactUser, in every Contact a worker sends), so an
//    in-dialog request sent to the shared port rather than to the worker's own: worker NN;
//  - "sip:…": a hash of the 16 bytes after "sip:" (the dialled number: E.164 is at most 16
//    characters with its "+"), modulo the number of workers. An INVITE, its retransmissions, its
//    CANCEL and the ACK of a non-2xx final have the same Request-URI, so the same worker.
// Anything else (a response, no "sip:") returns an index past the group, which makes the kernel
// use its own hash of the addresses; so does a worker number past the group. A load past the
// end of a short datagram ends the program with 0 (the first worker).
std::vector<sock_filter> SteeringProgram(uint32_t workers) {
  constexpr uint32_t kGolden = 0x9E3779B1u;  // Knuth's multiplicative hash
  constexpr uint32_t kAnyWorker = 0xFFFFFFFFu;
  constexpr uint32_t kSipColon = 0x7369703Au;  // "sip:"
  constexpr uint32_t kFirstSpace = 3;
  constexpr uint32_t kLastSpace = 9;
  std::vector<sock_filter> p;
  auto add = [&p](uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
    p.push_back(sock_filter{code, jt, jf, k});
    return p.size() - 1;
  };
  // X = the offset of the Request-URI: one block per place of the first space.
  std::vector<size_t> to_uri;  // the "ja" of each block, patched to the URI checks
  for (uint32_t off = kFirstSpace; off <= kLastSpace; ++off) {
    add(BPF_LD | BPF_B | BPF_ABS, 0, 0, off);
    add(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, ' ');
    add(BPF_LDX | BPF_IMM, 0, 0, off + 1);
    to_uri.push_back(add(BPF_JMP | BPF_JA, 0, 0, 0));
  }
  add(BPF_RET | BPF_K, 0, 0, kAnyWorker);  // no space where a method ends: not a request
  const size_t uri = p.size();
  for (size_t ja : to_uri) p[ja].k = static_cast<uint32_t>(uri - ja - 1);
  // "sip:"? Then keep the URI's offset in M[1].
  add(BPF_LD | BPF_W | BPF_IND, 0, 0, 0);
  const size_t is_sip = add(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, kSipColon);  // jf patched below
  add(BPF_MISC | BPF_TXA, 0, 0, 0);
  add(BPF_ST, 0, 0, 1);
  // "wNN@": worker NN.
  add(BPF_LD | BPF_B | BPF_IND, 0, 0, 4);
  const size_t is_w = add(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 'w');
  add(BPF_LD | BPF_B | BPF_IND, 0, 0, 7);
  const size_t is_at = add(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, '@');
  add(BPF_LD | BPF_B | BPF_IND, 0, 0, 5);
  add(BPF_ALU | BPF_SUB | BPF_K, 0, 0, '0');
  add(BPF_ALU | BPF_MUL | BPF_K, 0, 0, 10);
  add(BPF_ST, 0, 0, 2);
  add(BPF_LD | BPF_B | BPF_IND, 0, 0, 6);
  add(BPF_ALU | BPF_SUB | BPF_K, 0, 0, '0');
  add(BPF_MISC | BPF_TAX, 0, 0, 0);
  add(BPF_LD | BPF_MEM, 0, 0, 2);
  add(BPF_ALU | BPF_ADD | BPF_X, 0, 0, 0);
  add(BPF_RET | BPF_A, 0, 0, 0);
  // Otherwise the hash of the 16 bytes after "sip:".
  const size_t hash = p.size();
  p[is_w].jf = static_cast<uint8_t>(hash - is_w - 1);
  p[is_at].jf = static_cast<uint8_t>(hash - is_at - 1);
  add(BPF_LD | BPF_W | BPF_IND, 0, 0, 4);
  add(BPF_ST, 0, 0, 0);
  for (uint32_t off = 8; off <= 16; off += 4) {
    add(BPF_LDX | BPF_MEM, 0, 0, 1);
    add(BPF_LD | BPF_W | BPF_IND, 0, 0, off);
    add(BPF_LDX | BPF_MEM, 0, 0, 0);
    add(BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
    add(BPF_ALU | BPF_MUL | BPF_K, 0, 0, kGolden);
    add(BPF_ST, 0, 0, 0);
  }
  // MurmurHash3's finalizer (fmix32): every input bit reaches the low bits the modulo keeps.
  for (const auto& [shift, factor] : {std::pair<uint32_t, uint32_t>{16, 0x85EBCA6Bu},
                                      std::pair<uint32_t, uint32_t>{13, 0xC2B2AE35u},
                                      std::pair<uint32_t, uint32_t>{16, 1u}}) {
    add(BPF_ALU | BPF_RSH | BPF_K, 0, 0, shift);
    add(BPF_LDX | BPF_MEM, 0, 0, 0);
    add(BPF_ALU | BPF_XOR | BPF_X, 0, 0, 0);
    if (factor != 1u) {
      add(BPF_ALU | BPF_MUL | BPF_K, 0, 0, factor);
      add(BPF_ST, 0, 0, 0);
    }
  }
  add(BPF_ALU | BPF_MOD | BPF_K, 0, 0, workers);
  add(BPF_RET | BPF_A, 0, 0, 0);
  // Not "sip:": any worker (a return of its own, since jumps only go forward).
  const size_t not_sip = add(BPF_RET | BPF_K, 0, 0, kAnyWorker);
  p[is_sip].jf = static_cast<uint8_t>(not_sip - is_sip - 1);
  return p;
}

}  // namespace

SharedPortBind::SharedPortBind(const HostPort& address, int workers, bool first)
    : address_(SockaddrOf(address)), workers_(workers), first_(first), previous_(armed) {
  if (address_.empty()) {
    status_ = absl::InvalidArgumentError(
        absl::StrCat("sip workers: the listen address ", address.host, " is not an IP address"));
  }
  armed = this;
}

SharedPortBind::~SharedPortBind() { armed = previous_; }

SharedPortBind* SharedPortBind::ArmedOnThisThread() { return armed; }

bool SharedPortBind::Matches(int fd, const void* addr, unsigned len) const {
  if (fd_ >= 0 || address_.empty() || len != address_.size() ||
      std::memcmp(addr, address_.data(), len) != 0) {
    return false;
  }
  int type = 0;
  socklen_t type_len = sizeof(type);
  return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) == 0 && type == SOCK_DGRAM;
}

void SharedPortBind::Prepare(int fd) {
  fd_ = fd;
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    status_ = absl::FailedPreconditionError(
        absl::StrCat("sip workers: SO_REUSEPORT: ", std::strerror(errno)));
    return;
  }
  if (!first_) return;
  std::vector<sock_filter> program = SteeringProgram(static_cast<uint32_t>(workers_));
  sock_fprog fprog{.len = static_cast<unsigned short>(program.size()), .filter = program.data()};
  if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &fprog, sizeof(fprog)) != 0) {
    status_ = absl::FailedPreconditionError(
        absl::StrCat("sip workers: SO_ATTACH_REUSEPORT_CBPF: ", std::strerror(errno)));
  }
}

std::string WorkerContactUser(int worker) { return absl::StrFormat("w%02d", worker); }

}  // namespace trunkroute::sip

// bind(2) for the whole process: the system call, with SharedPortBind's socket options first
// when the calling thread armed one for this address. Sofia-SIP reaches it through the PLT, like
// every other library; an executable's definition comes first in symbol lookup.
extern "C" int bind(int fd, const struct sockaddr* addr, socklen_t len) {
  using trunkroute::sip::SharedPortBind;
  if (SharedPortBind* shared = SharedPortBind::ArmedOnThisThread();
      shared != nullptr && shared->Matches(fd, addr, len)) {
    shared->Prepare(fd);
  }
  return static_cast<int>(syscall(SYS_bind, fd, addr, len));
}
