#include "services/forum-scheduling/icalendar.h"

#include "absl/strings/str_cat.h"
#include "common/base/proto_time.h"

namespace rooted::forum {
namespace {

std::string UtcStamp(absl::Time t) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", t, absl::UTCTimeZone());
}

// Folds a content line after 75 octets, never inside a UTF-8 sequence.
void AppendLine(std::string& out, absl::string_view line) {
  size_t written = 0;
  bool first = true;
  while (line.size() - written > (first ? 75u : 74u)) {
    size_t cut = written + (first ? 75 : 74);
    while (cut > written && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
    if (!first) out += ' ';
    absl::StrAppend(&out, line.substr(written, cut - written), "\r\n");
    written = cut;
    first = false;
  }
  if (!first) out += ' ';
  absl::StrAppend(&out, line.substr(written), "\r\n");
}

}  // namespace

std::string EscapeICalendarText(absl::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '\\':
      case ';':
      case ',':
        out += '\\';
        out += c;
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string ExportICalendar(const rooted::forum::v1::Forum& forum,
                            const std::vector<rooted::forum::v1::Meeting>& meetings,
                            absl::Time generated_at) {
  const std::string title = forum.name().empty()
                                ? absl::StrCat("Multi-Agency Forum: ", forum.locality())
                                : forum.name();
  std::string out;
  AppendLine(out, "BEGIN:VCALENDAR");
  AppendLine(out, "VERSION:2.0");
  AppendLine(out, "PRODID:-//RootED//Forum scheduling//EN");
  AppendLine(out, "CALSCALE:GREGORIAN");
  AppendLine(out, "METHOD:PUBLISH");
  AppendLine(out, absl::StrCat("X-WR-CALNAME:", EscapeICalendarText(title)));
  for (const rooted::forum::v1::Meeting& m : meetings) {
    const absl::Time start = FromProtoTimestamp(m.starts_at());
    AppendLine(out, "BEGIN:VEVENT");
    AppendLine(out, absl::StrCat("UID:", m.meeting_id(), "@rooted"));
    AppendLine(out, absl::StrCat("DTSTAMP:", UtcStamp(generated_at)));
    AppendLine(out, absl::StrCat("DTSTART:", UtcStamp(start)));
    AppendLine(out, absl::StrCat("DTEND:", UtcStamp(start + absl::Minutes(m.duration_minutes()))));
    AppendLine(out, absl::StrCat("SEQUENCE:", m.sequence()));
    AppendLine(out, absl::StrCat("SUMMARY:", EscapeICalendarText(title)));
    AppendLine(out, absl::StrCat("LOCATION:", EscapeICalendarText(forum.locality())));
    if (m.status() == rooted::forum::v1::MEETING_STATUS_CANCELLED) {
      AppendLine(out, "STATUS:CANCELLED");
    } else {
      AppendLine(out, "STATUS:CONFIRMED");
    }
    AppendLine(out, "END:VEVENT");
  }
  AppendLine(out, "END:VCALENDAR");
  return out;
}

}  // namespace rooted::forum
