#pragma once

// KafkaConfig: librdkafka properties, passed through verbatim.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "streamrec/base/status.h"

namespace streamrec::kafka {

// An ordered list of librdkafka properties, named as in librdkafka's
// CONFIGURATION.md ("bootstrap.servers", "sasl.mechanism", "debug"...). Every
// entry reaches librdkafka unchanged and in order, so anything librdkafka
// supports (SASL, SSL, tuning, debug contexts) works with no code here.
//
// Set() checks each pair against librdkafka immediately, so a typo fails
// where it was written (a config file line, a --set flag) rather than when a
// client is created much later.
//
// A plain value type: copyable and movable; not synchronised, so share it
// between threads only as const.
class KafkaConfig {
 public:
  struct Entry {
    std::string key;
    std::string value;
    bool operator==(const Entry&) const = default;
  };

  KafkaConfig() = default;

  // Sets `key` to `value`. A key set again keeps its first position and takes
  // the new value. Fails with InvalidArgument, leaving the config unchanged,
  // when librdkafka rejects the key (unknown property) or the value (wrong
  // type, out of range, unsupported in this build); the message names the
  // key and carries librdkafka's own explanation.
  [[nodiscard]] Status Set(std::string_view key, std::string_view value);

  // Set() from one "key=value" string (split at the first '='; surrounding
  // blanks of the key are ignored, the value is taken as written).
  [[nodiscard]] Status SetFromString(std::string_view assignment);

  // The value of `key`, if set.
  std::optional<std::string> Get(std::string_view key) const;

  // Every entry, in order of first setting.
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace streamrec::kafka
