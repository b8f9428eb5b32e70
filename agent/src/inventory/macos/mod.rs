//! macOS collectors (placeholder, filled in the next commit).
