#include "common/server/message_fields.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/wire_format_lite.h>
#include <grpcpp/support/proto_buffer_reader.h>

#include <mutex>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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

bool CanHoldPupilRef(const Descriptor& type) {
  static std::mutex mu;
  static auto* known = new std::unordered_map<const Descriptor*, bool>();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = known->find(&type); it != known->end()) return it->second;
    // Recursive types: assume not while the walk is on this type.
    (*known)[&type] = false;
  }
  bool holds = &type == rooted::common::v1::PupilRef::descriptor();
  for (int i = 0; !holds && i < type.field_count(); ++i) {
    const FieldDescriptor* field = type.field(i);
    holds = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
            CanHoldPupilRef(*field->message_type());
  }
  std::lock_guard<std::mutex> lock(mu);
  (*known)[&type] = holds;
  return holds;
}

void CollectPupilRefs(const Message& message, std::vector<std::string>& refs) {
  const Descriptor& type = *message.GetDescriptor();
  if (&type == rooted::common::v1::PupilRef::descriptor()) {
    const auto& ref = static_cast<const rooted::common::v1::PupilRef&>(message);
    if (!ref.value().empty()) refs.push_back(ref.value());
    return;
  }
  if (!CanHoldPupilRef(type)) return;
  const Reflection& reflection = *message.GetReflection();
  for (int i = 0; i < type.field_count(); ++i) {
    const FieldDescriptor* field = type.field(i);
    if (field->cpp_type() != FieldDescriptor::CPPTYPE_MESSAGE ||
        !CanHoldPupilRef(*field->message_type()))
      continue;
    if (field->is_repeated()) {
      const int n = reflection.FieldSize(message, field);
      for (int k = 0; k < n; ++k)
        CollectPupilRefs(reflection.GetRepeatedMessage(message, field, k), refs);
    } else if (reflection.HasField(message, field)) {
      CollectPupilRefs(reflection.GetMessage(message, field), refs);
    }
  }
}

}  // namespace rooted
