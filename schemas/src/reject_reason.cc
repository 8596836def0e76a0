#include "streamrec/schemas/reject_reason.h"

namespace streamrec::schemas {

std::string_view RejectCode(RejectReason reason) {
  switch (reason) {
#define STREAMREC_REASON_CODE(name, code, message) \
  case RejectReason::name:                         \
    return code;
    STREAMREC_REJECT_REASONS(STREAMREC_REASON_CODE)
#undef STREAMREC_REASON_CODE
  }
  return "unknown";  // only reachable through a cast of a bad integer
}

std::string_view RejectMessage(RejectReason reason) {
  switch (reason) {
#define STREAMREC_REASON_MESSAGE(name, code, message) \
  case RejectReason::name:                            \
    return message;
    STREAMREC_REJECT_REASONS(STREAMREC_REASON_MESSAGE)
#undef STREAMREC_REASON_MESSAGE
  }
  return "unknown rejection reason";
}

std::string Rejection::ToString() const {
  std::string text(RejectMessage(reason));
  if (!detail.empty()) {
    text += ": ";
    text += detail;
  }
  return text;
}

}  // namespace streamrec::schemas
