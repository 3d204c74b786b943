//! Starting real etcd servers for tests (being built).
