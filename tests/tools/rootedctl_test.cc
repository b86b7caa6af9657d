// rootedctl against a real referral-intake process: tokens, a referral
// submitted from the example file, the list, and the exit codes a script
// relies on (0 done, 1 refused by the service, 2 usage).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <thread>

#include "rooted/forum/v1/forum.grpc.pb.h"
#include "rooted/fund/v1/fund.grpc.pb.h"
#include "tests/forum-scheduling/forum_test_data.h"
#include "tests/support/run_tool.h"
#include "tests/support/service_harness.h"

namespace rooted {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

using Result = rooted::testing::ToolResult;

// Runs rootedctl with `args` (stderr folded into the output).
Result Ctl(const std::string& args) { return rooted::testing::RunTool("tools/rootedctl", args); }

TEST(RootedctlTest, SubmitsListsAndExitsWithClearCodes) {
  const std::string secret(40, 'c');
  rooted::testing::LocalService referral("referral-intake", secret,
                                         {"--pupil-ref-secret=" + std::string(40, 'p')});
  Result token = Ctl("token --role=school_staff --org=school:100001 --la=801 --subject=teacher-1 " +
                     std::string("--token-secret=") + secret);
  ASSERT_EQ(token.exit_code, 0) << token.out;
  const std::string bearer = token.out.substr(0, token.out.find('\n'));
  const std::string as_school = "--token=" + bearer + " --referral-target=" + referral.target();

  // The service may still be starting: retry the first call for a while.
  Result submitted;
  for (int i = 0; i < 100; ++i) {
    submitted = Ctl("referral submit " + as_school + " --request-id=ctl-submit-0001 --file=" +
                    std::string(ROOTED_SOURCE_DIR) + "/tools/ctl/examples/referral.json");
    if (submitted.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(submitted.exit_code, 0) << submitted.out;
  EXPECT_THAT(submitted.out, StartsWith("referral "));
  EXPECT_THAT(submitted.out, HasSubstr(" submitted (submitted)"));

  Result listed = Ctl("referral list " + as_school);
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_THAT(listed.out, StartsWith("REFERRAL"));
  EXPECT_THAT(listed.out, HasSubstr("A.K."));  // initials only in lists
  EXPECT_EQ(listed.out.find("Amira"), std::string::npos);
  Result json = Ctl("referral list --json " + as_school);
  EXPECT_THAT(json.out, HasSubstr("\"childInitials\": \"A.K.\""));

  Result missing = Ctl("referral show --id=no-such-referral " + as_school);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.out, HasSubstr("NOT_FOUND: referral_id:"));
  Result unauthenticated = Ctl("referral list --referral-target=" + referral.target());
  EXPECT_EQ(unauthenticated.exit_code, 1);
  EXPECT_THAT(unauthenticated.out, HasSubstr("UNAUTHENTICATED"));
  EXPECT_EQ(Ctl("referral list --colour=blue " + as_school).exit_code, 2);
  EXPECT_EQ(Ctl("no such command").exit_code, 2);
  // The same referral in YAML.
  Result yaml = Ctl("referral submit " + as_school + " --request-id=ctl-submit-0002 --file=" +
                    std::string(ROOTED_SOURCE_DIR) + "/tools/ctl/examples/referral.yaml");
  EXPECT_EQ(yaml.exit_code, 0) << yaml.out;
  Result bad_file = Ctl("referral submit " + as_school + " --file=" + std::string(ROOTED_SOURCE_DIR) +
                        "/tools/ctl/examples/fund-request.yaml");
  EXPECT_EQ(bad_file.exit_code, 2);
  EXPECT_THAT(bad_file.out, HasSubstr("--file: not a ReferralDetails"));
  Result help = Ctl("risk list --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, StartsWith("usage: rootedctl risk list"));
}

TEST(RootedctlTest, RecordsForumDecisionsAndFundRequestsNamingWhatIsWrong) {
  const std::string secret(40, 'c');
  rooted::testing::LocalService forum("forum-scheduling", secret);
  rooted::testing::LocalService fund("fund-payments", secret);
  Result token = Ctl("token --role=forum_coordinator --org=council:801 --la=801 --subject=coordinator-1 " +
                     std::string("--token-secret=") + secret);
  ASSERT_EQ(token.exit_code, 0) << token.out;
  const std::string bearer = "--token=" + token.out.substr(0, token.out.find('\n'));
  const std::string to_forum = bearer + " --forum-target=" + forum.target();

  // Usage errors name the flag and never reach the service.
  Result no_type = Ctl("forum decision --meeting=meeting-0001 --case=case-0001 " + to_forum);
  EXPECT_EQ(no_type.exit_code, 2);
  EXPECT_THAT(no_type.out, HasSubstr("--type"));
  Result bad_type = Ctl("forum decision --meeting=meeting-0001 --case=case-0001 --type=shrug " + to_forum);
  EXPECT_EQ(bad_type.exit_code, 2);
  EXPECT_THAT(bad_type.out, HasSubstr("--type: allocate_programme_lead"));
  Result bad_amount = Ctl("forum decision --meeting=meeting-0001 --case=case-0001 --type=request_fund_support "
                          "--amount=12.345 " + to_forum);
  EXPECT_EQ(bad_amount.exit_code, 2);
  EXPECT_THAT(bad_amount.out, HasSubstr("--amount: pounds"));

  // The service's answer, with the field at fault.
  Result refused;
  for (int i = 0; i < 100; ++i) {
    refused = Ctl("forum decision --meeting=meeting-0001 --case=case-0001 --type=request_fund_support "
                  "--amount=85.50 " + to_forum);
    if (refused.out.find("UNAVAILABLE") == std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_THAT(refused.out, HasSubstr("NOT_FOUND: meeting_id"));

  Result staff = Ctl("token --role=school_staff --org=school:100001 --la=801 --subject=teacher-1 " +
                     std::string("--token-secret=") + secret);
  const std::string to_fund = "--token=" + staff.out.substr(0, staff.out.find('\n')) + " --fund-target=" +
                              fund.target();
  Result request;
  for (int i = 0; i < 100; ++i) {
    request = Ctl("fund request " + to_fund + " --file=" + std::string(ROOTED_SOURCE_DIR) +
                  "/tools/ctl/examples/fund-request.yaml");
    // Until the service serves, UNAVAILABLE is gRPC's own (no field named).
    if (request.out.find("UNAVAILABLE") == std::string::npos ||
        request.out.find("referral_id") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // The example's ids are placeholders: fund payments has heard of no such
  // referral, and says to retry in case its event is still on its way.
  EXPECT_EQ(request.exit_code, 1) << request.out;
  EXPECT_THAT(request.out,
              HasSubstr("UNAVAILABLE: fund_request.referral_id: no referral of yours"));
  EXPECT_EQ(Ctl("fund request " + to_fund).exit_code, 2);
  EXPECT_EQ(Ctl("movement report --from=2026-02-23").exit_code, 2);  // --to missing
  Result bad_date = Ctl("movement report --from=23/02/2026 --to=2026-03-27");
  EXPECT_EQ(bad_date.exit_code, 2);
  EXPECT_THAT(bad_date.out, HasSubstr("--from: a date"));
  EXPECT_EQ(Ctl("screening show").exit_code, 2);
  Result help = Ctl("forum decision --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, HasSubstr("--review-on"));
}

// "Who has looked at this child's record?" is one command: rootedctl asks
// every service's trail and merges the answers in time order, and says so
// when a service did not answer.
TEST(RootedctlTest, AuditAsksEveryServiceAndMergesTheirTrails) {
  const std::string secret(40, 'c');
  rooted::testing::LocalService referral("referral-intake", secret,
                                         {"--pupil-ref-secret=" + std::string(40, 'p')});
  rooted::testing::LocalService fund("fund-payments", secret);
  auto token = [&](const std::string& claims) {
    Result minted = Ctl("token " + claims + " --token-secret=" + secret);
    EXPECT_EQ(minted.exit_code, 0) << minted.out;
    return "--token=" + minted.out.substr(0, minted.out.find('\n'));
  };
  const std::string school =
      token("--role=school_staff --org=school:100001 --la=801 --subject=teacher-1");
  Result submitted;
  for (int i = 0; i < 100; ++i) {
    submitted = Ctl("referral submit " + school + " --referral-target=" + referral.target() +
                    " --request-id=ctl-audit-0001 --file=" + std::string(ROOTED_SOURCE_DIR) +
                    "/tools/ctl/examples/referral.json");
    if (submitted.exit_code == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(submitted.exit_code, 0) << submitted.out;
  const std::string id =
      submitted.out.substr(9, submitted.out.find(' ', 9) - 9);  // "referral <id> ..."
  Result shown = Ctl("referral show --json --purpose=planning " + school +
                     " --referral-target=" + referral.target() + " --id=" + id);
  ASSERT_EQ(shown.exit_code, 0) << shown.out;
  const size_t at = shown.out.find("\"pr_");
  ASSERT_NE(at, std::string::npos) << shown.out;
  const std::string child = shown.out.substr(at + 1, 35);

  // Fund payments has not heard of the referral (no events flow between
  // these two): the school's attempt is refused, and on its trail.
  const std::string request_file = ::testing::TempDir() + "/fund-request.yaml";
  {
    std::ofstream file(request_file);
    file << "fund_id: fund-0001\nallocation_id: allocation-0001\nreferral_id: " << id
         << "\npupil_ref: {value: " << child << "}\ncategory: CATEGORY_TRANSPORT\n"
         << "amount: {pence: 1500}\npayee_type: PAYEE_TYPE_SUPPLIER\npayee_id: payee-0001\n"
         << "justification: Bus pass for the term\nevidence_reference: case-note-1\n";
  }
  Result asked;
  for (int i = 0; i < 100; ++i) {
    asked = Ctl("fund request " + school + " --fund-target=" + fund.target() +
                " --file=" + request_file);
    if (asked.out.find("referral_id") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_THAT(asked.out, HasSubstr("UNAVAILABLE: fund_request.referral_id"));

  const std::string officer =
      token("--role=data_protection_officer --org=council:801 --la=801 --subject=dpo-1");
  const std::string targets =
      " --referral-target=" + referral.target() + " --fund-target=" + fund.target() +
      " --risk-target=127.0.0.1:1 --forum-target=127.0.0.1:1 --directory-target=127.0.0.1:1";
  Result trail = Ctl("audit --pupil-ref=" + child + " --purpose=SAR-0042 " + officer + targets);
  // Three services are not running here: the answer says it is incomplete.
  EXPECT_EQ(trail.exit_code, 1) << trail.out;
  EXPECT_THAT(trail.out, HasSubstr("incomplete, no answer from risk-scoring"));
  const size_t header = trail.out.find("AT (UTC)");
  const size_t show = trail.out.find("GetReferral");
  const size_t refused = trail.out.find("SubmitFundRequest");
  ASSERT_NE(header, std::string::npos) << trail.out;
  ASSERT_NE(show, std::string::npos) << trail.out;
  ASSERT_NE(refused, std::string::npos) << trail.out;
  EXPECT_LT(show, refused) << "in time order across the services";
  EXPECT_THAT(trail.out, HasSubstr("fund-payments"));
  EXPECT_THAT(trail.out, HasSubstr("UNAVAILABLE"));

  // Only the officer may ask; and a question needs a subject.
  EXPECT_EQ(Ctl("audit --pupil-ref=" + child + " " + school + targets).exit_code, 1);
  EXPECT_EQ(Ctl("audit " + officer + targets).exit_code, 2);
}

// A partner's or council's own staff find the forums and funds to act on
// without knowing an id first.
// A call's answer once its service is up: UNAVAILABLE, for up to 10 s, means
// it is still starting.
template <typename Call>
grpc::Status WhileStarting(Call call) {
  grpc::Status status;
  for (int i = 0; i < 100; ++i) {
    status = call();
    if (status.error_code() != grpc::UNAVAILABLE) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return status;
}

TEST(RootedctlTest, ListsTheCouncilsForumsAndFundsWithWhatEachAllocationHasLeft) {
  const std::string secret(40, 'c');
  rooted::testing::LocalService forums("forum-scheduling", secret);
  rooted::testing::LocalService funds("fund-payments", secret);
  auto mint = [&](const std::string& claims) {
    Result minted = Ctl("token " + claims + " --token-secret=" + secret);
    EXPECT_EQ(minted.exit_code, 0) << minted.out;
    return minted.out.substr(0, minted.out.find('\n'));
  };
  const std::string officer =
      mint("--role=council_officer --org=council:801 --la=801 --subject=officer-1");
  const std::string finance =
      mint("--role=finance_officer --org=council:801 --la=801 --subject=finance-1");
  auto context = [](const std::string& token) {
    auto c = std::make_unique<grpc::ClientContext>();
    c->AddMetadata("authorization", "Bearer " + token);
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  };
  auto forum_stub = rooted::forum::v1::ForumService::NewStub(
      grpc::CreateChannel(forums.target(), grpc::InsecureChannelCredentials()));
  rooted::forum::v1::CreateForumRequest create_forum;
  create_forum.set_request_id("ctl-forum-0001");
  *create_forum.mutable_forum() = rooted::forum::testing::SchoolYearForum();
  rooted::forum::v1::CreateForumResponse created_forum;
  grpc::Status status = WhileStarting([&] {
    return forum_stub->CreateForum(context(officer).get(), create_forum, &created_forum);
  });
  ASSERT_TRUE(status.ok()) << status.error_message();

  namespace pv1 = rooted::fund::v1;
  auto fund_stub = pv1::FundService::NewStub(
      grpc::CreateChannel(funds.target(), grpc::InsecureChannelCredentials()));
  pv1::CreateFundRequest create_fund;
  create_fund.set_request_id("ctl-fund-0001");
  pv1::Fund* f = create_fund.mutable_fund();
  f->set_la_code("801");
  f->set_name("Local response fund 2026/27");
  f->mutable_total_budget()->set_pence(1'000'000);
  f->mutable_total_budget()->set_currency("GBP");
  *f->mutable_period_start() = rooted::ToProtoDate(absl::CivilDay(2026, 9, 1));
  *f->mutable_period_end() = rooted::ToProtoDate(absl::CivilDay(2027, 8, 31));
  f->add_categories(pv1::CATEGORY_TRANSPORT);
  for (rooted::common::v1::Money* m : {f->mutable_per_request_limit(), f->mutable_per_child_limit(),
                                       f->mutable_approval()->mutable_school_lead_limit(),
                                       f->mutable_approval()->mutable_two_approver_threshold()}) {
    m->set_pence(30'000);
    m->set_currency("GBP");
  }
  pv1::CreateFundResponse created_fund;
  status = WhileStarting(
      [&] { return fund_stub->CreateFund(context(finance).get(), create_fund, &created_fund); });
  ASSERT_TRUE(status.ok()) << status.error_message();
  pv1::AllocateFundsRequest allocate;
  allocate.set_request_id("ctl-allocate-0001");
  allocate.mutable_allocation()->set_fund_id(created_fund.fund().fund_id());
  allocate.mutable_allocation()->mutable_holder()->set_type(
      rooted::common::v1::ORGANISATION_TYPE_SCHOOL);
  allocate.mutable_allocation()->mutable_holder()->set_id("100001");
  allocate.mutable_allocation()->set_term("autumn-2026");
  allocate.mutable_allocation()->mutable_amount()->set_pence(100'000);
  allocate.mutable_allocation()->mutable_amount()->set_currency("GBP");
  pv1::AllocateFundsResponse allocated;
  status = fund_stub->AllocateFunds(context(finance).get(), allocate, &allocated);
  ASSERT_TRUE(status.ok()) << status.error_message();

  Result listed = Ctl("forum list --token=" + officer + " --forum-target=" + forums.target());
  ASSERT_EQ(listed.exit_code, 0) << listed.out;
  EXPECT_THAT(listed.out, HasSubstr(created_forum.forum().forum_id()));
  EXPECT_THAT(listed.out, HasSubstr("North Multi-Agency Forum"));
  EXPECT_THAT(listed.out, HasSubstr("16:00, every 2 weeks"));

  Result money = Ctl("fund allocations --token=" + finance + " --fund-target=" + funds.target());
  ASSERT_EQ(money.exit_code, 0) << money.out;
  EXPECT_THAT(money.out, HasSubstr("Local response fund 2026/27"));
  EXPECT_THAT(money.out, HasSubstr(allocated.allocation().allocation_id()));
  EXPECT_THAT(money.out, HasSubstr("100001"));
  EXPECT_THAT(money.out, HasSubstr("£1000.00"));
  EXPECT_THAT(money.out, HasSubstr("£10000.00"));  // the fund's budget

  // Another council's officer sees neither.
  const std::string other =
      mint("--role=council_officer --org=council:802 --la=802 --subject=officer-2");
  Result theirs = Ctl("forum list --token=" + other + " --forum-target=" + forums.target());
  EXPECT_EQ(theirs.exit_code, 0) << theirs.out;
  EXPECT_THAT(theirs.out, Not(HasSubstr("North Multi-Agency Forum")));
}

}  // namespace
}  // namespace rooted
