// Programmes and screening against a real redis-server: versioned criteria,
// a referral screened from risk scoring's evidence (once, however often the
// event comes), an override that needs a reason and is audited, criteria
// tried on past referrals, and who may read what.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/base/proto_date.h"
#include "common/identity/pupil_ref.h"
#include "common/identity/upn.h"
#include "common/kafka/event_metadata.h"
#include "rooted/referral/v1/referral_events.pb.h"
#include "rooted/risk/v1/risk_events.pb.h"
#include "tests/referral-intake/referral_fixtures.h"
#include "tests/referral-intake/referral_services_stack.h"

namespace rooted::referral {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
namespace cv1 = rooted::common::v1;
namespace kv1 = rooted::risk::v1;


class ProgrammeTest : public rooted::testing::SharedStackTest<testing::ReferralServicesStack> {
 protected:
  v1::ProgrammeService::Stub& programmes() { return *stack_->programme_stub; }
  std::unique_ptr<grpc::ClientContext> As(const std::string& token) { return rooted::testing::AuthedContext(token); }
  std::string Token(const std::string& subject, Role role, OrganisationType type, const std::string& org) {
    return stack_->h.tokens.Mint(subject, role, type, org, "801", stack_->h.clock.Now());
  }
  std::string Officer(const std::string& who = "officer-1") {
    return Token(who, cv1::ROLE_COUNCIL_OFFICER, cv1::ORGANISATION_TYPE_COUNCIL, "801");
  }
  std::string School(const std::string& urn) {
    return Token("teacher-1", cv1::ROLE_SCHOOL_STAFF, cv1::ORGANISATION_TYPE_SCHOOL, urn);
  }

  static v1::Programme Recovery() {
    v1::Programme p;
    p.set_programme_id("attendance-recovery");
    p.set_name("Attendance recovery project");
    v1::ScopeRule* below = p.add_in_scope();
    below->set_rule_id("attendance-below-70");
    below->set_description("attendance below 70%");
    below->mutable_attendance_below()->set_threshold_bp(7000);
    v1::ScopeRule* looked_after = p.add_out_of_scope();
    looked_after->set_rule_id("looked-after");
    looked_after->set_description("looked-after children");
    looked_after->set_looked_after(true);
    looked_after->set_redirect_pathway("virtual-school");
    return p;
  }

  grpc::Status Upsert(const std::string& request_id, const v1::Programme& p, int64_t expected,
                      v1::UpsertProgrammeResponse* response, const std::string& token = "") {
    v1::UpsertProgrammeRequest request;
    request.set_request_id(request_id);
    *request.mutable_programme() = p;
    request.set_expected_version(expected);
    return programmes().UpsertProgramme(As(token.empty() ? Officer() : token).get(), request, response);
  }

  // A referral into the programme, and risk scoring's answer with `present`
  // of 10 sessions for four weeks.
  v1::Referral ReferAndScreen(const std::string& digits, const std::string& request_id, int present,
                              bool looked_after = false) {
    v1::SubmitReferralRequest request;
    request.set_request_id(request_id);
    *request.mutable_details() =
        testing::GoodDetails("100041", std::string(1, UpnCheckLetter("A" + digits)) + digits);
    request.mutable_details()->set_programme_id("attendance-recovery");
    v1::SubmitReferralResponse submitted;
    const grpc::Status status =
        stack_->referral_stub->SubmitReferral(As(School("100041")).get(), request, &submitted);
    EXPECT_TRUE(status.ok()) << status.error_message();
    kv1::RiskEvent answer;
    answer.mutable_metadata()->set_event_id("evidence-" + request_id);
    kv1::AttendanceEvidenceTaken* taken = answer.mutable_attendance_evidence_taken();
    taken->set_referral_id(submitted.referral().referral_id());
    *taken->mutable_pupil_ref() = submitted.referral().pupil_ref();
    taken->set_programme_id("attendance-recovery");
    taken->mutable_evidence()->set_known(true);
    taken->mutable_evidence()->set_looked_after(looked_after);
    for (int week = 0; week < 4; ++week) {
      kv1::WeekAttendance* w = taken->mutable_evidence()->add_weeks();
      *w->mutable_week_start() = ToProtoDate(absl::CivilDay(2026, 10, 5) + 7 * week);
      w->set_possible_sessions(10);
      w->set_present_sessions(present);
    }
    ConsumedEvent event;
    event.topic = "rooted.risk.events.v1";
    event.key = submitted.referral().pupil_ref().value();
    event.payload = answer.SerializeAsString();
    event.headers["event_id"] = answer.metadata().event_id();
    EXPECT_EQ(*stack_->screening->Apply(event), ApplyResult::kApplied);
    EXPECT_EQ(*stack_->screening->Apply(event), ApplyResult::kDuplicate);  // delivered again
    return submitted.referral();
  }

  v1::Screening ScreeningOf(const std::string& referral_id, const std::string& token) {
    v1::GetScreeningRequest request;
    request.set_referral_id(referral_id);
    v1::GetScreeningResponse response;
    const grpc::Status status = programmes().GetScreening(As(token).get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.screening();
  }
};

TEST_F(ProgrammeTest, ReferralsAreScreenedOverriddenWithAReasonAndCriteriaTriedOnThePast) {
  v1::UpsertProgrammeResponse created;
  EXPECT_EQ(Upsert("prog-upsert-0000", Recovery(), 0, &created, School("100041")).error_code(),
            grpc::PERMISSION_DENIED);
  v1::Programme bad = Recovery();
  bad.mutable_in_scope(0)->mutable_attendance_below()->set_threshold_bp(20000);
  grpc::Status invalid = Upsert("prog-upsert-0009", bad, 0, &created);
  EXPECT_EQ(invalid.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(invalid.error_message(), StartsWith("programme.in_scope[0].attendance_below.threshold_bp:"));
  ASSERT_TRUE(Upsert("prog-upsert-0001", Recovery(), 0, &created).ok());
  EXPECT_EQ(created.programme().version(), 1);
  EXPECT_EQ(Upsert("prog-upsert-0002", Recovery(), 0, &created).error_code(), grpc::FAILED_PRECONDITION);

  const v1::Referral accepted = ReferAndScreen("801200041001", "prog-refer-0001", 5);   // 50%
  const v1::Referral declined = ReferAndScreen("801200041002", "prog-refer-0002", 9);   // 90%
  const v1::Referral redirected = ReferAndScreen("801200041003", "prog-refer-0003", 5, true);

  const v1::Screening a = ScreeningOf(accepted.referral_id(), School("100041"));
  EXPECT_EQ(a.outcome(), v1::SCREENING_OUTCOME_ACCEPTED);
  EXPECT_EQ(a.programme_version(), 1);
  const v1::Screening d = ScreeningOf(declined.referral_id(), Officer());
  EXPECT_EQ(d.outcome(), v1::SCREENING_OUTCOME_DECLINED);
  EXPECT_EQ(d.rule_id(), "attendance-below-70");
  EXPECT_THAT(d.reason(), HasSubstr("90.0%"));
  const v1::Screening r = ScreeningOf(redirected.referral_id(), Officer());
  EXPECT_EQ(r.outcome(), v1::SCREENING_OUTCOME_REDIRECTED);
  EXPECT_EQ(r.pathway(), "virtual-school");
  v1::GetScreeningRequest other;
  other.set_referral_id(accepted.referral_id());
  v1::GetScreeningResponse seen;
  EXPECT_EQ(programmes().GetScreening(As(School("100042")).get(), other, &seen).error_code(),
            grpc::NOT_FOUND);

  // An officer overrides the decline, with a reason; without one, refused.
  v1::OverrideScreeningRequest override_request;
  override_request.set_request_id("prog-override-01");
  override_request.set_referral_id(declined.referral_id());
  override_request.set_outcome(v1::SCREENING_OUTCOME_ACCEPTED);
  v1::OverrideScreeningResponse overridden;
  grpc::Status no_reason = programmes().OverrideScreening(As(Officer()).get(), override_request, &overridden);
  EXPECT_EQ(no_reason.error_code(), grpc::INVALID_ARGUMENT);
  EXPECT_THAT(no_reason.error_message(), StartsWith("reason:"));
  override_request.set_reason("Attendance figures lag: the child has not attended since the move home");
  EXPECT_EQ(programmes().OverrideScreening(As(School("100041")).get(), override_request, &overridden).error_code(),
            grpc::PERMISSION_DENIED);
  ASSERT_TRUE(programmes().OverrideScreening(As(Officer("officer-2")).get(), override_request, &overridden).ok());
  EXPECT_EQ(overridden.screening().outcome(), v1::SCREENING_OUTCOME_ACCEPTED);
  EXPECT_EQ(overridden.screening().rules_outcome(), v1::SCREENING_OUTCOME_DECLINED);
  EXPECT_EQ(overridden.screening().overridden_by().subject(), "officer-2");
  v1::OverrideScreeningRequest redirect_without_pathway = override_request;
  redirect_without_pathway.set_request_id("prog-override-02");
  redirect_without_pathway.set_outcome(v1::SCREENING_OUTCOME_REDIRECTED);
  EXPECT_THAT(programmes().OverrideScreening(As(Officer()).get(), redirect_without_pathway, &overridden)
                  .error_message(),
              StartsWith("pathway:"));
  // The override is on the audit trail, with who made it.
  auto audit = stack_->h.redis->Command({"XRANGE", "ri:audit", "-", "+"});
  ASSERT_TRUE(audit.ok());
  bool audited = false;
  for (const RedisReply& entry : audit->elements) {
    std::string flat;
    for (const RedisReply& f : entry.elements[1].elements) flat += f.str + "|";
    audited |= flat.find("OverrideScreening") != std::string::npos && flat.find("officer-2") != std::string::npos;
  }
  EXPECT_TRUE(audited);
  // And the referral's events say so (for its timeline).
  auto outbox = stack_->h.redis->Command({"XRANGE", "ri:outbox", "-", "+"});
  int screened = 0;
  int overrides = 0;
  for (const RedisReply& entry : outbox->elements) {
    for (const RedisReply& f : entry.elements[1].elements) {
      v1::ReferralEvent event;
      if (!event.ParseFromString(f.str) || !event.has_referral_screened()) continue;
      ++screened;
      overrides += event.referral_screened().overridden() ? 1 : 0;
    }
  }
  EXPECT_EQ(screened, 4);  // three screenings (each once) and the override
  EXPECT_EQ(overrides, 1);

  // Tried on the past: a 95% threshold would accept the 90% child too.
  v1::TestProgrammeCriteriaRequest test;
  test.set_programme_id("attendance-recovery");
  *test.mutable_candidate() = Recovery();
  test.mutable_candidate()->mutable_in_scope(0)->mutable_attendance_below()->set_threshold_bp(9500);
  v1::TestProgrammeCriteriaResponse tried;
  ASSERT_TRUE(programmes().TestProgrammeCriteria(As(Officer()).get(), test, &tried).ok());
  ASSERT_EQ(tried.results_size(), 3);
  EXPECT_EQ(tried.accepted(), 2);
  EXPECT_EQ(tried.redirected(), 1);
  EXPECT_EQ(tried.changed(), 0);  // the 90% child was already accepted by the override
  test.mutable_candidate()->mutable_in_scope(0)->mutable_attendance_below()->set_threshold_bp(4000);
  ASSERT_TRUE(programmes().TestProgrammeCriteria(As(Officer()).get(), test, &tried).ok());
  EXPECT_EQ(tried.declined(), 2);
  EXPECT_EQ(tried.changed(), 2);
  test.mutable_candidate()->mutable_in_scope(0)->set_rule_id("");
  grpc::Status bad_candidate = programmes().TestProgrammeCriteria(As(Officer()).get(), test, &tried);
  EXPECT_THAT(bad_candidate.error_message(), StartsWith("candidate.in_scope[0].rule_id:"));

  // A new version: screenings name the version that decided them.
  v1::Programme stricter = Recovery();
  stricter.mutable_in_scope(0)->mutable_attendance_below()->set_threshold_bp(6000);
  ASSERT_TRUE(Upsert("prog-upsert-0003", stricter, 1, &created).ok());
  EXPECT_EQ(created.programme().version(), 2);
  v1::GetProgrammeRequest get;
  get.set_programme_id("attendance-recovery");
  get.set_version(1);
  v1::GetProgrammeResponse first;
  ASSERT_TRUE(programmes().GetProgramme(As(School("100041")).get(), get, &first).ok());
  EXPECT_EQ(first.programme().in_scope(0).attendance_below().threshold_bp(), 7000);
  get.set_version(9);
  EXPECT_EQ(programmes().GetProgramme(As(Officer()).get(), get, &first).error_code(), grpc::NOT_FOUND);
}

}  // namespace
}  // namespace rooted::referral
