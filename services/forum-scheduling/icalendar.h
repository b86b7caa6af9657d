#ifndef ROOTED_SERVICES_FORUM_SCHEDULING_ICALENDAR_H_
#define ROOTED_SERVICES_FORUM_SCHEDULING_ICALENDAR_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "rooted/forum/v1/forum.pb.h"

namespace rooted::forum {

// RFC 5545 text of a forum's meetings for members' calendars: one VEVENT per
// meeting (cancelled ones kept with STATUS:CANCELLED so subscribers drop
// them), times in UTC, lines folded at 75 octets and ended with CRLF. It
// names the forum and its locality only: no cases, no personal data.
std::string ExportICalendar(const rooted::forum::v1::Forum& forum,
                            const std::vector<rooted::forum::v1::Meeting>& meetings,
                            absl::Time generated_at);

// TEXT value escaping (backslash, semicolon, comma, newline).
std::string EscapeICalendarText(absl::string_view text);

}  // namespace rooted::forum

#endif  // ROOTED_SERVICES_FORUM_SCHEDULING_ICALENDAR_H_
