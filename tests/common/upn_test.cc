#include "common/identity/upn.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "common/identity/pupil_ref.h"

namespace rooted {
namespace {

TEST(UpnTest, AcceptsTheDomainExamples) {
  for (const char* valid : {"H801200001001", "B801200005001", "G80120000101A", "h801200001001"}) {
    absl::StatusOr<Upn> upn = ParseUpn(valid);
    EXPECT_TRUE(upn.ok()) << valid << ": " << upn.status();
  }
  EXPECT_EQ(ParseUpn("G80120000101A")->kind(), Upn::Kind::kTemporary);
  EXPECT_EQ(ParseUpn("H801200001001")->kind(), Upn::Kind::kPermanent);
  EXPECT_EQ(ParseUpn("h801200001001")->value(), "H801200001001");
  EXPECT_EQ(ParseUpn("H801200001001")->allocating_la_code(), "801");
}

TEST(UpnTest, RejectsWithAReasonThatDoesNotEchoTheNumber) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const Case& c : std::vector<Case>{
           {"Z801200001001", "check letter does not match"},
           {"UN1", "placeholder"},
           {"UN5", "placeholder"},
           {"H80120000100", "13 characters"},
           {"I801200001001", "check letter"},
           {"H80120000X001", "character 10 must be a digit"},
           {"H80120000100S", "character 13"},
           {"", "13 characters"},
       }) {
    absl::StatusOr<Upn> upn = ParseUpn(c.text);
    ASSERT_FALSE(upn.ok()) << c.text;
    EXPECT_EQ(upn.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(upn.status().message().find(c.reason), absl::string_view::npos)
        << c.text << ": " << upn.status();
    if (std::string(c.text).size() > 3) {
      EXPECT_EQ(upn.status().message().find(c.text), absl::string_view::npos);
    }
  }
}

TEST(UpnTest, CheckLetterFollowsTheWeightedSumModulo23) {
  EXPECT_EQ(UpnCheckLetter("?801200001001"), 'H');
  EXPECT_EQ(UpnCheckLetter("?801200005001"), 'B');
  EXPECT_EQ(UpnCheckLetter("?80120000101A"), 'G');
}

TEST(PupilRefTest, IsStablePerSecretAndDiffersAcrossSecrets) {
  auto a = PupilRefHasher::Create(std::string(32, 'a'));
  auto b = PupilRefHasher::Create(std::string(32, 'b'));
  ASSERT_TRUE(a.ok() && b.ok());
  const Upn upn = *ParseUpn("H801200001001");
  EXPECT_EQ(a->RefFor(upn), a->RefFor(*ParseUpn("h801200001001")));
  EXPECT_NE(a->RefFor(upn), b->RefFor(upn));
  EXPECT_TRUE(PupilRefHasher::LooksLikeRef(a->RefFor(upn)));
  EXPECT_EQ(a->RefFor(upn).find("801200001001"), std::string::npos);
}

// The reference is stored in every service and keyed on by each: it must stay
// exactly HMAC-SHA256(secret, UPN), whatever computes it. The expected value
// comes from Python's hmac module.
TEST(PupilRefTest, IsTheFirst128BitsOfHmacSha256InHex) {
  auto a = PupilRefHasher::Create(std::string(32, 'a'));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->RefFor(*ParseUpn("H801200001001")), "pr_ee4906633797b8413edbf544d3dea18e");
}

TEST(PupilRefTest, CopiesGiveTheSameReferenceFromManyThreads) {
  auto made = PupilRefHasher::Create(std::string(32, 'a'));
  ASSERT_TRUE(made.ok());
  const PupilRefHasher copy = *made;
  const Upn upn = *ParseUpn("H801200001001");
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (copy.RefFor(upn) != "pr_ee4906633797b8413edbf544d3dea18e") ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

// Each thread keeps a copy of the keyed state it used last: switching between
// hashers on one thread must never hash under the other's secret.
TEST(PupilRefTest, TwoSecretsUsedInTurnOnOneThreadKeepTheirOwnKeys) {
  const Upn upn = *ParseUpn("H801200001001");
  // Made afresh each time round, so a new hasher may reuse a freed one's memory.
  for (int i = 0; i < 3; ++i) {
    auto a = PupilRefHasher::Create(std::string(32, 'a'));
    auto b = PupilRefHasher::Create(std::string(32, 'b'));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->RefFor(upn), "pr_ee4906633797b8413edbf544d3dea18e");
    EXPECT_EQ(b->RefFor(upn), "pr_8a0f3f95485dacdfc9a82be882f33e2e");
    EXPECT_EQ(a->RefFor(upn), "pr_ee4906633797b8413edbf544d3dea18e");
  }
}

TEST(PupilRefTest, RefusesAShortSecret) { EXPECT_FALSE(PupilRefHasher::Create("short").ok()); }

}  // namespace
}  // namespace rooted
