// rooted-cohort: makes a realistic (entirely fictional) council and either
// summarises it, writes its year of signals to a file, or streams them to
// risk-scoring's StreamSignals as the council's bulk loader.
//
//   rooted-cohort [--pupils=5000] [--schools=20] [--seed=1] [--la-code=801]
//                 [--out=signals.bin]            length-delimited rooted.risk.v1.Signal
//                 [--target=127.0.0.1:50052 --token-secret-file=F]
//                 [--days=N]                     only the first N school days

#include <fcntl.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <google/protobuf/util/delimited_message_util.h>
#include <grpcpp/grpcpp.h>

#include <iostream>
#include <map>

#include "common/auth/jwt.h"
#include "common/base/config.h"
#include "rooted/risk/v1/risk.grpc.pb.h"
#include "tools/cohort/cohort.h"

namespace {

namespace v1 = rooted::risk::v1;

int Fail(const absl::Status& status) {
  std::cerr << "rooted-cohort: " << status.message() << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<rooted::Config> config = rooted::Config::Parse(argc, argv);
  if (!config.ok()) return Fail(config.status());
  rooted::cohort::CohortOptions options;
  options.pupils = int(*config->Int("pupils", 5000, 1, 10'000'000));
  options.schools = int(*config->Int("schools", 20, 1, 5000));
  options.seed = uint64_t(*config->Int("seed", 1, 0, INT64_MAX));
  options.academic_year = int(*config->Int("academic-year", 2025, 2000, 2100));
  options.la_code = config->String("la-code", "801");
  const int64_t max_days = *config->Int("days", 400, 1, 400);
  const std::string out = config->String("out", "");
  const std::string target = config->String("target", "");
  absl::StatusOr<std::string> secret =
      target.empty() ? absl::StatusOr<std::string>("") : config->Secret("token-secret", 32);
  if (!secret.ok()) return Fail(secret.status());
  if (absl::Status used = config->CheckAllFlagsUsed(); !used.ok()) return Fail(used);

  const rooted::cohort::Cohort cohort(options);
  const std::vector<absl::CivilDay> days = cohort.SchoolDays();
  const absl::CivilDay last_day =
      days[size_t(std::min<int64_t>(max_days, int64_t(days.size())) - 1)];
  std::map<std::string, int64_t> counts;
  auto in_range = [&](const v1::Signal& s) {
    const std::optional<absl::CivilDay> day = rooted::cohort::SignalDay(s);
    return !day || *day <= last_day;
  };
  auto count = [&](const v1::Signal& s) {
    ++counts[s.has_attendance()   ? "attendance marks"
             : s.has_suspension() ? "suspensions"
             : s.has_exclusion()  ? "permanent exclusions"
             : s.has_move()       ? "moves"
                                  : "pupil contexts"];
  };

  if (!out.empty()) {
    const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return Fail(absl::InvalidArgumentError("--out: cannot create " + out));
    google::protobuf::io::FileOutputStream stream(fd);
    cohort.Generate([&](v1::Signal&& s) {
      if (!in_range(s)) return false;
      count(s);
      return google::protobuf::util::SerializeDelimitedToZeroCopyStream(s, &stream);
    });
    stream.Close();
  } else if (!target.empty()) {
    auto signer = rooted::JwtSigner::Create(rooted::JwtAlgorithm::kHs256, *secret);
    if (!signer.ok()) return Fail(signer.status());
    rooted::TokenRequest request;
    request.principal = {"rooted-cohort",
                         {rooted::common::v1::ROLE_SERVICE},
                         rooted::common::v1::ORGANISATION_TYPE_COUNCIL,
                         options.la_code,
                         options.la_code};
    request.issuer = "rooted-local";
    request.audience = "rooted";
    request.issued_at = absl::Now();
    request.lifetime = absl::Hours(2);
    auto stub = v1::RiskScoringService::NewStub(
        grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + *(*signer)->Sign(request));
    v1::StreamSignalsResponse response;
    auto writer = stub->StreamSignals(&context, &response);
    v1::StreamSignalsRequest batch;
    bool open_stream = true;
    cohort.Generate([&](v1::Signal&& s) {
      if (!in_range(s)) return false;
      count(s);
      *batch.add_signals() = std::move(s);
      if (batch.signals_size() == 2000) {
        open_stream = writer->Write(batch);
        batch.Clear();
      }
      return open_stream;
    });
    if (open_stream && batch.signals_size() > 0) writer->Write(batch);
    writer->WritesDone();
    grpc::Status status = writer->Finish();
    if (!status.ok()) {
      std::cerr << "rooted-cohort: StreamSignals: " << status.error_message() << "\n";
      return 1;
    }
    std::cout << "streamed: " << response.accepted() << " accepted, " << response.rejected()
              << " rejected\n";
  } else {
    cohort.Generate([&](v1::Signal&& s) {
      if (!in_range(s)) return false;
      count(s);
      return true;
    });
  }
  std::cout << "council " << options.la_code << ": " << cohort.schools().size() << " schools, "
            << cohort.pupils().size() << " pupils, school days to "
            << absl::FormatCivilTime(last_day) << "\n";
  for (const auto& [kind, n] : counts) std::cout << "  " << kind << ": " << n << "\n";
  return 0;
}
