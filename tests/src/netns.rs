//! Running tests inside a private network namespace (being built).
