#include "metrics/registry.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"

namespace trunkroute::metrics {
namespace {

bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || (c >= '0' && c <= '9'); }

// Prometheus allows ':' in metric names, but reserves it for recording rules; we never use it.
bool IsValidName(std::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::vector<std::string> ToKey(LabelValues values) {
  std::vector<std::string> key;
  key.reserve(values.size());
  for (std::string_view v : values) key.emplace_back(v);
  return key;
}

// `name{a="x",b="y"` + extra label (for le) + `}`; no braces when there are no labels at all.
void AppendSeriesName(std::string* out, std::string_view name, std::string_view suffix,
                      const std::vector<std::string>& label_names,
                      const std::vector<std::string>& values, std::string_view extra_label = {},
                      std::string_view extra_value = {}) {
  out->append(name);
  out->append(suffix);
  if (label_names.empty() && extra_label.empty()) return;
  out->push_back('{');
  for (size_t i = 0; i < label_names.size(); ++i) {
    if (i > 0) out->push_back(',');
    out->append(label_names[i]);
    out->append("=\"");
    AppendEscapedLabelValue(out, values[i]);
    out->push_back('"');
  }
  if (!extra_label.empty()) {
    if (!label_names.empty()) out->push_back(',');
    out->append(extra_label);
    out->append("=\"");
    out->append(extra_value);
    out->push_back('"');
  }
  out->push_back('}');
}

void AppendUint(std::string* out, uint64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out->append(buf, res.ptr);
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

void AppendEscapedLabelValue(std::string* out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '"': out->append("\\\""); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c);
    }
  }
}

void AppendEscapedHelp(std::string* out, std::string_view help) {
  for (char c : help) {
    switch (c) {
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      default: out->push_back(c);
    }
  }
}

void AppendDouble(std::string* out, double value) {
  if (std::isnan(value)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(value)) {
    out->append(value > 0 ? "+Inf" : "-Inf");
    return;
  }
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, value);
  out->append(buf, res.ptr);
}

// A bucket bound as the `le` label value, in the form client_golang writes (Go's
// strconv.FormatFloat(v, 'g', -1, 64)): shortest digits, exponent form only below 1e-4 or from
// 1e+06 up ("0.0005", "1e-05", "2.5"). `le` is a string to PromQL, so dashboards and recording
// rules that select a bucket (le="0.0005") depend on the exact text; std::to_chars alone would
// write "5e-04".
void AppendBucketBound(std::string* out, double bound) {
  if (std::isnan(bound) || std::isinf(bound)) {
    AppendDouble(out, bound);
    return;
  }
  char buf[32];
  auto sci = std::to_chars(buf, buf + sizeof buf, bound, std::chars_format::scientific);
  // The exponent as written ("e-04", "e+01"); the buffer is not NUL-terminated.
  const char* e = std::find(buf, sci.ptr, 'e');
  int exponent = 0;
  if (e != sci.ptr) {
    const char* digits = e + 1;
    if (digits != sci.ptr && *digits == '+') ++digits;
    std::from_chars(digits, sci.ptr, exponent);
  }
  if (exponent < -4 || exponent >= 6) {
    out->append(buf, sci.ptr);
    return;
  }
  auto fixed = std::to_chars(buf, buf + sizeof buf, bound, std::chars_format::fixed);
  out->append(buf, fixed.ptr);
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> bounds;
  double v = start;
  for (int i = 0; i < count; ++i) {
    bounds.push_back(v);
    v *= factor;
  }
  return bounds;
}

// ---- Histogram ----

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)),
      buckets_(std::make_unique<std::atomic<uint64_t>[]>(bounds_->size() + 1)) {}

Histogram::Snapshot Histogram::Read() const {
  Snapshot s;
  s.cumulative.reserve(bounds_->size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---- FamilyBase ----

FamilyBase::FamilyBase(std::string name, std::string help, MetricType type,
                       std::vector<std::string> label_names)
    : name_(std::move(name)),
      help_(std::move(help)),
      type_(type),
      label_names_(std::move(label_names)) {}

void FamilyBase::AppendExposition(std::string* out) const {
  out->append("# HELP ");
  out->append(name_);
  out->push_back(' ');
  AppendEscapedHelp(out, help_);
  out->append("\n# TYPE ");
  out->append(name_);
  out->push_back(' ');
  out->append(MetricTypeName(type_));
  out->push_back('\n');
  AppendSamples(out);
}

int FamilyBase::LabelIndex(std::string_view label_name) const {
  for (size_t i = 0; i < label_names_.size(); ++i) {
    if (label_names_[i] == label_name) return static_cast<int>(i);
  }
  return -1;
}

void FamilyBase::ReportArityMismatch(size_t got) const {
  if (arity_reported_.exchange(true)) return;
  std::string want = absl::StrCat(label_names_.size());
  std::string have = absl::StrCat(got);
  LogError("metric updated with the wrong number of label values; update not exported",
           {{"metric", name_}, {"want", want}, {"got", have}});
}

// ---- Family<T> ----

template <typename T>
Family<T>::Family(std::string name, std::string help, MetricType type,
                  std::vector<std::string> labels,
                  std::shared_ptr<const std::vector<double>> bounds)
    : FamilyBase(std::move(name), std::move(help), type, std::move(labels)),
      bounds_(std::move(bounds)),
      misuse_sink_(NewMetric()) {
  if (label_names().empty()) {
    absl::MutexLock lock(&mu_);
    children_.emplace(std::vector<std::string>{}, std::make_unique<Child>(NewMetric()));
  }
}

template <typename T>
std::unique_ptr<T> Family<T>::NewMetric() const {
  if constexpr (std::is_same_v<T, Histogram>) {
    return std::make_unique<Histogram>(bounds_);
  } else {
    return std::make_unique<T>();
  }
}

template <typename T>
T* Family<T>::WithLabels(LabelValues values) {
  if (values.size() != label_names().size()) {
    ReportArityMismatch(values.size());
    return misuse_sink_.get();
  }
  std::vector<std::string> key = ToKey(values);
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = children_.find(key);
    if (it != children_.end() && it->second->visible) return it->second->metric.get();
  }
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = children_.try_emplace(std::move(key));
  if (inserted) it->second = std::make_unique<Child>(NewMetric());
  it->second->visible = true;
  return it->second->metric.get();
}

template <typename T>
bool Family<T>::Remove(LabelValues values) {
  if (values.size() != label_names().size()) return false;
  absl::MutexLock lock(&mu_);
  auto it = children_.find(ToKey(values));
  if (it == children_.end() || !it->second->visible) return false;
  it->second->visible = false;
  NoteRemoval();
  return true;
}

template <typename T>
size_t Family<T>::RemoveMatching(std::string_view label_name, std::string_view value) {
  int index = LabelIndex(label_name);
  if (index < 0) return 0;
  size_t removed = 0;
  absl::MutexLock lock(&mu_);
  for (auto& [key, child] : children_) {
    if (child->visible && key[static_cast<size_t>(index)] == value) {
      child->visible = false;
      ++removed;
    }
  }
  if (removed > 0) NoteRemoval();
  return removed;
}

template <typename T>
size_t Family<T>::Size() const {
  absl::ReaderMutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& entry : children_) n += entry.second->visible ? 1 : 0;
  return n;
}

template <typename T>
void Family<T>::AppendSamples(std::string* out) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& [key, child] : children_) {
    if (!child->visible) continue;
    const T& m = *child->metric;
    if constexpr (std::is_same_v<T, Counter>) {
      AppendSeriesName(out, name(), "", label_names(), key);
      out->push_back(' ');
      AppendUint(out, m.Value());
      out->push_back('\n');
    } else if constexpr (std::is_same_v<T, Gauge>) {
      AppendSeriesName(out, name(), "", label_names(), key);
      out->push_back(' ');
      AppendDouble(out, m.Value());
      out->push_back('\n');
    } else {
      Histogram::Snapshot snap = m.Read();
      const std::vector<double>& bounds = m.bounds();
      std::string le;
      for (size_t i = 0; i <= bounds.size(); ++i) {
        le.clear();
        if (i < bounds.size()) {
          AppendBucketBound(&le, bounds[i]);
        } else {
          le = "+Inf";
        }
        AppendSeriesName(out, name(), "_bucket", label_names(), key, "le", le);
        out->push_back(' ');
        AppendUint(out, snap.cumulative[i]);
        out->push_back('\n');
      }
      AppendSeriesName(out, name(), "_sum", label_names(), key);
      out->push_back(' ');
      AppendDouble(out, snap.sum);
      out->push_back('\n');
      AppendSeriesName(out, name(), "_count", label_names(), key);
      out->push_back(' ');
      AppendUint(out, snap.count);
      out->push_back('\n');
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- Callback gauges ----

void GaugeSink::Add(LabelValues labels, double value) {
  if (labels.size() != family_->label_names().size() ||
      !samples_.emplace(ToKey(labels), value).second) {
    if (!dropped_) {
      dropped_ = true;
      LogError("callback gauge sample dropped (wrong label count or repeated labels)",
               {{"metric", family_->name()}});
    }
  }
}

CallbackGaugeFamily::CallbackGaugeFamily(std::string name, std::string help,
                                         std::vector<std::string> labels, Callback callback)
    : FamilyBase(std::move(name), std::move(help), MetricType::kGauge, std::move(labels)),
      callback_(std::move(callback)) {}

void CallbackGaugeFamily::SetCallback(Callback callback) {
  absl::MutexLock lock(&mu_);
  callback_ = std::move(callback);
}

void CallbackGaugeFamily::AppendSamples(std::string* out) const {
  GaugeSink sink(this);
  {
    // Held while the callback runs so that SetCallback() can promise it is no longer in use.
    absl::MutexLock lock(&mu_);
    if (!callback_) return;
    callback_(sink);
  }
  for (const auto& [key, value] : sink.samples_) {
    AppendSeriesName(out, name(), "", label_names(), key);
    out->push_back(' ');
    AppendDouble(out, value);
    out->push_back('\n');
  }
}

// ---- Registry ----

absl::Status Registry::CheckNew(const std::string& name, MetricType type,
                                const std::vector<std::string>& label_names) const {
  if (!IsValidName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric name '", name, "': must match [a-zA-Z_][a-zA-Z0-9_]*"));
  }
  bool is_counter = type == MetricType::kCounter;
  if (is_counter && !EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric name '", name, "': counter names must end in _total"));
  }
  if (!is_counter && EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(
        absl::StrCat("metric name '", name, "': only counter names may end in _total"));
  }
  std::set<std::string_view> seen;
  for (const std::string& label : label_names) {
    if (!IsValidName(label)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric '", name, "' label '", label, "': must match [a-zA-Z_][a-zA-Z0-9_]*"));
    }
    if (label.rfind("__", 0) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric '", name, "' label '", label, "': the __ prefix is reserved"));
    }
    if (type == MetricType::kHistogram && label == "le") {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric '", name, "' label 'le': reserved for histogram buckets"));
    }
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric '", name, "' label '", label, "': duplicate label name"));
    }
  }
  if (families_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("metric '", name, "' is already registered"));
  }
  return absl::OkStatus();
}

template <typename F>
F* Registry::Insert(std::unique_ptr<F> family) {
  F* raw = family.get();
  std::string key = raw->name();
  families_.emplace(std::move(key), std::move(family));
  return raw;
}

absl::StatusOr<CounterFamily*> Registry::AddCounter(std::string name, std::string help,
                                                    std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNew(name, MetricType::kCounter, label_names); !s.ok()) return s;
  return Insert(std::unique_ptr<CounterFamily>(new CounterFamily(
      std::move(name), std::move(help), MetricType::kCounter, std::move(label_names), nullptr)));
}

absl::StatusOr<GaugeFamily*> Registry::AddGauge(std::string name, std::string help,
                                                std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNew(name, MetricType::kGauge, label_names); !s.ok()) return s;
  return Insert(std::unique_ptr<GaugeFamily>(new GaugeFamily(
      std::move(name), std::move(help), MetricType::kGauge, std::move(label_names), nullptr)));
}

absl::StatusOr<HistogramFamily*> Registry::AddHistogram(std::string name, std::string help,
                                                        std::vector<std::string> label_names,
                                                        std::vector<double> bounds) {
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (!std::isfinite(bounds[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "histogram '", name, "' bounds[", i, "]: must be finite (+Inf is implicit)"));
    }
    if (i > 0 && bounds[i] <= bounds[i - 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram '", name, "' bounds[", i, "]: must be greater than bounds[",
                       i - 1, "]"));
    }
  }
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNew(name, MetricType::kHistogram, label_names); !s.ok()) return s;
  auto shared_bounds = std::make_shared<const std::vector<double>>(std::move(bounds));
  return Insert(std::unique_ptr<HistogramFamily>(
      new HistogramFamily(std::move(name), std::move(help), MetricType::kHistogram,
                          std::move(label_names), std::move(shared_bounds))));
}

absl::StatusOr<CallbackGaugeFamily*> Registry::AddCallbackGauge(
    std::string name, std::string help, std::vector<std::string> label_names,
    CallbackGaugeFamily::Callback callback) {
  absl::MutexLock lock(&mu_);
  if (absl::Status s = CheckNew(name, MetricType::kGauge, label_names); !s.ok()) return s;
  return Insert(std::unique_ptr<CallbackGaugeFamily>(new CallbackGaugeFamily(
      std::move(name), std::move(help), std::move(label_names), std::move(callback))));
}

size_t Registry::RemoveMatching(std::string_view label_name, std::string_view value) {
  absl::ReaderMutexLock lock(&mu_);
  size_t removed = 0;
  for (auto& entry : families_) removed += entry.second->RemoveMatching(label_name, value);
  return removed;
}

std::string Registry::Serialize() const {
  std::string out;
  SerializeTo(&out);
  return out;
}

void Registry::SerializeTo(std::string* out) const {
  absl::ReaderMutexLock lock(&mu_);
  for (const auto& entry : families_) entry.second->AppendExposition(out);
}

}  // namespace trunkroute::metrics
