#include "sip/sofia_dns_client.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "sip/edge_util.h"

namespace trunkroute::sip {
namespace {

uint16_t SresType(DnsType t) {
  switch (t) {
    case DnsType::kNaptr:
      return sres_type_naptr;
    case DnsType::kSrv:
      return sres_type_srv;
    case DnsType::kA:
      return sres_type_a;
    case DnsType::kAaaa:
      return sres_type_aaaa;
  }
  return sres_type_a;
}

std::string StatusText(uint16_t status) {
  switch (status) {
    case SRES_FORMAT_ERR:
      return "FORMERR";
    case SRES_SERVER_ERR:
      return "SERVFAIL";
    case SRES_NAME_ERR:
      return "NXDOMAIN";
    case SRES_UNIMPL_ERR:
      return "NOTIMP";
    case SRES_AUTH_ERR:
      return "REFUSED";
    case SRES_TIMEOUT_ERR:
      return "timeout";
    case SRES_RECORD_ERR:
      return "no records";
    case SRES_NETWORK_ERR:
      return "network error";
    default:
      return absl::StrCat("error ", status);
  }
}

std::string StripDot(const char* name) {
  std::string s = name != nullptr ? name : "";
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// The answer of one query, from Sofia's records.
DnsAnswer Convert(DnsType type, sres_record_t** answers) {
  DnsAnswer a;
  if (answers == nullptr || answers[0] == nullptr) {
    a.status = DnsAnswer::Status::kFailed;
    a.error = answers == nullptr ? "no answer" : "empty answer (refused?)";
    return a;
  }
  const uint16_t want = SresType(type);
  uint32_t ttl = std::numeric_limits<uint32_t>::max();
  uint16_t error = 0;
  for (int i = 0; answers[i] != nullptr; ++i) {
    const sres_common_t* r = answers[i]->sr_record;
    if (r->r_status != 0) {
      error = r->r_status;
      continue;
    }
    if (r->r_type != want || r->r_class != sres_class_in) continue;  // CNAMEs and the like
    ttl = std::min(ttl, r->r_ttl);
    switch (type) {
      case DnsType::kNaptr: {
        const sres_naptr_record_t* n = answers[i]->sr_naptr;
        a.naptr.push_back({n->na_order, n->na_prefer, n->na_flags ? n->na_flags : "",
                           n->na_services ? n->na_services : "", StripDot(n->na_replace),
                           r->r_ttl});
        break;
      }
      case DnsType::kSrv: {
        const sres_srv_record_t* s = answers[i]->sr_srv;
        std::string target = s->srv_target != nullptr ? s->srv_target : "";
        if (target != ".") target = StripDot(target.c_str());
        a.srv.push_back({s->srv_priority, s->srv_weight, s->srv_port, target, r->r_ttl});
        break;
      }
      case DnsType::kA: {
        char buf[64];
        if (inet_ntop(AF_INET, &answers[i]->sr_a->a_addr, buf, sizeof(buf)) != nullptr) {
          a.addresses.push_back(buf);
        }
        break;
      }
      case DnsType::kAaaa: {
        char buf[64];
        if (inet_ntop(AF_INET6, &answers[i]->sr_aaaa->aaaa_addr, buf, sizeof(buf)) != nullptr) {
          a.addresses.push_back(buf);
        }
        break;
      }
    }
  }
  if (!a.naptr.empty() || !a.srv.empty() || !a.addresses.empty()) {
    a.status = DnsAnswer::Status::kOk;
    a.ttl = ttl;
  } else if (error == 0 || error == SRES_NAME_ERR || error == SRES_RECORD_ERR) {
    a.status = DnsAnswer::Status::kNoRecords;
    a.error = error == 0 ? "no records" : StatusText(error);
  } else {
    a.status = DnsAnswer::Status::kFailed;
    a.error = StatusText(error);
  }
  return a;
}

}  // namespace

struct SofiaDnsClient::Pending {
  SofiaDnsClient* client = nullptr;
  DnsType type = DnsType::kA;
  Callback done;
  sres_query_t* query = nullptr;
};

absl::StatusOr<std::unique_ptr<SofiaDnsClient>> SofiaDnsClient::Create(su_root_t* root,
                                                                       std::string_view server,
                                                                       std::string_view field) {
  std::unique_ptr<SofiaDnsClient> c(new SofiaDnsClient());
  if (!server.empty()) {
    absl::StatusOr<HostPort> hp = ParseHostPort(server, 53, field);
    if (!hp.ok()) return hp.status();
    in6_addr scratch;
    if (inet_pton(AF_INET, hp->host.c_str(), &scratch) != 1 &&
        inet_pton(AF_INET6, hp->host.c_str(), &scratch) != 1) {
      return absl::InvalidArgumentError(absl::StrCat(std::string(field.data(), field.size()),
                                                     ": \"", std::string(server),
                                                     "\" is not ip:port"));
    }
    const char* tmp = getenv("TMPDIR");
    std::string dir =
        absl::StrCat(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp", "/trunkroute-dns-XXXXXX");
    if (mkdtemp(dir.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a directory for the DNS config"));
    }
    c->temp_dir_ = dir;
    c->resolv_conf_ = dir + "/resolv.conf";
    FILE* f = fopen(c->resolv_conf_.c_str(), "w");
    if (f == nullptr) return absl::InternalError("cannot write the DNS config");
    // One server, our port; a dead server is given up on after about 2 s (1 s, twice).
    std::fprintf(f, "nameserver %s\nport %u\noptions timeout:1 attempts:2\n", hp->host.c_str(),
                 hp->port);
    std::fclose(f);
  }
  c->resolver_ = sres_resolver_create(
      root, c->resolv_conf_.empty() ? nullptr : c->resolv_conf_.c_str(), TAG_END());
  if (c->resolver_ == nullptr) return absl::InternalError("sip: cannot create the DNS resolver");
  c->timer_ = su_timer_create(su_root_task(root), 0);
  return c;
}

SofiaDnsClient::~SofiaDnsClient() {
  for (Pending* p : pending_) {
    if (p->query != nullptr) sres_query_bind(p->query, nullptr, nullptr);
    delete p;
  }
  pending_.clear();
  deferred_.clear();
  if (timer_ != nullptr) su_timer_destroy(timer_);
  if (resolver_ != nullptr) sres_resolver_destroy(resolver_);
  if (!resolv_conf_.empty()) unlink(resolv_conf_.c_str());
  if (!temp_dir_.empty()) rmdir(temp_dir_.c_str());
}

void SofiaDnsClient::Query(DnsType type, const std::string& name, Callback done) {
  auto* p = new Pending{this, type, std::move(done), nullptr};
  pending_.insert(p);
  p->query = sres_query(resolver_, &SofiaDnsClient::OnAnswer, reinterpret_cast<sres_context_t*>(p),
                        SresType(type), name.c_str());
  if (p->query == nullptr) {
    // Refused at once (no usable nameserver): answered from the loop, never from here.
    deferred_.push_back(p);
    su_timer_set_interval(timer_, &SofiaDnsClient::OnDeferred, this, 0);
  }
}

void SofiaDnsClient::OnAnswer(sres_context_t* context, sres_query_t*, sres_record_t** answers) {
  auto* p = reinterpret_cast<Pending*>(context);
  SofiaDnsClient* self = p->client;
  p->query = nullptr;
  DnsAnswer a = Convert(p->type, answers);
  if (answers != nullptr) sres_free_answers(self->resolver_, answers);
  self->Complete(p, a);
}

void SofiaDnsClient::OnDeferred(su_root_magic_t*, su_timer_t*, su_timer_arg_t* arg) {
  auto* self = static_cast<SofiaDnsClient*>(arg);
  std::vector<Pending*> batch;
  batch.swap(self->deferred_);
  DnsAnswer failed;
  failed.status = DnsAnswer::Status::kFailed;
  failed.error = "no usable nameserver";
  for (Pending* p : batch) self->Complete(p, failed);
}

void SofiaDnsClient::Complete(Pending* p, const DnsAnswer& answer) {
  if (pending_.erase(p) == 0) return;
  std::unique_ptr<Pending> owned(p);
  Callback done = std::move(p->done);
  done(answer);  // may destroy this client: nothing of `this` is touched afterwards
}

}  // namespace trunkroute::sip
