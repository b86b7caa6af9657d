#ifndef ROOTED_TOOLS_TERM_TERM_H_
#define ROOTED_TOOLS_TERM_TERM_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/base/simulated_clock.h"

namespace rooted::term {

// Where the five services listen.
struct Targets {
  std::string referral = "127.0.0.1:50051";
  std::string risk = "127.0.0.1:50052";
  std::string forum = "127.0.0.1:50053";
  std::string directory = "127.0.0.1:50054";
  std::string fund = "127.0.0.1:50055";
};

struct TermOptions {
  Targets targets;
  std::string la_code = "801";
  // The local stack's HS256 token key: the scenario signs in as each person.
  std::string token_secret;
  // Pupils across the council's schools; about 40% are in the three pilot
  // secondaries that take part.
  int council_pupils = 7500;
  uint64_t seed = 7;
  // How many pupils each pilot school refers from its list.
  int referrals_per_school = 5;
  // The term played ends on the last school day before this day.
  absl::CivilDay today;
  absl::TimeZone zone;
  // How long to wait for one service to catch up with another's events.
  absl::Duration event_wait = absl::Seconds(60);
};

// The points between phases where a caller may step in (a test kills and
// restarts a service there).
enum class Phase { kReferralsMade, kForumHeld, kPaymentsIssued };

// What happened, for the summary and for tests to check.
struct TermSummary {
  absl::CivilDay first_day;
  absl::CivilDay last_day;
  int school_days = 0;
  std::vector<std::string> pilot_schools;
  int pupils = 0;
  int64_t signals_accepted = 0;
  int64_t signals_rejected = 0;
  std::map<std::string, int> pupils_by_band;  // "low", "medium", ...
  int at_risk_listed = 0;                     // on the schools' lists (medium and above) at referral time
  std::vector<std::string> referral_ids;
  std::map<std::string, int> screenings_by_outcome;  // the programme's screening of each referral
  int forum_cases = 0;
  int meetings_held = 0;
  std::map<std::string, int> decisions_by_type;
  int triaged = 0;
  int services_matched = 0;  // referrals made to directory services
  int leads_allocated = 0;   // cases allocated to a partner's programme lead
  int fund_requests = 0;
  int64_t fund_committed_pence = 0;
  int64_t fund_paid_pence = 0;
  int payments_settled = 0;
  int cases_closed = 0;
  std::map<std::string, int> closures_by_outcome;  // as the outcome report counts them
  std::vector<std::string> outcome_lines;
  // One case followed through every step, and its timeline as served.
  std::string sampled_referral_id;
  std::vector<std::string> sampled_timeline;
  std::string forum_id;
  std::string fund_id;
  std::vector<std::string> meeting_ids;
};

using Progress = std::function<void(const std::string& line)>;
using PhaseHook = std::function<absl::Status(Phase)>;

// Plays a term through the running services on the shared simulated clock:
// three pilot secondaries' registers day by day, their early identification
// lists, referrals, triage, forum meetings and decisions, service referrals,
// fund requests approved and paid, and at the end (back at real time) the
// outcome report and closed cases. Every call carries an idempotency key and
// is retried while its service is unavailable, so a service restarted
// mid-term loses nothing and doubles nothing.
absl::StatusOr<TermSummary> PlayTerm(const TermOptions& options, SimulatedClock& clock,
                                     const Progress& progress, const PhaseHook& hook);

// The academic year whose term is played: today's, or in its first weeks
// (fewer than 20 school days behind it) the one before, ending in July.
int TermAcademicYear(absl::CivilDay today);

// The terms (runs of school days, holidays between them) the demo forum's
// calendar is given when it is set up on `from`, in the term of academic year
// `played_year`: every school day from `from` to the end of the school year
// `today` is in, or of the next one when today is in the summer holidays, so a
// referral made after the demo term still has meetings ahead of it.
std::vector<std::pair<absl::CivilDay, absl::CivilDay>> ForumTerms(int played_year,
                                                                  absl::CivilDay from,
                                                                  absl::CivilDay today);

// The summary as the local run prints it.
std::string FormatSummary(const TermSummary& summary);

}  // namespace rooted::term

#endif  // ROOTED_TOOLS_TERM_TERM_H_
