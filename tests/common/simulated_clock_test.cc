// The rehearsal clock several processes share through a file.

#include "common/base/simulated_clock.h"

#include <gtest/gtest.h>

#include "tests/support/local_stack.h"

namespace rooted {
namespace {

TEST(SimulatedClockTest, EveryReaderSeesTheTimeTheWriterSetsAndItNeverRunsBack) {
  const std::string path = testing::MakeTempDir() + "/clock";
  absl::StatusOr<std::unique_ptr<SimulatedClock>> writer = SimulatedClock::Open(path, /*writable=*/true);
  ASSERT_TRUE(writer.ok()) << writer.status();
  absl::StatusOr<std::unique_ptr<SimulatedClock>> reader = SimulatedClock::Open(path, /*writable=*/false);
  ASSERT_TRUE(reader.ok()) << reader.status();
  // A fresh clock reads real time.
  EXPECT_LT(absl::AbsDuration((*reader)->Now() - absl::Now()), absl::Seconds(1));

  const absl::Time september = absl::FromCivil(absl::CivilSecond(2026, 9, 3, 7, 30, 0), absl::UTCTimeZone());
  ASSERT_TRUE((*writer)->StartAt(september).ok());
  EXPECT_LT(absl::AbsDuration((*reader)->Now() - september), absl::Seconds(1));
  // Time flows on between moves.
  absl::SleepFor(absl::Milliseconds(20));
  EXPECT_GT((*reader)->Now(), september + absl::Milliseconds(15));

  const absl::Time october = september + absl::Hours(24 * 30);
  ASSERT_TRUE((*writer)->AdvanceTo(october).ok());
  EXPECT_GE((*reader)->Now(), october);
  // An earlier time is ignored: the clock never runs backwards.
  ASSERT_TRUE((*writer)->AdvanceTo(september).ok());
  EXPECT_GE((*reader)->Now(), october);
  ASSERT_TRUE((*writer)->CatchUpWithRealTime().ok());
  EXPECT_LT(absl::AbsDuration((*reader)->Now() - absl::Now()), absl::Seconds(1));

  EXPECT_EQ((*reader)->AdvanceTo(october + absl::Hours(1)).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(SimulatedClock::Open(path + ".missing", /*writable=*/false).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rooted
