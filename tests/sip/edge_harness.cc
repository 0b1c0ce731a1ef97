#include "tests/sip/edge_harness.h"

#include "config/config_store.h"

namespace trunkroute::sip::testing {

absl::StatusOr<std::unique_ptr<EdgeHarness>> EdgeHarness::Start(const std::string& config_json,
                                                                const EdgeOptions& options) {
  absl::StatusOr<v1::Config> parsed = config::ParseConfigJson(config_json, "test config");
  if (!parsed.ok()) return parsed.status();
  std::unique_ptr<EdgeHarness> h(new EdgeHarness());
  auto manager = config::ConfigManager::Create(nullptr, &h->clock_, *parsed);
  if (!manager.ok()) return manager.status();
  h->config_ = *std::move(manager);
  // The order main uses: forwarder → tracker → edge → forwarder points at the edge → the tracker
  // learns the trunks (its first probes go out at once, so the edge must be there) → timer.
  h->tracker_ = std::make_unique<health::HealthTracker>(&h->clock_, &h->random_, &h->forwarder_);
  auto edge = SipEdge::Start(options, h->config_.get(), h->tracker_.get(), &h->clock_);
  if (!edge.ok()) return edge.status();
  h->edge_ = *std::move(edge);
  h->forwarder_.SetTarget(h->edge_.get());
  h->tracker_->ApplyTable(*h->config_->Current());
  h->timer_ = std::make_unique<health::HealthTimerThread>(h->tracker_.get());
  health::HealthTracker* tracker = h->tracker_.get();
  health::HealthTimerThread* timer = h->timer_.get();
  h->config_->AddListener([tracker, timer](const std::shared_ptr<const router::RoutingTable>& t) {
    tracker->ApplyTable(*t);
    timer->Wake();
  });
  return h;
}

void EdgeHarness::Stop() {
  forwarder_.SetTarget(nullptr);
  if (edge_) edge_->Stop();
}

EdgeHarness::~EdgeHarness() { Stop(); }

}  // namespace trunkroute::sip::testing
