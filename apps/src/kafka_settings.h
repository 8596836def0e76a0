#pragma once

// librdkafka properties for one client role, from the config's kafka.* keys.
// librdkafka logs a warning for every property of the other role ("consumer
// property ignored by this producer"), so each client gets only the shared
// properties and its own.

#include "streamrec/apps/config.h"
#include "streamrec/base/status.h"
#include "streamrec/kafka/config.h"

namespace streamrec::apps {

enum class KafkaRole { kConsumer, kProducer };

// Sets every kafka.* property of `settings` that `role` takes into `config`,
// after whatever `config` holds already (so callers' defaults come first and
// the user's keys override them). Errors name the config key.
[[nodiscard]] Status AddKafkaProperties(const Settings& settings, KafkaRole role, kafka::KafkaConfig& config);

}  // namespace streamrec::apps
