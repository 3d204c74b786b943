//! The mDNS registry (being built).
