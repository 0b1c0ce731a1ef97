#include "cluster/etcd_client.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace trunkroute::cluster {
namespace {

using etcdserverpb::Compare;

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::FailedPreconditionError(absl::StrCat(flag, " ", path, ": ", std::strerror(errno)));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (text.str().find("-----BEGIN") == std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(flag, " ", path, ": not a PEM file"));
  }
  return text.str();
}

// Errors after which another member may succeed: it is unreachable or slow, or it has no leader
// right now (etcd answers Unavailable "etcdserver: no leader" / "leader changed" during an
// election).
bool TryAnotherMember(const grpc::Status& st) {
  return st.error_code() == grpc::StatusCode::UNAVAILABLE ||
         st.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

KeyValue FromProto(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision(), kv.lease()};
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ParseEtcdEndpoints(const std::string& flag_value) {
  std::vector<std::string> out;
  std::string scheme;
  for (absl::string_view raw : absl::StrSplit(flag_value, ',', absl::SkipWhitespace())) {
    std::string entry(absl::StripAsciiWhitespace(raw));
    absl::string_view rest = entry;
    std::string this_scheme;
    if (absl::ConsumePrefix(&rest, "http://")) {
      this_scheme = "http";
    } else if (absl::ConsumePrefix(&rest, "https://")) {
      this_scheme = "https";
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--etcd-endpoints: '", entry, "' must start with http:// or https://"));
    }
    absl::ConsumeSuffix(&rest, "/");
    const size_t colon = rest.rfind(':');
    int port = 0;
    if (colon == absl::string_view::npos || colon == 0 ||
        !absl::SimpleAtoi(rest.substr(colon + 1), &port) || port <= 0 || port > 65535 ||
        rest.find('/') != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("--etcd-endpoints: '", entry, "' must be scheme://host:port"));
    }
    if (!scheme.empty() && scheme != this_scheme) {
      return absl::InvalidArgumentError(
          "--etcd-endpoints: every endpoint must use the same scheme (http or https)");
    }
    scheme = this_scheme;
    out.push_back(absl::StrCat(this_scheme, "://", rest));
  }
  if (out.empty()) return absl::InvalidArgumentError("--etcd-endpoints: no endpoint given");
  return out;
}

EtcdClient::EtcdClient(EtcdOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<EtcdClient>> EtcdClient::Create(const EtcdOptions& options) {
  if (options.endpoints.empty()) {
    return absl::InvalidArgumentError("--etcd-endpoints: no endpoint given");
  }
  const bool tls = absl::StartsWith(options.endpoints.front(), "https://");
  if (!tls && (!options.ca_file.empty() || !options.cert_file.empty())) {
    return absl::InvalidArgumentError(
        "--etcd-ca-file/--etcd-cert-file need https:// endpoints in --etcd-endpoints");
  }
  if (options.cert_file.empty() != options.key_file.empty()) {
    return absl::InvalidArgumentError("--etcd-cert-file and --etcd-key-file go together");
  }
  if (!options.user.empty() && options.password.empty()) {
    return absl::InvalidArgumentError(
        "--etcd-user needs the password in the environment variable TRUNKROUTE_ETCD_PASSWORD");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      auto ca = ReadPem(options.ca_file, "--etcd-ca-file");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.cert_file.empty()) {
      auto cert = ReadPem(options.cert_file, "--etcd-cert-file");
      if (!cert.ok()) return cert.status();
      auto key = ReadPem(options.key_file, "--etcd-key-file");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  auto client = std::unique_ptr<EtcdClient>(new EtcdClient(options));
  for (const std::string& endpoint : options.endpoints) {
    grpc::ChannelArguments args;
    // Reconnect quickly once a member is back: catching up after an etcd outage should take
    // about a second, not gRPC's default two-minute backoff ceiling.
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    // Notice a member that vanished without closing the connection (a black hole) while a
    // watch is open on it.
    args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 5000);
    args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 2000);
    args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
    // One channel per member, not shared with other channels of this process to the same
    // address (tests run several clients against one member and kill members under them).
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    const std::string target(
        absl::StripPrefix(absl::StripPrefix(absl::string_view(endpoint), "https://"), "http://"));
    Member m;
    m.endpoint = endpoint;
    m.channel = grpc::CreateCustomChannel(target, credentials, args);
    m.kv = etcdserverpb::KV::NewStub(m.channel);
    m.watch = etcdserverpb::Watch::NewStub(m.channel);
    m.lease = etcdserverpb::Lease::NewStub(m.channel);
    m.auth = etcdserverpb::Auth::NewStub(m.channel);
    client->members_.push_back(std::move(m));
  }
  {
    absl::MutexLock lock(&client->token_mu_);
    client->tokens_.resize(client->members_.size());
  }
  return client;
}

std::string EtcdClient::Describe() const {
  return absl::StrCat("etcd ", absl::StrJoin(options_.endpoints, ","));
}

std::string EtcdClient::PrefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

grpc::Status EtcdClient::PrepareContext(size_t index, grpc::ClientContext* context, bool deadline) {
  if (deadline) {
    context->set_deadline(std::chrono::system_clock::now() + options_.request_timeout);
  }
  if (options_.user.empty()) return grpc::Status::OK;
  std::string token;
  {
    absl::MutexLock lock(&token_mu_);
    token = tokens_[index];
  }
  if (token.empty()) {
    grpc::ClientContext auth_context;
    auth_context.set_deadline(std::chrono::system_clock::now() + options_.request_timeout);
    etcdserverpb::AuthenticateRequest req;
    req.set_name(options_.user);
    req.set_password(options_.password);
    etcdserverpb::AuthenticateResponse resp;
    grpc::Status st = members_[index].auth->Authenticate(&auth_context, req, &resp);
    if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION &&
        absl::StrContains(st.error_message(), "authentication is not enabled")) {
      // A user is configured but the cluster has auth off: requests work without a token. Say
      // so once; ask again later (auth may be switched on).
      if (!warned_auth_off_.exchange(true)) {
        LogWarn("--etcd-user is set but etcd has authentication off; connecting without it",
                {{"etcd", members_[index].endpoint}});
      }
      return grpc::Status::OK;
    }
    if (!st.ok()) return st;
    token = resp.token();
    absl::MutexLock lock(&token_mu_);
    tokens_[index] = token;
  }
  context->AddMetadata("token", token);
  return grpc::Status::OK;
}

void EtcdClient::ForgetToken(size_t index) {
  absl::MutexLock lock(&token_mu_);
  tokens_[index].clear();
}

template <typename Call>
grpc::Status EtcdClient::OnAnyMember(const char* /*what*/, Call call) {
  const size_t n = members_.size();
  const size_t first = preferred_.load(std::memory_order_relaxed) % n;
  grpc::Status st;
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (first + i) % n;
    for (int auth_round = 0; auth_round < 2; ++auth_round) {
      grpc::ClientContext context;
      st = PrepareContext(index, &context, /*deadline=*/true);
      if (st.ok()) st = call(members_[index], &context);
      // etcd's simple tokens expire and are per member: fetch a new one once.
      if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED && !options_.user.empty() &&
          auth_round == 0) {
        ForgetToken(index);
        continue;
      }
      break;
    }
    if (!TryAnotherMember(st)) {
      if (st.ok()) preferred_.store(index, std::memory_order_relaxed);
      return st;
    }
  }
  return st;
}

absl::Status EtcdClient::ToStatus(const grpc::Status& st, const char* what) const {
  if (st.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(Describe(), ": ", what, ": ", st.error_message());
  switch (st.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::UnavailableError(std::move(message));
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::UnauthenticatedError(std::move(message));
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::PermissionDeniedError(std::move(message));
    case grpc::StatusCode::OUT_OF_RANGE:
      return absl::OutOfRangeError(std::move(message));
    case grpc::StatusCode::INVALID_ARGUMENT:
      return absl::InvalidArgumentError(std::move(message));
    case grpc::StatusCode::FAILED_PRECONDITION:
      return absl::FailedPreconditionError(std::move(message));
    default:
      return absl::InternalError(std::move(message));
  }
}

absl::StatusOr<std::optional<KeyValue>> EtcdClient::Get(const std::string& key,
                                                        int64_t* header_revision) {
  etcdserverpb::RangeRequest req;
  req.set_key(key);
  etcdserverpb::RangeResponse resp;
  grpc::Status st = OnAnyMember(
      "get", [&](Member& m, grpc::ClientContext* ctx) { return m.kv->Range(ctx, req, &resp); });
  if (!st.ok()) return ToStatus(st, "get");
  if (header_revision != nullptr) *header_revision = resp.header().revision();
  if (resp.kvs_size() == 0) return std::optional<KeyValue>();
  return std::optional<KeyValue>(FromProto(resp.kvs(0)));
}

absl::StatusOr<std::vector<KeyValue>> EtcdClient::GetPrefix(const std::string& prefix,
                                                            int64_t* header_revision) {
  etcdserverpb::RangeRequest req;
  req.set_key(prefix);
  req.set_range_end(PrefixEnd(prefix));
  req.set_sort_order(etcdserverpb::RangeRequest::ASCEND);
  req.set_sort_target(etcdserverpb::RangeRequest::KEY);
  etcdserverpb::RangeResponse resp;
  grpc::Status st = OnAnyMember("get prefix", [&](Member& m, grpc::ClientContext* ctx) {
    return m.kv->Range(ctx, req, &resp);
  });
  if (!st.ok()) return ToStatus(st, "get prefix");
  if (header_revision != nullptr) *header_revision = resp.header().revision();
  std::vector<KeyValue> out;
  out.reserve(resp.kvs_size());
  for (const mvccpb::KeyValue& kv : resp.kvs()) out.push_back(FromProto(kv));
  return out;
}

absl::StatusOr<CasResult> EtcdClient::CompareAndPut(const std::string& key,
                                                    const std::string& value,
                                                    int64_t expected_mod_revision, int64_t lease) {
  etcdserverpb::TxnRequest req;
  Compare* cmp = req.add_compare();
  cmp->set_key(key);
  cmp->set_result(Compare::EQUAL);
  if (expected_mod_revision == 0) {
    // Absent: a key that never existed (or was deleted) has create_revision 0.
    cmp->set_target(Compare::CREATE);
    cmp->set_create_revision(0);
  } else {
    cmp->set_target(Compare::MOD);
    cmp->set_mod_revision(expected_mod_revision);
  }
  etcdserverpb::PutRequest* put = req.add_success()->mutable_request_put();
  put->set_key(key);
  put->set_value(value);
  put->set_lease(lease);
  req.add_failure()->mutable_request_range()->set_key(key);
  etcdserverpb::TxnResponse resp;
  grpc::Status st = OnAnyMember(
      "txn", [&](Member& m, grpc::ClientContext* ctx) { return m.kv->Txn(ctx, req, &resp); });
  if (!st.ok()) return ToStatus(st, "compare-and-swap");
  CasResult result;
  result.succeeded = resp.succeeded();
  result.revision = resp.header().revision();
  if (!resp.succeeded() && resp.responses_size() == 1 &&
      resp.responses(0).response_range().kvs_size() == 1) {
    result.current = FromProto(resp.responses(0).response_range().kvs(0));
  }
  return result;
}

absl::StatusOr<int64_t> EtcdClient::Put(const std::string& key, const std::string& value,
                                        int64_t lease) {
  etcdserverpb::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_lease(lease);
  etcdserverpb::PutResponse resp;
  grpc::Status st = OnAnyMember(
      "put", [&](Member& m, grpc::ClientContext* ctx) { return m.kv->Put(ctx, req, &resp); });
  if (!st.ok()) return ToStatus(st, "put");
  return resp.header().revision();
}

absl::Status EtcdClient::Delete(const std::string& key) {
  etcdserverpb::DeleteRangeRequest req;
  req.set_key(key);
  etcdserverpb::DeleteRangeResponse resp;
  return ToStatus(OnAnyMember("delete",
                              [&](Member& m, grpc::ClientContext* ctx) {
                                return m.kv->DeleteRange(ctx, req, &resp);
                              }),
                  "delete");
}

absl::StatusOr<int64_t> EtcdClient::GrantLease(int64_t ttl_seconds) {
  etcdserverpb::LeaseGrantRequest req;
  req.set_ttl(ttl_seconds);
  etcdserverpb::LeaseGrantResponse resp;
  grpc::Status st = OnAnyMember("lease grant", [&](Member& m, grpc::ClientContext* ctx) {
    return m.lease->LeaseGrant(ctx, req, &resp);
  });
  if (!st.ok()) return ToStatus(st, "lease grant");
  if (!resp.error().empty()) {
    return absl::UnavailableError(absl::StrCat(Describe(), ": lease grant: ", resp.error()));
  }
  return resp.id();
}

absl::Status EtcdClient::RevokeLease(int64_t lease) {
  etcdserverpb::LeaseRevokeRequest req;
  req.set_id(lease);
  etcdserverpb::LeaseRevokeResponse resp;
  return ToStatus(OnAnyMember("lease revoke",
                              [&](Member& m, grpc::ClientContext* ctx) {
                                return m.lease->LeaseRevoke(ctx, req, &resp);
                              }),
                  "lease revoke");
}

absl::Status EtcdClient::Compact(int64_t revision) {
  etcdserverpb::CompactionRequest req;
  req.set_revision(revision);
  req.set_physical(true);
  etcdserverpb::CompactionResponse resp;
  return ToStatus(OnAnyMember("compact",
                              [&](Member& m, grpc::ClientContext* ctx) {
                                return m.kv->Compact(ctx, req, &resp);
                              }),
                  "compact");
}

namespace {

class EtcdWatchStream final : public EtcdClient::WatchStream {
 public:
  grpc::ClientContext context;
  std::unique_ptr<grpc::ClientReaderWriter<etcdserverpb::WatchRequest, etcdserverpb::WatchResponse>>
      stream;
  bool Read(etcdserverpb::WatchResponse* response) override { return stream->Read(response); }
  absl::Status Finish() override {
    grpc::Status st = stream->Finish();
    if (st.ok()) return absl::OkStatus();
    return absl::UnavailableError(absl::StrCat("watch ended: ", st.error_message()));
  }
  void Cancel() override { context.TryCancel(); }
};

}  // namespace

absl::StatusOr<int64_t> EtcdClient::KeepAliveOnce(int64_t lease) {
  etcdserverpb::LeaseKeepAliveRequest req;
  req.set_id(lease);
  etcdserverpb::LeaseKeepAliveResponse resp;
  grpc::Status st = OnAnyMember("lease keep-alive", [&](Member& m, grpc::ClientContext* ctx) {
    auto stream = m.lease->LeaseKeepAlive(ctx);
    if (!stream->Write(req) || !stream->Read(&resp)) {
      ctx->TryCancel();
      grpc::Status finished = stream->Finish();
      return finished.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "stream ended") : finished;
    }
    stream->WritesDone();
    ctx->TryCancel();  // one answer is all we wanted
    (void)stream->Finish();
    return grpc::Status::OK;
  });
  if (!st.ok()) return ToStatus(st, "lease keep-alive");
  return resp.ttl();
}

absl::StatusOr<std::unique_ptr<EtcdClient::WatchStream>> EtcdClient::Watch(
    const std::string& key, const std::string& range_end, int64_t start_revision) {
  const size_t n = members_.size();
  const size_t first = preferred_.load(std::memory_order_relaxed) % n;
  grpc::Status st;
  for (size_t i = 0; i < n; ++i) {
    const size_t index = (first + i) % n;
    auto watch = std::make_unique<EtcdWatchStream>();
    // A watch lives long: no deadline. An etcd cluster without a leader is not worth watching
    // (etcd's own clients ask for this): the member then ends the stream, and we move on.
    watch->context.AddMetadata("hasleader", "true");
    st = PrepareContext(index, &watch->context, /*deadline=*/false);
    if (!st.ok()) {
      ForgetToken(index);
      continue;
    }
    // Fail at once when the member is unreachable (the caller retries with backoff) rather than
    // queueing the stream until it comes back.
    if (members_[index].channel->GetState(/*try_to_connect=*/true) ==
        GRPC_CHANNEL_TRANSIENT_FAILURE) {
      st = grpc::Status(grpc::StatusCode::UNAVAILABLE, members_[index].endpoint + " unreachable");
      continue;
    }
    watch->stream = members_[index].watch->Watch(&watch->context);
    etcdserverpb::WatchRequest req;
    etcdserverpb::WatchCreateRequest* create = req.mutable_create_request();
    create->set_key(key);
    create->set_range_end(range_end);
    create->set_start_revision(start_revision);
    create->set_progress_notify(true);
    if (!watch->stream->Write(req)) {
      st = watch->stream->Finish();
      continue;
    }
    preferred_.store(index, std::memory_order_relaxed);
    return std::unique_ptr<WatchStream>(std::move(watch));
  }
  return ToStatus(st.ok() ? grpc::Status(grpc::StatusCode::UNAVAILABLE, "no member") : st, "watch");
}

}  // namespace trunkroute::cluster
