// rooted-term: plays a school term through the running services on a shared
// simulated clock (see tools/term/term.h), then prints what happened. The
// local run (tools/scripts/run-local.sh) calls it once the stack is healthy.
//
//   rooted-term --simulated-clock-file=F --token-secret-file=F
//               [--referral-target=...] [--risk-target=...] [--forum-target=...]
//               [--directory-target=...] [--fund-target=...]
//               [--council-pupils=7500] [--referrals-per-school=5] [--seed=7]
//               [--la-code=801] [--time-zone=Europe/London]

#include <iostream>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/base/config.h"
#include "tools/term/term.h"

namespace {

int Fail(const absl::Status& status) {
  std::cerr << "rooted-term: " << status.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<rooted::Config> config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) return Fail(config.status());
  rooted::term::TermOptions options;
  options.targets.referral = config->String("referral-target", options.targets.referral);
  options.targets.risk = config->String("risk-target", options.targets.risk);
  options.targets.forum = config->String("forum-target", options.targets.forum);
  options.targets.directory = config->String("directory-target", options.targets.directory);
  options.targets.fund = config->String("fund-target", options.targets.fund);
  options.la_code = config->String("la-code", options.la_code);
  absl::StatusOr<int64_t> pupils = config->Int("council-pupils", options.council_pupils, 500, 200'000);
  absl::StatusOr<int64_t> per_school = config->Int("referrals-per-school", options.referrals_per_school, 1, 40);
  absl::StatusOr<int64_t> seed = config->Int("seed", int64_t(options.seed), 0, INT64_MAX);
  absl::StatusOr<std::string> secret = config->Secret("token-secret", 32);
  absl::StatusOr<std::string> clock_file = config->RequiredString("simulated-clock-file");
  for (const absl::Status& s : {pupils.status(), per_school.status(), seed.status(), secret.status(),
                                clock_file.status()}) {
    if (!s.ok()) return Fail(s);
  }
  if (!absl::LoadTimeZone(config->String("time-zone", "Europe/London"), &options.zone)) {
    return Fail(absl::InvalidArgumentError("--time-zone: unknown time zone"));
  }
  if (absl::Status used = config->CheckAllFlagsUsed(); !used.ok()) return Fail(used);
  options.council_pupils = int(*pupils);
  options.referrals_per_school = int(*per_school);
  options.seed = uint64_t(*seed);
  options.token_secret = *secret;
  options.today = absl::ToCivilDay(absl::Now(), options.zone);

  absl::StatusOr<std::unique_ptr<rooted::SimulatedClock>> clock =
      rooted::SimulatedClock::Open(*clock_file, /*writable=*/true);
  if (!clock.ok()) return Fail(clock.status());
  const absl::Time started = absl::Now();
  absl::StatusOr<rooted::term::TermSummary> summary = rooted::term::PlayTerm(
      options, **clock,
      [&](const std::string& line) {
        std::cerr << absl::StrFormat("[%5.1fs] ", absl::ToDoubleSeconds(absl::Now() - started)) << line << std::endl;
      },
      nullptr);
  if (!summary.ok()) return Fail(summary.status());
  std::cout << rooted::term::FormatSummary(*summary);
  return 0;
}
