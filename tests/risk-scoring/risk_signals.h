#ifndef ROOTED_TESTS_RISK_SCORING_RISK_SIGNALS_H_
#define ROOTED_TESTS_RISK_SCORING_RISK_SIGNALS_H_

// Builders for risk-scoring test signals.

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/base/proto_date.h"
#include "rooted/risk/v1/risk.pb.h"

namespace rooted::risk::testing {

inline v1::Signal Mark(const std::string& upn, const std::string& urn, absl::CivilDay day,
                       v1::Session session, const std::string& code) {
  v1::Signal signal;
  signal.set_signal_id(absl::StrCat("m-", urn, "-", absl::FormatCivilTime(day), "-",
                                    session == v1::SESSION_AM ? "am" : "pm"));
  v1::AttendanceMark* mark = signal.mutable_attendance();
  mark->set_upn(upn);
  mark->set_school_urn(urn);
  *mark->mutable_date() = ToProtoDate(day);
  mark->set_session(session);
  mark->set_code(code);
  return signal;
}

// Session `index` counted from the AM session of `first_day`.
inline v1::Signal MarkSession(const std::string& upn, const std::string& urn,
                              absl::CivilDay first_day, int index, const std::string& code) {
  return Mark(upn, urn, first_day + index / 2, index % 2 == 0 ? v1::SESSION_AM : v1::SESSION_PM,
              code);
}

inline v1::Signal SuspensionSignal(const std::string& upn, const std::string& urn,
                                   absl::CivilDay start, int sessions) {
  v1::Signal signal;
  signal.set_signal_id(absl::StrCat("s-", urn, "-", absl::FormatCivilTime(start)));
  v1::Suspension* suspension = signal.mutable_suspension();
  suspension->set_upn(upn);
  suspension->set_school_urn(urn);
  *suspension->mutable_start_date() = ToProtoDate(start);
  suspension->set_sessions(sessions);
  suspension->add_reason_codes("PP");
  return signal;
}

inline v1::Signal ContextSignal(const std::string& upn, const std::string& urn,
                                absl::CivilDay as_of, v1::SenProvision sen,
                                const std::string& primary_need, v1::SocialCareStatus social_care) {
  v1::Signal signal;
  signal.set_signal_id(absl::StrCat("c-", urn, "-", absl::FormatCivilTime(as_of)));
  v1::PupilContext* context = signal.mutable_context();
  context->set_upn(upn);
  context->set_school_urn(urn);
  context->set_sen_provision(sen);
  context->set_primary_need(primary_need);
  context->set_social_care(social_care);
  context->set_year_group(9);
  *context->mutable_as_of() = ToProtoDate(as_of);
  return signal;
}

// 168 days from 1 September with an intervention worked by hand on day 42:
// the six weeks before (84 sessions) miss every 5th session: 67/84 = 79.76%;
// the six weeks after miss every 20th: 79/84 = 94.05%; weeks 7-12 are all
// present; weeks 13-18 ("a term later") miss every 10th: 75/84 = 89.29%.
inline std::string OutcomeRegisterCode(int session) {
  const int window = session / 84;
  const int j = session % 84;
  switch (window) {
    case 0:
      return j % 5 == 0 ? "N" : "/";
    case 1:
      return j % 20 == 0 ? "I" : "/";
    case 3:
      return j % 10 == 0 ? "N" : "/";
    default:
      return "/";
  }
}
inline constexpr int kOutcomeRegisterSessions = 336;
inline constexpr int kOutcomeInterventionDay = 42;

}  // namespace rooted::risk::testing

#endif  // ROOTED_TESTS_RISK_SCORING_RISK_SIGNALS_H_
