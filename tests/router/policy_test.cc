#include "router/policy.h"

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace trunkroute::router {
namespace {

using ::testing::ElementsAre;

TEST(PolicyTest, DefaultFailoverPolicyMatchesTheDesign) {
  const EffectiveFailoverPolicy p = DefaultFailoverPolicy();
  EXPECT_EQ(p.setup_timeout_ms, 1000u);
  for (int code : {408, 500, 502, 503, 504}) EXPECT_TRUE(p.IsFailoverCode(code)) << code;
  for (int code : {404, 480, 486, 487, 603, 200, -1, 700}) EXPECT_FALSE(p.IsFailoverCode(code));
  EXPECT_TRUE(p.failover_on_timeout);
  EXPECT_TRUE(p.failover_on_transport_error);
  EXPECT_EQ(p.max_attempts, 5u);
  EXPECT_EQ(p.retries_per_trunk, 0u);
  EXPECT_EQ(p.call_setup_budget_ms, 4000u);
  EXPECT_TRUE(p.adaptive_timeout);
  EXPECT_TRUE(p.panic_when_all_down);
}

TEST(PolicyTest, DefaultHealthPolicyMatchesTheDesign) {
  const EffectiveHealthPolicy p = DefaultHealthPolicy();
  EXPECT_EQ(p.failure_threshold, 3u);
  EXPECT_EQ(p.probe_failure_threshold, 2u);
  EXPECT_EQ(p.recovery_threshold, 2u);
  EXPECT_EQ(p.hold_down_base_ms, 5000u);
  EXPECT_EQ(p.hold_down_max_ms, 300000u);
  EXPECT_EQ(p.probe_interval_up_ms, 5000u);
  EXPECT_EQ(p.probe_interval_down_ms, 1000u);
  EXPECT_TRUE(p.IsProbeFailureCode(408));
  EXPECT_TRUE(p.IsProbeFailureCode(503));
  EXPECT_FALSE(p.IsProbeFailureCode(404));
}

TEST(PolicyTest, MergeReplacesOnlyFieldsTheOverrideSets) {
  v1::FailoverPolicy override;
  override.set_setup_timeout_ms(250);
  override.set_panic_when_all_down(false);
  const EffectiveFailoverPolicy p = MergeFailoverPolicy(DefaultFailoverPolicy(), override);
  EXPECT_EQ(p.setup_timeout_ms, 250u);
  EXPECT_FALSE(p.panic_when_all_down);
  EXPECT_EQ(p.max_attempts, 5u);
  EXPECT_TRUE(p.IsFailoverCode(503));
}

TEST(PolicyTest, MergeReplacesTheCodeListWhenGiven) {
  v1::FailoverPolicy override;
  override.add_failover_codes(503);
  override.add_failover_codes(486);
  const EffectiveFailoverPolicy p = MergeFailoverPolicy(DefaultFailoverPolicy(), override);
  EXPECT_TRUE(p.IsFailoverCode(486));
  EXPECT_FALSE(p.IsFailoverCode(408));

  v1::HealthPolicy health;
  health.add_probe_failure_codes(500);
  health.set_probes_enabled(false);
  health.set_ramp_up_ms(0);
  const EffectiveHealthPolicy h = MergeHealthPolicy(DefaultHealthPolicy(), health);
  EXPECT_TRUE(h.IsProbeFailureCode(500));
  EXPECT_FALSE(h.IsProbeFailureCode(503));
  EXPECT_FALSE(h.probes_enabled);
  EXPECT_EQ(h.ramp_up_ms, 0u);
  EXPECT_EQ(h.failure_threshold, 3u);
}

TEST(PolicyTest, FailoverToProtoSetsEveryField) {
  const v1::FailoverPolicy p = DefaultFailoverPolicy().ToProto();
  EXPECT_TRUE(p.has_setup_timeout_ms());
  EXPECT_TRUE(p.has_failover_on_timeout());
  EXPECT_TRUE(p.has_failover_on_transport_error());
  EXPECT_TRUE(p.has_max_attempts());
  EXPECT_TRUE(p.has_retries_per_trunk());
  EXPECT_TRUE(p.has_call_setup_budget_ms());
  EXPECT_TRUE(p.has_adaptive_timeout());
  EXPECT_TRUE(p.has_panic_when_all_down());
  EXPECT_THAT(p.failover_codes(), ElementsAre(408, 500, 502, 503, 504));
  EXPECT_EQ(p.retries_per_trunk(), 0u);
}

TEST(PolicyTest, HealthToProtoSetsEveryFieldAndRoundTrips) {
  const EffectiveHealthPolicy original = DefaultHealthPolicy();
  const v1::HealthPolicy p = original.ToProto();
  const google::protobuf::Descriptor* descriptor = p.GetDescriptor();
  const google::protobuf::Reflection* reflection = p.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) {
      EXPECT_GT(reflection->FieldSize(p, field), 0) << field->name();
    } else {
      EXPECT_TRUE(reflection->HasField(p, field)) << field->name();
    }
  }
  EXPECT_THAT(p.probe_failure_codes(), ElementsAre(408, 503));
  // Merging the proto form into an unrelated base gives the original back.
  EffectiveHealthPolicy other;
  other.failure_threshold = 99;
  EXPECT_TRUE(MergeHealthPolicy(other, p) == original);
}

// Every field different from the default, so that a value lost on the way (a field ToProto
// forgets, sets to a constant, or Merge does not read) shows.
EffectiveFailoverPolicy UnusualFailoverPolicy() {
  EffectiveFailoverPolicy p;
  p.setup_timeout_ms = 750;
  p.failover_codes.set(480);
  p.failover_codes.set(503);
  p.failover_on_timeout = false;
  p.failover_on_transport_error = false;
  p.max_attempts = 3;
  p.retries_per_trunk = 2;
  p.call_setup_budget_ms = 2500;
  p.adaptive_timeout = false;
  p.panic_when_all_down = false;
  return p;
}

TEST(PolicyTest, FailoverToProtoRoundTripsEveryFieldsValue) {
  const EffectiveFailoverPolicy original = UnusualFailoverPolicy();
  const v1::FailoverPolicy p = original.ToProto();
  EXPECT_EQ(p.setup_timeout_ms(), 750u);
  EXPECT_THAT(p.failover_codes(), ElementsAre(480, 503));
  EXPECT_FALSE(p.failover_on_timeout());
  EXPECT_FALSE(p.failover_on_transport_error());
  EXPECT_EQ(p.max_attempts(), 3u);
  EXPECT_EQ(p.retries_per_trunk(), 2u);
  EXPECT_EQ(p.call_setup_budget_ms(), 2500u);
  EXPECT_FALSE(p.adaptive_timeout());
  EXPECT_FALSE(p.panic_when_all_down());

  // Each field, the explicit checks above included (a field added to the proto later too), is
  // set and carries this policy's value: moved alone into the default's proto it changes it.
  const v1::FailoverPolicy defaults = DefaultFailoverPolicy().ToProto();
  const google::protobuf::Descriptor* descriptor = p.GetDescriptor();
  const google::protobuf::Reflection* reflection = p.GetReflection();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = descriptor->field(i);
    if (field->is_repeated()) {
      EXPECT_GT(reflection->FieldSize(p, field), 0) << field->name();
    } else {
      EXPECT_TRUE(reflection->HasField(p, field)) << field->name();
    }
    v1::FailoverPolicy with_field = defaults;
    v1::FailoverPolicy donor = p;
    reflection->SwapFields(&with_field, &donor, {field});
    EXPECT_FALSE(google::protobuf::util::MessageDifferencer::Equals(with_field, defaults))
        << field->name() << ": same value as the default's (extend UnusualFailoverPolicy)";
  }

  // And back: the proto merged over the default is the original, field for field; the default's
  // proto merged over the original is the default.
  EXPECT_TRUE(MergeFailoverPolicy(DefaultFailoverPolicy(), p) == original);
  EXPECT_TRUE(MergeFailoverPolicy(original, defaults) == DefaultFailoverPolicy());
}

}  // namespace
}  // namespace trunkroute::router
