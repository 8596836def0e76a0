#pragma once

// Forward declarations of state/'s public types, for headers that only pass
// them by reference or pointer.

namespace streamrec::state {

class FeatureStore;
struct StoreOptions;
struct StoreBatch;
struct StoreDigest;
struct PendingUser;
struct Fingerprint;
struct StoredUser;
struct StoredItem;
struct IndexLimits;
struct PendingEntry;

}  // namespace streamrec::state
