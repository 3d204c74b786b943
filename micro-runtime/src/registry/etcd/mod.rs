//! The etcd registry (being built).
