#include "common/identity/needs_taxonomy.h"

#include <array>

#include "absl/strings/string_view.h"

namespace rooted {
namespace {

constexpr std::array<NeedsTerm, 17> kTerms = {{
    {"anxiety-emotional-wellbeing", "Anxiety and emotional wellbeing"},
    {"semh", "Social, emotional and mental health"},
    {"attendance-engagement", "Attendance and engagement"},
    {"behaviour", "Behaviour"},
    {"bereavement", "Bereavement"},
    {"young-carers", "Young carers"},
    {"family-support", "Family support"},
    {"parenting", "Parenting"},
    {"mentoring", "Mentoring"},
    {"youth-work", "Youth work"},
    {"speech-language", "Speech, language and communication"},
    {"substance-misuse", "Substance misuse"},
    {"exploitation-risk", "Exploitation risk"},
    {"housing", "Housing"},
    {"financial-hardship", "Financial hardship"},
    {"send-learning", "Special educational needs and learning"},
    {"physical-health", "Physical health"},
}};

}  // namespace

std::span<const NeedsTerm> DefaultNeedsTaxonomy() { return kTerms; }

bool IsKnownNeedsTerm(absl::string_view term_id) {
  for (const NeedsTerm& term : kTerms) {
    if (term.id == term_id) return true;
  }
  if (term_id.size() <= 3 || term_id.size() > 64 || term_id.substr(0, 3) != "la-") return false;
  for (char c : term_id.substr(3)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace rooted
