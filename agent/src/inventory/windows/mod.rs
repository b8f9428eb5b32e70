//! Windows collectors (placeholder, filled in the next commit).
