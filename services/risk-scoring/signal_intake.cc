#include "services/risk-scoring/signal_intake.h"

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/identity/upn.h"
#include "services/risk-scoring/pupil_state.h"
#include "services/risk-scoring/register_codes.h"

namespace rooted::risk {
namespace {

// Earliest register date accepted: history before it is of no use to scoring.
constexpr absl::CivilDay kEarliestDate{2000, 1, 1};
// The most a pupil can be suspended in one school year is 45 school days.
constexpr int kMaxSuspensionSessions = 90;
constexpr size_t kMaxSignalIdLength = 128;

// DfE SEN primary need codes (school census).
constexpr std::array<absl::string_view, 13> kPrimaryNeeds = {
    "SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH", "NSA"};

absl::Status Bad(const std::string& field, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", reason));
}

bool IsPrintableId(const std::string& id) {
  if (id.empty() || id.size() > kMaxSignalIdLength) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  return true;
}

absl::StatusOr<std::string> RefOf(const std::string& upn, const std::string& field,
                                  const PupilRefHasher& hasher) {
  absl::StatusOr<Upn> parsed = ParseUpn(upn);
  if (!parsed.ok()) return Bad(field, parsed.status().message());
  return hasher.RefFor(*parsed);
}

absl::Status CheckDate(const common::v1::Date& date, const std::string& field,
                       absl::CivilDay today) {
  absl::StatusOr<absl::CivilDay> day = FromProtoDate(date);
  if (!day.ok()) return Bad(field, day.status().message());
  if (*day > today) return Bad(field, "is in the future");
  if (*day < kEarliestDate) return Bad(field, "is before 2000");
  return absl::OkStatus();
}

absl::Status CheckReasonCodes(const google::protobuf::RepeatedPtrField<std::string>& codes,
                              const std::string& field) {
  if (codes.size() > 3) return Bad(field, "at most three reason codes");
  for (int i = 0; i < codes.size(); ++i) {
    const std::string& code = codes[i];
    bool ok = code.size() >= 2 && code.size() <= 4;
    for (char c : code) ok = ok && (absl::ascii_isupper(c) || absl::ascii_isdigit(c));
    if (!ok) return Bad(absl::StrCat(field, "[", i, "]"), "a DfE reason code such as \"PP\"");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckMaySendFor(const Principal& principal, const std::string& la_code,
                             const std::string& school_urn, const std::string& field) {
  if (!IsSchoolUrn(school_urn)) return Bad(field, "a 6-digit school URN");
  if (principal.HasAnyRole({common::v1::ROLE_SCHOOL_STAFF, common::v1::ROLE_SCHOOL_LEAD}) &&
      principal.IsSchool(school_urn)) {
    return absl::OkStatus();
  }
  if (principal.HasRole(common::v1::ROLE_SERVICE) &&
      principal.organisation_type == common::v1::ORGANISATION_TYPE_COUNCIL &&
      principal.organisation_id == la_code) {
    return absl::OkStatus();
  }
  return absl::PermissionDeniedError(
      absl::StrCat(field, ": the caller may not send signals for this school"));
}

absl::StatusOr<PseudonymisedSignal> PrepareSignal(
    const v1::Signal& signal, const std::string& prefix, const Principal& principal,
    const std::string& la_code, const PupilRefHasher& hasher, absl::CivilDay today) {
  if (!IsPrintableId(signal.signal_id())) {
    return Bad(prefix + ".signal_id", "1-128 printable characters, no spaces");
  }
  PseudonymisedSignal out;
  out.signal = signal;
  // The sending system's id stays here: it is free text a system could fill
  // with a UPN, and nothing downstream needs it (signals land on natural keys).
  out.signal.clear_signal_id();
  auto take_pupil = [&](const std::string& upn, const std::string& school_urn,
                        const std::string& field) -> absl::Status {
    absl::StatusOr<std::string> ref = RefOf(upn, field + ".upn", hasher);
    if (!ref.ok()) return ref.status();
    absl::Status may = CheckMaySendFor(principal, la_code, school_urn, field + ".school_urn");
    if (!may.ok()) return may;
    out.pupil_ref = *std::move(ref);
    out.school_urn = school_urn;
    return absl::OkStatus();
  };

  switch (signal.kind_case()) {
    case v1::Signal::kAttendance: {
      const std::string field = prefix + ".attendance";
      const v1::AttendanceMark& mark = signal.attendance();
      if (absl::Status s = take_pupil(mark.upn(), mark.school_urn(), field); !s.ok()) return s;
      if (absl::Status s = CheckDate(mark.date(), field + ".date", today); !s.ok()) return s;
      if (mark.session() != v1::SESSION_AM && mark.session() != v1::SESSION_PM) {
        return Bad(field + ".session", "AM or PM");
      }
      if (mark.code().size() > 2) return Bad(field + ".code", "a DfE register code");
      absl::StatusOr<MarkCategory> category =
          ClassifyRegisterCode(mark.code(), *FromProtoDate(mark.date()));
      if (!category.ok()) return Bad(field + ".code", category.status().message());
      out.signal.mutable_attendance()->clear_upn();
      return out;
    }
    case v1::Signal::kSuspension: {
      const std::string field = prefix + ".suspension";
      const v1::Suspension& suspension = signal.suspension();
      if (absl::Status s = take_pupil(suspension.upn(), suspension.school_urn(), field); !s.ok()) {
        return s;
      }
      if (absl::Status s = CheckDate(suspension.start_date(), field + ".start_date", today);
          !s.ok()) {
        return s;
      }
      if (suspension.sessions() < 1 || suspension.sessions() > kMaxSuspensionSessions) {
        return Bad(field + ".sessions", "1 to 90 sessions (a day is two)");
      }
      if (absl::Status s = CheckReasonCodes(suspension.reason_codes(), field + ".reason_codes");
          !s.ok()) {
        return s;
      }
      out.signal.mutable_suspension()->clear_upn();
      return out;
    }
    case v1::Signal::kExclusion: {
      const std::string field = prefix + ".exclusion";
      const v1::PermanentExclusion& exclusion = signal.exclusion();
      if (absl::Status s = take_pupil(exclusion.upn(), exclusion.school_urn(), field); !s.ok()) {
        return s;
      }
      if (absl::Status s = CheckDate(exclusion.date(), field + ".date", today); !s.ok()) return s;
      if (absl::Status s = CheckReasonCodes(exclusion.reason_codes(), field + ".reason_codes");
          !s.ok()) {
        return s;
      }
      out.signal.mutable_exclusion()->clear_upn();
      return out;
    }
    case v1::Signal::kMove: {
      const std::string field = prefix + ".move";
      const v1::SchoolMove& move = signal.move();
      if (!IsSchoolUrn(move.from_school_urn())) {
        return Bad(field + ".from_school_urn", "a 6-digit school URN");
      }
      if (!IsSchoolUrn(move.to_school_urn())) {
        return Bad(field + ".to_school_urn", "a 6-digit school URN");
      }
      if (move.from_school_urn() == move.to_school_urn()) {
        return Bad(field + ".to_school_urn", "must differ from from_school_urn");
      }
      // Either school may report the move.
      const bool from_ok = CheckMaySendFor(principal, la_code, move.from_school_urn(), field).ok();
      const std::string& reporter = from_ok ? move.from_school_urn() : move.to_school_urn();
      if (absl::Status s = take_pupil(move.upn(), reporter, field); !s.ok()) return s;
      if (absl::Status s = CheckDate(move.date(), field + ".date", today); !s.ok()) return s;
      if (move.move_type() != v1::MOVE_TYPE_MANAGED_MOVE &&
          move.move_type() != v1::MOVE_TYPE_SCHOOL_MOVE) {
        return Bad(field + ".move_type", "MANAGED_MOVE or SCHOOL_MOVE");
      }
      out.signal.mutable_move()->clear_upn();
      return out;
    }
    case v1::Signal::kContext: {
      const std::string field = prefix + ".context";
      const v1::PupilContext& context = signal.context();
      if (absl::Status s = take_pupil(context.upn(), context.school_urn(), field); !s.ok()) {
        return s;
      }
      if (absl::Status s = CheckDate(context.as_of(), field + ".as_of", today); !s.ok()) return s;
      if (!v1::SenProvision_IsValid(context.sen_provision()) ||
          context.sen_provision() == v1::SEN_PROVISION_UNSPECIFIED) {
        return Bad(field + ".sen_provision", "NONE, SEN_SUPPORT or EHCP");
      }
      if (!context.primary_need().empty() &&
          std::find(kPrimaryNeeds.begin(), kPrimaryNeeds.end(), context.primary_need()) ==
              kPrimaryNeeds.end()) {
        return Bad(field + ".primary_need", "a DfE primary need code such as \"SEMH\"");
      }
      if (!v1::SocialCareStatus_IsValid(context.social_care()) ||
          context.social_care() == v1::SOCIAL_CARE_STATUS_UNSPECIFIED) {
        return Bad(field + ".social_care", "NONE or a social-care status");
      }
      if (context.year_group() < 0 || context.year_group() > 14) {
        return Bad(field + ".year_group", "0 (reception) to 14");
      }
      out.signal.mutable_context()->clear_upn();
      return out;
    }
    case v1::Signal::KIND_NOT_SET:
      break;
  }
  return Bad(prefix, "one of attendance, suspension, exclusion, move or context");
}

}  // namespace rooted::risk
