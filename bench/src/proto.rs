//! The benchmark services, generated twice from the same `.proto` files: once by micro-build and
//! once by tonic-prost-build. Both sides use the very same message types' wire format.

/// micro's generated code.
pub mod micro {
    /// `greeter.proto`.
    pub mod greeter {
        micro_runtime::include_proto!("greeter");
    }
    /// `streaming.proto`.
    pub mod streaming {
        micro_runtime::include_proto!("streaming");
    }
}

/// tonic's generated code.
#[allow(missing_docs, clippy::all)]
pub mod tonic {
    /// `greeter.proto`.
    pub mod greeter {
        include!(concat!(env!("OUT_DIR"), "/tonic/greeter.rs"));
    }
    /// `streaming.proto`.
    pub mod streaming {
        include!(concat!(env!("OUT_DIR"), "/tonic/streaming.rs"));
    }
}

/// The name every unary benchmark sends: about 20 bytes, as the issue asks.
pub const NAME: &str = "Benchmark Person 20b";
