#include "streamrec/apps/cli.h"

namespace streamrec::apps {
int Main(int, char**) { return 0; }
}  // namespace streamrec::apps
