// The ledger against a real redis-server: transfers balance, replays change
// nothing, no allocation is overdrawn even with many concurrent writers, and
// a randomised sequence keeps every invariant after each step.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <random>
#include <thread>

#include "absl/strings/match.h"
#include "services/fund-payments/ledger.h"
#include "tests/support/local_stack.h"

namespace rooted::fund {
namespace {

using ::testing::StartsWith;

class LedgerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new rooted::testing::RedisServer(); }
  static void TearDownTestSuite() { delete server_; }

  void SetUp() override {
    RedisOptions options;
    options.port = server_->port();
    redis_ = std::make_unique<RedisClient>(options);
    pipe_ = *PipelinedRedis::Start(options);
    prefix_ = "fl" + std::to_string(++suite_counter_);
    ledger_ = std::make_unique<Ledger>(*redis_, *pipe_, prefix_);
  }

  Transfer Move(const std::string& id, const std::string& from, const std::string& to,
                int64_t pence, const std::string& kind = "test") {
    return Transfer{id, kind, "", {{from, to, pence}}};
  }

  absl::Time at_ = absl::FromUnixSeconds(1'790'000'000);
  static rooted::testing::RedisServer* server_;
  static int suite_counter_;
  // The form that does not wait, with its callback's result.
  absl::StatusOr<TransferResult> ApplyWithoutWaiting(const Transfer& transfer) {
    std::promise<absl::StatusOr<TransferResult>> result;
    ledger_->Apply(transfer, at_, {},
                   [&](absl::StatusOr<TransferResult> r) { result.set_value(std::move(r)); });
    return result.get_future().get();
  }

  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<PipelinedRedis> pipe_;
  std::string prefix_;
  std::unique_ptr<Ledger> ledger_;
};

rooted::testing::RedisServer* LedgerTest::server_ = nullptr;
int LedgerTest::suite_counter_ = 0;

TEST_F(LedgerTest, MoneyMovesAndEveryTransferBalances) {
  ASSERT_TRUE(ledger_->Apply(Move("t-budget", account::Budget("f"), account::Pool("f"), 100'000), at_).ok());
  ASSERT_TRUE(ledger_->Apply(Move("t-alloc", account::Pool("f"), account::Allocation("a"), 30'000), at_).ok());
  // A request of £120: committed, approved, paid.
  ASSERT_TRUE(ledger_->Apply(Move("t-commit", account::Allocation("a"), account::Committed("a"), 12'000), at_).ok());
  ASSERT_TRUE(ledger_->Apply(Move("t-approve", account::Committed("a"), account::Payable("f"), 12'000), at_).ok());
  ASSERT_TRUE(ledger_->Apply(Move("t-paid", account::Payable("f"), account::Paid("f"), 12'000), at_).ok());
  EXPECT_EQ(*ledger_->Balance(account::Budget("f")), -100'000);
  EXPECT_EQ(*ledger_->Balance(account::Pool("f")), 70'000);
  EXPECT_EQ(*ledger_->Balance(account::Allocation("a")), 18'000);
  EXPECT_EQ(*ledger_->Balance(account::Committed("a")), 0);
  EXPECT_EQ(*ledger_->Balance(account::Paid("f")), 12'000);
  EXPECT_TRUE(ledger_->CheckInvariants().ok());
  // Five transfers, two entries each, in order.
  auto journal = ledger_->Journal("-", 100);
  ASSERT_TRUE(journal.ok());
  ASSERT_EQ(journal->size(), 10u);
  EXPECT_EQ((*journal)[4].second.transfer_id, "t-commit");
  EXPECT_EQ((*journal)[4].second.account, account::Allocation("a"));
  EXPECT_EQ((*journal)[4].second.delta, -12'000);
  EXPECT_EQ((*journal)[5].second.account, account::Committed("a"));
  EXPECT_EQ((*journal)[5].second.delta, 12'000);
  // A transfer's entries share its place in the journal; each has its own id.
  EXPECT_EQ((*journal)[4].first, (*journal)[5].first);
  EXPECT_NE((*journal)[4].second.entry_id, (*journal)[5].second.entry_id);
  EXPECT_NE((*journal)[3].first, (*journal)[4].first);
}

TEST_F(LedgerTest, PagesOfTheJournalNeverSplitATransfer) {
  ASSERT_TRUE(ledger_->Apply(Move("t-1", account::Budget("f"), account::Pool("f"), 500), at_).ok());
  ASSERT_TRUE(ledger_->Apply(Move("t-2", account::Pool("f"), account::Allocation("a"), 200), at_).ok());
  auto first = ledger_->Journal("-", 1);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ(first->back().second.transfer_id, "t-1");
  auto second = ledger_->Journal(first->back().first, 1);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 2u);
  EXPECT_EQ(second->front().second.transfer_id, "t-2");
  EXPECT_TRUE(ledger_->Journal(second->back().first, 1)->empty());
}

TEST_F(LedgerTest, LegsThatCancelOutAreRefusedAsMovingNothing) {
  Transfer there_and_back{"t-loop", "test", "", {{account::Pool("f"), account::Allocation("a"), 100},
                                                 {account::Allocation("a"), account::Pool("f"), 100}}};
  absl::StatusOr<TransferResult> result = ledger_->Apply(there_and_back, at_);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ledger_->Journal("-", 100)->empty());
}

TEST_F(LedgerTest, AReplayedTransferIdChangesNothing) {
  ASSERT_TRUE(ledger_->Apply(Move("t-1", account::Budget("f"), account::Pool("f"), 500), at_).ok());
  EXPECT_EQ(*ledger_->Apply(Move("t-1", account::Budget("f"), account::Pool("f"), 500), at_),
            TransferResult::kAlreadyApplied);
  EXPECT_EQ(*ledger_->Balance(account::Pool("f")), 500);
  EXPECT_EQ(ledger_->Journal("-", 100)->size(), 2u);
}

// Without waiting, a transfer is the same step: applied once, refused whole.
TEST_F(LedgerTest, ATransferAppliedWithoutWaitingIsCheckedTheSame) {
  EXPECT_EQ(*ApplyWithoutWaiting(Move("t-1", account::Budget("f"), account::Allocation("a"), 500)),
            TransferResult::kApplied);
  EXPECT_EQ(*ApplyWithoutWaiting(Move("t-1", account::Budget("f"), account::Allocation("a"), 500)),
            TransferResult::kAlreadyApplied);
  absl::StatusOr<TransferResult> overdrawn =
      ApplyWithoutWaiting(Move("t-2", account::Allocation("a"), account::Paid("f"), 501));
  EXPECT_EQ(overdrawn.status().code(), absl::StatusCode::kFailedPrecondition) << overdrawn.status();
  EXPECT_TRUE(absl::StartsWith(overdrawn.status().message(), account::Allocation("a"))) << overdrawn.status();
  absl::StatusOr<TransferResult> nothing = ApplyWithoutWaiting(Move("", account::Allocation("a"), account::Paid("f"), 1));
  EXPECT_EQ(nothing.status().code(), absl::StatusCode::kInvalidArgument) << nothing.status();
  EXPECT_EQ(*ledger_->Balance(account::Allocation("a")), 500);
  EXPECT_TRUE(ledger_->CheckInvariants().ok());
}

TEST_F(LedgerTest, AReplayAnswersAlreadyAppliedEvenWhenTheMoneyHasSinceMoved) {
  ASSERT_TRUE(ledger_->Apply(Move("t-1", account::Budget("f"), account::Allocation("a"), 500), at_).ok());
  ASSERT_TRUE(ledger_->Apply(Move("t-spend", account::Allocation("a"), account::Paid("f"), 500), at_).ok());
  // Run again now, t-spend would overdraw the allocation: it is a replay, not a refusal.
  EXPECT_EQ(*ledger_->Apply(Move("t-spend", account::Allocation("a"), account::Paid("f"), 500), at_),
            TransferResult::kAlreadyApplied);
  EXPECT_EQ(*ledger_->Balance(account::Paid("f")), 500);
  EXPECT_TRUE(ledger_->CheckInvariants().ok());
}

TEST_F(LedgerTest, ManyTransfersInOneStepEachLandOrAreRefusedOnTheirOwn) {
  ASSERT_TRUE(ledger_->Apply(Move("t-fund", account::Budget("f"), account::Allocation("a"), 1'000), at_).ok());
  ASSERT_TRUE(ledger_->Apply(Move("t-done", account::Allocation("a"), account::Paid("f"), 100), at_).ok());
  const std::vector<Ledger::Move> moves = {
      {Move("t-one", account::Allocation("a"), account::Paid("f"), 300), {}},
      {Move("t-too-much", account::Allocation("a"), account::Paid("f"), 5'000), {}},
      {Move("", account::Allocation("a"), account::Paid("f"), 1), {}},
      {Move("t-done", account::Allocation("a"), account::Paid("f"), 100), {}},
      {Move("t-two", account::Allocation("a"), account::Paid("f"), 200), {}},
  };
  const std::vector<absl::StatusOr<TransferResult>> results = ledger_->ApplyEach(moves, at_);
  ASSERT_EQ(results.size(), moves.size());
  EXPECT_EQ(*results[0], TransferResult::kApplied);
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*results[3], TransferResult::kAlreadyApplied);
  EXPECT_EQ(*results[4], TransferResult::kApplied);
  EXPECT_EQ(*ledger_->Balance(account::Paid("f")), 600);
  EXPECT_EQ(*ledger_->Balance(account::Allocation("a")), 400);
  EXPECT_TRUE(ledger_->CheckInvariants().ok());
}

TEST_F(LedgerTest, OverdraftsAreRefusedWholeNamingTheAccount) {
  ASSERT_TRUE(ledger_->Apply(Move("t-1", account::Budget("f"), account::Allocation("a"), 1'000), at_).ok());
  // Two legs, the second overdraws: neither lands.
  Transfer t{"t-2", "test", "", {{account::Allocation("a"), account::Committed("a"), 600},
                                 {account::Allocation("a"), account::Committed("b"), 600}}};
  absl::StatusOr<TransferResult> refused = ledger_->Apply(t, at_);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), StartsWith("alloc:a:"));
  EXPECT_EQ(*ledger_->Balance(account::Allocation("a")), 1'000);
  EXPECT_EQ(*ledger_->Balance(account::Committed("a")), 0);
  EXPECT_EQ(ledger_->Apply(Move("t-3", account::Pool("f"), account::Allocation("a"), 1), at_).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ledger_->Apply(Move("", account::Pool("f"), account::Allocation("a"), 1), at_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ledger_->Apply(Move("t-4", account::Pool("f"), account::Allocation("a"), 0), at_).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ledger_->CheckInvariants().ok());
}

TEST_F(LedgerTest, ACeilingRefusesTheWholeTransferNamingTheAccount) {
  // A child's limit of £100: two requests of £60 and £40 fit, a third penny does not.
  const auto request = [&](const std::string& id, int64_t pence) {
    return ledger_->Apply(Transfer{id, "commit", "",
                                   {{account::ChildCapsSource("f"), account::ChildUsed("f", "p1"), pence}},
                                   {{account::ChildUsed("f", "p1"), 10'000}}},
                          at_);
  };
  ASSERT_TRUE(request("c-1", 6'000).ok());
  ASSERT_TRUE(request("c-2", 4'000).ok());
  absl::StatusOr<TransferResult> refused = request("c-3", 1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(std::string(refused.status().message()), account::ChildUsed("f", "p1") + ": over its limit");
  EXPECT_EQ(*ledger_->Balance(account::ChildUsed("f", "p1")), 10'000);
  // Money given back makes room again; a replay of a refused id may now land once.
  ASSERT_TRUE(ledger_->Apply(Move("c-back", account::ChildUsed("f", "p1"), account::ChildCapsSource("f"), 4'000), at_)
                  .ok());
  EXPECT_EQ(*request("c-3", 4'000), TransferResult::kApplied);
  EXPECT_EQ(*request("c-3", 4'000), TransferResult::kAlreadyApplied);
  EXPECT_EQ(*ledger_->Balance(account::ChildUsed("f", "p1")), 10'000);
  EXPECT_EQ(ledger_->Apply(Transfer{"c-4", "commit", "", {{account::Budget("f"), account::Pool("f"), 1}},
                                    {{"", 1}}},
                           at_)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ledger_->CheckInvariants().ok());
}

TEST_F(LedgerTest, RecordsChangeWithTheMoneyOrNotAtAll) {
  ASSERT_TRUE(ledger_->Apply(Move("seed", account::Budget("f"), account::Allocation("a"), 1'000), at_).ok());
  LedgerWrite with;
  with.preconditions.push_back({prefix_ + ":request:r1", "version", ""});
  with.commands.push_back({"HSET", prefix_ + ":request:r1", "version", "1", "status", "submitted"});
  ASSERT_EQ(*ledger_->Apply(Move("commit-r1", account::Allocation("a"), account::Committed("a"), 400), at_, with),
            TransferResult::kApplied);
  EXPECT_EQ(redis_->Command({"HGET", prefix_ + ":request:r1", "status"})->str, "submitted");
  // The record moved on: a transfer prepared from the old one is refused whole.
  absl::StatusOr<TransferResult> stale =
      ledger_->Apply(Move("commit-r1b", account::Allocation("a"), account::Committed("a"), 400), at_, with);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(*ledger_->Balance(account::Allocation("a")), 600);
  // Overdrawn: the record is not written either.
  LedgerWrite other;
  other.commands.push_back({"HSET", prefix_ + ":request:r2", "version", "1"});
  EXPECT_FALSE(ledger_->Apply(Move("commit-r2", account::Allocation("a"), account::Committed("a"), 700), at_, other).ok());
  EXPECT_TRUE(redis_->Command({"HGET", prefix_ + ":request:r2", "version"})->is_nil());
  EXPECT_TRUE(ledger_->CheckInvariants().ok());
}

TEST_F(LedgerTest, ManyThreadsAgainstOneAllocationNeverOverspend) {
  // £500 in the allocation; 8 threads each try 50 requests of £3.17.
  ASSERT_TRUE(ledger_->Apply(Move("seed", account::Budget("f"), account::Allocation("a"), 50'000), at_).ok());
  std::atomic<int> committed{0}, refused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        absl::StatusOr<TransferResult> r = ledger_->Apply(
            Move("commit-" + std::to_string(t) + "-" + std::to_string(i), account::Allocation("a"),
                 account::Committed("a"), 317),
            at_);
        if (r.ok()) {
          ++committed;
        } else if (absl::IsFailedPrecondition(r.status())) {
          ++refused;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(committed.load(), 50'000 / 317);  // 157 fit, exactly
  EXPECT_EQ(committed.load() + refused.load(), 400);
  EXPECT_EQ(*ledger_->Balance(account::Allocation("a")), 50'000 - 157 * 317);
  EXPECT_TRUE(ledger_->CheckInvariants().ok());
}

TEST_F(LedgerTest, RandomOperationsKeepEveryInvariantAfterEachStep) {
  std::mt19937 random(2026);
  const std::vector<std::string> allocations = {"a1", "a2", "a3"};
  ASSERT_TRUE(ledger_->Apply(Move("seed", account::Budget("f"), account::Pool("f"), 200'000), at_).ok());
  for (int step = 0; step < 400; ++step) {
    const std::string a = allocations[random() % allocations.size()];
    const int64_t pence = 1 + int64_t(random() % 20'000);
    const std::string id = "op-" + std::to_string(step);
    // Replays of earlier ids now and then.
    const std::string maybe_replayed = random() % 10 == 0 && step > 0
                                           ? "op-" + std::to_string(random() % step)
                                           : id;
    Transfer t;
    switch (random() % 6) {
      case 0: t = Move(maybe_replayed, account::Pool("f"), account::Allocation(a), pence); break;
      case 1: t = Move(maybe_replayed, account::Allocation(a), account::Committed(a), pence); break;
      case 2: t = Move(maybe_replayed, account::Committed(a), account::Payable("f"), pence); break;
      case 3: t = Move(maybe_replayed, account::Committed(a), account::Allocation(a), pence); break;
      case 4: t = Move(maybe_replayed, account::Payable("f"), account::Paid("f"), pence); break;
      default: t = Move(maybe_replayed, account::Paid("f"), account::Allocation(a), pence); break;
    }
    absl::StatusOr<TransferResult> r = ledger_->Apply(t, at_);
    ASSERT_TRUE(r.ok() || absl::IsFailedPrecondition(r.status())) << r.status();
    ASSERT_TRUE(ledger_->CheckInvariants().ok()) << "after step " << step << ": "
                                                 << ledger_->CheckInvariants();
  }
  // Money is neither made nor lost: everything the budget gave is somewhere.
  absl::StatusOr<std::map<std::string, int64_t>> balances = ledger_->Balances();
  ASSERT_TRUE(balances.ok());
  int64_t total = 0;
  for (const auto& [name, balance] : *balances) total += balance;
  EXPECT_EQ(total, 0);
}

}  // namespace
}  // namespace rooted::fund
