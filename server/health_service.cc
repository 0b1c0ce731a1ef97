#include "server/health_service.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/status_util.h"

namespace trunkroute::server {

// A bounded queue between the tracker (which calls OnStateChange on whatever thread caused the
// change, and must never block there) and the stream's thread (which writes to the network).
class HealthServiceImpl::Watcher final : public health::HealthObserver {
 public:
  enum class End { kNone, kOverflow, kShutdown };

  void OnStateChange(const health::HealthEvent& event) override {
    absl::MutexLock lock(&mu_);
    if (end_ != End::kNone) return;
    if (queue_.size() >= kMaxQueuedEvents) {
      end_ = End::kOverflow;
      queue_.clear();
      return;
    }
    v1::TrunkHealthEvent& out = queue_.emplace_back();
    *out.mutable_health() = event.health;
    out.set_previous_state(event.previous_state);
  }

  void Close() {
    absl::MutexLock lock(&mu_);
    if (end_ == End::kNone) end_ = End::kShutdown;
  }

  // Waits up to `timeout` for events; moves them to `out`. Returns the end reason (events queued
  // before a shutdown are still delivered first).
  End Wait(absl::Duration timeout, std::deque<v1::TrunkHealthEvent>* out) {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !queue_.empty() || end_ != End::kNone;
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
    out->swap(queue_);
    queue_.clear();
    return end_;
  }

 private:
  absl::Mutex mu_;
  std::deque<v1::TrunkHealthEvent> queue_ ABSL_GUARDED_BY(mu_);
  End end_ ABSL_GUARDED_BY(mu_) = End::kNone;
};

HealthServiceImpl::~HealthServiceImpl() { Shutdown(); }

void HealthServiceImpl::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutting_down_ = true;
  for (const auto& watcher : watchers_) watcher->Close();
}

grpc::Status HealthServiceImpl::ListTrunkHealth(grpc::ServerContext* context,
                                                const v1::ListTrunkHealthRequest*,
                                                v1::ListTrunkHealthResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  for (v1::TrunkHealth& h : health_->List()) *response->add_trunks() = std::move(h);
  return grpc::Status::OK;
}

grpc::Status HealthServiceImpl::WatchTrunkHealth(grpc::ServerContext* context,
                                                 const v1::WatchTrunkHealthRequest*,
                                                 grpc::ServerWriter<v1::TrunkHealthEvent>* writer) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  auto watcher = std::make_shared<Watcher>();
  {
    absl::MutexLock lock(&mu_);
    if (shutting_down_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
    watchers_.insert(watcher);
  }
  // Registered before the snapshot is taken: a change racing with the snapshot is delivered
  // (possibly twice), never lost.
  const uint64_t observer_id = health_->AddObserver(watcher);
  grpc::Status status = grpc::Status::OK;
  bool open = true;
  for (v1::TrunkHealth& h : health_->List()) {
    v1::TrunkHealthEvent event;
    *event.mutable_health() = std::move(h);
    event.set_snapshot(true);
    if (!writer->Write(event)) {
      open = false;
      break;
    }
  }
  std::deque<v1::TrunkHealthEvent> batch;
  while (open) {
    // Cancellation has no hook in the sync API; a short wait bounds how long a cancelled stream
    // holds its thread.
    Watcher::End end = watcher->Wait(absl::Milliseconds(100), &batch);
    for (const v1::TrunkHealthEvent& event : batch) {
      if (!writer->Write(event)) {
        open = false;
        break;
      }
    }
    batch.clear();
    if (end == Watcher::End::kOverflow) {
      status = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                            absl::StrCat("watcher fell more than ", kMaxQueuedEvents,
                                         " events behind; watch again for a fresh snapshot"));
      break;
    }
    if (end == Watcher::End::kShutdown) {
      // The same answer as a watch that arrives during shutdown: the client should watch again
      // (another instance, or this one once restarted), not take the end for a quiet server.
      status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
      break;
    }
    if (context->IsCancelled()) {
      status = grpc::Status::CANCELLED;
      break;
    }
  }
  health_->RemoveObserver(observer_id);
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
  return status;
}

grpc::Status HealthServiceImpl::SetTrunkAdminState(grpc::ServerContext* context,
                                                   const v1::SetTrunkAdminStateRequest* request,
                                                   v1::SetTrunkAdminStateResponse* response) {
  if (grpc::Status denied = Authorize(auth_, context); !denied.ok()) return denied;
  if (request->trunk_id().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("trunk_id: required"));
  }
  if (request->state() == v1::ADMIN_STATE_UNSPECIFIED || !v1::AdminState_IsValid(request->state())) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        "state: one of ADMIN_STATE_ENABLED, ADMIN_STATE_DRAINING, ADMIN_STATE_FORCED_DOWN, "
        "ADMIN_STATE_FORCED_UP is required"));
  }
  uint64_t from_version = 0;
  v1::AdminState previous = v1::ADMIN_STATE_UNSPECIFIED;
  auto result = config_->Update(0, [&](v1::Config& config) {
    from_version = config.version();
    for (v1::Trunk& trunk : *config.mutable_trunks()) {
      if (trunk.id() == request->trunk_id()) {
        previous = trunk.admin_state();
        trunk.set_admin_state(request->state());
        return absl::OkStatus();
      }
    }
    return absl::NotFoundError(absl::StrCat("trunk '", request->trunk_id(), "' not found"));
  });
  ChangeNote note;
  note.target = "trunk:" + request->trunk_id();
  note.from_version = from_version;
  if (result.ok()) {
    note.to_version = result->table->version();
    note.summary = absl::StrCat("admin_state ", v1::AdminState_Name(previous), " -> ",
                                v1::AdminState_Name(request->state()));
  }
  NoteChange(auth_, context, std::move(note));
  if (!result.ok()) return ToGrpcStatus(result.status());
  // The config listener has applied the new table to the tracker before Update returned.
  health_->Get(request->trunk_id(), response->mutable_health());
  response->set_config_version(result->table->version());
  return grpc::Status::OK;
}

}  // namespace trunkroute::server
