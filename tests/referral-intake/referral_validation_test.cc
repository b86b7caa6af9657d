#include "services/referral-intake/referral_validation.h"

#include <gtest/gtest.h>

#include "tests/referral-intake/referral_fixtures.h"

namespace rooted::referral {
namespace {

const absl::Time kNow =
    absl::FromCivil(absl::CivilSecond(2026, 11, 2, 9, 0, 0), absl::UTCTimeZone());

TEST(ReferralValidationTest, AGoodReferralPasses) {
  EXPECT_TRUE(ValidateDetails(testing::GoodDetails("100001"), kNow).ok())
      << ValidateDetails(testing::GoodDetails("100001"), kNow);
}

TEST(ReferralValidationTest, EveryBadFieldIsNamed) {
  for (const testing::BadInput& bad : testing::BadInputs()) {
    v1::ReferralDetails details = testing::GoodDetails("100001");
    bad.spoil(details);
    absl::Status status = ValidateDetails(details, kNow);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad.field;
    EXPECT_EQ(status.message().rfind(bad.field, 0), 0u)
        << "expected " << bad.field << ", got " << status;
  }
}

TEST(ReferralValidationTest, UpdateMaskRefusesIdentityAndUnknownFields) {
  google::protobuf::FieldMask mask;
  mask.add_paths("child.upn");
  EXPECT_EQ(ValidateUpdateMask(mask).code(), absl::StatusCode::kInvalidArgument);
  mask.set_paths(0, "nonsense");
  EXPECT_EQ(ValidateUpdateMask(mask).code(), absl::StatusCode::kInvalidArgument);
  mask.set_paths(0, "needs");
  EXPECT_TRUE(ValidateUpdateMask(mask).ok());
  EXPECT_FALSE(ValidateUpdateMask(google::protobuf::FieldMask()).ok());
}

TEST(ReferralValidationTest, InitialsTakeFirstCharacters) {
  EXPECT_EQ(Initials("amira", "Khan"), "A.K.");
  EXPECT_EQ(Initials("Élodie", "Smith"), "É.S.");
  EXPECT_EQ(Initials("", ""), "");
}

}  // namespace
}  // namespace rooted::referral
