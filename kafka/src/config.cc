#include "streamrec/kafka/config.h"

#include <algorithm>

#include "rdkafka_util.h"

namespace streamrec::kafka {

Status KafkaConfig::Set(std::string_view key, std::string_view value) {
  std::string k(key);
  std::string v(value);
  // Validate against a scratch conf: librdkafka is the only authority on its
  // property names and value syntax, and a scratch conf costs microseconds.
  internal::ConfPtr scratch(rd_kafka_conf_new());
  STREAMREC_RETURN_IF_ERROR(internal::SetProperty(scratch.get(), k, v));
  auto it =
      std::find_if(entries_.begin(), entries_.end(), [&](const Entry& e) { return e.key == k; });
  if (it != entries_.end()) {
    it->value = std::move(v);
  } else {
    entries_.push_back({std::move(k), std::move(v)});
  }
  return Status::Ok();
}

Status KafkaConfig::SetFromString(std::string_view assignment) {
  const size_t eq = assignment.find('=');
  if (eq == std::string_view::npos) {
    return Status::InvalidArgument("kafka config \"" + std::string(assignment) +
                                   "\": expected key=value");
  }
  std::string_view key = assignment.substr(0, eq);
  const auto first = key.find_first_not_of(" \t");
  const auto last = key.find_last_not_of(" \t");
  key = first == std::string_view::npos ? std::string_view() : key.substr(first, last - first + 1);
  if (key.empty()) {
    return Status::InvalidArgument("kafka config \"" + std::string(assignment) + "\": empty key");
  }
  return Set(key, assignment.substr(eq + 1));
}

std::optional<std::string> KafkaConfig::Get(std::string_view key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return e.value;
  }
  return std::nullopt;
}

}  // namespace streamrec::kafka
