#include "tests/sip/sofia_peer.h"

#include <sys/stat.h>

#include <cstdlib>
#include <deque>
#include <future>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace trunkroute::sip::testing {
struct PeerCall;
}

// The magic types must come before any Sofia header, and su.h first.
// clang-format off
#define SU_ROOT_MAGIC_T trunkroute::sip::testing::SofiaPeer::Impl
#define NUA_MAGIC_T trunkroute::sip::testing::SofiaPeer::Impl
#define NUA_HMAGIC_T trunkroute::sip::testing::PeerCall
#include <sofia-sip/su.h>
#include <sofia-sip/su_wait.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/tport_tag.h>
// clang-format on

namespace trunkroute::sip::testing {

constexpr char kSdp[] =
    "v=0\r\no=peer 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

struct PeerCall {
  std::promise<int> result;
  int status = 0;
  bool done = false;
};

struct SofiaPeer::Impl {
  SofiaPeer* owner = nullptr;
  Options options;
  std::thread thread;
  std::atomic<bool> stop{false};
  su_root_t* root = nullptr;
  nua_t* nua = nullptr;
  bool shutdown_done = false;
  absl::Mutex mu;
  std::deque<std::pair<std::string, PeerCall*>> calls ABSL_GUARDED_BY(mu);

  static void Callback(nua_event_t event, int status, char const*, nua_t*, Impl* self,
                       nua_handle_t* nh, PeerCall* call, sip_t const*, tagi_t tags[]) {
    switch (event) {
      case nua_i_invite:
        self->owner->invites_received_++;
        nua_respond(nh, SIP_180_RINGING, TAG_END());
        nua_respond(nh, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                    SIPTAG_PAYLOAD_STR(kSdp), TAG_END());
        break;
      case nua_i_bye:
        self->owner->byes_received_++;
        break;
      case nua_r_invite:
        if (call != nullptr && status >= 200 && !call->done) {
          call->status = status;
          if (status < 300) {
            nua_bye(nh, TAG_END());  // the 2xx is ACKed by the stack (NUTAG_AUTOACK)
          } else {
            Finish(nh, call);
          }
        }
        break;
      case nua_r_bye:
        if (call != nullptr && status >= 200) Finish(nh, call);
        break;
      case nua_i_state: {
        int state = nua_callstate_init;
        tl_gets(tags, NUTAG_CALLSTATE_REF(state), TAG_END());
        if (state == nua_callstate_terminated && call == nullptr) nua_handle_destroy(nh);
        break;
      }
      case nua_r_shutdown:
        if (status >= 200) self->shutdown_done = true;
        break;
      default:
        break;
    }
  }

  static void Finish(nua_handle_t* nh, PeerCall* call) {
    call->done = true;
    call->result.set_value(call->status);
    nua_handle_bind(nh, nullptr);
    nua_handle_destroy(nh);
  }

  void Run(std::promise<bool>* started) {
    su_init();
    root = su_root_create(this);
    su_root_threading(root, 0);
    const bool tls = !options.cert_dir.empty();
    const unsigned verify = options.verify ? TPTLS_VERIFY_ALL : TPTLS_VERIFY_NONE;
    const bool sips = options.url.rfind("sips:", 0) == 0;
    // A TLS dialer binds an ephemeral TLS port too: outgoing TLS needs a TLS transport.
    nua = nua_create(root, &Impl::Callback, this, TAG_IF(!sips, NUTAG_URL(options.url.c_str())),
                     TAG_IF(sips, NUTAG_URL("sip:127.0.0.1:0;transport=udp")),
                     TAG_IF(sips, NUTAG_SIPS_URL(options.url.c_str())),
                     TAG_IF(!sips && tls, NUTAG_SIPS_URL("sips:127.0.0.1:0")),
                     TAG_IF(tls, TPTAG_CERTIFICATE(options.cert_dir.c_str())),
                     TAG_IF(tls, TPTAG_TLS_VERIFY_POLICY(verify)), NUTAG_MEDIA_ENABLE(0),
                     NUTAG_AUTOANSWER(0), NUTAG_AUTOACK(1), NUTAG_OUTBOUND("no-options-keepalive"),
                     TAG_END());
    started->set_value(nua != nullptr);
    if (nua == nullptr) {
      su_root_destroy(root);
      return;
    }
    while (!stop.load()) {
      su_root_step(root, 10);
      absl::MutexLock lock(&mu);
      while (!calls.empty()) {
        auto [target, call] = calls.front();
        calls.pop_front();
        nua_handle_t* nh = nua_handle(nua, call, SIPTAG_TO_STR(target.c_str()), TAG_END());
        nua_invite(nh, NUTAG_URL(target.c_str()), SIPTAG_CONTENT_TYPE_STR("application/sdp"),
                   SIPTAG_PAYLOAD_STR(kSdp), TAG_END());
      }
    }
    nua_shutdown(nua);
    for (int i = 0; i < 300 && !shutdown_done; ++i) su_root_step(root, 10);
    if (shutdown_done) nua_destroy(nua);
    su_root_destroy(root);
  }
};

std::unique_ptr<SofiaPeer> SofiaPeer::Start(const Options& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  std::unique_ptr<SofiaPeer> peer(new SofiaPeer(std::move(impl)));
  peer->impl_->owner = peer.get();
  std::promise<bool> started;
  std::future<bool> ok = started.get_future();
  Impl* raw = peer->impl_.get();
  raw->thread = std::thread([raw, &started] { raw->Run(&started); });
  if (!ok.get()) {
    raw->thread.join();
    return nullptr;
  }
  return peer;
}

SofiaPeer::SofiaPeer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

SofiaPeer::~SofiaPeer() {
  impl_->stop.store(true);
  if (impl_->thread.joinable()) impl_->thread.join();
}

int SofiaPeer::Call(const std::string& target, std::chrono::milliseconds timeout) {
  auto call = std::make_unique<PeerCall>();
  std::future<int> result = call->result.get_future();
  {
    absl::MutexLock lock(&impl_->mu);
    impl_->calls.emplace_back(target, call.get());
  }
  if (result.wait_for(timeout) != std::future_status::ready) {
    call.release();  // still referenced by its handle; leaked on purpose in a failed test
    return 0;
  }
  return result.get();
}

std::string MakeCertificate(const std::string& dir, const std::string& name,
                            const std::string& dns_names, int days) {
  const std::string out = dir + "/" + name;
  mkdir(out.c_str(), 0700);
  std::string san;
  for (size_t p = 0; p <= dns_names.size();) {
    size_t e = dns_names.find(',', p);
    if (e == std::string::npos) e = dns_names.size();
    if (!san.empty()) san += ",";
    const std::string entry = dns_names.substr(p, e - p);
    san += entry.rfind("IP:", 0) == 0 ? entry : "DNS:" + entry;
    p = e + 1;
  }
  const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string quiet = " >/dev/null 2>&1";
  const std::vector<std::string> steps = {
      // One CA per `dir`, made on first use.
      "[ -f ca.pem ] || openssl req -x509 " + ec +
          " -keyout ca.key -out ca.pem -days 2 -subj '/CN=trunkroute test CA'" + quiet,
      "openssl req " + ec + " -keyout " + name + ".key -out " + name +
          ".csr -subj '/CN=trunkroute test peer'" + quiet,
      "printf 'subjectAltName=" + san + "\\n' > " + name + ".ext",
      "openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " +
          name + ".pem -days " + std::to_string(days) + " -extfile " + name + ".ext" + quiet,
      "cat " + name + ".key " + name + ".pem > '" + out + "/agent.pem'",
      "cp ca.pem '" + out + "/cafile.pem'",
  };
  for (const std::string& step : steps) {
    if (std::system(("cd '" + dir + "' && " + step).c_str()) != 0) return "";
  }
  return out;
}

}  // namespace trunkroute::sip::testing
