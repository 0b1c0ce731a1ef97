#ifndef TRUNKROUTE_METRICS_REGISTRY_H_
#define TRUNKROUTE_METRICS_REGISTRY_H_

// A small Prometheus registry: counters, gauges and histograms, each a family of labelled series,
// plus gauges computed at scrape time, written out in text exposition format 0.0.4.
//
// Threading model (the reason this exists instead of a map of numbers behind a lock):
// - A caller resolves a labelled series once (`Counter* c = family.WithLabels({"trunk-a", "UP"})`)
//   and keeps the pointer; every update after that is a relaxed atomic operation: no lock, no
//   allocation. Handles stay valid for the life of the family, even after Remove().
// - WithLabels() for a series that does not exist yet, Remove() and registration take a family
//   or registry mutex. They are rare (config changes, first use of a label set).
// - Serialize() takes the same mutexes as readers only to walk the series lists; it reads values
//   with atomic loads, so a scrape never blocks an update.
//
// Label values must come from bounded sets (trunk ids, route ids, status codes, class names);
// never a dialed number or a call id, which would grow the series set without limit.

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"

namespace trunkroute::metrics {

using LabelValues = absl::Span<const std::string_view>;

enum class MetricType { kCounter, kGauge, kHistogram };
std::string_view MetricTypeName(MetricType type);  // "counter", "gauge", "histogram"

// Monotonically increasing count of events. Integral: every counter here counts discrete things.
class Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down (active calls, a state flag, a timestamp).
class Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  // Lock-free read-modify-write (a compare-exchange loop on the double's bits).
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Inc() { Add(1.0); }
  void Dec() { Add(-1.0); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Distribution over fixed upper bounds (plus the implicit +Inf bucket). Each bucket is its own
// atomic counter (non-cumulative; cumulated at scrape time), so _count always equals the +Inf
// bucket in the output; _sum is an atomic double and may trail the buckets by an in-flight
// observation during a scrape, which Prometheus tolerates.
class Histogram {
 public:
  // `bounds` must be strictly increasing and finite; the family validates and owns them.
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // NaN observations are dropped: one would make _sum NaN for the life of the process.
  void Observe(double v) {
    if (v != v) return;
    const std::vector<double>& b = *bounds_;
    size_t i = 0;
    // Linear: bucket lists are short (≤ ~15) and this beats a binary search there.
    while (i < b.size() && v > b[i]) ++i;
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(v, std::memory_order_relaxed);
  }

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;  // == cumulative.back()
  };
  Snapshot Read() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_->size() + 1
  std::atomic<double> sum_{0.0};
};

// Common part of every family: identity, and the scrape-time writer.
class FamilyBase {
 public:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names);
  virtual ~FamilyBase() = default;
  FamilyBase(const FamilyBase&) = delete;
  FamilyBase& operator=(const FamilyBase&) = delete;

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends "# HELP", "# TYPE" and every visible series, ordered by label values.
  void AppendExposition(std::string* out) const;

  // Hides every series whose label `label_name` equals `value` (a deleted trunk). Returns how
  // many were hidden. Unknown label name: 0.
  virtual size_t RemoveMatching(std::string_view label_name, std::string_view value) = 0;

  // Grows each time a series is hidden (Remove, RemoveMatching). A caller caching handles keeps
  // the value it read before WithLabels() and resolves again once it changes, so a hidden series
  // comes back when its labels are used again (a trunk deleted, then added back).
  uint64_t removals() const { return removals_.load(std::memory_order_acquire); }

 protected:
  virtual void AppendSamples(std::string* out) const = 0;
  // Index of a label name, or -1.
  int LabelIndex(std::string_view label_name) const;
  // Reports (once per family) a WithLabels call with the wrong number of values.
  void ReportArityMismatch(size_t got) const;
  void NoteRemoval() { removals_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
  mutable std::atomic<bool> arity_reported_{false};
  std::atomic<uint64_t> removals_{0};
};

// A family of series of one type, told apart by label values.
template <typename T>
class Family final : public FamilyBase {
 public:
  // Resolves (creating if needed) the series for these label values, in label-name order.
  // Cache the result: the pointer stays valid for the family's lifetime. A call with the wrong
  // number of values is a programming error: it is logged once and answered with a detached
  // series that is never exported (metrics must never take the routing engine down).
  T* WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(LabelValues(values.begin(), values.size()));
  }
  T* WithLabels(LabelValues values);

  // Hides one series (it disappears from scrapes). Handles to it stay valid; updates through
  // them are not exported until WithLabels() asks for the same label values again, which brings
  // the series back with its value (counters never go backwards). False when not visible.
  bool Remove(std::initializer_list<std::string_view> values) {
    return Remove(LabelValues(values.begin(), values.size()));
  }
  bool Remove(LabelValues values);
  size_t RemoveMatching(std::string_view label_name, std::string_view value) override;

  // Number of exported series.
  size_t Size() const;

 private:
  friend class Registry;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> labels,
         std::shared_ptr<const std::vector<double>> bounds);

  struct Child {
    explicit Child(std::unique_ptr<T> m) : metric(std::move(m)) {}
    std::unique_ptr<T> metric;
    bool visible = true;
  };

  std::unique_ptr<T> NewMetric() const;
  void AppendSamples(std::string* out) const override;

  const std::shared_ptr<const std::vector<double>> bounds_;  // histograms only
  const std::unique_ptr<T> misuse_sink_;
  mutable absl::Mutex mu_;
  // Ordered map: stable exposition order without sorting at scrape time.
  std::map<std::vector<std::string>, std::unique_ptr<Child>> children_ ABSL_GUARDED_BY(mu_);
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Receives the samples of a callback gauge during one scrape.
class GaugeSink {
 public:
  // Values in label-name order. Wrong arity or a repeated label set: dropped (logged once).
  void Add(std::initializer_list<std::string_view> labels, double value) {
    Add(LabelValues(labels.begin(), labels.size()), value);
  }
  void Add(LabelValues labels, double value);

 private:
  friend class CallbackGaugeFamily;
  explicit GaugeSink(const FamilyBase* family) : family_(family) {}
  const FamilyBase* family_;
  std::map<std::vector<std::string>, double> samples_;
  bool dropped_ = false;
};

// A gauge family whose series are computed at scrape time (e.g. the state of each trunk read
// from the health tracker), so series of things that no longer exist vanish by themselves.
class CallbackGaugeFamily final : public FamilyBase {
 public:
  using Callback = std::function<void(GaugeSink& sink)>;

  // Replaces the callback (nullptr: no series). Waits for a scrape that is running the old one,
  // so after this returns the old callback's captures may be destroyed.
  void SetCallback(Callback callback);
  // Series come from the callback; nothing to hide.
  size_t RemoveMatching(std::string_view, std::string_view) override { return 0; }

 private:
  friend class Registry;
  CallbackGaugeFamily(std::string name, std::string help, std::vector<std::string> labels,
                      Callback callback);
  void AppendSamples(std::string* out) const override;

  mutable absl::Mutex mu_;
  Callback callback_ ABSL_GUARDED_BY(mu_);
};

// Owns families; writes the exposition. Thread-safe.
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Registration validates names (Prometheus syntax, no ':' which is reserved for recording
  // rules, counters end in _total and nothing else does, no "le" label on histograms, no
  // reserved "__" label prefix, no duplicate label names) and returns InvalidArgument naming
  // the problem, or AlreadyExists for a name taken by another family. A family without labels
  // has its single series from the start (exported as 0 until updated).
  absl::StatusOr<CounterFamily*> AddCounter(std::string name, std::string help,
                                            std::vector<std::string> label_names);
  absl::StatusOr<GaugeFamily*> AddGauge(std::string name, std::string help,
                                        std::vector<std::string> label_names);
  // `bounds`: strictly increasing finite upper bounds; +Inf is implicit.
  absl::StatusOr<HistogramFamily*> AddHistogram(std::string name, std::string help,
                                                std::vector<std::string> label_names,
                                                std::vector<double> bounds);
  absl::StatusOr<CallbackGaugeFamily*> AddCallbackGauge(std::string name, std::string help,
                                                        std::vector<std::string> label_names,
                                                        CallbackGaugeFamily::Callback callback);

  // Hides every series, in every family, whose label `label_name` is `value`.
  size_t RemoveMatching(std::string_view label_name, std::string_view value);

  // Text exposition format 0.0.4, families ordered by name.
  std::string Serialize() const;
  void SerializeTo(std::string* out) const;

  // The Content-Type of Serialize()'s output.
  static constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  absl::Status CheckNew(const std::string& name, MetricType type,
                        const std::vector<std::string>& label_names) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  template <typename F>
  F* Insert(std::unique_ptr<F> family) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_ ABSL_GUARDED_BY(mu_);
};

// Exposition helpers, exposed for tests and for other writers of the format.
// Label value escaping: backslash, double quote and newline.
void AppendEscapedLabelValue(std::string* out, std::string_view value);
// HELP text escaping: backslash and newline.
void AppendEscapedHelp(std::string* out, std::string_view help);
// Shortest text that parses back to the same double; "+Inf", "-Inf", "NaN"; integers without
// a decimal point ("3", not "3.0").
void AppendDouble(std::string* out, double value);

// Bucket helpers for declaring histograms.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

}  // namespace trunkroute::metrics

#endif  // TRUNKROUTE_METRICS_REGISTRY_H_
