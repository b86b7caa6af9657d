#ifndef ROOTED_SERVICES_REFERRAL_INTAKE_PROGRAMME_SERVICE_H_
#define ROOTED_SERVICES_REFERRAL_INTAKE_PROGRAMME_SERVICE_H_

#include <string>

#include "common/base/clock.h"
#include "common/kafka/event_consumer.h"
#include "common/redis/record_store.h"
#include "common/server/guarded_service.h"
#include "rooted/referral/v1/programme.grpc.pb.h"
#include "services/referral-intake/intake_options.h"
#include "services/referral-intake/referral_store.h"

namespace rooted::referral {

// Programmes and screenings beside the referrals (same prefix, outbox, audit):
//   <p>:programme:<id>                  Programme, current version
//   <p>:programme:<id>:v<version>       every version adopted
//   <p>:screening:<referral id>         Screening
//   <p>:programme_screenings:<id>       zset referral id -> screened at (ms)
class ProgrammeStore : public RecordStore {
 public:
  using RecordStore::RecordStore;
  std::string ProgrammeKey(const std::string& id) const { return Key("programme:", id); }
  std::string ProgrammeVersionKey(const std::string& id, int64_t version) const {
    return Key("programme:", absl::StrCat(id, ":v", version));
  }
  std::string ScreeningKey(const std::string& referral_id) const { return Key("screening:", referral_id); }
  std::string ScreeningsKey(const std::string& programme_id) const {
    return Key("programme_screenings:", programme_id);
  }
};

// Council officers keep the programmes and override screenings; anyone of
// the council reads a programme's criteria (they hold no personal data);
// a screening is read by those who may read its referral.
class ProgrammeServiceImpl final {
 public:
  // Binds every RPC of ProgrammeService to its handler here.
  void Bind(GuardedService& service);

  ProgrammeServiceImpl(ProgrammeStore& store, ReferralStore& referrals, const Clock& clock,
                       IntakeOptions options = {});

  absl::Status UpsertProgramme(const Principal& who, const v1::UpsertProgrammeRequest* request,
                               v1::UpsertProgrammeResponse* response);
  absl::Status GetProgramme(const Principal& who, const v1::GetProgrammeRequest* request,
                            v1::GetProgrammeResponse* response);
  absl::Status TestProgrammeCriteria(const Principal& who,
                                     const v1::TestProgrammeCriteriaRequest* request,
                                     v1::TestProgrammeCriteriaResponse* response);
  absl::Status GetScreening(const Principal& who, const v1::GetScreeningRequest* request,
                            v1::GetScreeningResponse* response);
  absl::Status OverrideScreening(const Principal& who, const v1::OverrideScreeningRequest* request,
                                 v1::OverrideScreeningResponse* response);

 private:
  AuditEntry Audit(const Principal& who, absl::string_view action, absl::string_view kind, const std::string& id,
                   const std::string& request_id) const;

  ProgrammeStore& store_;
  ReferralStore& referrals_;
  const Clock& clock_;
  const IntakeOptions options_;
};

// Consumes risk scoring's AttendanceEvidenceTaken (its answer to a referral
// into a programme) and screens the referral: the Screening, its
// ReferralScreened event and the audit entry land once per referral.
class ScreeningHandler final : public EventHandler {
 public:
  ScreeningHandler(ProgrammeStore& store, ReferralStore& referrals, const Clock& clock, std::string producer_name);
  absl::StatusOr<ApplyResult> Apply(const ConsumedEvent& event) override;

 private:
  ProgrammeStore& store_;
  ReferralStore& referrals_;
  const Clock& clock_;
  const std::string producer_name_;
};

}  // namespace rooted::referral

#endif  // ROOTED_SERVICES_REFERRAL_INTAKE_PROGRAMME_SERVICE_H_
