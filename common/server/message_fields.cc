#include "common/server/message_fields.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <map>
#include <mutex>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/base/status_macros.h"
#include "common/identity/pupil_ref.h"
#include "rooted/common/v1/common.pb.h"

namespace rooted {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using google::protobuf::internal::WireFormatLite;

// Well-formed UTF-8 as protobuf's parser requires it: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int extra = 0;
    uint32_t point = 0;
    if ((c & 0xE0) == 0xC0) {
      extra = 1;
      point = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      point = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      point = c & 0x07;
    } else {
      return false;
    }
    if (i + size_t(extra) >= text.size()) return false;
    for (int k = 1; k <= extra; ++k) {
      const auto next = static_cast<unsigned char>(text[i + size_t(k)]);
      if ((next & 0xC0) != 0x80) return false;
      point = (point << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (point < kSmallest[extra] || point > 0x10FFFF || (point >= 0xD800 && point <= 0xDFFF))
      return false;
    i += size_t(extra) + 1;
  }
  return true;
}

// Walks the encoded message field by field; false when the bytes are not a
// well-formed encoding at all.
bool FindInvalid(const Descriptor& type, absl::string_view bytes, const std::string& prefix,
                 int depth, std::string& found) {
  if (depth > 64) return false;
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                            int(bytes.size()));
  while (true) {
    const uint32_t tag = in.ReadTag();
    if (tag == 0) return in.ConsumedEntireMessage() || in.CurrentPosition() == int(bytes.size());
    const FieldDescriptor* field =
        type.FindFieldByNumber(int(WireFormatLite::GetTagFieldNumber(tag)));
    if (field == nullptr ||
        WireFormatLite::GetTagWireType(tag) != WireFormatLite::WIRETYPE_LENGTH_DELIMITED ||
        (field->type() != FieldDescriptor::TYPE_STRING &&
         field->type() != FieldDescriptor::TYPE_MESSAGE)) {
      if (!WireFormatLite::SkipField(&in, tag)) return false;
      continue;
    }
    uint32_t length = 0;
    std::string value;
    if (!in.ReadVarint32(&length) || !in.ReadString(&value, int(length))) return false;
    const std::string path = prefix + field->name();
    if (field->type() == FieldDescriptor::TYPE_STRING) {
      if (!IsValidUtf8(value)) {
        found = path;
        return true;
      }
    } else if (!FindInvalid(*field->message_type(), value, path + ".", depth + 1, found)) {
      return false;
    }
    if (!found.empty()) return true;
  }
}

const FieldDescriptor* FieldNamed(const Descriptor& type, absl::string_view name) {
  return type.FindFieldByName(std::string(name));
}

}  // namespace

std::string FindInvalidUtf8Field(const Descriptor& type, absl::string_view bytes) {
  std::string found;
  FindInvalid(type, bytes, "", 0, found);
  return found;
}

absl::Status DecodeRequest(const grpc::ByteBuffer& body, Message& message, absl::string_view what) {
  // The copy shares the body's slices; the parse reads them where they lie.
  grpc::ByteBuffer shared(body);
  grpc::ProtoBufferReader reader(&shared);
  if (message.ParseFromZeroCopyStream(&reader) && reader.status().ok()) return absl::OkStatus();
  message.Clear();
  std::string bytes;
  if (grpc::Slice slice; grpc::ByteBuffer(body).DumpToSingleSlice(&slice).ok()) {
    bytes.assign(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (const std::string field = FindInvalidUtf8Field(*message.GetDescriptor(), bytes);
      !field.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", field, " is not valid UTF-8"));
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": is not an encoded ", message.GetDescriptor()->full_name()));
}

std::string StringAt(const Message& message, absl::string_view path) {
  const Message* at = &message;
  const std::vector<absl::string_view> parts = absl::StrSplit(path, '.');
  for (size_t i = 0; i < parts.size(); ++i) {
    const FieldDescriptor* field = FieldNamed(*at->GetDescriptor(), parts[i]);
    if (field == nullptr || field->is_repeated()) return "";
    const Reflection& reflection = *at->GetReflection();
    if (i + 1 == parts.size()) {
      return field->cpp_type() == FieldDescriptor::CPPTYPE_STRING ? reflection.GetString(*at, field)
                                                                  : "";
    }
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE || !reflection.HasField(*at, field))
      return "";
    at = &reflection.GetMessage(*at, field);
  }
  return "";
}

// Whether a message of `type` holds one of `target` at any depth; the answers
// are kept, one table per target.
bool CanHold(const Descriptor& type, const Descriptor& target) {
  static std::mutex mu;
  static auto* known = new std::map<std::pair<const Descriptor*, const Descriptor*>, bool>();
  const auto key = std::make_pair(&type, &target);
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = known->find(key); it != known->end()) return it->second;
    // Recursive types: assume not while the walk is on this type.
    (*known)[key] = false;
  }
  bool holds = &type == &target;
  for (int i = 0; !holds && i < type.field_count(); ++i) {
    const FieldDescriptor* field = type.field(i);
    holds = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
            CanHold(*field->message_type(), target);
  }
  std::lock_guard<std::mutex> lock(mu);
  (*known)[key] = holds;
  return holds;
}

// Calls `visit` with each message of `target`'s type in `message`, and its
// path when kPaths (paths cost a string per element of a long list).
template <bool kPaths, typename Visit>
void ForEachHeld(const Message& message, const Descriptor& target, const std::string& path,
                 Visit& visit) {
  const Descriptor& type = *message.GetDescriptor();
  if (&type == &target) return visit(message, path);
  if (!CanHold(type, target)) return;
  const Reflection& reflection = *message.GetReflection();
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor* field = type.field(i);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        !CanHold(*field->message_type(), target))
      continue;
    const std::string at = !kPaths ? "" : path.empty() ? field->name() : path + "." + field->name();
    if (field->is_repeated()) {
      const int n = reflection.FieldSize(message, field);
      for (int k = 0; k < n; ++k) {
        ForEachHeld<kPaths>(reflection.GetRepeatedMessage(message, field, k), target,
                            kPaths ? absl::StrCat(at, "[", k, "]") : at, visit);
      }
    } else if (reflection.HasField(message, field)) {
      ForEachHeld<kPaths>(reflection.GetMessage(message, field), target, at, visit);
    }
  }
}

bool CanHoldPupilRef(const Descriptor& type) {
  return CanHold(type, *rooted::common::v1::PupilRef::descriptor());
}

absl::Status CheckTimestamps(const Message& message) {
  // 1900-01-01T00:00:00Z and 2201-01-01T00:00:00Z.
  constexpr int64_t kEarliest = -2'208'988'800;
  constexpr int64_t kAfterLatest = 7'289'654'400;
  absl::Status first = absl::OkStatus();
  auto visit = [&](const Message& held, const std::string& path) {
    if (!first.ok()) return;
    const auto& at = static_cast<const google::protobuf::Timestamp&>(held);
    if (at.nanos() < 0 || at.nanos() > 999'999'999) {
      first = absl::InvalidArgumentError(absl::StrCat(path, ": nanos must be 0 to 999,999,999"));
    } else if (at.seconds() < kEarliest || at.seconds() >= kAfterLatest) {
      first = absl::InvalidArgumentError(absl::StrCat(path, ": must be in the years 1900 to 2200"));
    }
  };
  ForEachHeld<true>(message, *google::protobuf::Timestamp::descriptor(), "", visit);
  return first;
}

namespace {

bool IsIdField(const FieldDescriptor& field) {
  const absl::string_view name = field.name();
  return name == "id" || absl::EndsWith(name, "_id") || absl::EndsWith(name, "_ids");
}

bool LooksLikeId(absl::string_view id) {
  if (id.size() > 128) return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

absl::Status CheckValuesAt(const Message& message, const std::string& path);

// One value of `field` (the k-th of a repeated one; -1 for a singular one).
absl::Status CheckValue(const Message& message, const FieldDescriptor& field, int k,
                        const std::string& at) {
  const Reflection& reflection = *message.GetReflection();
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int value = k < 0 ? reflection.GetEnumValue(message, &field)
                              : reflection.GetRepeatedEnumValue(message, &field, k);
      if (field.enum_type()->FindValueByNumber(value) == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(at, ": ", value, " is not a value of ", field.enum_type()->full_name()));
      }
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      if (!IsIdField(field)) return absl::OkStatus();
      std::string scratch;
      const std::string& id =
          k < 0 ? reflection.GetStringReference(message, &field, &scratch)
                : reflection.GetRepeatedStringReference(message, &field, k, &scratch);
      if (!LooksLikeId(id)) return absl::InvalidArgumentError(absl::StrCat(at, ": is not an id"));
      return absl::OkStatus();
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& held = k < 0 ? reflection.GetMessage(message, &field)
                                  : reflection.GetRepeatedMessage(message, &field, k);
      if (held.GetDescriptor() == rooted::common::v1::PupilRef::descriptor()) {
        const auto& ref = static_cast<const rooted::common::v1::PupilRef&>(held);
        if (!PupilRefHasher::LooksLikeRef(ref.value())) {
          return absl::InvalidArgumentError(absl::StrCat(at, ": is not a pupil reference"));
        }
        return absl::OkStatus();
      }
      return CheckValuesAt(held, at);
    }
    default:
      return absl::OkStatus();
  }
}

absl::Status CheckValuesAt(const Message& message, const std::string& path) {
  const Reflection& reflection = *message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection.ListFields(message, &fields);  // the fields set, no others
  for (const FieldDescriptor* field : fields) {
    const std::string at = path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    if (!field->is_repeated()) {
      RETURN_IF_ERROR(CheckValue(message, *field, -1, at));
      continue;
    }
    const int n = reflection.FieldSize(message, field);
    for (int k = 0; k < n; ++k)
      RETURN_IF_ERROR(CheckValue(message, *field, k, absl::StrCat(at, "[", k, "]")));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckEventValues(const Message& event) {
  RETURN_IF_ERROR(CheckTimestamps(event));
  return CheckValuesAt(event, "");
}

void CollectPupilRefs(const Message& message, std::vector<std::string>& refs) {
  auto visit = [&](const Message& held, const std::string&) {
    const auto& ref = static_cast<const rooted::common::v1::PupilRef&>(held);
    if (!ref.value().empty()) refs.push_back(ref.value());
  };
  ForEachHeld<false>(message, *rooted::common::v1::PupilRef::descriptor(), "", visit);
}

}  // namespace rooted
