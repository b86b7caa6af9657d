#include "services/risk-scoring/register_codes.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"

namespace rooted::risk {
namespace {

using Entry = std::pair<absl::string_view, MarkCategory>;
constexpr MarkCategory kP = MarkCategory::kPresent;
constexpr MarkCategory kA = MarkCategory::kApprovedActivity;
constexpr MarkCategory kAuth = MarkCategory::kAuthorisedAbsence;
constexpr MarkCategory kUnauth = MarkCategory::kUnauthorisedAbsence;
constexpr MarkCategory kNc = MarkCategory::kNotCounted;

// Before 19 August 2024 (2006 regulations, as amended). H and F (term-time
// holidays) were withdrawn in 2013 but still appear in older history. D (dual
// registration) is not a possible session here: the other school counts it.
constexpr std::array<Entry, 27> kCodesBefore2024 = {{
    {"/", kP},      {"\\", kP},     {"L", kP},      {"B", kA},    {"J", kA},    {"P", kA},
    {"V", kA},      {"W", kA},      {"C", kAuth},   {"E", kAuth}, {"H", kAuth}, {"F", kAuth},
    {"I", kAuth},   {"M", kAuth},   {"R", kAuth},   {"S", kAuth}, {"T", kAuth}, {"G", kUnauth},
    {"N", kUnauth}, {"O", kUnauth}, {"U", kUnauth}, {"D", kNc},   {"X", kNc},   {"Y", kNc},
    {"Z", kNc},     {"#", kNc},     {"-", kNc},
}};

// From 19 August 2024. J became J1, a leave of absence (authorised absence,
// no longer approved activity); K (local-authority-arranged provision) is
// approved activity; C1 and C2 are leaves of absence; Q (no access
// arrangements) and Y1-Y7 (unavoidable causes) are not possible sessions; Y,
// H and F are withdrawn. "-" is the MIS convention for "no session scheduled".
constexpr std::array<Entry, 35> kCodesFrom2024 = {{
    {"/", kP},      {"\\", kP},     {"L", kP},      {"B", kA},      {"K", kA},     {"P", kA},
    {"V", kA},      {"W", kA},      {"C", kAuth},   {"C1", kAuth},  {"C2", kAuth}, {"E", kAuth},
    {"I", kAuth},   {"J1", kAuth},  {"M", kAuth},   {"R", kAuth},   {"S", kAuth},  {"T", kAuth},
    {"G", kUnauth}, {"N", kUnauth}, {"O", kUnauth}, {"U", kUnauth}, {"D", kNc},    {"Q", kNc},
    {"X", kNc},     {"Y1", kNc},    {"Y2", kNc},    {"Y3", kNc},    {"Y4", kNc},   {"Y5", kNc},
    {"Y6", kNc},    {"Y7", kNc},    {"Z", kNc},     {"#", kNc},     {"-", kNc},
}};

template <size_t N>
const Entry* Find(const std::array<Entry, N>& table, absl::string_view code) {
  for (const Entry& entry : table) {
    if (entry.first == code) return &entry;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<MarkCategory> ClassifyRegisterCode(absl::string_view code, absl::CivilDay date) {
  const bool new_set = date >= kCodesChangedOn;
  const Entry* entry = new_set ? Find(kCodesFrom2024, code) : Find(kCodesBefore2024, code);
  if (entry != nullptr) return entry->second;
  const Entry* other = new_set ? Find(kCodesBefore2024, code) : Find(kCodesFrom2024, code);
  if (other != nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("register code \"", code, "\" is not in use ",
                     new_set ? "from 19 August 2024" : "before 19 August 2024"));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown register code \"", code, "\""));
}

}  // namespace rooted::risk
