#include "sip/overload.h"

#include <algorithm>
#include <chrono>

namespace trunkroute::sip {

TokenBucket::TokenBucket(double rate_per_s, double depth, MonoTime now)
    : rate_(rate_per_s), depth_(std::max(1.0, depth)), tokens_(depth_), last_(now) {}

void TokenBucket::Take() { tokens_ = std::max(0.0, tokens_ - 1.0); }

bool TokenBucket::Ready(MonoTime now) {
  if (now > last_) {
    const double elapsed_s = std::chrono::duration<double>(now - last_).count();
    tokens_ = std::min(depth_, tokens_ + elapsed_s * rate_);
    last_ = now;
  }
  return tokens_ >= 1.0 - 1e-9;  // refills summed in steps must not miss a whole token
}

bool TokenBucket::FullAt(MonoTime now) const {
  const double elapsed_s =
      now > last_ ? std::chrono::duration<double>(now - last_).count() : 0.0;
  return tokens_ + elapsed_s * rate_ >= depth_;
}

double CallRateBucketDepth(uint32_t calls_per_s) {
  return std::max(2.0, static_cast<double>(calls_per_s) / 10.0);
}

CallRateLimiter::Verdict CallRateLimiter::Admit(std::string_view source, uint32_t max_cps,
                                                uint32_t max_cps_per_source, MonoTime now) {
  absl::MutexLock lock(&mu_);
  if (max_cps != overall_cap_) {
    overall_cap_ = max_cps;
    overall_ = TokenBucket(max_cps, CallRateBucketDepth(max_cps), now);
  }
  if (max_cps_per_source != per_source_cap_) {
    per_source_cap_ = max_cps_per_source;
    per_source_.clear();
  }
  TokenBucket* mine = nullptr;
  if (per_source_cap_ > 0) {
    if (per_source_.size() >= prune_at_) PruneIdle(now);
    auto [it, inserted] = per_source_.try_emplace(std::string(source));
    if (inserted) {
      it->second = TokenBucket(per_source_cap_, CallRateBucketDepth(per_source_cap_), now);
    }
    mine = &it->second;
    if (!mine->Ready(now)) return Verdict::kPerSource;
  }
  if (overall_cap_ > 0) {
    if (!overall_.Ready(now)) return Verdict::kOverall;
    overall_.Take();
  }
  if (mine != nullptr) mine->Take();
  return Verdict::kAdmit;
}

size_t CallRateLimiter::tracked_sources() const {
  absl::MutexLock lock(&mu_);
  return per_source_.size();
}

void CallRateLimiter::PruneIdle(MonoTime now) {
  absl::erase_if(per_source_, [now](const auto& entry) { return entry.second.FullAt(now); });
  // Every source is busy: let the map grow, and prune again only when it has doubled (each
  // prune stays amortised O(1) per call).
  prune_at_ = std::max<size_t>(1024, per_source_.size() * 2);
}

void OverloadDetector::Onset(MonoTime now, std::string_view cause) {
  overloaded_ = true;
  cause_ = cause;
  admit_ = std::max(options_.admit_min, options_.admit_decrease);
  credit_ = 0;
  // The onset is this window's decision: the next cut waits a whole window of its own.
  window_start_ = now;
  window_min_ = queue_fill_;
  window_hard_ = false;
}

bool OverloadDetector::Observe(const Sample& sample) {
  const double lag = static_cast<double>(std::max<int64_t>(0, sample.lag.count()));
  lag_ns_ += options_.lag_weight * (lag - lag_ns_);
  queue_fill_ = sample.rx_buffer_bytes > 0 ? static_cast<double>(sample.rx_queued_bytes) /
                                                 static_cast<double>(sample.rx_buffer_bytes)
                                           : 0.0;
  if (!started_) {
    started_ = true;
    window_start_ = sample.now;
    window_min_ = queue_fill_;
  }
  window_min_ = std::min(window_min_, queue_fill_);
  const bool hard = queue_fill_ >= options_.queue_hard;
  window_hard_ = window_hard_ || hard;
  const bool lag_high = lag_ns_ >= static_cast<double>(options_.lag_on.count());
  const bool was = overloaded_;

  // Onsets that need no whole window: a loop already late (smoothed), a queue about to drop.
  if (!overloaded_ && (hard || lag_high)) {
    Onset(sample.now, hard ? "queue" : "lag");
    return true;
  }
  if (sample.now - window_start_ < options_.window) return false;

  standing_fill_ = window_min_;
  const bool queue_high = standing_fill_ >= options_.queue_on || window_hard_;
  const bool low = standing_fill_ <= options_.queue_off && !window_hard_ &&
                   lag_ns_ <= static_cast<double>(options_.lag_off.count());
  window_start_ = sample.now;
  window_min_ = queue_fill_;
  window_hard_ = false;
  if (queue_high || lag_high) {
    if (!overloaded_) {
      Onset(sample.now, queue_high ? "queue" : "lag");
    } else {
      cause_ = queue_high ? "queue" : "lag";
      admit_ = std::max(options_.admit_min, admit_ * options_.admit_decrease);
    }
  } else if (overloaded_ && low) {
    admit_ = std::min(1.0, admit_ + options_.admit_increase);
    if (admit_ >= 1.0 - 1e-9) {
      admit_ = 1.0;
      overloaded_ = false;
      cause_ = "";
    }
  }
  return overloaded_ != was;
}

bool OverloadDetector::AdmitNext() {
  if (!overloaded_) return true;
  credit_ += admit_;
  if (credit_ >= 1.0 - 1e-9) {
    credit_ = std::max(0.0, credit_ - 1.0);
    return true;
  }
  return false;
}

}  // namespace trunkroute::sip
